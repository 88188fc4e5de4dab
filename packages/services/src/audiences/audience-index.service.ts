import { AudienceBitmaps, newBitmap, type AudienceStore, type LayerCell } from '@siyu/storage';
import type { DefinitionKind } from './definitions.ts';
import { yieldToEventLoop } from './yield.ts';

/** One change to apply to a workspace's bitmaps after its rows are committed. */
export type IndexOp =
  | { op: 'member'; kind: DefinitionKind; refId: string; num: number; action: 'add' | 'remove' }
  | { op: 'profile'; num: number; present: boolean }
  | { op: 'layers'; num: number; cell: LayerCell | null }
  | { op: 'drop'; kind: DefinitionKind; refId: string };

interface Entry {
  bitmaps: AudienceBitmaps | null;
  loading: Promise<AudienceBitmaps> | null;
  /** Changes committed while loading, replayed on top of what the load read. */
  log: IndexOp[];
  loadedAt: number;
  /** The side-writes counter read before the last load began (SqlStore.sideWrites). */
  sideMark: number;
}


export interface AudienceIndexOptions {
  /**
   * Rebuild a workspace's bitmaps from storage when they are older than this, to pick up changes
   * written by other processes (another server or worker on PostgreSQL, `siyu import`). Changes made
   * by this process are applied at once. Default 60 s.
   */
  maxAgeMs?: number;
  /** True on the embedded database, where this process makes nearly all writes (longer default max age). */
  singleWriter?: boolean;
  /** The processor's advisory lock key, taken while numbering profiles that have no number yet. */
  processorLock: number;
}

const PAGE = 50_000;
/** Numbers per membership query: one index range, ~10–30 ms on SQLite. */
const MEMBER_PAGE = 100_000;

/**
 * The roaring audience index: per workspace, bitmaps of every canonical profile, tag, segment,
 * lifecycle stage and RFM cell, keyed by `profiles.num`. Built lazily from storage on first use and
 * kept in step by every membership write of this process (applied after commit).
 */
