import type { Logger, ProcessorService } from '@siyu/services';

/**
 * Runs the processor continuously: wakes as soon as the inbox gets messages (same process) or every
 * `pollMs` (other processes writing to a shared PostgreSQL). `stop()` finishes the batch in flight.
 */
export class ProcessorLoop {
  private running = false;
  private wake: (() => void) | null = null;
  private pending = false;
  private done: Promise<void> = Promise.resolve();
  private onBatch: ((r: { messages: number; latenciesMs: number[] }) => void) | undefined;

  constructor(
    private readonly processor: ProcessorService,
    private readonly log: Logger,
    private readonly opts: { batchSize: number; pollMs?: number; lingerMs?: number },
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
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
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
