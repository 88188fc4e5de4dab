import type { DerivationConsumer, DerivationRange, SqlStore } from '@siyu/storage';
import type { Logger } from './deps.ts';

/** How often a consumer removes the derivation-log rows of work it has done, at most. */
const CLEAR_EVERY_MS = 1000;

/**
 * Removes a consumer's done derivation-log rows in one transaction per second at most (adjacent ranges
 * joined into one range delete), rather than one per processor batch: a transaction of its own after each
 * batch took a turn at the writer lock each time, and the audience engine, waiting for it, fell behind the
 * processor and held more of its queue in memory (1M-profile ingest peak 452 → 485–492 MB). Rows done but
 * not yet removed when the process stops are evaluated again at the next start, which is harmless.
 */
export class DerivationClearer {
  private done: DerivationRange[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> = Promise.resolve();
  private lastAt = 0;

  constructor(
    private readonly store: SqlStore,
    private readonly consumer: DerivationConsumer,
    private readonly log: Logger,
  ) {}

  /** Ranges whose work has committed: removed within a second. */
  add(ranges: readonly DerivationRange[]): void {
    if (ranges.length === 0) return;
    this.done.push(...ranges);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), Math.max(0, this.lastAt + CLEAR_EVERY_MS - Date.now()));
    this.timer.unref?.();
  }

  /** Removes every range added so far now (tests, and `settled()`); resolves when done. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ranges = this.done.splice(0);
    if (ranges.length === 0) return this.running;
    this.lastAt = Date.now();
    this.running = this.running.then(() =>
      this.store.clearDerivations(this.consumer, ranges).catch((e: unknown) => this.log.warn({ consumer: this.consumer, err: e instanceof Error ? e.message : String(e) }, 'could not clear the derivation log; the rows are evaluated again later')),
    );
    return this.running;
  }
}

/** Derivation-log rows read per step of {@link recoverDerivations}. */
const RECOVER_PAGE = 2000;

/**
 * The recovery pass both consumers run (`AudienceEngine.recover`, `LayerService.recover`): `consumer`'s
 * rows up to `upTo` (all when unset) in pages, each page's profiles handed to `update` per workspace
 * (profiles erased since are dropped), and the page's rows removed once every workspace of it succeeded
 * — after a failure they stay for the next pass and the other workspaces go on. Returns the rows taken.
 */
export async function recoverDerivations(
  store: SqlStore,
  consumer: DerivationConsumer,
  upTo: number | undefined,
  update: (workspaceId: string, profileIds: string[]) => Promise<void>,
  log: Logger,
): Promise<number> {
  let total = 0;
  for (let after = 0; ; ) {
    const page = await store.derivationPage(consumer, after, RECOVER_PAGE, upTo);
    if (page.length === 0) break;
    const byWs = new Map<string, Set<string>>();
    for (const r of page) {
      if (r.workspaceId === null) continue;
      let ids = byWs.get(r.workspaceId);
      if (!ids) byWs.set(r.workspaceId, (ids = new Set()));
      ids.add(r.profileId);
    }
    let failed = false;
    for (const [workspaceId, ids] of byWs) {
      try {
        await update(workspaceId, [...ids]);
      } catch (e) {
        failed = true;
        log.error({ workspaceId, consumer, err: e instanceof Error ? e.message : String(e) }, 'recovering derived updates failed; tried again later');
      }
    }
    const first = page[0]!.seq;
    after = page[page.length - 1]!.seq;
    if (!failed) await store.clearDerivations(consumer, [[first, after]]);
    total += page.length;
    if (page.length < RECOVER_PAGE) break;
  }
  if (total > 0) log.info({ consumer, profiles: total }, 'made derived state current for profiles whose update had not completed (derivation log)');
  return total;
}
