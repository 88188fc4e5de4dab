import type { Logger, PipelineService } from '@siyu/services';
import { PeriodicLoop } from './periodic-loop.ts';

/**
 * Keeps the planner's statistics current on PostgreSQL: every `intervalMs` (default 30 s) analyzes
 * the tables that changed by more than autovacuum's threshold since their last analysis
 * (`PipelineService.refreshPlannerStatistics`). Where autovacuum runs and keeps up it finds nothing to do.
 */
export class StatisticsLoop extends PeriodicLoop<string[]> {
  constructor(
    private readonly pipeline: PipelineService,
    log: Logger,
    opts: { intervalMs?: number } = {},
  ) {
    super(log, 'planner statistics', opts.intervalMs ?? 30_000);
  }

  tick(): Promise<string[]> {
    return this.pipeline.refreshPlannerStatistics();
  }

  protected report(tables: string[]): void {
    if (tables.length) this.log.info({ tables }, 'planner statistics refreshed');
  }
}
