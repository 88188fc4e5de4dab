import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Config } from '@siyu/config';
import type { IndexOp, Logger, ProfilesAnnouncement, Services } from '@siyu/services';
import { WriterLock } from '@siyu/storage';
import { SharedBacklog } from '@siyu/worker';

/**
 * Which half of the background work a thread runs: `processor` the processor, layer and statistics
 * loops; `audience` the audience engine (memberships of the profiles the processor thread reports)
 * and the re-evaluation loop; `both` all of it (`SIYU_WORKER_THREADS=1`).
 */
export type WorkerRole = 'processor' | 'audience' | 'both';

/** What the server thread hands a worker thread. */
export interface WorkerData {
  role: WorkerRole;
  config: Config;
  /** SQLite: the writer lock both threads' stores share (undefined on PostgreSQL). */
  writerLock: SharedArrayBuffer | undefined;
  /** Post each committed batch's latencies (benchmarks). */
  reportBatches: boolean;
  /** Two threads: the audience engine's backlog, published by the audience thread for the processor thread (`SharedBacklog`). */
  audienceBacklog?: SharedArrayBuffer;
}

/** Profiles the processor thread changed, as sent between threads (postMessage clones the sets and maps). */
export type AnnouncementMessage = { workspaceId: string } & ProfilesAnnouncement;

export type ToWorker = { type: 'appended' } | { type: 'stop' } | { type: 'definitions'; workspaceId: string } | ({ type: 'announce' } & AnnouncementMessage);
export type FromWorker =
  /** `tid`: the thread's id in the operating system (Linux), for per-thread CPU time in benchmarks. */
  | { type: 'ready'; tid?: number }
  | { type: 'warm' }
  | { type: 'index'; workspaceId: string; ops: IndexOp[] }
  | { type: 'batch'; messages: number; latenciesMs: number[] }
  | ({ type: 'announce' } & AnnouncementMessage)
  | { type: 'stopped'; error?: string };

const RESTART_DELAYS_MS = [100, 1000, 5000, 30_000];
/** A thread that has run this long since it was ready is restarted after the shortest delay again. */
const STABLE_MS = 60_000;
const WORKER_SCRIPT = new URL('../bin/worker-thread.js', import.meta.url);

/**
 * The worker's young generation (V8 splits it in three: two 32 MB semi-spaces and new large
 * objects). A processor batch allocates ~20 KB per message and keeps it until the batch commits, so
 * with V8's default 16 MB semi-spaces most of a 2,000-message batch outlived two scavenges and was
 * copied twice, then promoted (~3.8 KB per event). Twice the room halves the scavenges (1.7 s of
 * pauses per 200k events, against 2.7 s) for ~32 MB more resident memory.
 */
const WORKER_YOUNG_GENERATION_MB = 96;

/**
 * The background half of `siyu start` (`SIYU_WORKER=on`) in worker threads, each with its own database
 * connection: one (`SIYU_WORKER_THREADS=1`, the default below four cores) or two — the processor thread
 * (processor, layer and statistics loops) and the audience thread (memberships and re-evaluation),
 * described here. The server thread tells the processor thread when the inbox
 * grows and relays to the audience thread the profiles each committed batch changed; the audience
 * thread sends back the membership and profile changes it commits, so the server thread's audience
 * index (live counts) stays current. On SQLite the audience thread reads outside the write lock, so
 * the three threads' work overlaps on two cores (AudienceEngine.readOutside). A thread that dies is
 * restarted (announcements wait for a restarting audience thread); on SQLite a writer lock it held is
 * handed on.
 */
export class WorkerThread {
  private readonly processor: RoleThread;
  private readonly audience: RoleThread;

  constructor(config: Config, services: Services, log: Logger, writerLock: SharedArrayBuffer | undefined, opts: { script?: URL } = {}) {
    const script = opts.script ?? WORKER_SCRIPT;
    if ((config.workerThreads ?? defaultWorkerThreads()) === 1) {
      this.processor = this.audience = new RoleThread('both', config, services, log, writerLock, script);
      return;
    }
    // The processor thread keeps pace with the audience thread's queue (ProcessorLoop), told through shared memory.
    const audienceBacklog = SharedBacklog.buffer();
    this.audience = new RoleThread('audience', config, services, log, writerLock, script, undefined, audienceBacklog);
    this.processor = new RoleThread('processor', config, services, log, writerLock, script, (m) => this.audience.post({ ...m, type: 'announce' }), audienceBacklog);
  }

  /** Observe committed batches (benchmarks); call before {@link start}. */
  observe(fn: (messages: number, latenciesMs: number[]) => void): void {
    this.processor.observe(fn);
  }

  /** Observe the bitmap changes the audience thread commits, after they are applied here (benchmarks time memberships by them). */
  observeIndex(fn: (workspaceId: string, ops: readonly IndexOp[]) => void): void {
    this.audience.observeIndex(fn);
  }

  /** Resolves once the audience thread has preloaded its index (see AudienceEngine.warm). */
  warm(): Promise<void> {
    return this.audience.warm();
  }

  /** The processor thread's id in the operating system (Linux only), for its CPU time in benchmarks. */
  get osThreadId(): number | undefined {
    return this.processor.osThreadId;
  }

  /** The audience thread's id in the operating system (Linux only). */
  get audienceOsThreadId(): number | undefined {
    return this.audience.osThreadId;
  }

