import type { LayerService, Logger } from '@siyu/services';

/**
 * Keeps time-driven layers current: every `intervalMs` moves profiles whose lifecycle stage is due to
 * change (`LayerService.runDue`) and runs the daily / settings-triggered full RFM recompute
 * (`LayerService.recomputeDue`). Event-driven updates do not need it: they follow each processor batch.
 * `stop()` finishes the pass in flight.
 */
export class LayersLoop {
  private running = false;
  private wake: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly layers: LayerService,
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

  /** One pass: due lifecycle changes, then due recomputes (tests and the CLI may call it directly). */
  async tick(): Promise<{ due: number; recomputed: string[] }> {
    const due = await this.layers.runDue();
    const recomputed = await this.layers.recomputeDue();
    return { due, recomputed };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const r = await this.tick();
        failures = 0;
        if (r.due || r.recomputed.length) this.log.info({ due: r.due, recomputed: r.recomputed.length }, 'layers updated');
      } catch (error) {
        failures++;
        this.log.error({ err: error instanceof Error ? error.message : String(error), failures }, 'layers pass failed');
      }
      if (!this.running) break;
      const waitMs = failures ? Math.min(60_000, 1000 * 2 ** failures) : (this.opts.intervalMs ?? 30_000);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, waitMs).unref();
      });
    }
  }
}