export class AudienceIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAgeMs: number;

  constructor(
    private readonly store: AudienceStore,
    private readonly clock: () => number,
    private readonly opts: AudienceIndexOptions,
  ) {
    // Rebuilds pick up changes made by other processes. Embedded (SQLite), the server applies its own
    // changes at once and only a side command (`siyu import`) writes besides it, so rebuild rarely
    // (it yields between pages).
    this.maxAgeMs = opts.maxAgeMs ?? (opts.singleWriter ? 10 * 60_000 : 60_000);
  }

  /** The workspace's bitmaps, loading them if needed. Treat as read-only. */
  async bitmaps(workspaceId: string): Promise<AudienceBitmaps> {
    let e = this.entries.get(workspaceId);
    // Embedded, another process (`siyu import`) may have written beside this one: its bitmaps are rebuilt, and
    // waited for — a count, or the plan of a segment created after an import, from bitmaps without the
    // imported people left them out (the plan for good). One read of a one-row table per use.
    if (e?.bitmaps && !e.loading && this.opts.singleWriter && (await this.store.sql.sideWrites()) !== e.sideMark) return this.reload(e, workspaceId);
    if (e?.bitmaps && this.clock() - e.loadedAt <= this.maxAgeMs) return e.bitmaps;
    const usable = e?.bitmaps && this.usableWhileRebuilt(e) ? e.bitmaps : null;
    if (e?.loading) return usable ?? e.loading;
    if (!e) this.entries.set(workspaceId, (e = { bitmaps: null, loading: null, log: [], loadedAt: 0, sideMark: 0 }));
    const loading = this.reload(e, workspaceId);
    if (usable) {
      // Stale but usable: answer from it while the refresh runs.
      loading.catch(() => undefined);
      return usable;
    }
    return loading;
  }

  /**
   * Whether stale bitmaps may answer while they are rebuilt. Where other processes write (PostgreSQL)
   * only up to twice the maximum age: nothing rebuilds an index nobody reads, so after a quiet spell the
   * first count came from bitmaps as old as the spell — a segment another process had filled counted 0,
   * another 889 of 17,300 members. Older than that, the caller waits for the rebuild.
   */
  private usableWhileRebuilt(e: Entry): boolean {
    return this.opts.singleWriter === true || this.clock() - e.loadedAt <= 2 * this.maxAgeMs;
  }

  private reload(entry: Entry, workspaceId: string): Promise<AudienceBitmaps> {
    entry.log = [];
    entry.loading = (this.opts.singleWriter ? this.store.sql.sideWrites().then((mark) => (entry.sideMark = mark)) : Promise.resolve(0)).then(() => this.load(workspaceId)).then(
      (b) => {
        for (const op of entry.log) applyOp(b, op);
        entry.bitmaps = b;
        entry.loading = null;
        entry.log = [];
        entry.loadedAt = this.clock();
        return b;
      },
      (err: unknown) => {
        entry.loading = null;
        throw err;
      },
    );
    return entry.loading;
  }

  private sink: ((workspaceId: string, ops: readonly IndexOp[]) => void) | undefined;

  /**
   * Also hands every applied change to `sink`: the worker thread forwards its changes to the
   * server thread's index this way, so live counts there follow events at once.
   */
  forwardTo(sink: (workspaceId: string, ops: readonly IndexOp[]) => void): void {
    this.sink = sink;
  }

  /** Whether changes must be applied: the workspace's bitmaps are in memory (or loading), or changes are forwarded. */
  isLoaded(workspaceId: string): boolean {
    return this.sink !== undefined || this.entries.has(workspaceId);
  }

  /** Applies committed changes (no-op for workspaces not loaded: their next load reads them). */
  apply(workspaceId: string, ops: readonly IndexOp[]): void {
    if (ops.length === 0) return;
    this.sink?.(workspaceId, ops);
    const e = this.entries.get(workspaceId);
    if (!e) return;
    if (e.loading) e.log.push(...ops);
    if (e.bitmaps) for (const op of ops) applyOp(e.bitmaps, op);
  }

  /**
   * Whether other processes may write memberships, layers and profiles this index does not see until
   * its next rebuild (PostgreSQL: any number of server and worker processes share the database).
   */
  get sharedWriters(): boolean {
    return this.opts.singleWriter !== true;
  }

  /**
   * Bitmaps read from storage now, not cached: every canonical profile and, of the memberships, only
   * these tags and segments (and the layers when asked). For a bulk evaluation's plan, which decides who
   * is evaluated at all: planned from this process's bitmaps, up to `maxAgeMs` old (or older: a stale
   * entry is served while it is rebuilt), a segment created here left out the people another process had
   * created, tagged or moved to another layer since — for good, until their next change.
   */
  loadNow(workspaceId: string, only: LoadOnly): Promise<AudienceBitmaps> {
    return this.load(workspaceId, only);
  }

  /** Forgets a workspace's bitmaps; the next use rebuilds them. */
  invalidate(workspaceId: string): void {
    const e = this.entries.get(workspaceId);
    if (e && !e.loading) this.entries.delete(workspaceId);
  }

  /**
   * Builds the bitmaps from storage, every read a bounded page with a yield between (better-sqlite3
   * is synchronous): the canonical profiles' numbers in order, then each tag's and segment's members
   * from their (ref, profile_num) index — 100,000 numbers per query, as one aggregated text value —
   * and the layer rows grouped by cell. Memberships of profiles that are not canonical are dropped by
   * intersecting with `all`, as the row-by-row join did before.
   */
  private async load(workspaceId: string, only?: LoadOnly): Promise<AudienceBitmaps> {
    await this.store.ensureNums(workspaceId, this.opts.processorLock);
    const b = new AudienceBitmaps();
    const [allTags, allSegments] = await Promise.all([this.store.listTags(workspaceId), this.store.listSegments(workspaceId)]);
    const tags = only ? allTags.filter((t) => only.tags.has(t.id)) : allTags;
    const segments = only ? allSegments.filter((s) => only.segments.has(s.id)) : allSegments;
    // A plan that takes no complement needs no list of every canonical profile (at 1M profiles, ten pages of
    // 100,000 numbers per recompute): memberships are then not narrowed to canonical profiles either.
    if (only?.all === false) b.allKnown = false;
    for (let after = 0; b.allKnown; ) {
      await yieldToEventLoop();
      const nums = await this.store.profileNumPage(workspaceId, after, PAGE);
      if (nums.length === 0) break;
      b.all.addMany(nums);
      after = nums[nums.length - 1]!;
      if (nums.length < PAGE) break;
    }
    for (const [kind, refs] of [
      ['tag', tags],
      ['segment', segments],
    ] as const) {
      for (const ref of refs) {
        const bitmap = newBitmap();
        let from = 0;
        for (;;) {
          await yieldToEventLoop();
          const page = await this.store.memberNumPage(workspaceId, kind, ref.id, from, MEMBER_PAGE);
          bitmap.addMany(page.nums);
          if (page.last === null || page.nums.length < MEMBER_PAGE) break;
          from = page.last;
        }
        if (b.allKnown) bitmap.andInPlace(b.all);
        if (!bitmap.isEmpty) (kind === 'tag' ? b.tags : b.segments).set(ref.id, bitmap);
      }
    }
    if (only && typeof only.layers === 'object') {
      // Only these lifecycle stages (a plan naming stages and no RFM): each from its index range, not every
      // profile's layer row (at 100k profiles on PostgreSQL, reading all of them took ~0.9 s of each recompute).
      for (const stage of only.layers.lifecycle) {
        await yieldToEventLoop();
        const nums = await this.store.lifecycleStageNums(workspaceId, stage);
        if (nums.length) b.addLayers(nums, { lifecycle: stage, rfm: null });
      }
      if (b.allKnown) b.restrictLayersTo(b.all);
    } else if (!only || only.layers) {
      let afterId = '';
      for (;;) {
        await yieldToEventLoop();
        const page = await this.store.layerCellPage(workspaceId, afterId, PAGE);
        for (const c of page.cells) b.addLayers(c.nums, c.cell);
        if (page.last === null || page.rows < PAGE) break;
        afterId = page.last;
      }
      if (b.allKnown) b.restrictLayersTo(b.all);
    }
    return b;
  }
}

function applyOp(b: AudienceBitmaps, op: IndexOp): void {
  switch (op.op) {
    case 'member':
      b.apply({ kind: op.kind, refId: op.refId, num: op.num, action: op.action });
      return;
    case 'profile':
      if (op.present) b.all.add(op.num);
      else b.removeProfile(op.num);
      return;
    case 'layers':
      b.setLayers(op.num, op.cell);
      return;
    case 'drop':
      if (op.kind === 'tag') b.tags.delete(op.refId);
      else b.segments.delete(op.refId);
      return;
  }
}

/**
 * What {@link AudienceIndex.loadNow} reads besides every canonical profile: these tags and segments, and the layers —
 * all of them (`true`), none, or only some lifecycle stages.
 */
export interface LoadOnly {
  tags: ReadonlySet<string>;
  segments: ReadonlySet<string>;
  layers: boolean | { lifecycle: ReadonlySet<string> };
  /**
   * False: not the canonical profiles either (a condition that takes no complement; see AudienceBitmaps.allKnown).
   * Default true.
   */
  all?: boolean;
}
