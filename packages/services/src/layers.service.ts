import {
  AppError,
  computeRfm,
  formatPath,
  LIFECYCLE_STAGES,
  LifecycleThresholds,
  lifecycleNextChangeAt,
  lifecycleStage,
  RFM_SEGMENTS,
  RfmThresholds,
  rfmSegmentOf,
  type LifecycleStage,
  type RfmCustomer,
  type RfmScore,
  type RfmScoreValue,
  type RfmSegmentName,
} from '@siyu/core';
import { LayerStore, type DerivationRange, type LayerRow, type OrderStats } from '@siyu/storage';
import { z } from 'zod';
import type { ServiceDeps } from './deps.ts';
import { DerivationClearer, recoverDerivations } from './derivation-log.ts';
import type { ProcessorService } from './processor.service.ts';

const DAY_MS = 86_400_000;
const RECOMPUTE_EVERY_MS = DAY_MS;
/** Advisory locks per workspace (PostgreSQL): layer writes of one workspace never interleave across processes. */
const LAYERS_LOCK_BASE = 7_070_030_000_000_000;
const PAGE = 5_000;
const WRITE_CHUNK = 1_000;

/** PUT body of the layer settings; omitted parts take their defaults. */
export const LayerSettingsInput = z.strictObject({
  rfm: z
    .strictObject({
      /** Fixed cut points per dimension; a dimension left out (or `null` for all) is scored by quintiles. */
      thresholds: RfmThresholds.nullable().optional(),
    })
    .optional(),
  lifecycle: LifecycleThresholds.optional(),
});
export type LayerSettingsInput = z.input<typeof LayerSettingsInput>;

/** A workspace's layering settings, defaults filled in. */
export interface LayerSettings {
  rfm: { thresholds: RfmThresholds | null };
  lifecycle: LifecycleThresholds;
}

type Dim = 'r' | 'f' | 'm';
const DIMS: readonly Dim[] = ['r', 'f', 'm'];

/**
 * Four cut points per dimension, same meaning as {@link RfmThresholds} but non-decreasing and with `null`
 * for a score no customer reached (quintiles with ties skip scores):
 * - `r` (days since the last order): ≤ r[0] → 5, ≤ r[1] → 4, ≤ r[2] → 3, ≤ r[3] → 2, else 1 (null: never);
 * - `f`, `m`: c[i] is the smallest value scoring i + 2 (null: no value does).
 */
export type RfmCutpoints = Record<Dim, Array<number | null>>;

/** The cut points of the last full recompute, so single profiles can be scored between recomputes. */
interface RfmState {
  computedAt: string;
  customers: number;
  cuts: RfmCutpoints;
  /** Settings changed since: the next loop tick recomputes. */
  stale: boolean;
}

interface StoredDoc {
  version: 1;
  rfm: { thresholds: RfmThresholds | null };
  lifecycle: LifecycleThresholds;
  rfmState?: RfmState | undefined;
}

interface Context {
  settings: LayerSettings;
  state: RfmState | undefined;
  /** Cut points to score one profile with, or undefined when a quintile dimension has no recompute yet. */
  cuts: RfmCutpoints | undefined;
}

/** A profile's layers as the segment evaluator reads them. */
export interface ProfileLayers {
  lifecycle: LifecycleStage;
  rfm: { r: RfmScoreValue; f: RfmScoreValue; m: RfmScoreValue; segment: RfmSegmentName } | null;
}

export interface RfmReport {
  /** All 25 R × F cells: R = 5..1, then F = 1..5; revenue is the customers' total spent, fen. */
  cells: Array<{ r: RfmScoreValue; f: RfmScoreValue; customers: number; revenue: number }>;
  /** All 11 named segments in their canonical order; share of scored customers, 0–1. */
  segments: Array<{ segment: RfmSegmentName; customers: number; revenue: number; share: number }>;
  customers: number;
  revenue: number;
  /** The cut points in use per dimension and where they come from; null before the first recompute. */
  thresholds: Record<Dim, { cuts: Array<number | null>; source: 'quintiles' | 'fixed' }> | null;
  /** When the last full recompute ran (quintile cut points and everyone's recency), or null. */
  computedAt: string | null;
}

