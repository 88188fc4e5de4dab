// `npm run bench -- <name> [options]`: runs one benchmark; each prints `name: value unit` lines.
const BENCHES: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  ingest: () => import('./ingest.ts'),
  import: () => import('./import.ts'),
  audiences: () => import('./audiences.ts'),
};

const [name, ...args] = process.argv.slice(2);
if (!name || !BENCHES[name]) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]\n`);
  process.exit(64);
}
// Heap settings as `siyu start` runs with (resident memory is one of the figures).
const { tuneHeap } = await import('@siyu/cli');
tuneHeap();
const mod = await BENCHES[name]!();
await mod.main(args);
process.exit(0);
