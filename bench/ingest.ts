import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { openRuntime, WorkerThread } from '@siyu/cli';
import { loadConfig } from '@siyu/config';
import { createApp } from '@siyu/server';
import { silentLogger } from '@siyu/services';
import { WriterLock } from '@siyu/storage';
import { diffSyscalls, syscallCounts, threadCpuMs } from './audiences/incremental.ts';
import { createBenchDatabase } from './pg-database.ts';

/**
 * Batched ingestion end to end: HTTP /v1/batch (batches of 100, realistic messages) → durable inbox →
 * processor (identity resolution, profile updates) → committed. The load client is a separate
 * process, so `server_rss` is the server's own resident memory. By default the server runs as
 * `siyu start` does: HTTP on the main thread, the processor in a worker thread (`--worker inline`
 * puts both on one thread).
 */

function peakRssMb(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** The largest figures of a worker heap log's lines written since `since` (ms), or null when there are none. */
function workerHeapMaxima(file: string, since: number): { usedMb: number; audienceBacklog: number; layersBacklog: number } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { t: number; usedMb: number; audienceBacklog: number; layersBacklog: number }).filter((l) => l.t >= since);
  if (lines.length === 0) return null;
  return {
    usedMb: Math.max(...lines.map((l) => l.usedMb)),
    audienceBacklog: Math.max(...lines.map((l) => l.audienceBacklog)),
    layersBacklog: Math.max(...lines.map((l) => l.layersBacklog)),
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      events: { type: 'string', default: '200000' },
      people: { type: 'string', default: '50000' },
      concurrency: { type: 'string', default: '8' },
      backend: { type: 'string', default: 'all' },
      // thread: as `siyu start` runs (processor in a worker thread); inline: everything on one thread.
      worker: { type: 'string', default: 'thread' },
      batch: { type: 'string', default: '2000' },
      // Offered events/s, one run each (comma-separated); 0 sends as fast as the server answers
      // (throughput: the latency then measures the backlog the run builds). Paced runs give the accept →
      // profile latency at a load the processor sustains. Default: throughput, then a paced run
      // (5,000/s on SQLite, 2,500/s on PostgreSQL: below what each sustains on 2 cores).
      rate: { type: 'string' },
      // When the messages happened (messages.ts): spread over 30 days (the default) or live.
      timestamps: { type: 'string', default: 'spread' },
      // Keep the SQLite data directory (printed) for a closer look; removed by default.
      keep: { type: 'boolean', default: false },
    },
  });
  const events = Number(values.events);
  if (values.timestamps !== 'live' && values.timestamps !== 'spread') throw new Error('--timestamps: live or spread');
  const batchSize = 100;
  const threaded = values.worker !== 'inline';
  const backends = values.backend === 'all' ? ['sqlite', 'postgres'] : [values.backend!];
  const runs = backends.flatMap((backend) => (values.rate ?? `0,${backend === 'postgres' ? 2500 : 5000}`).split(',').map((r) => ({ backend, rate: Number(r) })));
  for (const { backend, rate } of runs) {
    const prefix = `${backend}-${Date.now()}-`;
    const dataDir = mkdtempSync(join(tmpdir(), 'siyu-bench-'));
    // PostgreSQL: a database of this run's own (dropped after), as on SQLite a fresh file.
    const pgDb = backend === 'postgres' ? await createBenchDatabase().catch((e: unknown) => {
      process.stdout.write(`ingest.${backend}: skipped (${(e as Error).message})\n`);
      return null;
    }) : undefined;
    if (pgDb === null) {
      rmSync(dataDir, { recursive: true, force: true });
      continue;
    }
    const loaded = loadConfig({
      SIYU_DATA_DIR: dataDir,
      SIYU_LOG_LEVEL: 'silent',
      SIYU_PROCESSOR_BATCH: values.batch,
      // As `siyu start` reads it: 2 (default) or 1 background threads.
      SIYU_WORKER_THREADS: process.env.SIYU_WORKER_THREADS,
      // As `siyu start` reads it: the background connection's page cache (default auto).
      SIYU_SQLITE_CACHE_MB: process.env.SIYU_SQLITE_CACHE_MB,
      ...(pgDb ? { SIYU_DATABASE_URL: pgDb.url } : {}),
    });
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    const config = loaded.config;
    const writerLock = threaded && backend === 'sqlite' ? WriterLock.create() : undefined;
    const rt = await openRuntime(config, silentLogger, writerLock ? { writerLock } : {}).catch((e: unknown) => {
      process.stdout.write(`ingest.${backend}: skipped (${(e as Error).message})\n`);
      return null;
    });
    if (!rt) {
      rmSync(dataDir, { recursive: true, force: true });
      await pgDb?.drop();
      continue;
    }
    const services = rt.services;
    const { workspace, writeKey } = await services.workspaces.create({ name: `bench ${backend}` });
    const latencies: number[] = [];
    let processed = 0;
    let doneAt = 0;
    const observe = (messages: number, latenciesMs: readonly number[]) => {
      processed += messages;
      for (const l of latenciesMs) latencies.push(l);
      if (processed >= events && !doneAt) doneAt = performance.now();
    };
    // What each worker thread kept after each full collection (its live heap then) and the queues of derived work:
    // the worker threads append a line per collection (worker-thread-main.ts) to this run's file, or to the one set.
    // The variable goes back to what it was after the run: left set, the next run's threads wrote to this run's
    // removed directory (and, before worker-thread-main.ts caught that, died at their first full collection).
    const heapLogSet = process.env.SIYU_WORKER_HEAP_LOG;
    const heapLog = heapLogSet ?? join(dataDir, 'worker-heap.log');
    process.env.SIYU_WORKER_HEAP_LOG = heapLog;
    const runStartedAt = Date.now();
    const worker = threaded ? new WorkerThread(config, services, silentLogger, writerLock) : undefined;
    if (worker) {
      worker.observe(observe);
      await worker.start();
      services.ingest.onAppend(worker.notify);
    } else {
      rt.loop.observe((r) => observe(r.messages, r.latenciesMs));
      rt.loop.start();
    }
    const app = createApp({ services });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const sys0 = syscallCounts();
    // CPU per thread (Linux): the server thread accepts (HTTP, validation, inbox), the others process.
    // With one worker thread the audience work runs on the processor thread: no line of its own then.
    const audienceTid = worker?.audienceOsThreadId !== worker?.osThreadId ? worker?.audienceOsThreadId : undefined;
    const threadCpu = () => ({ server: threadCpuMs(process.pid), processor: threadCpuMs(worker?.osThreadId), audience: threadCpuMs(audienceTid) });
    const threads0 = threadCpu();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./load-client.ts', import.meta.url)), JSON.stringify({ url: `http://127.0.0.1:${port}/v1/batch`, writeKey, batches: Math.ceil(events / batchSize), batchSize, people: Number(values.people), idPrefix: prefix, concurrency: Number(values.concurrency), rate, timestamps: values.timestamps })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const result = JSON.parse(childOut) as { ms: number; failed: number };
    while (processed < events) await new Promise((r) => setTimeout(r, 20));
    const totalMs = (doneAt || performance.now()) - started;
    const cpu = process.cpuUsage(cpu0);
    const threads1 = threadCpu();
    const sys1 = syscallCounts();
    const sys = sys0 && sys1 ? diffSyscalls(sys0, sys1) : null;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    const stats = await services.profiles.stats(workspace.id);
    const peakRss = peakRssMb();
    const heap = workerHeapMaxima(heapLog, runStartedAt);
    const b = `ingest.${backend}${threaded ? '' : '.inline'}${rate > 0 ? `.at_${rate}` : ''}`;
    const out = [
      `${b}.accepted_rate: ${Math.round((events / result.ms) * 1000)} events/s`,
      `${b}.end_to_end_rate: ${Math.round((events / totalMs) * 1000)} events/s`,
      // CPU the server spent per event (user + system, all its threads): steadier than rates on a shared machine.
      `${b}.server_cpu_per_event: ${((cpu.user + cpu.system) / events).toFixed(1)} µs`,
      // The most this machine's cores could get through at that CPU per event, were every core busy with the server
      // and nothing else (the load generator takes its share too). SQLite only: PostgreSQL's work is in its processes.
      ...(backend === 'sqlite' ? [`${b}.cpu_ceiling_rate: ${Math.round((availableParallelism() * 1e6 * events) / (cpu.user + cpu.system))} events/s`] : []),
      ...(['server', 'processor', 'audience'] as const).flatMap((t) => {
        const a = threads0[t];
        const z = threads1[t];
        return a !== null && z !== null ? [`${b}.${t}_thread_cpu_per_event: ${(((z - a) * 1000) / events).toFixed(1)} µs`] : [];
      }),
      // Read and write system calls of the server per event (all threads; Linux): steadier than CPU time.
      // SQLite only: PostgreSQL's reads and writes happen in its own processes.
      ...(sys && backend === 'sqlite' ? [`${b}.server_read_syscalls_per_event: ${(sys.reads / events).toFixed(1)} calls`, `${b}.server_write_syscalls_per_event: ${(sys.writes / events).toFixed(1)} calls`] : []),
      `${b}.accept_to_profile_p50: ${Math.round(pct(50))} ms`,
      `${b}.accept_to_profile_p95: ${Math.round(pct(95))} ms`,
      `${b}.failed_requests: ${result.failed} requests`,
      `${b}.events_stored: ${stats.events} events`,
      `${b}.profiles: ${stats.profiles} profiles`,
      `${b}.merged_profiles: ${stats.mergedProfiles} profiles`,
      `${b}.server_rss: ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
      `${b}.server_heap_used: ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB`,
      // Highest resident memory the process reached (Linux VmHWM; covers every run in this process so far).
      ...(peakRss !== undefined ? [`${b}.server_rss_peak: ${peakRss} MB`] : []),
      // The processor keeps pace with the work it queues (ProcessorLoop): the queues stay within a few batches.
      ...(heap ? [`${b}.worker_heap_after_full_gc_max: ${heap.usedMb} MB`, `${b}.audience_backlog_max: ${heap.audienceBacklog} profiles`, `${b}.layers_backlog_max: ${heap.layersBacklog} profiles`] : []),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    await worker?.stop();
    server.close();
    await rt.close();
    if (heapLogSet === undefined) delete process.env.SIYU_WORKER_HEAP_LOG;
    // Each run's data directory (hundreds of MB on SQLite) goes with it.
    if (values.keep && backend === 'sqlite') process.stdout.write(`${b}.kept: ${dataDir}\n`);
    else rmSync(dataDir, { recursive: true, force: true });
    await pgDb?.drop();
  }
}