export interface LifecycleReport {
  /** Every stage in lifecycle order; share of `total`, 0–1. */
  stages: Array<{ stage: LifecycleStage; customers: number; share: number }>;
  total: number;
}

/** Fired after layer rows change (deleted rows of merged-away profiles included). */
/**
 * `log`: the derivation-log rows recorded for the audience engine with these layer writes (removed once it
 * has evaluated them), when the change came with any.
 */
export type LayersChangedListener = (workspaceId: string, profileIds: ReadonlySet<string>, log?: DerivationRange[]) => void;

export interface LayerServiceOptions {
  /**
   * While a workspace scored by quintiles has fewer purchasers than this, a batch with purchasers
   * triggers a full recompute (exact quintiles, milliseconds at this size); above it, profiles are scored
   * against the cached cut points and the daily recompute refreshes them. Default 1000.
   */
  exactBelow?: number;
}

/**
 * Layering (分层): each profile's lifecycle stage and RFM cell, kept current.
 *
 * - After every processor batch, touched profiles are re-evaluated (lifecycle with their own purchase
 *   rhythm; RFM against the workspace's cached cut points, or a full recompute while the workspace is
 *   small); merged-away profiles lose their rows.
 * - {@link runDue} moves profiles whose stage changes with time (no new order) at `lifecycle_changes_at`;
 *   {@link recomputeDue} re-runs the full RFM recompute daily, or after settings change.
 * - {@link onLayersChanged} tells the audience engine which profiles' layers changed.
 *
 * All work that writes layers runs one task at a time per service; on PostgreSQL a per-workspace
 * advisory lock keeps processes from interleaving writes.
 */
export class LayerService {
  private readonly store: LayerStore;
  private readonly listeners: LayersChangedListener[] = [];
  private readonly exactBelow: number;
  private tail: Promise<void> = Promise.resolve();
  private readonly pending = new Map<string, { touched: Set<string>; merged: Set<string> }>();
  private flushQueued = false;
  /** Profiles in the flush that is running (see {@link backlog}). */
  private flushing = 0;
  /** Derivation-log ranges recorded for the audience engine by layer writes not yet announced (see notify). */
  private readonly audienceLog: DerivationRange[] = [];
  private readonly clearer: DerivationClearer;
  /** Derivation-log ranges of the changes in {@link pending}: removed after the flush that applies them. */
  private logRanges: DerivationRange[] = [];
  /** Workspaces too large for an inline recompute that have none yet: the loop runs it. */
  private readonly scheduled = new Set<string>();

  constructor(
    private readonly deps: ServiceDeps,
    processor: ProcessorService,
    opts: LayerServiceOptions = {},
  ) {
    this.store = new LayerStore(deps.store);
    this.clearer = new DerivationClearer(deps.store, 'layers', deps.log);
    this.exactBelow = opts.exactBelow ?? 1000;
    // Only profiles whose order statistics changed: a page view of a known customer moves no layer.
    processor.onProfilesChanged((ws, touched, merged, statsChanged, _changes, log) => this.enqueue(ws, statsChanged ?? touched, merged, log?.layers));
  }

  onLayersChanged(listener: LayersChangedListener): void {
    this.listeners.push(listener);
  }

  /** Resolves when all layer work queued so far (processor batches, recomputes) has finished. */
  async settled(): Promise<void> {
    for (;;) {
      const t = this.tail;
      await t;
      if (t === this.tail && this.pending.size === 0) break;
    }
    await this.clearer.flush();
  }

  /** Profiles waiting for a layer update, and in the update running now: the processor loop keeps pace with it (see `AudienceEngine.backlog`). */
  backlog(): number {
    let n = this.flushing;
    for (const p of this.pending.values()) n += p.touched.size + p.merged.size;
    return n;
  }

  /** Resolves when the layer work queued so far has run. */
  caughtUp(): Promise<void> {
    return this.tail;
  }

  // ---------------------------------------------------------------- settings

  async getSettings(workspaceId: string): Promise<LayerSettings> {
    return (await this.context(workspaceId)).settings;
  }

