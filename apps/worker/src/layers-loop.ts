import type { LayerService, Logger } from '@siyu/services';
import { LogWatermarks } from './log-watermarks.ts';
import { PeriodicLoop } from './periodic-loop.ts';
import { RECOVER_AFTER_MS } from './reevaluation-loop.ts';

/**
 * Keeps time-driven layers current: every `intervalMs` moves profiles whose lifecycle stage is due to
 * change (`LayerService.runDue`) and runs the daily / settings-triggered full RFM recompute
 * (`LayerService.recomputeDue`). Event-driven updates do not need it: they follow each processor batch.
 */
export class LayersLoop extends PeriodicLoop<{ due: number; recomputed: string[] }> {
  private recovered = false;
  private readonly watermarks = new LogWatermarks(RECOVER_AFTER_MS);
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
    // or kill left), later those logged more than RECOVER_AFTER_MS before (younger ones may still be queued).
    let recovered = 0;
    try {
      if (!this.recovered) {
        const now = Date.now();
        const last = await this.layers.lastLogged();
        recovered = await this.layers.recover();
        this.watermarks.note(now, last);
      } else {
        const upTo = this.watermarks.note(Date.now(), await this.layers.lastLogged());
        if (upTo !== undefined) recovered = await this.layers.recover({ upTo });
      }
    } catch (e) {
      // Due lifecycle moves and recomputes go on; the rows wait for the next sweep.
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'derivation-log sweep failed');
    }
    this.recovered = true;
    const due = (await this.layers.runDue()) + recovered;
    const recomputed = await this.layers.recomputeDue();
    return { due, recomputed };
  }

  protected report(r: { due: number; recomputed: string[] }): void {
    if (r.due || r.recomputed.length) this.log.info({ due: r.due, recomputed: r.recomputed.length }, 'layers updated');
  }
}
