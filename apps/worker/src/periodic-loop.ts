import type { Logger } from '@siyu/services';

/**
 * A pass run every `intervalMs` until stopped, backing off after failures. `stop()` wakes the wait
 * and finishes the pass in flight. Subclasses give the pass (`tick`) and how to log its result.
 */
export abstract class PeriodicLoop<R> {
  private running = false;
  private wake: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  protected constructor(
    protected readonly log: Logger,
    private readonly name: string,
    private readonly intervalMs: number,
  ) {}

  /** One pass (tests and the CLI may call it directly). */
  abstract tick(): Promise<R>;

  protected abstract report(result: R): void;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    const w = this.wake;
    this.wake = null;
    w?.();
    await this.done;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        this.report(await this.tick());
        failures = 0;
      } catch (error) {
        failures++;
        this.log.error({ err: error instanceof Error ? error.message : String(error), failures }, `${this.name} pass failed`);
      }
      if (!this.running) break;
      const waitMs = failures ? Math.min(60_000, 1000 * 2 ** failures) : this.intervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