  /**
   * Replaces the settings (omitted parts take defaults). Refuses invalid input with every problem and
   * its path (`lifecycle.silentMultiple`, `rfm.thresholds.r`). Layers are recomputed in the background.
   */
  async putSettings(workspaceId: string, input: unknown): Promise<LayerSettings> {
    const parsed = LayerSettingsInput.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
      throw new AppError('INVALID_INPUT', `the layer settings are not valid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems });
    }
    const thresholds = parsed.data.rfm?.thresholds;
    const settings: LayerSettings = {
      rfm: { thresholds: thresholds && DIMS.some((d) => thresholds[d]) ? thresholds : null },
      lifecycle: parsed.data.lifecycle ?? LifecycleThresholds.parse({}),
    };
    await this.exclusive(async () => {
      await this.store.transaction(async (tx) => {
        const doc = await readDoc(tx, workspaceId);
        const state = doc.rfmState ? { ...doc.rfmState, stale: true } : undefined;
        await tx.putSettings(workspaceId, { version: 1, ...settings, rfmState: state } satisfies StoredDoc, this.deps.clock().toISOString());
      }, lockKeyOf(workspaceId));
    });
    // Everyone's stage and cell may move: recompute now, off the request.
    void this.exclusive(() => this.recomputeAndNotify(workspaceId, this.deps.clock())).catch((e: unknown) => this.logError(workspaceId, 'layer recompute after settings change failed', e));
    return settings;
  }

  // ---------------------------------------------------------------- reads

  /**
   * Lifecycle and RFM of canonical profiles among `profileIds` (merged-away and erased ids are absent).
   * A profile the layering has not stored yet is evaluated on the fly.
   */
  async getLayers(workspaceId: string, profileIds: readonly string[]): Promise<Map<string, ProfileLayers>> {
    const out = new Map<string, ProfileLayers>();
    for (const row of await this.store.canonicalLayersOf(workspaceId, profileIds)) out.set(row.profileId, toProfileLayers(row));
    const missing = profileIds.filter((id) => !out.has(id));
    if (missing.length) {
      const ctx = await this.context(workspaceId);
      const now = this.deps.clock();
      for (const s of await this.store.statsOf(workspaceId, missing)) out.set(s.profileId, toProfileLayers(this.evaluateOne(workspaceId, s, now, ctx, undefined)));
    }
    return out;
  }

  /** The R × F matrix and named-segment totals of the workspace's scored customers. */
  async rfm(workspaceId: string): Promise<RfmReport> {
    const [ctx, cellRows, segmentRows] = await Promise.all([this.context(workspaceId), this.store.rfmCellTotals(workspaceId), this.store.rfmSegmentTotals(workspaceId)]);
    const cells: RfmReport['cells'] = [];
    for (const r of [5, 4, 3, 2, 1] as const) {
      for (const f of [1, 2, 3, 4, 5] as const) {
        const hit = cellRows.find((c) => c.key.r === r && c.key.f === f);
        cells.push({ r, f, customers: hit?.customers ?? 0, revenue: hit?.revenue ?? 0 });
      }
    }
    const customers = cells.reduce((n, c) => n + c.customers, 0);
    const revenue = cells.reduce((n, c) => n + c.revenue, 0);
    const segments = RFM_SEGMENTS.map((segment) => {
      const hit = segmentRows.find((s) => s.key === segment);
      const n = hit?.customers ?? 0;
      return { segment, customers: n, revenue: hit?.revenue ?? 0, share: ratio(n, customers) };
    });
    const fixed = ctx.settings.rfm.thresholds;
    const thresholds = ctx.cuts
      ? (Object.fromEntries(DIMS.map((d) => [d, { cuts: ctx.cuts![d], source: fixed?.[d] ? 'fixed' : 'quintiles' }])) as RfmReport['thresholds'])
      : null;
    return { cells, segments, customers, revenue, thresholds, computedAt: ctx.state?.computedAt ?? null };
  }

  /** Profiles per lifecycle stage, every stage listed in lifecycle order. */
  async lifecycle(workspaceId: string): Promise<LifecycleReport> {
    const rows = await this.store.lifecycleCounts(workspaceId);
    const total = rows.reduce((n, r) => n + r.customers, 0);
    return {
      stages: LIFECYCLE_STAGES.map((stage) => {
        const n = rows.find((r) => r.stage === stage)?.customers ?? 0;
        return { stage, customers: n, share: ratio(n, total) };
      }),
      total,
    };
  }

  /**
   * Drops the layers of profiles that no longer exist (erasure) or were merged away outside the processor,
   * and notifies listeners. Returns the ids that had layers. (The daily recompute also sweeps them.)
   */
  async removeProfiles(workspaceId: string, profileIds: readonly string[]): Promise<string[]> {
    return this.exclusive(async () => {
      const deleted = await this.store.transaction((tx) => tx.deleteLayers(workspaceId, profileIds), lockKeyOf(workspaceId));
      this.notify(workspaceId, deleted);
      return deleted;
    });
  }

  /**
   * Re-evaluates `profileIds` now, from their current order stats (for changes that did not pass through
   * the processor, such as an unmerge). Profiles no longer canonical lose their layers.
   */
  async refreshProfiles(workspaceId: string, profileIds: readonly string[]): Promise<void> {
    await this.exclusive(async () => {
      const changed = await this.evaluate(workspaceId, profileIds, this.deps.clock(), await this.context(workspaceId));
      this.notify(workspaceId, changed);
    });
  }

  // ---------------------------------------------------------------- recomputes

  /**
   * Full recompute of a workspace: scores every canonical profile with an order by quintiles (or the fixed
   * thresholds) with `computeRfm`, re-evaluates their lifecycle, writes the rows that changed, caches the
   * cut points, and removes rows of profiles merged away or erased meanwhile. Returns the new matrix.
   */
  async recomputeAll(workspaceId: string, now: Date = this.deps.clock()): Promise<RfmReport> {
    await this.exclusive(() => this.recomputeAndNotify(workspaceId, now));
    return this.rfm(workspaceId);
  }

  /**
   * Runs the full recompute of every workspace whose last one is older than a day, whose settings
   * changed since, or which has none yet. Returns the workspaces recomputed. The layers loop calls it.
   */
  async recomputeDue(now: Date = this.deps.clock()): Promise<string[]> {
    const done: string[] = [];
    for (const { workspaceId, settings } of await this.store.allSettings()) {
      const state = settings === undefined ? undefined : parseDoc(settings).rfmState;
      const due = !state || state.stale || now.getTime() - Date.parse(state.computedAt) >= RECOMPUTE_EVERY_MS || this.scheduled.has(workspaceId);
      if (!due) continue;
      try {
        await this.exclusive(() => this.recomputeAndNotify(workspaceId, now));
        done.push(workspaceId);
      } catch (e) {
        // One workspace failing (say, a timestamp that does not parse) must not hold back the others.
        this.logError(workspaceId, 'daily layer recompute failed', e);
      }
    }
    return done;
  }

  /**
   * Re-evaluates profiles (every workspace) whose lifecycle stage changes at or before `now` with no new
   * order, and their RFM recency. Returns how many were re-evaluated. The layers loop calls it.
   */
  async runDue(now: Date = this.deps.clock(), opts: { batchSize?: number } = {}): Promise<number> {
    const limit = opts.batchSize ?? 1000;
    let total = 0;
    for (let round = 0; round < 10_000; round++) {
      const due = await this.store.dueLayers(now.toISOString(), limit);
      if (due.length === 0) break;
      const byWs = new Map<string, string[]>();
      for (const d of due) {
        const list = byWs.get(d.workspaceId);
        if (list) list.push(d.profileId);
        else byWs.set(d.workspaceId, [d.profileId]);
      }
      for (const [ws, ids] of byWs) {
        await this.exclusive(async () => {
          const changed = await this.evaluate(ws, ids, now, await this.context(ws));
          this.notify(ws, changed);
        });
      }
      total += due.length;
      if (due.length < limit) break;
    }
    return total;
  }

  // ---------------------------------------------------------------- internals

  private enqueue(workspaceId: string, touched: ReadonlySet<string>, merged: ReadonlySet<string>, log?: DerivationRange): void {
    if (log) this.logRanges.push(log);
    let p = this.pending.get(workspaceId);
    if (!p) this.pending.set(workspaceId, (p = { touched: new Set(), merged: new Set() }));
    for (const id of touched) p.touched.add(id);
    for (const id of merged) p.merged.add(id);
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.exclusive(() => this.flush());
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    this.flushing = this.backlog();
    const work = [...this.pending];
    this.pending.clear();
    const logged = this.logRanges.splice(0);
    let failed = false;
    try {
      for (const [ws, p] of work) {
        try {
          await this.applyBatch(ws, p.touched, p.merged, this.deps.clock());
        } catch (e) {
          failed = true;
          this.logError(ws, 'layer update after a processor batch failed; recover() tries it again', e);
        }
      }
    } finally {
      this.flushing = 0;
    }
    // Done: their log rows go (left for recover() if anything failed).
    if (!failed) this.clearer.add(logged);
  }

  /** The number of the last derivation-log row so far (a sweep's bound, see `recover`). */
  lastLogged(): Promise<number> {
    return this.deps.store.lastDerivationSeq();
  }

  /**
   * Re-evaluates the layers of the profiles the derivation log still holds for this service — processor
   * batches committed whose layer update a crash or a kill cut off (the queue is in memory) — and
   * removes their rows; returns how many rows it took. At start every row (`upTo` unset); from the
   * layers loop only rows up to `upTo`, the last number logged some minutes before (younger ones may
   * still be queued).
   */
  recover(opts: { upTo?: number } = {}): Promise<number> {
    return this.exclusive(() => {
      const now = this.deps.clock();
      // Evaluated from current stats; rows of profiles merged away or erased since are removed by evaluate().
      return recoverDerivations(this.deps.store, 'layers', opts.upTo, (ws, ids) => this.applyBatch(ws, new Set(ids), new Set(), now), this.deps.log);
    });
  }

  private async applyBatch(workspaceId: string, touched: ReadonlySet<string>, merged: ReadonlySet<string>, now: Date): Promise<void> {
    const changed = new Set<string>();
    if (merged.size) {
      const deleted = await this.store.transaction((tx) => tx.deleteLayers(workspaceId, [...merged]), lockKeyOf(workspaceId));
      for (const id of deleted) changed.add(id);
    }
    const ids = [...touched].filter((id) => !merged.has(id));
    if (ids.length) {
      let ctx = await this.context(workspaceId);
      if (this.wantsExactRecompute(workspaceId, ctx) && (await this.store.statsOf(workspaceId, ids)).some((s) => s.orderCount >= 1)) {
        const res = await this.recompute(workspaceId, now, ctx, this.exactBelow);
        if (res) {
          for (const id of res) changed.add(id);
          ctx = await this.context(workspaceId);
        } else {
          this.scheduled.add(workspaceId);
        }
      }
      for (const id of await this.evaluate(workspaceId, ids, now, ctx)) changed.add(id);
    }
    this.notify(workspaceId, changed);
  }

  /** Quintile scoring of a small workspace (or one never computed) is recomputed exactly, not approximated. */
  private wantsExactRecompute(workspaceId: string, ctx: Context): boolean {
    const t = ctx.settings.rfm.thresholds;
    if (t && DIMS.every((d) => t[d])) return false;
    if (this.scheduled.has(workspaceId)) return false;
    return !ctx.state || ctx.state.customers < this.exactBelow;
  }

  private async recomputeAndNotify(workspaceId: string, now: Date): Promise<void> {
    const changed = await this.recompute(workspaceId, now, await this.context(workspaceId), undefined);
    this.scheduled.delete(workspaceId);
    this.notify(workspaceId, changed ?? []);
  }

  /** The full recompute; returns the profiles whose layers changed, or undefined when over `maxCustomers`. */
  private async recompute(workspaceId: string, now: Date, ctx: Context, maxCustomers: number | undefined): Promise<string[] | undefined> {
    const scored = await this.scoreEveryone(workspaceId, now, ctx, maxCustomers);
    if (!scored) return undefined;
    const { byId, cuts } = scored;
    const state: RfmState = { computedAt: now.toISOString(), customers: byId.size, cuts, stale: false };
    await this.store.transaction(async (tx) => {
      const doc = await readDoc(tx, workspaceId);
      await tx.putSettings(workspaceId, { ...doc, rfmState: state } satisfies StoredDoc, now.toISOString());
    }, lockKeyOf(workspaceId));
    const fresh: Context = { settings: ctx.settings, state, cuts: cutsFor(ctx.settings, state) };

    // Phase 2: write in chunks, each re-reading its profiles under the workspace lock so an order that
    // arrived meanwhile is scored from current stats (against the new cut points), never overwritten.
    const changed: string[] = [];
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += WRITE_CHUNK) {
      changed.push(...(await this.evaluate(workspaceId, ids.slice(i, i + WRITE_CHUNK), now, fresh, byId)));
    }
    // Sweep what bypassed the processor (erasures and unmerges also notify at once; this is the safety net).
    // Only in full recomputes: the per-batch exact rescoring of small workspaces skips the table scans.
    if (maxCustomers === undefined) {
      changed.push(...(await this.store.transaction((tx) => tx.deleteOrphanLayers(workspaceId), lockKeyOf(workspaceId))));
      const unscored = await this.store.scoredWithoutOrders(workspaceId);
      if (unscored.length) changed.push(...(await this.evaluate(workspaceId, unscored, now, fresh)));
    }
    return changed;
  }

  /** Phase 1 of a recompute: every purchaser's order stats, paged by id, scored together by `computeRfm`. */
  private async scoreEveryone(workspaceId: string, now: Date, ctx: Context, maxCustomers: number | undefined): Promise<{ byId: Map<string, { stats: OrderStats; score: RfmScore }>; cuts: RfmCutpoints } | undefined> {
    const customers: OrderStats[] = [];
    for (let afterId: string | undefined; ; ) {
      const page = await this.store.purchasersPage(workspaceId, { afterId, limit: PAGE });
      customers.push(...page);
      if (maxCustomers !== undefined && customers.length > maxCustomers) return undefined;
      if (page.length < PAGE) break;
      afterId = page[page.length - 1]!.profileId;
    }
    const thresholds = ctx.settings.rfm.thresholds ?? undefined;
    const input: RfmCustomer[] = customers.map((c) => ({ id: c.profileId, lastOrderAt: c.lastOrderAt, orderCount: c.orderCount, totalSpent: c.totalSpent }));
    const scores = computeRfm(input, { now, ...(thresholds ? { thresholds } : {}) });
    const statsById = new Map(customers.map((c) => [c.profileId, c]));
    const byId = new Map<string, { stats: OrderStats; score: RfmScore }>();
    for (const s of scores) byId.set(s.id, { stats: statsById.get(s.id)!, score: s });
    return { byId, cuts: deriveCutpoints(scores, input, thresholds) };
  }

  /** Re-evaluates `ids` from their current stats under the workspace lock; returns those whose layers changed. */
  private async evaluate(workspaceId: string, ids: readonly string[], now: Date, ctx: Context, known?: Map<string, { stats: OrderStats; score: RfmScore }>): Promise<string[]> {
    if (ids.length === 0) return [];
    let logged: DerivationRange | null = null;
    const changed = await this.store.transaction(async (tx) => {
      const stats = await tx.statsOf(workspaceId, ids);
      const existing = await tx.layersOf(workspaceId, ids);
      const before = new Map(existing.map((r) => [r.profileId, r]));
      const changed: string[] = [];
      const writes: LayerRow[] = [];
      for (const s of stats) {
        const row = this.evaluateOne(workspaceId, s, now, ctx, known?.get(s.profileId));
        const old = before.get(s.profileId);
        before.delete(s.profileId);
        if (old && sameLayers(old, row) && old.lifecycleChangesAt === row.lifecycleChangesAt) continue;
        writes.push(row);
        if (!old || !sameLayers(old, row)) changed.push(s.profileId);
      }
      await tx.upsertLayers(writes);
      // The engine re-evaluates profiles whose layers changed once told (notify): recorded with the write, so
      // a crash before that leaves them for its recover().
      logged = await tx.logDerivations('audiences', changed);
      // Rows left over belong to profiles no longer canonical (merged away or erased).
      if (before.size) changed.push(...(await tx.deleteLayers(workspaceId, [...before.keys()])));
      return changed;
    }, lockKeyOf(workspaceId));
    // Committed: the numbers are the rows' (a rolled-back insert's numbers are used again on SQLite).
    if (logged) this.audienceLog.push(logged);
    return changed;
  }

  private evaluateOne(workspaceId: string, s: OrderStats, now: Date, ctx: Context, known: { stats: OrderStats; score: RfmScore } | undefined): LayerRow {
    const customer = { firstOrderAt: s.firstOrderAt, lastOrderAt: s.lastOrderAt, orderCount: s.orderCount, firstSeen: s.firstSeen };
    const opts = { now, thresholds: ctx.settings.lifecycle };
    const stage = lifecycleStage(customer, opts);
    const changesAt = lifecycleNextChangeAt(customer, opts);
    let score: Pick<RfmScore, 'r' | 'f' | 'm' | 'segment'> | null = null;
    if (s.orderCount >= 1 && s.lastOrderAt !== null) {
      // The recompute's own scores (computeRfm) stand unless the profile changed since it read them.
      if (known && sameStats(known.stats, s)) score = known.score;
      else if (ctx.cuts) score = scoreWithCutpoints(ctx.cuts, s, now);
    }
    return {
      profileId: s.profileId,
      workspaceId,
      lifecycle: stage,
      rfmR: score?.r ?? null,
      rfmF: score?.f ?? null,
      rfmM: score?.m ?? null,
      rfmSegment: score?.segment ?? null,
      lifecycleChangesAt: changesAt?.toISOString() ?? null,
      updatedAt: now.toISOString(),
    };
  }

  private async context(workspaceId: string): Promise<Context> {
    const doc = await readDoc(this.store, workspaceId);
    const settings: LayerSettings = { rfm: doc.rfm, lifecycle: doc.lifecycle };
    return { settings, state: doc.rfmState, cuts: cutsFor(settings, doc.rfmState) };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private notify(workspaceId: string, changed: Iterable<string>): void {
    const ids: ReadonlySet<string> = new Set(changed);
    const log = this.audienceLog.splice(0);
    if (ids.size === 0 && log.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(workspaceId, ids, log.length ? log : undefined);
      } catch (e) {
        this.logError(workspaceId, 'a layers-changed listener failed', e);
      }
    }
  }

  private logError(workspaceId: string, msg: string, e: unknown): void {
    this.deps.log.error({ workspaceId, err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, msg);
  }
}

// ---------------------------------------------------------------- pure helpers

const DEFAULT_DOC: StoredDoc = { version: 1, rfm: { thresholds: null }, lifecycle: LifecycleThresholds.parse({}) };

async function readDoc(store: LayerStore, workspaceId: string): Promise<StoredDoc> {
  const row = await store.getSettings(workspaceId);
  return row ? parseDoc(row.settings) : DEFAULT_DOC;
}

/** Reads a stored document leniently: anything unreadable falls back to defaults rather than breaking layering. */
function parseDoc(raw: unknown): StoredDoc {
  const doc = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<StoredDoc>;
  const thresholds = RfmThresholds.safeParse(doc.rfm?.thresholds ?? {});
  const lifecycle = LifecycleThresholds.safeParse(doc.lifecycle ?? {});
  const t = thresholds.success && DIMS.some((d) => thresholds.data[d]) ? thresholds.data : null;
  return {
    version: 1,
    rfm: { thresholds: t },
    lifecycle: lifecycle.success ? lifecycle.data : DEFAULT_DOC.lifecycle,
    rfmState: isState(doc.rfmState) ? doc.rfmState : undefined,
  };
}

function isState(v: unknown): v is RfmState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<RfmState>;
  return typeof s.computedAt === 'string' && typeof s.customers === 'number' && typeof s.cuts === 'object' && s.cuts !== null && DIMS.every((d) => Array.isArray(s.cuts![d]) && s.cuts![d].length === 4);
}

function cutsFor(settings: LayerSettings, state: RfmState | undefined): RfmCutpoints | undefined {
  const out: Partial<RfmCutpoints> = {};
  for (const d of DIMS) {
    const cuts = settings.rfm.thresholds?.[d] ?? state?.cuts[d];
    if (!cuts) return undefined;
    out[d] = [...cuts];
  }
  return out as RfmCutpoints;
}

/**
 * Cut points reproducing a scoring: for R the largest recency still reaching each score, for F and M the
 * smallest value reaching it. Scores are monotone in the value (equal values score equal), so scoring the
 * same customers with these cut points gives back exactly the same scores.
 */
export function deriveCutpoints(scores: readonly RfmScore[], customers: readonly RfmCustomer[], fixed?: RfmThresholds): RfmCutpoints {
  const byId = new Map(customers.map((c) => [c.id, c]));
  const r: Array<number | null> = [null, null, null, null];
  const f: Array<number | null> = [null, null, null, null];
  const m: Array<number | null> = [null, null, null, null];
  for (const s of scores) {
    const c = byId.get(s.id)!;
    // r[k] = max recency with score ≥ 5 − k; f[k], m[k] = min value with score ≥ k + 2.
    for (let k = 0; k < 4; k++) {
      if (s.r >= 5 - k && (r[k] === null || s.recencyDays > r[k]!)) r[k] = s.recencyDays;
      if (s.f >= k + 2 && (f[k] === null || c.orderCount < f[k]!)) f[k] = c.orderCount;
      if (s.m >= k + 2 && (m[k] === null || c.totalSpent < m[k]!)) m[k] = c.totalSpent;
    }
  }
  return { r: fixed?.r ? [...fixed.r] : r, f: fixed?.f ? [...fixed.f] : f, m: fixed?.m ? [...fixed.m] : m };
}

/** Scores one customer against cut points (see {@link RfmCutpoints}); recency in whole days as `computeRfm` counts it. */
export function scoreWithCutpoints(cuts: RfmCutpoints, s: Pick<OrderStats, 'lastOrderAt' | 'orderCount' | 'totalSpent'>, now: Date): Pick<RfmScore, 'r' | 'f' | 'm' | 'segment' | 'recencyDays'> {
  const recencyDays = Math.max(0, Math.floor((now.getTime() - Date.parse(s.lastOrderAt ?? '')) / DAY_MS));
  const r = (5 - cuts.r.filter((c) => c === null || c < recencyDays).length) as RfmScoreValue;
  const f = (1 + cuts.f.filter((c) => c !== null && c <= s.orderCount).length) as RfmScoreValue;
  const m = (1 + cuts.m.filter((c) => c !== null && c <= s.totalSpent).length) as RfmScoreValue;
  const clamp = (n: RfmScoreValue) => Math.min(5, Math.max(1, n)) as RfmScoreValue;
  return { r: clamp(r), f: clamp(f), m: clamp(m), segment: rfmSegmentOf(clamp(r), clamp(f), clamp(m)), recencyDays };
}

function sameStats(a: OrderStats, b: OrderStats): boolean {
  return a.orderCount === b.orderCount && a.totalSpent === b.totalSpent && a.lastOrderAt === b.lastOrderAt;
}

function sameLayers(a: LayerRow, b: LayerRow): boolean {
  return a.lifecycle === b.lifecycle && a.rfmR === b.rfmR && a.rfmF === b.rfmF && a.rfmM === b.rfmM && a.rfmSegment === b.rfmSegment;
}

function toProfileLayers(row: LayerRow): ProfileLayers {
  const scored = row.rfmR !== null && row.rfmF !== null && row.rfmM !== null && row.rfmSegment !== null;
  return {
    lifecycle: row.lifecycle as LifecycleStage,
    rfm: scored ? { r: row.rfmR as RfmScoreValue, f: row.rfmF as RfmScoreValue, m: row.rfmM as RfmScoreValue, segment: row.rfmSegment as RfmSegmentName } : null,
  };
}

function ratio(n: number, total: number): number {
  return total === 0 ? 0 : Math.round((n / total) * 10_000) / 10_000;
}

function lockKeyOf(workspaceId: string): number {
  let h = 0;
  for (let i = 0; i < workspaceId.length; i++) h = (Math.imul(h, 31) + workspaceId.charCodeAt(i)) | 0;
  return LAYERS_LOCK_BASE + (h >>> 0);
}
