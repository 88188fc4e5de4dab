// Inside the worker thread (see worker-thread.ts): the background half of `siyu start` — processor,
// layer and re-evaluation loops — on its own database connection, so ingestion (server thread) and
// processing run on two cores.
import { readlinkSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '@siyu/config';
import { openRuntime } from './runtime.ts';
import type { FromWorker, ToWorker, WorkerData } from './worker-thread.ts';

const port = parentPort!;
const data = workerData as WorkerData;
const config: Config = data.config;
const post = (m: FromWorker) => port.postMessage(m);
const log = pino({ level: config.logLevel }).child({ thread: 'worker' });

const rt = await openRuntime(config, log, { writerLock: data.writerLock, role: 'worker' });
// Membership and profile changes made here keep the server thread's roaring index current.
rt.services.audienceEngine.index.forwardTo((workspaceId, ops) => post({ type: 'index', workspaceId, ops: [...ops] }));
if (data.reportBatches) rt.loop.observe((r) => r.messages > 0 && post({ type: 'batch', messages: r.messages, latenciesMs: r.latenciesMs }));

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
async function writeProfile(): Promise<void> {
  if (allocSession && allocDir) {
    const { profile } = await allocSession.post('HeapProfiler.stopSampling');
    writeFileSync(join(allocDir, `worker-${Date.now()}.heapprofile`), JSON.stringify(profile));
  }
  if (!profiler || !profileDir) return;
  const { profile } = await profiler.post('Profiler.stop');
  const file = join(profileDir, `worker-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  profiler.disconnect();
  log.info({ file }, 'worker cpu profile written');
}

let stopping: Promise<void> | null = null;

port.on('message', (m: ToWorker) => {
  if (m.type === 'appended') rt.loop.notify();
  else if (m.type === 'stop') {
    stopping ??= writeProfile().then(() => rt.close()).then(
      () => post({ type: 'stopped' }),
      (e: unknown) => post({ type: 'stopped', error: e instanceof Error ? e.message : String(e) }),
    );
  }
});

rt.loop.start();
rt.layersLoop.start();
rt.reevaluation.start();
rt.statistics.start();
post({ type: 'ready', tid: osThreadId() });
// The audience index in the background: processing runs meanwhile, memberships wait only if events come first.
void rt.services.audienceEngine.warm().then(() => post({ type: 'warm' }));

/** This thread's id in the operating system, where `/proc` tells it (Linux). */
function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}
