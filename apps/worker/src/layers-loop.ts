import type { LayerService, Logger } from '@siyu/services';
import { PeriodicLoop } from './periodic-loop.ts';
import { RECOVER_AFTER_MS } from './reevaluation-loop.ts';

/**
 * Keeps time-driven layers current: every `intervalMs` moves profiles whose lifecycle stage is due to
 * change (`LayerService.runDue`) and runs the daily / settings-triggered full RFM recompute
 * (`LayerService.recomputeDue`). Event-driven updates do not need it: they follow each processor batch.
 */
export class LayersLoop extends PeriodicLoop<{ due: number; recomputed: string[] }> {
  private recovered = false;
  constructor(
    private readonly layers: LayerService,
    log: Logger,
    opts: { intervalMs?: number } = {},
  ) {
    super(log, 'layers', opts.intervalMs ?? 30_000);
  }

  /** One pass: due lifecycle changes, then due recomputes. */
  async tick(): Promise<{ due: number; recomputed: string[] }> {
    // The profiles the derivation log still holds for layers: at the first pass all of them (what a crash
    // or kill left), later those older than RECOVER_AFTER_MS (younger ones may still be queued).
    const recovered = await this.layers.recover(this.recovered ? { olderThanMs: RECOVER_AFTER_MS } : {});
    this.recovered = true;
    const due = (await this.layers.runDue()) + recovered;
    const recomputed = await this.layers.recomputeDue();
    return { due, recomputed };
  }

  protected report(r: { due: number; recomputed: string[] }): void {
    if (r.due || r.recomputed.length) this.log.info({ due: r.due, recomputed: r.recomputed.length }, 'layers updated');
  }
}
