import type { AudienceEngine, Logger } from '@siyu/services';

/**
 * Keeps time-window audiences current: every `intervalMs` (default 1 s) removes expired tag
 * applications and re-evaluates profiles whose stored re-evaluation time has come
 * (`AudienceEngine.runDue`) — a purchase leaving "bought in the last 30 days" with no new event.
 * Event-driven updates do not need it: they follow each processor batch. `stop()` finishes the pass
 * in flight.
 */
export class ReevaluationLoop {
  private running = false;
  private wake: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly engine: AudienceEngine,
    private readonly log: Logger,
    private readonly opts: { intervalMs?: number } = {},
  ) {}

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

  /** One pass (tests and the CLI may call it directly). */
  tick(): Promise<{ expiredTags: number; reevaluated: number }> {
    return this.engine.runDue();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const r = await this.tick();
        failures = 0;
        if (r.expiredTags || r.reevaluated) this.log.debug({ expiredTags: r.expiredTags, reevaluated: r.reevaluated }, 'audiences re-evaluated');
      } catch (error) {
        failures++;
        this.log.error({ err: error instanceof Error ? error.message : String(error), failures }, 're-evaluation pass failed');
      }
      if (!this.running) break;
      const waitMs = failures ? Math.min(60_000, 1000 * 2 ** failures) : (this.opts.intervalMs ?? 1000);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, waitMs).unref();
      });
    }
  }
}
