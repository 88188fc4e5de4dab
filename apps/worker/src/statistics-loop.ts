import type { Logger, PipelineService } from '@siyu/services';
import { PeriodicLoop } from './periodic-loop.ts';

/**
 * Keeps the planner's statistics current on PostgreSQL: every `intervalMs` (default 5 s) analyzes
 * the tables that changed by more than autovacuum's threshold since their last analysis
 * (`PipelineService.refreshPlannerStatistics`) — a table growing from empty at once, any other at most every
 * 30 s. Where autovacuum runs and keeps up it finds nothing to do. (Every 30 s, a fresh database under load ran
 * its first 30 s without statistics: the 200k-event ingest bench's message-id checks took 20–40 ms instead of 0.3.)
 */
export class StatisticsLoop extends PeriodicLoop<string[]> {
  constructor(
    private readonly pipeline: PipelineService,
    log: Logger,
    opts: { intervalMs?: number } = {},
  ) {
    super(log, 'planner statistics', opts.intervalMs ?? 5_000);
  }

  tick(): Promise<string[]> {
    return this.pipeline.refreshPlannerStatistics();
  }

  protected report(tables: string[]): void {
    if (tables.length) this.log.info({ tables }, 'planner statistics refreshed');
  }
}
