import { Worker } from 'node:worker_threads';
import type { Config } from '@siyu/config';
import type { IndexOp, Logger, Services } from '@siyu/services';
import { WriterLock } from '@siyu/storage';

/** What the server thread hands the worker thread. */
export interface WorkerData {
  config: Config;
  /** SQLite: the writer lock both threads' stores share (undefined on PostgreSQL). */
  writerLock: SharedArrayBuffer | undefined;
  /** Post each committed batch's latencies (benchmarks). */
  reportBatches: boolean;
}

export type ToWorker = { type: 'appended' } | { type: 'stop' };
export type FromWorker =
  /** `tid`: the thread's id in the operating system (Linux), for per-thread CPU time in benchmarks. */
  | { type: 'ready'; tid?: number }
  | { type: 'warm' }
  | { type: 'index'; workspaceId: string; ops: IndexOp[] }
  | { type: 'batch'; messages: number; latenciesMs: number[] }
  | { type: 'stopped'; error?: string };

const RESTART_DELAYS_MS = [100, 1000, 5000, 30_000];

/**
 * The worker half of `siyu start` in a worker thread (`SIYU_WORKER=on`): processor, layers and
 * re-evaluation loops on a second core, with their own database connection. The server thread
 * tells it when the inbox grows; it sends back the membership and profile changes it commits, so
 * the server thread's audience index (live counts) stays current. A thread that dies is restarted;
 * on SQLite a writer lock it held is handed on.
 */
/**
 * The worker's young generation (V8 splits it in three: two 32 MB semi-spaces and new large
 * objects). A processor batch allocates ~20 KB per message and keeps it until the batch commits, so
 * with V8's default 16 MB semi-spaces most of a 2,000-message batch outlived two scavenges and was
 * copied twice, then promoted (~3.8 KB per event). Twice the room halves the scavenges (1.7 s of
 * pauses per 200k events, against 2.7 s) for ~32 MB more resident memory.
 */
const WORKER_YOUNG_GENERATION_MB = 96;

export class WorkerThread {
  private worker: Worker | null = null;
  private stopping = false;
  private restarts = 0;
  private notifyQueued = false;
  private batchListener: ((messages: number, latenciesMs: number[]) => void) | undefined;
  private readonly indexListeners: ((workspaceId: string, ops: readonly IndexOp[]) => void)[] = [];
  private warmed = false;
  /** The running thread's id in the operating system (Linux only): `/proc/self/task/<tid>/stat` has its CPU time. */
  osThreadId: number | undefined;
  private readonly warmWaiters: (() => void)[] = [];

  constructor(
    private readonly config: Config,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly writerLock: SharedArrayBuffer | undefined,
  ) {}

  /** Observe committed batches (benchmarks); call before {@link start}. */
  observe(fn: (messages: number, latenciesMs: number[]) => void): void {
    this.batchListener = fn;
  }

  /** Observe the bitmap changes the worker commits, after they are applied here (benchmarks time memberships by them). */
  observeIndex(fn: (workspaceId: string, ops: readonly IndexOp[]) => void): void {
    this.indexListeners.push(fn);
  }

  /** Resolves once the thread has preloaded the audience index (see AudienceEngine.warm). */
  warm(): Promise<void> {
    return this.warmed ? Promise.resolve() : new Promise((resolve) => this.warmWaiters.push(resolve));
  }

  /** Starts the thread; resolves when its loops run. */
  start(): Promise<void> {
    const data: WorkerData = { config: this.config, writerLock: this.writerLock, reportBatches: this.batchListener !== undefined };
    const worker = new Worker(new URL('../bin/worker-thread.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.worker = worker;
    // Read now: after the thread has ended, `worker.threadId` is -1.
    const threadId = worker.threadId;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            this.osThreadId = m.tid;
            this.restarts = 0;
            resolve();
            return;
          case 'warm':
            this.warmed = true;
            for (const w of this.warmWaiters.splice(0)) w();
            return;
          case 'index':
            this.services.audienceEngine.index.apply(m.workspaceId, m.ops);
            for (const l of this.indexListeners) l(m.workspaceId, m.ops);
            return;
          case 'batch':
            this.batchListener?.(m.messages, m.latenciesMs);
            return;
          case 'stopped':
            if (m.error) this.log.error({ err: m.error }, 'worker thread stopped with an error');
            return;
        }
      });
      worker.on('error', (e: Error) => {
        this.log.error({ err: e.message, stack: e.stack }, 'worker thread failed');
        if (!ready) reject(e);
      });
      worker.on('exit', (code) => {
        if (this.writerLock && new WriterLock(this.writerLock, 0).releaseIfHeldBy(threadId)) this.log.warn({}, 'released the database writer lock the worker thread held');
        if (this.worker === worker) this.worker = null;
        if (this.stopping || !ready) return;
        const delay = RESTART_DELAYS_MS[Math.min(this.restarts, RESTART_DELAYS_MS.length - 1)]!;
        this.restarts++;
        this.log.error({ code, restartInMs: delay }, 'worker thread exited; restarting it');
        setTimeout(() => {
          if (!this.stopping) this.start().catch((e: unknown) => this.log.error({ err: String(e) }, 'worker thread restart failed'));
        }, delay).unref();
      });
    });
  }

  /** New messages are in the inbox (coalesced: one wake-up per turn of the event loop). */
  notify = (): void => {
    if (this.notifyQueued || !this.worker) return;
    this.notifyQueued = true;
    setImmediate(() => {
      this.notifyQueued = false;
      this.worker?.postMessage({ type: 'appended' } satisfies ToWorker);
    });
  };

  /** Finishes the batch in flight and the work it triggered, closes the thread's connection, ends it. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ timeoutMs }, 'worker thread did not stop in time; terminating it');
        void worker.terminate();
      }, timeoutMs);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'stopped') void worker.terminate();
      });
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
    });
  }
}
