import type { AudienceEngine, Logger } from '@siyu/services';
import { LogWatermarks } from './log-watermarks.ts';
import { PeriodicLoop } from './periodic-loop.ts';

/**
 * Keeps time-window audiences current: every `intervalMs` (default 1 s) removes expired tag
 * applications and re-evaluates profiles whose stored re-evaluation time has come
 * (`AudienceEngine.runDue`) — a purchase leaving "bought in the last 30 days" with no new event.
 * Event-driven updates do not need it: they follow each processor batch.
 */
/** How often the loop looks for derivation-log rows no engine removed. */
export const RECOVER_EVERY_MS = 30_000;
/** Rows younger than this may still be in a live engine's queue: left to it. */
export const RECOVER_AFTER_MS = 10 * 60_000;

export class ReevaluationLoop extends PeriodicLoop<{ expiredTags: number; reevaluated: number }> {
  constructor(
    private readonly engine: AudienceEngine,
    log: Logger,
    opts: { intervalMs?: number } = {},
  ) {
    super(log, 'audience re-evaluation', opts.intervalMs ?? 1000);
  }

  private recoveredAt: number | null = null;
  private readonly watermarks = new LogWatermarks(RECOVER_AFTER_MS);

  /**
   * Due re-evaluations; first (and every {@link RECOVER_EVERY_MS} after) the profiles the derivation log
   * still holds — at the first pass all of them (what a crash or kill left unevaluated), later only those
   * logged more than {@link RECOVER_AFTER_MS} before (another process's engine died, say).
   */
  async tick(): Promise<{ expiredTags: number; reevaluated: number }> {
    const now = Date.now();
    let recovered = 0;
    if (this.recoveredAt === null || now - this.recoveredAt >= RECOVER_EVERY_MS) {
      const upTo = this.recoveredAt === null ? undefined : this.watermarks.note(now, await this.engine.lastLogged());
      try {
        if (this.recoveredAt === null) {
          // The number first, then the pass: rows after it are younger than this sample says.
          const last = await this.engine.lastLogged();
          recovered = await this.engine.recover();
          this.watermarks.note(now, last);
        } else if (upTo !== undefined) {
          recovered = await this.engine.recover({ upTo });
        }
      } catch (e) {
        // Due re-evaluations go on; the rows wait for the next sweep.
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'derivation-log sweep failed');
      }
      this.recoveredAt = now;
    }
    const r = await this.engine.runDue();
    return { ...r, reevaluated: r.reevaluated + recovered };
  }

  protected report(r: { expiredTags: number; reevaluated: number }): void {
    if (r.expiredTags || r.reevaluated) this.log.debug({ expiredTags: r.expiredTags, reevaluated: r.reevaluated }, 'audiences re-evaluated');
  }
}
