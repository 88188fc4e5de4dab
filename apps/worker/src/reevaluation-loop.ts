import type { AudienceEngine, Logger } from '@siyu/services';
import { PeriodicLoop } from './periodic-loop.ts';

/**
 * Keeps time-window audiences current: every `intervalMs` (default 1 s) removes expired tag
 * applications and re-evaluates profiles whose stored re-evaluation time has come
 * (`AudienceEngine.runDue`) — a purchase leaving "bought in the last 30 days" with no new event.
 * Event-driven updates do not need it: they follow each processor batch.
 */
export class ReevaluationLoop extends PeriodicLoop<{ expiredTags: number; reevaluated: number }> {
  constructor(
    private readonly engine: AudienceEngine,
    log: Logger,
    opts: { intervalMs?: number } = {},
  ) {
    super(log, 'audience re-evaluation', opts.intervalMs ?? 1000);
  }

  tick(): Promise<{ expiredTags: number; reevaluated: number }> {
    return this.engine.runDue();
  }

  protected report(r: { expiredTags: number; reevaluated: number }): void {
    if (r.expiredTags || r.reevaluated) this.log.debug({ expiredTags: r.expiredTags, reevaluated: r.reevaluated }, 'audiences re-evaluated');
  }
}
