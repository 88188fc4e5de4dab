import { parseArgs } from 'node:util';
import { createDemoWorkspace, type DemoSummary } from './demo/create-demo-workspace.ts';
import { runtimeTarget } from './import/ingest-target.ts';
import type { Runtime } from './runtime.ts';

export { createDemoWorkspace, type DemoOptions, type DemoSummary } from './demo/create-demo-workspace.ts';
export { generateDemoHistory } from './demo/generate-demo.ts';

const HELP = `Usage: npx siyu demo [--customers N] [--seed S] [--json]

Creates a NEW workspace for a demo tea-drink brand (演示品牌 · 青禾茶饮) and fills it, through the same
ingestion path as the HTTP API, with ~180 days of believable history: official-account follows,
mini-program visits and orders, store (POS) purchases, WeCom adds, refunds — including a phone seen by
the mini program and the store, OA/mini-program openids tied by a unionid, and shared devices.

  --customers N   customers to invent (default 3000)
  --seed S        same seed, same history (default 7070)
  --json          print the summary as JSON
`;

/** Seeds a demo workspace and logs its keys and what identity resolution made of it. */
export async function runDemo(rt: Runtime, opts: { log: (line: string) => void; customers?: number; seed?: number }): Promise<void> {
  const summary = await createDemoWorkspace(
    runtimeTarget(rt),
    { log: opts.log, ...(opts.customers !== undefined ? { customers: opts.customers } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) },
  );
  for (const line of formatDemoSummary(summary)) opts.log(line);
}

export async function demoCommand(rt: Runtime, args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { customers: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const customers = values.customers === undefined ? 3000 : Number(values.customers);
  if (!Number.isInteger(customers) || customers < 1 || customers > 200_000) {
    process.stderr.write(`--customers must be a whole number from 1 to 200000, not "${values.customers}"\n`);
    return 1;
  }
  const seed = values.seed === undefined ? 7070 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) {
    process.stderr.write(`--seed must be a non-negative whole number, not "${values.seed}"\n`);
    return 1;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const summary = await createDemoWorkspace(runtimeTarget(rt), { customers, seed, log: values.json ? () => {} : log });
  if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`${formatDemoSummary(summary).join('\n')}\n`);
  return 0;
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatDemoSummary(s: DemoSummary): string[] {
  const via = Object.entries(s.mergesVia)
    .sort((a, b) => b[1] - a[1])
    .map(([type, count]) => `${type} ${n(count)}`)
    .join(', ');
  return [
    '',
    `  Demo workspace "${s.workspace.name}" (${s.workspace.id}) is ready — keep these:`,
    `    write key   (tracking API, HTTP Basic user): ${s.writeKey}`,
    `    admin token (console and admin API, Bearer):  ${s.adminToken}`,
    `  ${n(s.customers)} customers → ${n(s.messagesSent)} messages sent (${n(s.accepted)} accepted${s.rejected ? `, ${n(s.rejected)} rejected` : ''}) carrying ${n(s.identifiersSent)} distinct identifiers`,
    `  profiles after merge: ${n(s.profiles)} · merges: ${n(s.merges)}${via ? ` (via ${via})` : ''} · identity conflicts: ${n(s.conflicts)} (from ${n(s.sharedDevicePairs)} shared devices)`,
    ...(s.audiences.length ? [`  starter tags and segments: ${s.audiences.map((a) => `${a.name} ${n(a.count)}`).join(' · ')}`] : []),
    `  took ${(s.elapsedMs / 1000).toFixed(1)} s`,
    '',
  ];
}
