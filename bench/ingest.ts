import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { createApp } from '@siyu/server';
import { createServices, newId, silentLogger } from '@siyu/services';
import { openStore } from '@siyu/storage';
import { ProcessorLoop } from '@siyu/worker';

/**
 * Batched ingestion end to end: HTTP /v1/batch (batches of 100, realistic messages) → durable inbox →
 * processor (identity resolution, profile updates) → committed. The load client is a separate
 * process, so `server_rss` is the server's own resident memory.
 */
const queryTimes = new Map<string, { n: number; ms: number }>();
function queryLogger(e: import('kysely').LogEvent): void {
  const key = e.query.sql.slice(0, 70);
  const t = queryTimes.get(key) ?? { n: 0, ms: 0 };
  t.n++;
  t.ms += e.queryDurationMillis;
  queryTimes.set(key, t);
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      events: { type: 'string', default: '200000' },
      people: { type: 'string', default: '50000' },
      concurrency: { type: 'string', default: '8' },
      backend: { type: 'string', default: 'all' },
    },
  });
  const events = Number(values.events);
  const batchSize = 100;
  const pgUrl = process.env.SIYU_BENCH_DATABASE_URL ?? process.env.SIYU_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const backends = values.backend === 'all' ? ['sqlite', 'postgres'] : [values.backend!];
  for (const backend of backends) {
    const prefix = `${backend}-${Date.now()}-`;
    const opened =
      backend === 'postgres'
        ? await openStore({ databaseUrl: pgUrl, sqliteFile: '', ...(process.env.SIYU_BENCH_QUERY_LOG ? { queryLog: queryLogger } : {}) }).catch((e: unknown) => {
            process.stdout.write(`ingest.postgres: skipped (${(e as Error).message})\n`);
            return null;
          })
        : await openStore({ sqliteFile: join(mkdtempSync(join(tmpdir(), 'siyu-bench-')), 'siyu.db'), ...(process.env.SIYU_BENCH_QUERY_LOG ? { queryLog: queryLogger } : {}) });
    if (!opened) continue;
    const services = createServices({ store: opened.store, clock: () => new Date(), newId, log: silentLogger });
    const { workspace, writeKey } = await services.workspaces.create({ name: `bench ${backend}` });
    const loop = new ProcessorLoop(services.processor, silentLogger, { batchSize: 5000, pollMs: 50 });
    const latencies: number[] = [];
    let processed = 0;
    let doneAt = 0;
    loop.observe((r) => {
      processed += r.messages;
      for (const l of r.latenciesMs) latencies.push(l);
      if (processed >= events && !doneAt) doneAt = performance.now();
    });
    services.ingest.onAppend(loop.notify);
    loop.start();
    const app = createApp({ services });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./load-client.ts', import.meta.url)), JSON.stringify({ url: `http://127.0.0.1:${port}/v1/batch`, writeKey, batches: Math.ceil(events / batchSize), batchSize, people: Number(values.people), idPrefix: prefix, concurrency: Number(values.concurrency) })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const result = JSON.parse(childOut) as { ms: number; failed: number };
    while (processed < events) await new Promise((r) => setTimeout(r, 20));
    const totalMs = (doneAt || performance.now()) - started;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    const stats = await services.profiles.stats(workspace.id);
    const out = [
      `ingest.${backend}.accepted_rate: ${Math.round((events / result.ms) * 1000)} events/s`,
      `ingest.${backend}.end_to_end_rate: ${Math.round((events / totalMs) * 1000)} events/s`,
      `ingest.${backend}.accept_to_profile_p50: ${Math.round(pct(50))} ms`,
      `ingest.${backend}.accept_to_profile_p95: ${Math.round(pct(95))} ms`,
      `ingest.${backend}.failed_requests: ${result.failed} requests`,
      `ingest.${backend}.events_stored: ${stats.events} events`,
      `ingest.${backend}.profiles: ${stats.profiles} profiles`,
      `ingest.${backend}.merged_profiles: ${stats.mergedProfiles} profiles`,
      `ingest.${backend}.server_rss: ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
      `ingest.${backend}.server_heap_used: ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (process.env.SIYU_BENCH_QUERY_LOG) for (const [k, v] of [...queryTimes].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) process.stdout.write(`  ${v.ms.toFixed(0).padStart(6)} ms ${String(v.n).padStart(6)}x ${k}\n`);
    await loop.stop();
    server.close();
    await opened.close();
  }
}