  /** Starts both threads; resolves when their loops run. */
  async start(): Promise<void> {
    await Promise.all(this.processor === this.audience ? [this.processor.start()] : [this.audience.start(), this.processor.start()]);
  }

  /** New messages are in the inbox (coalesced: one wake-up per turn of the event loop). */
  notify = (): void => this.processor.notify();

  /**
   * A workspace's tags or segments changed on the server thread: the audience thread reloads them before
   * it evaluates anything the processor sends after this (messages on one port arrive in order).
   */
  definitionsChanged = (workspaceId: string): void => this.audience.post({ type: 'definitions', workspaceId });

  /**
   * Stops the processor thread (it finishes its batch; what that batch changed is relayed first), then
   * the audience thread (it finishes what it was told).
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.processor.stop(timeoutMs);
    if (this.audience !== this.processor) await this.audience.stop(timeoutMs);
  }
}

/**
 * Two background threads by default only with four cores or more. Measured on two cores (audiences bench,
 * 5,000 events/s): at 100k profiles the split cost ~30 µs of CPU per event more in all for no better
 * membership latency; at 1M it halved the latency at the same CPU, but a third heap and page cache took
 * the 1M-profile process from ~500 to ~610 MB (ARCHITECTURE.md has the table).
 */
function defaultWorkerThreads(): 1 | 2 {
  return availableParallelism() >= 4 ? 2 : 1;
}

/** One worker thread of a {@link WorkerRole}, restarted when it dies. */
class RoleThread {
  private worker: Worker | null = null;
  private stopping = false;
  /** Restarts since the thread last ran for {@link STABLE_MS}: the next one waits the longer for each. */
  private restarts = 0;
  private readyAt = 0;
  private notifyQueued = false;
  private batchListener: ((messages: number, latenciesMs: number[]) => void) | undefined;
  private readonly indexListeners: ((workspaceId: string, ops: readonly IndexOp[]) => void)[] = [];
  private warmed = false;
  /** The running thread's id in the operating system (Linux only): `/proc/self/task/<tid>/stat` has its CPU time. */
  osThreadId: number | undefined;
  private readonly warmWaiters: (() => void)[] = [];

  /** Posted while no audience thread runs (a restart): sent when it is ready. */
  private readonly queued: ToWorker[] = [];
  private ready = false;

  constructor(
    private readonly role: WorkerRole,
    private readonly config: Config,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly writerLock: SharedArrayBuffer | undefined,
    /** The thread's entry point (tests give a stand-in). */
    private readonly script: URL,
    private readonly onAnnounce?: (m: AnnouncementMessage) => void,
    private readonly audienceBacklog?: SharedArrayBuffer,
  ) {}

  /** Sends a message now, or once the thread is (again) ready. */
  post(m: ToWorker): void {
    if (this.worker && this.ready) this.worker.postMessage(m);
    else this.queued.push(m);
  }

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
    const data: WorkerData = { role: this.role, config: this.config, writerLock: this.writerLock, reportBatches: this.batchListener !== undefined, ...(this.audienceBacklog ? { audienceBacklog: this.audienceBacklog } : {}) };
    // The processor's batches want the larger young generation (above); the audience thread keeps V8's default.
    const worker = new Worker(this.script, { workerData: data, ...(this.role !== 'audience' ? { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } } : {}) });
    this.ready = false;
    this.worker = worker;
    // Read now: after the thread has ended, `worker.threadId` is -1.
    const threadId = worker.threadId;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            this.ready = true;
            this.osThreadId = m.tid;
            this.readyAt = Date.now();
            for (const q of this.queued.splice(0)) worker.postMessage(q);
            resolve();
            return;
          case 'announce':
            this.onAnnounce?.(m);
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
        // A dead audience thread's queue is gone (the derivation log has it): the processor thread need not wait for it.
        if (this.role === 'audience' && this.audienceBacklog) Atomics.store(new Int32Array(this.audienceBacklog), 0, 0);
        if (this.worker === worker) {
          this.worker = null;
          this.ready = false;
        }
        // Before it was ready: the start fails (a first start fails `siyu start`; a restart is tried again).
        if (!ready) reject(new Error(`the ${this.role} worker thread exited with code ${code} before it was ready`));
        else if (!this.stopping) {
          // A thread that ran a while starts again at once; one that dies soon after each start waits longer each time.
          if (Date.now() - this.readyAt >= STABLE_MS) this.restarts = 0;
          this.restart(`worker thread exited with code ${code}; restarting it`);
        }
      });
    });
  }

  /** Starts the thread again after a delay that grows with each failed attempt, until one is ready. */
  private restart(why: string): void {
    const delay = RESTART_DELAYS_MS[Math.min(this.restarts, RESTART_DELAYS_MS.length - 1)]!;
    this.restarts++;
    this.log.error({ role: this.role, restartInMs: delay, attempt: this.restarts }, why);
    setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((e: unknown) => {
        if (!this.stopping) this.restart(`worker thread restart failed (${e instanceof Error ? e.message : String(e)}); trying again`);
      });
    }, delay).unref();
  }

  /** New messages are in the inbox (coalesced: one wake-up per turn of the event loop). */
  notify(): void {
    if (this.notifyQueued || !this.worker) return;
    this.notifyQueued = true;
    setImmediate(() => {
      this.notifyQueued = false;
      this.worker?.postMessage({ type: 'appended' } satisfies ToWorker);
    });
  }

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
