// Inside a worker thread (see worker-thread.ts): half of the background work of `siyu start` on its
// own database connection — the processor thread (processor, layer and statistics loops) or the
// audience thread (memberships, re-evaluation) — so ingestion, processing and evaluation overlap.
import { readlinkSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '@siyu/config';
import { openRuntime } from './runtime.ts';
import { jsonLineAppender } from './line-log.ts';
import type { FromWorker, ToWorker, WorkerData } from './worker-thread.ts';

const port = parentPort!;
const data = workerData as WorkerData;
const config: Config = data.config;
const post = (m: FromWorker) => port.postMessage(m);
const role = data.role;
/** How logs and profiles name this thread. */
const name = role === 'both' ? 'worker' : role;
const log = pino({ level: config.logLevel }).child({ thread: name });

const rt = await openRuntime(config, log, { writerLock: data.writerLock, role, ...(data.audienceBacklog ? { audienceBacklog: data.audienceBacklog } : {}) });
const processes = role !== 'audience';
const evaluates = role !== 'processor';
if (!evaluates) {
  // What each batch (and each layer update) changed goes to the audience thread, through the server thread.
  rt.services.processor.onProfilesChanged((workspaceId, touched, merged, _stats, changes, log) =>
    post({ type: 'announce', workspaceId, touched, merged, ...(changes ? { changes } : {}), ...(log?.audiences ? { log: [log.audiences] } : {}) }),
  );
  rt.services.layers.onLayersChanged((workspaceId, layers, log) => post({ type: 'announce', workspaceId, layers, ...(log ? { log } : {}) }));
} else {
  // Membership and profile changes made here keep the server thread's roaring index current.
  rt.services.audienceEngine.index.forwardTo((workspaceId, ops) => post({ type: 'index', workspaceId, ops: [...ops] }));
}
if (data.reportBatches && processes) rt.loop.observe((r) => r.messages > 0 && post({ type: 'batch', messages: r.messages, latenciesMs: r.latenciesMs }));

// SIYU_WORKER_CPU_PROFILE=<dir>: a CPU profile of this thread from start to stop (open it in Chrome DevTools).
const profileDir = process.env.SIYU_WORKER_CPU_PROFILE;
const profiler = profileDir ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
// SIYU_WORKER_ALLOC_PROFILE=<dir>: a sampling allocation profile of this thread (what feeds the collector),
// young garbage included (the option is newer than @types/node's protocol types, hence the cast).
const allocDir = process.env.SIYU_WORKER_ALLOC_PROFILE;
const allocSession = allocDir ? new Session() : null;
if (allocSession) {
  allocSession.connect();
  await allocSession.post('HeapProfiler.enable');
  await allocSession.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
// SIYU_WORKER_HEAP_LOG=<file>: a JSON line per full collection — what survived it (the live heap then) and the
// queues of derived work — to tell retained data from garbage awaiting collection.
const heapLog = process.env.SIYU_WORKER_HEAP_LOG;
if (heapLog) {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const v8 = await import('node:v8');
  const append = jsonLineAppender(heapLog, (err) => log.warn({ file: heapLog, err: err instanceof Error ? err.message : String(err) }, 'SIYU_WORKER_HEAP_LOG cannot be written; heap logging is off'));
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      const mb = (n: number) => Math.round(n / 1048576);
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_used_size)]));
      const line = { t: Date.now(), thread: name, pauseMs: Math.round(e.duration), usedMb: mb(v8.getHeapStatistics().used_heap_size), spaces, rssMb: mb(process.memoryUsage.rss()), audienceBacklog: rt.services.audienceEngine.backlog(), layersBacklog: rt.services.layers.backlog() };
      if (!append(line)) {
        observer.disconnect();
        return;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
async function writeProfile(): Promise<void> {
  if (allocSession && allocDir) {
    const { profile } = await allocSession.post('HeapProfiler.stopSampling');
    writeFileSync(join(allocDir, `${name}-${Date.now()}.heapprofile`), JSON.stringify(profile));
  }
  if (!profiler || !profileDir) return;
  const { profile } = await profiler.post('Profiler.stop');
  const file = join(profileDir, `${name}-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  profiler.disconnect();
  log.info({ file }, 'worker cpu profile written');
}

let stopping: Promise<void> | null = null;

port.on('message', (m: ToWorker) => {
  if (m.type === 'appended') rt.loop.notify();
  else if (m.type === 'definitions') rt.services.audienceEngine.invalidate(m.workspaceId);
  else if (m.type === 'announce') rt.services.audienceEngine.announce(m.workspaceId, m);
  else if (m.type === 'stop') {
    stopping ??= writeProfile().then(() => rt.close()).then(
      () => post({ type: 'stopped' }),
      (e: unknown) => post({ type: 'stopped', error: e instanceof Error ? e.message : String(e) }),
    );
  }
});

if (processes) {
  rt.loop.start();
  rt.layersLoop.start();
  rt.statistics.start();
}
if (evaluates) rt.reevaluation.start();
post({ type: 'ready', tid: osThreadId() });
// The audience index in the background: memberships wait for it only if events come first.
if (evaluates) void rt.services.audienceEngine.warm().then(() => post({ type: 'warm' }));

/** This thread's id in the operating system, where `/proc` tells it (Linux). */
function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}
