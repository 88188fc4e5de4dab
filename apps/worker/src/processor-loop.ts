import type { Logger, ProcessorService } from '@siyu/services';

/** Work each processor batch queues in memory for this thread (the audience engine, the layer service). */
export interface Downstream {
  /** Profiles queued or being worked on. */
  backlog(): number;
  /** Resolves when what is queued now has run. */
  caughtUp(): Promise<void>;
}

export interface ProcessorLoopOptions {
  batchSize: number;
  pollMs?: number;
  lingerMs?: number;
  /** Kept pace with: no batch starts while one of them holds more than `maxBacklog` profiles. */
  downstream?: readonly Downstream[];
  /** Default: four batches. */
  maxBacklog?: number;
  /** The longest a batch waits for them (a bulk recompute holds their queues for seconds): default 2 s. */
  maxWaitMs?: number;
}

/**
 * Runs the processor continuously: wakes as soon as the inbox gets messages (same process) or every
 * `pollMs` (other processes writing to a shared PostgreSQL). `stop()` finishes the batch in flight.
 *
 * It keeps pace with the work its batches queue in the same thread. A processor that always finds a
 * batch waiting would otherwise run ahead of them without bound: their flushes yield at every statement,
 * each time to a whole batch, so the queue grew, and with it the time each flush took and the memory it
 * held (a returning-customer ingest at full speed: the audience engine's queue reached 140,000 profiles,
 * the worker's live heap 280 MB, and memberships trailed profiles by tens of seconds). The inbox, on disk,
 * holds the backlog instead.
 */
export class ProcessorLoop {
  private running = false;
  private wake: (() => void) | null = null;
  private pending = false;
  private done: Promise<void> = Promise.resolve();
  /** Resolves when `stop()` is called: a batch waiting for downstream work stops waiting. */
  private stopSignal: Promise<void> = new Promise(() => undefined);
  private signalStop: () => void = () => undefined;
  private onBatch: ((r: { messages: number; latenciesMs: number[] }) => void) | undefined;

  constructor(
    private readonly processor: ProcessorService,
    private readonly log: Logger,
    private readonly opts: ProcessorLoopOptions,
  ) {}

  /** Observes every committed batch (the bench uses it for latency figures). */
  observe(fn: (r: { messages: number; latenciesMs: number[] }) => void): void {
    this.onBatch = fn;
  }

  notify = (): void => {
    this.pending = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  };

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopSignal = new Promise((resolve) => (this.signalStop = resolve));
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signalStop();
    this.notify();
    await this.done;
  }

  /** Processes until the inbox is empty (tests and the import command use it). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.processor.processBatch(this.opts.batchSize);
      this.onBatch?.(r);
      if (r.messages === 0) return total;
      total += r.messages;
      await this.keepPace(() => true);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.pending = false;
      try {
        const r = await this.processor.processBatch(this.opts.batchSize);
        this.onBatch?.(r);
        failures = 0;
        if (r.messages > 0) {
          await this.keepPace(() => this.running);
          // Linger briefly after a small batch so the next one is bigger: per-batch costs (lookups,
          // commit, fsync) are paid once for many messages, at a few ms of freshness.
          if (r.messages < this.opts.batchSize / 4) await this.pause(this.opts.lingerMs ?? 20);
          continue;
        }
      } catch (error) {
        failures++;
        this.log.error({ err: error instanceof Error ? error.message : String(error), failures }, 'processor batch failed');
        if (failures >= 3) {
          await this.processor.isolateFailure(error).catch((e: unknown) => this.log.error({ err: String(e) }, 'could not isolate failing message'));
          failures = 0;
        }
        await this.pause(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      if (this.pending || !this.running) continue;
      await this.pause(this.opts.pollMs ?? 250);
    }
  }

  /** Waits while work downstream holds more than `maxBacklog` profiles, up to `maxWaitMs` in all. */
  private async keepPace(active: () => boolean): Promise<void> {
    const downstream = this.opts.downstream ?? [];
    const max = this.opts.maxBacklog ?? 4 * this.opts.batchSize;
    const deadline = Date.now() + (this.opts.maxWaitMs ?? 2000);
    for (const d of downstream) {
      while (active() && d.backlog() > max) {
        const left = deadline - Date.now();
        if (left <= 0) return;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([d.caughtUp(), this.stopSignal, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
      }
    }
  }

  /** Waits `ms`, or less when notified (new messages, or `stop()`), so shutdown never waits on a timer. */
  private pause(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
