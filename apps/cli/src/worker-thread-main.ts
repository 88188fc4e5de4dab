// Inside the worker thread (see worker-thread.ts): the background half of `siyu start` — processor,
// layer and re-evaluation loops — on its own database connection, so ingestion (server thread) and
// processing run on two cores.
import { join, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '@siyu/config';
import { createServices, newId } from '@siyu/services';
import { openStore } from '@siyu/storage';
import { LayersLoop, ProcessorLoop, ReevaluationLoop } from '@siyu/worker';
import type { FromWorker, ToWorker, WorkerData } from './worker-thread.ts';

const port = parentPort!;
const data = workerData as WorkerData;
const config: Config = data.config;
const post = (m: FromWorker) => port.postMessage(m);
const log = pino({ level: config.logLevel }).child({ thread: 'worker' });

const opened = await openStore({
  databaseUrl: config.databaseUrl,
  sqliteFile: join(resolve(config.dataDir), 'siyu.db'),
  // The server thread migrated before starting this thread.
  migrate: false,
  writerLock: data.writerLock,
});
// Definitions change on the server thread: reload them every second rather than every 30 s.
const services = createServices({ store: opened.store, clock: () => new Date(), newId, log }, { defaultTimeZone: config.timeZone, audiences: { modelMaxAgeMs: 1000 } });
// Membership and profile changes made here keep the server thread's roaring index current.
services.audienceEngine.index.forwardTo((workspaceId, ops) => post({ type: 'index', workspaceId, ops: [...ops] }));
const loop = new ProcessorLoop(services.processor, log, { batchSize: config.processorBatch });
if (data.reportBatches) loop.observe((r) => r.messages > 0 && post({ type: 'batch', messages: r.messages, latenciesMs: r.latenciesMs }));
const layersLoop = new LayersLoop(services.layers, log);
const reevaluation = new ReevaluationLoop(services.audienceEngine, log);

let stopping: Promise<void> | null = null;
async function stop(): Promise<void> {
  await loop.stop();
  await layersLoop.stop();
  await services.layers.settled();
  await reevaluation.stop();
  await services.audienceEngine.settled();
  await opened.close();
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'appended') loop.notify();
  else if (m.type === 'stop') {
    stopping ??= stop().then(
      () => post({ type: 'stopped' }),
      (e: unknown) => post({ type: 'stopped', error: e instanceof Error ? e.message : String(e) }),
    );
  }
});

loop.start();
layersLoop.start();
reevaluation.start();
post({ type: 'ready' });
