import { conditionDependencies, evaluateWithoutEvents, hasClockDependentTraits, type ConditionNode } from '@siyu/core';
import { AudienceBitmaps, AudienceStore, type DerivationRange, type AudienceEventRecord, type MembershipHistoryRecord, type EvaluationRow, type PageNeeds, type PageSelector } from '@siyu/storage';
import type { ServiceDeps } from '../deps.ts';
import type { LayerService } from '../layers.service.ts';
import type { ProcessorService, ProfileChange } from '../processor.service.ts';
import { AudienceIndex, type IndexOp } from './audience-index.service.ts';
import { CandidatePlanner, type CandidateSet } from './candidate-planner.ts';
import { MEMBERSHIP_EVENTS, pageNeedsOf, WorkspaceModel, type CompiledDefinition, type DefinitionKind } from './definitions.ts';
import { evaluateRow, screensBeforeTags, toEvaluationProfile, type DerivedChange } from './evaluation.ts';
import { yieldToEventLoop } from './yield.ts';
import { DerivationClearer, recoverDerivations } from '../derivation-log.ts';

/** Same key as the processor's lock (processor.service.ts): it guards the numbering of profiles. */
const PROCESSOR_LOCK = 7070_0001;
const AUDIENCE_LOCK_BASE = 7_070_040_000_000_000;

/** PostgreSQL advisory lock of a workspace's membership writes, so processes do not interleave them. */
export function audienceLockOf(workspaceId: string): number {
  let h = 0;
  for (let i = 0; i < workspaceId.length; i++) h = (Math.imul(h, 31) + workspaceId.charCodeAt(i)) | 0;
  return AUDIENCE_LOCK_BASE + (h >>> 0);
}

/** A workspace's profiles waiting for evaluation; `changes` holds what changed for those a processor batch described. */
interface PendingProfiles {
  touched: Set<string>;
  merged: Set<string>;
  layers: Set<string>;
  changes: Map<string, ProfileChange>;
  undescribed: Set<string>;
}

/** Profiles a processor batch or the layer service changed, as the engine queues them. */
export interface ProfilesAnnouncement {
  touched?: ReadonlySet<string>;
  merged?: ReadonlySet<string>;
  layers?: ReadonlySet<string>;
  changes?: ReadonlyMap<string, ProfileChange>;
  /** Derivation-log rows recorded for the engine with these changes: removed once they are evaluated. */
  log?: readonly DerivationRange[];
}

/** Why a membership changed, as recorded in history. */
export type MembershipReason = 'event' | 'schedule' | 'computed' | 'redefined' | 'tags' | 'layers' | 'expired' | 'merged' | 'manual' | 'api' | 'import' | 'rule';

/** A committed entry into or exit from a tag or segment. */
export interface MembershipChange {
  kind: DefinitionKind;
  refId: string;
  refName: string;
  profileId: string;
  num: number;
  action: 'entered' | 'exited';
  reason: MembershipReason;
  /** For tags: how the application came about (`manual`, `api`, `import`, `rule`). */
  source?: string;
  /** Who made it by hand or by API (kept in the history); unset for Siyu's own changes. */
  actor?: string;
  at: string;
}

/** Called after membership changes are committed (journeys subscribe here). */
export type MembershipListener = (workspaceId: string, changes: readonly MembershipChange[]) => void;

export interface AudienceEngineOptions {
  /**
   * Reload a workspace's definitions when older than this: changes made by another thread or process (a segment
   * created on another server process, or on the server beside a `siyu import`) reach this engine's evaluations
   * that late. Default 1 s (three small reads per workspace and second at most); it was 30 s outside worker
   * threads, and changes evaluated meanwhile skipped the new definition until the profile's next change.
   */
  modelMaxAgeMs?: number;
  /** See `AudienceIndexOptions.maxAgeMs`. Default 60 s. */
  indexMaxAgeMs?: number;
  /** Profiles per page in bulk computations. Default 1000. */
  pageSize?: number;
  /**
   * Follow this process's processor and layer service (default). False when another thread runs the
   * evaluation: changes then reach it through {@link AudienceEngine.announce}.
   */
  follow?: boolean;
  /**
   * SQLite, with the processor on another thread: read each incremental chunk before taking the write
   * lock, and only check it under the lock ({@link AudienceEngine.readOutside}). Default false.
   */
  readOutsideLock?: boolean;
}


const LEASE_MS = 5 * 60_000;
const DUE_BATCH = 500;
/** Profiles per incremental transaction: a processor batch's worth, so one commit writes each touched page once. */
const INCREMENTAL_CHUNK = 2000;
/** Rounds of re-evaluation for definitions that read the membership events the engine writes (followMembershipEvents). */
const MAX_MEMBERSHIP_EVENT_ROUNDS = 3;
/** Current members read per query when a recompute lists them. */
const MEMBER_PAGE = 100_000;
/** Candidates screened per read when a recompute first drops those its trait conditions decide. */
const SCREEN_PAGE = 2000;

/**
 * Keeps every rule tag and segment current (step 4 of the data flow).
 *
 * - After each processor batch, the touched profiles (and only they) are re-evaluated against all
 *   definitions in dependency order, in one transaction per chunk: a few indexed reads (profiles,
 *   tags, segments, layers, the needed events) and the membership writes.
 * - Each evaluation stores the profile's earliest `nextChangeAt` in `reevaluations`; {@link runDue}
 *   re-evaluates due profiles (windows expiring with no new event) and removes expired tag applications.
 * - Creating or redefining a segment or rule tag computes it in bulk ({@link recompute}), diffing the
 *   old membership.
 * - Entering and leaving write `membership_history` rows and events (`Segment Entered`/`Segment
 *   Exited`, `Tag Added`/`Tag Removed`) attributed to the profile. They are written directly, not
 *   through the inbox, so they never re-trigger evaluation.
 * - Changes update the roaring {@link AudienceIndex} after commit.
 *
 * Work runs one task at a time per process; on PostgreSQL writes take a per-workspace advisory lock.
 */
export class AudienceEngine {
  readonly store: AudienceStore;
  readonly index: AudienceIndex;
  private readonly models = new Map<string, WorkspaceModel>();
  private readonly generations = new Map<string, number>();
  private readonly listeners: MembershipListener[] = [];
  private readonly definitionListeners: ((workspaceId: string) => void)[] = [];
  /** Per workspace: profiles to re-evaluate; `changes` holds what changed for those a processor batch described. */
  private readonly pending = new Map<string, PendingProfiles>();
  private flushQueued = false;
  /** Profiles in the flush that is running (see {@link backlog}). */
  private flushing = 0;
  /** Derivation-log ranges of the changes in {@link pending}: removed after the flush that evaluates them. */
  private logRanges: DerivationRange[] = [];
  private readonly clearer: DerivationClearer;
  private tail: Promise<void> = Promise.resolve();
  private readonly modelMaxAgeMs: number;
  private readonly pageSize: number;
  /** See {@link AudienceEngineOptions.readOutsideLock} (PostgreSQL reads in the transaction: writers do not exclude readers there). */
  private readonly readOutsideLock: boolean;

  constructor(
    private readonly deps: ServiceDeps,
    processor: ProcessorService,
    layers: LayerService | undefined,
    opts: AudienceEngineOptions = {},
  ) {
    this.store = new AudienceStore(deps.store);
    this.clearer = new DerivationClearer(deps.store, 'audiences', deps.log);
    this.index = new AudienceIndex(this.store, () => Date.now(), { processorLock: PROCESSOR_LOCK, singleWriter: deps.store.dialect === 'sqlite', ...(opts.indexMaxAgeMs !== undefined ? { maxAgeMs: opts.indexMaxAgeMs } : {}) });
    this.modelMaxAgeMs = opts.modelMaxAgeMs ?? 1000;
    this.pageSize = opts.pageSize ?? 1000;
    this.readOutsideLock = opts.readOutsideLock === true && deps.store.dialect === 'sqlite';
    if (opts.follow === false) return;
    processor.onProfilesChanged((ws, touched, merged, _stats, changes, log) => this.enqueue(ws, { touched, merged, ...(changes ? { changes } : {}), ...(log?.audiences ? { log: [log.audiences] } : {}) }));
    layers?.onLayersChanged((ws, ids, log) => this.enqueue(ws, { layers: ids, ...(log ? { log } : {}) }));
  }

  onMembershipChanged(listener: MembershipListener): void {
    this.listeners.push(listener);
  }

  /** Resolves when all work queued so far (processor batches, layer changes, recomputes) has finished. */
  async settled(): Promise<void> {
    for (;;) {
      const t = this.tail;
      await t;
      if (t === this.tail && this.pending.size === 0 && !this.flushQueued) break;
    }
    await this.clearer.flush();
  }

  /**
   * Profiles waiting for evaluation after processor batches and layer changes, and in the evaluation
   * running now. The processor loop of the same thread waits while it is large ({@link caughtUp}): the
   * queue is in memory, ~1 KB a profile, and a processor that always has a batch ready otherwise keeps
   * the engine's flushes waiting (each of their statements yields to the next batch) — in a
   * returning-customer ingest the queue reached 140,000 profiles and the worker's heap 280 MB.
   */
  backlog(): number {
    let n = this.flushing;
    for (const p of this.pending.values()) n += p.touched.size + p.merged.size + p.layers.size;
    return n;
  }

  /** Resolves when the work queued so far has run (unlike {@link settled}, not waiting for what is queued meanwhile). */
  caughtUp(): Promise<void> {
    return this.tail;
  }

  /**
   * Loads every workspace's definitions and bitmaps now, in the background of a start, rather than
   * when the first event after it arrives: at 1M profiles building the bitmaps takes seconds, and the
   * first batches' memberships would wait for it. Resolves when done (a workspace that fails to load
   * is loaded again on first use).
   */
  async warm(): Promise<void> {
    const failed = (workspaceId: string | undefined, e: unknown) =>
      this.deps.log.warn({ workspaceId, err: e instanceof Error ? e.message : String(e) }, 'could not preload the audience index; it loads on first use');
    const workspaces = await this.deps.store.listWorkspaces().catch((e: unknown) => (failed(undefined, e), []));
    for (const ws of workspaces) {
      try {
        const model = await this.model(ws.id);
        if (model.ordered.length > 0 || model.tagById.size > 0) await this.index.bitmaps(ws.id);
      } catch (e) {
        failed(ws.id, e);
      }
    }
  }

  // ---------------------------------------------------------------- definitions

  /** The workspace's compiled tags and segments (cached; dropped on every change made here). */
  async model(workspaceId: string, opts: { fresh?: boolean } = {}): Promise<WorkspaceModel> {
    const hit = this.models.get(workspaceId);
    if (hit && !opts.fresh && Date.now() - hit.loadedAt <= this.modelMaxAgeMs) return hit;
    const generation = this.generations.get(workspaceId) ?? 0;
    const [ws, tags, segments] = await Promise.all([this.deps.store.getWorkspace(workspaceId), this.store.listTags(workspaceId), this.store.listSegments(workspaceId)]);
    const model = new WorkspaceModel(workspaceId, ws?.timeZone ?? 'Asia/Shanghai', tags, segments, Date.now());
    // A load that raced with a change must not be cached over it.
    if ((this.generations.get(workspaceId) ?? 0) === generation) this.models.set(workspaceId, model);
    return model;
  }

  /** Forgets cached definitions after a tag or segment is created, changed or deleted. */
  invalidate(workspaceId: string): void {
    this.generations.set(workspaceId, (this.generations.get(workspaceId) ?? 0) + 1);
    this.models.delete(workspaceId);
    for (const l of this.definitionListeners) l(workspaceId);
  }

  /**
   * Called when this engine's definitions of a workspace change (`siyu start` tells its worker threads,
   * whose engines otherwise see a new segment only when their cached definitions expire, a second later:
   * events evaluated meanwhile would miss it).
   */
  onDefinitionsChanged(listener: (workspaceId: string) => void): void {
    this.definitionListeners.push(listener);
  }

  // ---------------------------------------------------------------- incremental

  /**
   * Re-evaluates these profiles against every definition now (after manual tag changes, for
   * instance). Resolves once the changes are committed.
   */
  profilesChanged(workspaceId: string, profileIds: readonly string[], reason: MembershipReason): Promise<void> {
    if (profileIds.length === 0) return Promise.resolve();
    return this.exclusive(() => this.evaluateProfiles(workspaceId, profileIds, this.deps.clock(), reason));
  }

  /**
   * Tells the engine that these profiles' `profile_layers` rows changed (the layer service does this
   * itself through `onLayersChanged`). Resolves once bitmaps and memberships follow.
   */
  layersChanged(workspaceId: string, profileIds: Iterable<string>): Promise<void> {
    this.enqueue(workspaceId, { layers: new Set(profileIds) });
    return this.settled();
  }

  /** Profiles another thread's processor or layer service changed (see `follow`). */
  announce(workspaceId: string, change: ProfilesAnnouncement): void {
    this.enqueue(workspaceId, change);
  }

  private enqueue(workspaceId: string, change: ProfilesAnnouncement): void {
    if (change.log) this.logRanges.push(...change.log);
    let p = this.pending.get(workspaceId);
    if (!p) this.pending.set(workspaceId, (p = { touched: new Set(), merged: new Set(), layers: new Set(), changes: new Map(), undescribed: new Set() }));
    for (const id of change.touched ?? []) {
      p.touched.add(id);
      const c = change.changes?.get(id);
      if (!c) p.undescribed.add(id);
      else {
        const prev = p.changes.get(id);
        p.changes.set(id, prev ? { whole: prev.whole || c.whole, events: new Set([...prev.events, ...c.events]), traits: new Set([...prev.traits, ...c.traits]), computed: new Set([...prev.computed, ...c.computed]) } : c);
      }
    }
    for (const id of change.merged ?? []) p.merged.add(id);
    for (const id of change.layers ?? []) p.layers.add(id);
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.exclusive(() => this.flush());
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    this.flushing = this.backlog();
    const work = [...this.pending];
    this.pending.clear();
    try {
      await this.flushWork(work);
    } finally {
      this.flushing = 0;
    }
  }

  private async flushWork(work: [string, PendingProfiles][]): Promise<void> {
    const logged = this.logRanges.splice(0);
    let failed = false;
    for (const [ws, p] of work) {
      const now = this.deps.clock();
      // Profiles whose change no definition depends on (a page view when nothing uses page views,
      // traits or counts that moved) keep their memberships and schedules as they are: skipped.
      const model = p.changes.size ? await this.model(ws) : undefined;
      const ids = new Set([...p.touched].filter((id) => !p.merged.has(id) && (p.undescribed.has(id) || !model || model.affectedBy(p.changes.get(id)!))));
      try {
        if (p.merged.size) await this.handleMerged(ws, [...p.merged], now);
        const full = new Set<string>();
        if (p.layers.size) {
          const model = await this.model(ws);
          await this.refreshLayerBits(ws, [...p.layers]);
          if (model.needsLayers) for (const id of p.layers) if (!p.merged.has(id)) full.add(id);
        }
        // Each profile against the definitions its change can affect (grouped by that set); profiles
        // whose change is not described, or whose layers moved, against all of them.
        const groups = new Map<string, EvaluationGroup>();
        const all: EvaluationGroup = { ids: [], defs: null };
        for (const id of ids) {
          if (full.has(id) || p.undescribed.has(id) || !model) {
            full.add(id);
            continue;
          }
          const defs = model.affectedDefinitions(p.changes.get(id)!);
          if (defs === null) {
            full.add(id);
            continue;
          }
          if (defs.length === 0) continue;
          const key = defs.map((d) => `${d.kind}:${d.id}`).join(',');
          let g = groups.get(key);
          if (!g) groups.set(key, (g = { ids: [], defs }));
          g.ids.push(id);
        }
        all.ids.push(...full);
        await this.evaluateGroups(ws, [all, ...groups.values()], now, p.touched.size ? 'event' : 'layers');
      } catch (e) {
        this.deps.log.error({ workspaceId: ws, err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, 'audience update failed; the profiles are scheduled for re-evaluation');
        await this.store.setDue(ws, [...ids].map((profileId) => ({ profileId, dueAt: now.toISOString() }))).catch(() => undefined);
        // Kept for recover(): profiles merged away are not in the schedule, and the schedule may have failed too.
        failed = true;
      }
    }
    // Evaluated: their log rows go (after a failure they stay for recover(), which evaluates them again).
    if (!failed) this.clearer.add(logged);
  }

  /** The number of the last derivation-log row so far (a sweep's bound, see `recover`). */
  lastLogged(): Promise<number> {
    return this.deps.store.lastDerivationSeq();
  }

  /**
   * Evaluates the profiles the derivation log still holds for the engine — processor batches committed
   * whose evaluation a crash or a kill cut off (the queue is in memory) — and removes their rows; returns
   * how many rows it took. At start every row (`upTo` unset); from the re-evaluation loop only rows up
   * to `upTo` — the last number logged some minutes before — since younger ones may still be in this or
   * another process's queue (evaluating them again would be harmless, only wasted).
   */
  recover(opts: { upTo?: number } = {}): Promise<number> {
    return this.exclusive(() => {
      const now = this.deps.clock();
      return recoverDerivations(this.deps.store, 'audiences', opts.upTo, async (ws, ids) => {
        // Merged away: memberships move to the survivor (skipped for the others); the rest against every definition.
        await this.handleMerged(ws, ids, now);
        await this.evaluateProfiles(ws, ids, now, 'event');
      }, this.deps.log);
    });
  }

  /** Evaluates profiles against all definitions, in chunks of one transaction each. */
  private evaluateProfiles(workspaceId: string, profileIds: readonly string[], now: Date, reason: MembershipReason): Promise<void> {
    return this.evaluateGroups(workspaceId, [{ ids: [...profileIds], defs: null }], now, reason);
  }

  /**
   * Evaluates each group's profiles against its definitions (null: all), in chunks of one transaction
   * each whatever the groups. A profile evaluated against all definitions gets its next
   * re-evaluation time replaced; against some, only brought forward (the others' times still stand;
   * one that moved later costs one early evaluation, which then sets it right).
   */
  private async evaluateGroups(workspaceId: string, groups: readonly EvaluationGroup[], now: Date, reason: MembershipReason, depth = 0): Promise<void> {
    const total = groups.reduce((n, g) => n + g.ids.length, 0);
    if (total === 0) return;
    const model = await this.model(workspaceId);
    if (model.ordered.length === 0) {
      // Nothing to evaluate: only keep the all-profiles bitmap in step (if it is in memory at all).
      if (!this.index.isLoaded(workspaceId)) return;
      const nums = await this.store.profileNums(workspaceId, groups.flatMap((g) => g.ids));
      this.index.apply(workspaceId, nums.filter((n) => n.num !== null).map((n) => ({ op: 'profile', num: n.num!, present: n.mergedInto === null })));
      return;
    }
    // A group's definitions were picked from the model as it was then; the model may have been loaded again since
    // (the worker keeps it a second), and evaluation matches definitions by object: take this model's, by kind and
    // id. (Matching the old objects evaluated such profiles against nothing: an audit found 10,814 in a 12 s run.)
    const inThisModel = (defs: readonly CompiledDefinition[] | null): CompiledDefinition[] | null =>
      defs === null ? null : defs.map((d) => model.definition(d.kind, d.id)).filter((d): d is CompiledDefinition => d !== undefined);
    const plans = groups
      .map((g) => ({ ...g, defs: inThisModel(g.defs) }))
      .filter((g) => g.defs === null || g.defs.length > 0)
      .map((g) => ({ group: g, needs: incrementalNeeds(model, now, g.defs), only: g.defs ? new Set(g.defs) : undefined }));
    // Slices of the groups, at most INCREMENTAL_CHUNK profiles per chunk in all.
    const chunks: ChunkPart[][] = [];
    let current: ChunkPart[] = [];
    let size = 0;
    for (const plan of plans) {
      for (let i = 0; i < plan.group.ids.length; ) {
        const take = Math.min(INCREMENTAL_CHUNK - size, plan.group.ids.length - i);
        current.push({ plan, ids: plan.group.ids.slice(i, i + take) });
        size += take;
        i += take;
        if (size === INCREMENTAL_CHUNK) {
          chunks.push(current);
          current = [];
          size = 0;
        }
      }
    }
    if (current.length) chunks.push(current);
    const written: MembershipChange[] = [];
    for (const chunk of chunks) {
      const read = this.readOutsideLock ? await this.readOutside(workspaceId, chunk) : null;
      const { changes, rows } = await this.store.transaction(async (tx) => {
        const changes: DerivedChange[] = [];
        const due: { profileId: string; dueAt: string | null }[] = [];
        const advance: { profileId: string; dueAt: string }[] = [];
        const allRows: EvaluationRow[] = [];
        const pages = read ? await this.stillCurrent(tx, workspaceId, chunk, read) : null;
        for (const [i, { plan, ids }] of chunk.entries()) {
          const rows = pages ? pages[i]! : await tx.evaluationPage(workspaceId, { ids }, plan.needs);
          for (const row of rows) {
            const r = evaluateRow(model, row, now, plan.only);
            changes.push(...r.changes);
            if (!plan.only) due.push({ profileId: row.id, dueAt: r.nextAt === null ? null : new Date(r.nextAt).toISOString() });
            else if (r.nextAt !== null) advance.push({ profileId: row.id, dueAt: new Date(r.nextAt).toISOString() });
          }
          // Profiles merged away or erased meanwhile need no schedule.
          const seen = new Set(rows.map((r) => r.id));
          for (const id of ids) if (!seen.has(id)) due.push({ profileId: id, dueAt: null });
          allRows.push(...rows);
        }
        const committed = await this.writeDerived(tx, workspaceId, changes, now, reason);
        await tx.setDue(workspaceId, due);
        if (advance.length) await tx.advanceDue(workspaceId, advance);
        return { changes: committed, rows: allRows };
      }, audienceLockOf(workspaceId));
      this.afterCommit(workspaceId, changes, rows.map((r) => ({ op: 'profile', num: r.num, present: true })));
      // Kept only when a definition reads membership events; one by one (a chunk's changes can be many).
      if (model.usesMembershipEvents) for (const c of changes) written.push(c);
    }
    await this.followMembershipEvents(workspaceId, written, now, reason, depth);
  }

  /** After membership changes committed outside the engine's own evaluation (tags applied by hand or by API): see {@link followMembershipEvents}. */
  membershipEventsCommitted(workspaceId: string, changes: readonly MembershipChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    return this.exclusive(() => this.followMembershipEvents(workspaceId, changes, this.deps.clock(), 'event', 0));
  }

  /**
   * Definitions that read membership events (`Segment Entered` with a segment_id…) are evaluated again for the
   * profiles whose events were just committed: the evaluation that wrote them read the profile's events before
   * they existed. Bounded: a chain of definitions reacting to each other's events stops after a few rounds (the
   * profile's next evaluation, whatever causes it, picks up the rest).
   */
  private async followMembershipEvents(workspaceId: string, written: readonly MembershipChange[], now: Date, reason: MembershipReason, depth: number): Promise<void> {
    if (written.length === 0 || depth >= MAX_MEMBERSHIP_EVENT_ROUNDS) return;
    const model = await this.model(workspaceId);
    if (!model.usesMembershipEvents) return;
    const names = new Map<string, Set<string>>();
    for (const c of written) {
      let set = names.get(c.profileId);
      if (!set) names.set(c.profileId, (set = new Set()));
      set.add(MEMBERSHIP_EVENTS[c.kind][c.action]);
    }
    const groups = new Map<string, EvaluationGroup>();
    for (const [profileId, events] of names) {
      const defs = model.readingMembershipEvents(events);
      if (defs !== null && defs.length === 0) continue;
      const key = defs === null ? '*' : defs.map((d) => `${d.kind}:${d.id}`).join(',');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { ids: [], defs }));
      g.ids.push(profileId);
    }
    await this.evaluateGroups(workspaceId, [...groups.values()], now, reason, depth + 1);
  }

  /**
   * SQLite: a chunk's pages read before its write transaction, outside the write lock, so that the
   * processor (another thread) writes meanwhile. {@link stillCurrent} checks them under the lock.
   */
  private async readOutside(workspaceId: string, chunk: readonly ChunkPart[]): Promise<OutsideRead> {
    const token = this.store.sql.readToken();
    const epoch = this.store.sql.membershipEpoch.read();
    // Before the pages, as the epoch: a membership committed after this read changes it.
    const memberships = await this.store.sql.membershipVersion();
    const pages: EvaluationRow[][] = [];
    for (const { plan, ids } of chunk) pages.push(await this.store.evaluationPage(workspaceId, { ids }, { ...plan.needs, versions: true }));
    return { token, epoch, memberships, pages };
  }

  /**
   * In the write transaction: the pages {@link readOutside} read, each row read again if its profile or
   * layers were written since (the processor sets `updated_at` with every event it adds), or null — read
   * every page again — if tag or segment memberships were (another thread's manual tag or recompute; see
   * MembershipEpoch; another process's, such as an import's engine: the `memberships` counter).
   * When nothing was committed since the read began (`readToken` unchanged: no other connection's commit,
   * nor one of this connection's outside this task, such as an index load numbering profiles), every page
   * is current as read: at 1M profiles the per-row check cost ~10 ms of the write lock per chunk.
   */
  private async stillCurrent(tx: AudienceStore, workspaceId: string, chunk: readonly ChunkPart[], read: OutsideRead): Promise<EvaluationRow[][] | null> {
    if (read.token !== undefined && tx.sql.readToken() === read.token) return read.pages;
    if (tx.sql.membershipEpoch.read() !== read.epoch || (await tx.sql.membershipVersion()) !== read.memberships) return null;
    const pages: EvaluationRow[][] = [];
    for (const [i, { plan, ids }] of chunk.entries()) {
      const rows = read.pages[i]!;
      const byId = new Map(rows.map((r) => [r.id, r]));
      const now = await tx.profileVersions(workspaceId, ids, plan.needs.layers !== false);
      const stale = ids.filter((id) => (now.get(id) ?? null) !== (byId.get(id)?.version ?? null));
      if (stale.length === 0) {
        pages.push(rows);
        continue;
      }
      const again = new Set(stale);
      pages.push([...rows.filter((r) => !again.has(r.id)), ...(await tx.evaluationPage(workspaceId, { ids: stale }, plan.needs))]);
    }
    return pages;
  }

  /** Writes derived membership rows, history and events for `changes`; returns them as committed changes. */
  private async writeDerived(tx: AudienceStore, workspaceId: string, all: readonly DerivedChange[], now: Date, reason: MembershipReason): Promise<MembershipChange[]> {
    if (all.length === 0) return [];
    // Only for profiles still canonical, locked until commit (see AudienceStore.lockCanonical): a profile merged
    // meanwhile has its memberships moved to the survivor by handleMerged, which the merge announces.
    const canonical = await tx.lockCanonical(workspaceId, all.map((c) => c.profileId));
    const changes = all.filter((c) => canonical.has(c.profileId));
    if (changes.length === 0) return [];
    const at = now.toISOString();
    const groups = new Map<string, { def: CompiledDefinition; action: 'entered' | 'exited'; ids: string[] }>();
    const nums = new Map<string, number>();
    for (const c of changes) {
      if (c.num >= 0) nums.set(c.profileId, c.num);
      const key = `${c.def.kind}:${c.def.id}:${c.action}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { def: c.def, action: c.action, ids: [] }));
      g.ids.push(c.profileId);
    }
    for (const g of groups.values()) {
      if (g.def.kind === 'segment') {
        if (g.action === 'entered') await tx.insertSegmentMembers(workspaceId, g.def.id, g.ids, at, nums);
        else await tx.deleteSegmentMembers(workspaceId, g.def.id, g.ids);
      } else if (g.action === 'entered') {
        await tx.insertProfileTags(workspaceId, g.ids.map((profileId) => ({ tagId: g.def.id, profileId, source: 'rule', actor: 'rule', appliedAt: at, expiresAt: null })), nums);
      } else {
        await tx.deleteProfileTags(workspaceId, g.def.id, g.ids);
      }
    }
    const committed: MembershipChange[] = changes.map((c) => ({
      kind: c.def.kind,
      refId: c.def.id,
      refName: c.def.name,
      profileId: c.profileId,
      num: c.num,
      action: c.action,
      reason,
      ...(c.def.kind === 'tag' ? { source: 'rule' } : {}),
      at,
    }));
    await this.recordChanges(tx, workspaceId, committed);
    return committed;
  }

  /**
   * Writes history rows and membership events for changes whose membership rows the caller has
   * written in the same transaction (`events: false` for history only).
   */
  async recordChanges(tx: AudienceStore, workspaceId: string, changes: readonly MembershipChange[], opts: { events?: boolean } = {}): Promise<void> {
    if (changes.length === 0) return;
    const history: MembershipHistoryRecord[] = [];
    const events: AudienceEventRecord[] = [];
    for (const c of changes) {
      const id = this.deps.newId('event');
      history.push({ id: `mbh_${id.slice(id.indexOf('_') + 1)}`, workspaceId, kind: c.kind, refId: c.refId, profileId: c.profileId, action: c.action, reason: c.reason, at: c.at, actor: c.actor ?? null });
      if (opts.events === false) continue;
      const properties =
        c.kind === 'segment' ? { segment_id: c.refId, segment_name: c.refName } : { tag_id: c.refId, tag_name: c.refName, source: c.source ?? null };
      events.push({ id, workspaceId, profileId: c.profileId, messageId: `siyu-${c.kind}-${c.action}-${id}`, event: MEMBERSHIP_EVENTS[c.kind][c.action], properties, timestamp: c.at, ...(c.num >= 0 ? { profileNum: c.num } : {}) });
    }
    await tx.insertHistory(history);
    await tx.insertEvents(events);
  }

  /** After a commit: update the bitmaps and tell listeners. */
  afterCommit(workspaceId: string, changes: readonly MembershipChange[], extra: readonly IndexOp[] = []): void {
    const ops: IndexOp[] = [...extra];
    for (const c of changes) ops.push({ op: 'member', kind: c.kind, refId: c.refId, num: c.num, action: c.action === 'entered' ? 'add' : 'remove' });
    this.index.apply(workspaceId, ops);
    if (changes.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(workspaceId, changes);
      } catch (e) {
        this.deps.log.error({ workspaceId, err: String(e) }, 'a membership listener failed');
      }
    }
  }

  /** Moves merged-away profiles' tags to the survivor and drops their segment memberships. */
  private async handleMerged(workspaceId: string, loserIds: readonly string[], now: Date): Promise<void> {
    const at = now.toISOString();
    const model = await this.model(workspaceId);
    for (const loser of await this.store.profileNums(workspaceId, loserIds)) {
      if (loser.mergedInto === null) continue;
      const winner = await this.deps.store.canonicalProfile(workspaceId, loser.mergedInto);
      if (!winner) continue;
      const [winnerNum] = await this.store.profileNums(workspaceId, [winner.id]);
      const changes: MembershipChange[] = [];
      await this.store.transaction(async (tx) => {
        const moved = await tx.moveMergedMemberships(workspaceId, loser.id, winner.id);
        const base = { reason: 'merged' as const, at };
        for (const tagId of moved.droppedTags) changes.push({ ...base, kind: 'tag', refId: tagId, refName: model.tagById.get(tagId)?.name ?? tagId, profileId: loser.id, num: loser.num ?? -1, action: 'exited' });
        for (const segId of moved.droppedSegments) changes.push({ ...base, kind: 'segment', refId: segId, refName: model.segmentById.get(segId)?.name ?? segId, profileId: loser.id, num: loser.num ?? -1, action: 'exited' });
        for (const t of moved.movedTags) changes.push({ ...base, kind: 'tag', refId: t.tagId, refName: model.tagById.get(t.tagId)?.name ?? t.tagId, profileId: winner.id, num: winnerNum?.num ?? -1, action: 'entered', source: t.source });
        // The loser is no longer a person of its own: history only, no entered/exited events.
        await this.recordChanges(tx, workspaceId, changes, { events: false });
      }, audienceLockOf(workspaceId));
      const ops: IndexOp[] = [];
      if (loser.num !== null) ops.push({ op: 'profile', num: loser.num, present: false });
      for (const c of changes) if (c.action === 'entered' && c.num >= 0) ops.push({ op: 'member', kind: c.kind, refId: c.refId, num: c.num, action: 'add' });
      this.index.apply(workspaceId, ops);
    }
  }

  private async refreshLayerBits(workspaceId: string, profileIds: readonly string[]): Promise<void> {
    const [nums, layers] = await Promise.all([this.store.profileNums(workspaceId, profileIds), this.store.layersOf(workspaceId, profileIds)]);
    const ops: IndexOp[] = [];
    for (const n of nums) if (n.num !== null) ops.push({ op: 'layers', num: n.num, cell: n.mergedInto === null ? (layers.get(n.id) ?? null) : null });
    this.index.apply(workspaceId, ops);
  }

  // ---------------------------------------------------------------- bulk

  /**
   * Computes one rule tag or segment and writes the difference from its current membership (history
   * and events for each change). Profiles whose membership changed are then re-evaluated against the
   * definitions that depend on it.
   *
   * Only the planner's candidates (a superset of the profiles that can match, see
   * {@link CandidatePlanner}) and the current members (so that exits are found) are read and
   * evaluated; with no candidates (e.g. a trait-only or "did not do" definition) every profile is.
   * A profile left out can neither match now nor is a member, so its membership does not change, and
   * nothing is scheduled for it — which is safe because it cannot *enter* later through the clock
   * alone: the planner narrows only by tags, segments and layers (which change only through writes
   * that re-evaluate the profile), and by "has an event of this name in the window" (entering needs a
   * new event, which triggers incremental evaluation; timestamps in the future are refused at ingest
   * and, being above the window's lower bound, are candidates anyway). Negations and "did not do"
   * are unknown to the planner, so they fall back to evaluating everyone. Members are evaluated, so
   * their window expiries (`nextChangeAt`) are scheduled exactly as before. Each page reads only what
   * this definition refers to (its tags and segments, layers if used, the events it needs).
   */
  recompute(workspaceId: string, kind: DefinitionKind, id: string, reason: MembershipReason): Promise<{ entered: number; exited: number }> {
    return this.exclusive(async () => {
      const now = this.deps.clock();
      this.invalidate(workspaceId);
      const model = await this.model(workspaceId, { fresh: true });
      const def = model.definition(kind, id);
      if (!def) return { entered: 0, exited: 0 };
      await this.store.ensureNums(workspaceId, PROCESSOR_LOCK);
      const needs: PageNeeds = pageNeedsOf(model, [def.condition], now, { kind, id });
      // Events only where the rest of the row leaves the result open. A decided row needs no event
      // window boundaries either, provided no trait condition changes with the clock (then the row stays
      // decided until its data changes, which re-evaluates it); otherwise every row gets its events.
      if (needs.events && !hasClockDependentTraits(def.condition)) {
        needs.eventsFor = (row) => evaluateWithoutEvents(def.condition, { now, timeZone: model.timeZone, profile: toEvaluationProfile(model, row) }) === null;
      }
      const only = new Set([def]);
      const changed = new Set<string>();
      const written: MembershipChange[] = [];
      let entered = 0;
      let exited = 0;
      // A page is read whole in the transaction, or (`screened`) was read without events by the screen
      // below and gets only its events here (rows of profiles merged away or erased since are dropped), or
      // (`complete`) got them before the transaction (PostgreSQL, see `overlap` below).
      const evaluatePage = async (page: PageSelector | { screened: EvaluationRow[] } | { complete: EvaluationRow[] }): Promise<{ read: number; last: number }> => {
        const { rows, changes } = await this.store.transaction(async (tx) => {
          // Read before the transaction: still only the profiles not merged away or erased since (no schedule or
          // membership is written for one that is gone).
          const rows = 'complete' in page ? await tx.completeRows(workspaceId, page.complete, { ...needs, events: null }) : 'screened' in page ? await tx.completeRows(workspaceId, page.screened, needs) : await tx.evaluationPage(workspaceId, page, needs);
          const changes: DerivedChange[] = [];
          const due: { profileId: string; dueAt: string }[] = [];
          for (const row of rows) {
            const r = evaluateRow(model, row, now, only);
            changes.push(...r.changes);
            if (r.nextAt !== null) due.push({ profileId: row.id, dueAt: new Date(r.nextAt).toISOString() });
          }
          const committed = await this.writeDerived(tx, workspaceId, changes, now, reason);
          await tx.advanceDue(workspaceId, due);
          return { rows, changes: committed };
        }, audienceLockOf(workspaceId));
        this.afterCommit(workspaceId, changes, rows.map((r) => ({ op: 'profile', num: r.num, present: true })));
        if (model.usesMembershipEvents) for (const c of changes) written.push(c);
        for (const c of changes) {
          changed.add(c.profileId);
          if (c.action === 'entered') entered++;
          else exited++;
        }
        return { read: rows.length, last: rows[rows.length - 1]?.num ?? -1 };
      };
      const planned = await this.candidates(workspaceId, def.condition, model, now, { current: true });
      if (planned) {
        // Current members from storage (not the bitmaps), so every one of them is re-checked.
        const toRead = planned.set;
        let from = 0;
        for (;;) {
          await yieldToEventLoop();
          const page = await this.store.memberNumPage(workspaceId, kind, id, from, MEMBER_PAGE);
          toRead.addMany(page.nums);
          if (page.last === null || page.nums.length < MEMBER_PAGE) break;
          from = page.last;
        }
        const all = toRead.toUint32Array();
        // With trait conditions, a cheap read outside any transaction (profile rows and the referenced
        // tags and segments, no events) first drops the profiles whose result those conditions already
        // decide and whose membership already agrees: nothing would be written or scheduled for them
        // (eventsFor is set only when no trait condition moves with the clock). A change racing with this
        // read is announced by the processor and re-evaluated after this pass.
        const screen = needs.eventsFor !== undefined && (def.deps.traits.length > 0 || def.deps.computed.length > 0);
        const batch = screen ? SCREEN_PAGE : this.pageSize;
        // Profiles to evaluate, filled up to whole pages (fewer transactions, each one commit). Screened
        // rows are evaluated as read, with their events added: a change racing with the screen is
        // re-evaluated after this pass, as above, so re-reading them in the transaction buys nothing.
        let pending: number[] = [];
        let screened: EvaluationRow[] = [];
        // PostgreSQL: a page is read (a screened one completed with its events) before its transaction, and its
        // writes run while the next pages are screened and read (one transaction in flight; they take the
        // workspace's audience lock in turn anyway) — the server's reads and writes then overlap. A change
        // racing with the read is re-evaluated after the pass, as one racing with the screen. At 1M profiles
        // the mixed recompute's reads and its writes (~11,500 members entering: rows, history, `Segment
        // Entered` events) each took about half of it. On SQLite every statement runs on the one connection,
        // in turn: nothing to overlap.
        const overlap = this.deps.store.dialect === 'postgres';
        let inFlight: Promise<unknown> | null = null;
        const submit = async (page: { screened: EvaluationRow[] } | { nums: number[] }): Promise<void> => {
          if (!overlap) {
            await evaluatePage(page);
            return;
          }
          const complete = 'screened' in page ? await this.store.completeRows(workspaceId, page.screened, needs) : await this.store.evaluationPage(workspaceId, page, needs);
          if (inFlight) await inFlight;
          const write = evaluatePage({ complete });
          // Awaited before the next page, or at the end (the failure surfaces there, not as unhandled).
          write.catch(() => undefined);
          inFlight = write;
        };
        try {
          for (let i = 0; i < all.length; i += batch) {
            // better-sqlite3 is synchronous: yield between pages so HTTP and the processor keep running.
            await yieldToEventLoop();
            const nums = Array.from(all.subarray(i, i + batch));
            if (screen) {
              // A segment's rows are screened first on their traits and segments alone: those the traits already
              // decide, in agreement with their membership, get no tag or layer read either (at 1M profiles the mixed
              // recompute's trait screen kept ~11,500 of ~50,000 candidates).
              const early = kind === 'segment' && screensBeforeTags(def.deps) ? { screen: (row: EvaluationRow) => this.mayChange(model, def, row, now, { tagsAndLayersUnknown: true }) } : {};
              const rows = await this.store.evaluationPage(workspaceId, { nums }, { ...needs, events: null, ...early });
              for (const row of rows) if (this.mayChange(model, def, row, now)) screened.push(row);
            } else pending.push(...nums);
            const last = i + batch >= all.length;
            while (pending.length >= this.pageSize || (last && pending.length > 0)) {
              await yieldToEventLoop();
              await submit({ nums: pending.slice(0, this.pageSize) });
              pending = pending.slice(this.pageSize);
            }
            while (screened.length >= this.pageSize || (last && screened.length > 0)) {
              await yieldToEventLoop();
              await submit({ screened: screened.slice(0, this.pageSize) });
              screened = screened.slice(this.pageSize);
            }
          }
          if (inFlight) await inFlight;
        } finally {
          // A read that failed leaves no transaction running past the recompute's exclusive section.
          if (inFlight) await (inFlight as Promise<unknown>).catch(() => undefined);
        }
      } else {
        let after = 0;
        for (;;) {
          await yieldToEventLoop();
          const page = await evaluatePage({ afterNum: after, limit: this.pageSize });
          if (page.read < this.pageSize) break;
          after = page.last;
        }
      }
      if (kind === 'segment') await this.store.markSegmentComputed(workspaceId, id, now.toISOString());
      if (changed.size > 0 && model.ordered.some((d) => d !== def && (kind === 'tag' ? d.deps.tags.some((r) => model.resolveTag(r) === id) : d.deps.segments.includes(id)))) {
        // Against every definition: those reading the membership events just written included.
        await this.evaluateProfiles(workspaceId, [...changed], now, reason);
      } else {
        await this.followMembershipEvents(workspaceId, written, now, reason, 0);
      }
      return { entered, exited };
    });
  }

  /** Whether evaluating `row` (read without events) against `def` could change its membership. */
  private mayChange(model: WorkspaceModel, def: CompiledDefinition, row: EvaluationRow, now: Date, opts: { tagsAndLayersUnknown?: boolean } = {}): boolean {
    const decided = evaluateWithoutEvents(def.condition, { now, timeZone: model.timeZone, profile: toEvaluationProfile(model, row) }, opts);
    if (decided === null) return true;
    const had = def.kind === 'tag' ? row.tags.some((t) => t.tagId === def.id) : row.segments.includes(def.id);
    return decided !== had;
  }

  /**
   * A superset of the profiles that can match `condition` now (see {@link CandidatePlanner}), or null
   * when the planner cannot narrow it. Loads the bitmaps if needed. `current`: the plan of a bulk write
   * (recompute), whose result stands until each profile's next change — where other processes write
   * (PostgreSQL), planned from storage as it is now rather than from this process's index, which follows
   * their profiles, memberships and layers only when rebuilt (see {@link AudienceIndex.loadNow}).
   */
  async candidates(workspaceId: string, condition: ConditionNode, model?: WorkspaceModel, now: Date = this.deps.clock(), opts: { current?: boolean } = {}): Promise<CandidateSet | null> {
    const m = model ?? (await this.model(workspaceId));
    let bitmaps;
    if (opts.current && this.index.sharedWriters) {
      const deps = conditionDependencies(condition);
      const tags = new Set<string>();
      for (const ref of deps.tags) {
        const id = m.resolveTag(ref);
        if (id !== undefined) tags.add(id);
      }
      const layers = deps.usesRfm ? true : deps.usesLifecycle ? { lifecycle: new Set(deps.lifecycleStages) } : false;
      bitmaps = await this.index.loadNow(workspaceId, { tags, segments: new Set(deps.segments), layers, all: AudienceBitmaps.usesComplement(condition) });
    } else bitmaps = await this.index.bitmaps(workspaceId);
    return new CandidatePlanner({ store: this.store, workspaceId, bitmaps, resolveTag: m.resolveTag, now }).plan(condition);
  }

  // ---------------------------------------------------------------- scheduler

  /**
   * Removes tag applications whose expiry has passed and re-evaluates profiles whose stored
   * re-evaluation time has come (a purchase leaving a 30-day window, a birthday entering range),
   * evaluating at `now`. Called by the worker's re-evaluation loop; safe to call from many processes.
   * `workspaceId` limits the pass to one workspace.
   */
  runDue(now: Date = this.deps.clock(), opts: { workspaceId?: string } = {}): Promise<{ expiredTags: number; reevaluated: number }> {
    return this.exclusive(async () => {
      const nowIso = now.toISOString();
      let expiredTags = 0;
      let reevaluated = 0;
      for (let round = 0; round < 100; round++) {
        const rows = await this.store.expiredTagApplications(nowIso, 1000, opts);
        if (rows.length === 0) break;
        const byWs = new Map<string, Map<string, string[]>>();
        for (const r of rows) {
          let tags = byWs.get(r.workspaceId);
          if (!tags) byWs.set(r.workspaceId, (tags = new Map()));
          tags.set(r.tagId, [...(tags.get(r.tagId) ?? []), r.profileId]);
        }
        for (const [ws, tags] of byWs) {
          const removed = await this.expireTags(ws, tags, now);
          expiredTags += removed.length;
          await this.evaluateProfiles(ws, [...new Set(removed)], now, 'expired');
        }
      }
      const lease = new Date(now.getTime() + LEASE_MS).toISOString();
      for (let round = 0; round < 100; round++) {
        const due = await this.store.claimDue(nowIso, lease, DUE_BATCH, opts);
        if (due.length === 0) break;
        const byWs = new Map<string, string[]>();
        for (const d of due) byWs.set(d.workspaceId, [...(byWs.get(d.workspaceId) ?? []), d.profileId]);
        for (const [ws, ids] of byWs) await this.evaluateProfiles(ws, ids, now, 'schedule');
        reevaluated += due.length;
      }
      return { expiredTags, reevaluated };
    });
  }

  private async expireTags(workspaceId: string, tags: Map<string, string[]>, now: Date): Promise<string[]> {
    const model = await this.model(workspaceId);
    const at = now.toISOString();
    const changes: MembershipChange[] = [];
    await this.store.transaction(async (tx) => {
      for (const [tagId, ids] of tags) {
        const removed = await tx.deleteProfileTags(workspaceId, tagId, ids, { expiredBy: at });
        const nums = new Map((await tx.profileNums(workspaceId, removed)).map((n) => [n.id, n.num ?? -1]));
        for (const profileId of removed) {
          changes.push({ kind: 'tag', refId: tagId, refName: model.tagById.get(tagId)?.name ?? tagId, profileId, num: nums.get(profileId) ?? -1, action: 'exited', reason: 'expired', at });
        }
      }
      await this.recordChanges(tx, workspaceId, changes);
    }, audienceLockOf(workspaceId));
    this.afterCommit(workspaceId, changes.filter((c) => c.num >= 0));
    return changes.map((c) => c.profileId);
  }

  // ---------------------------------------------------------------- helpers

  /** Runs `fn` after all engine work queued before it (one task at a time per process). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * What evaluating profiles against every definition reads: the events the definitions need, the tags
 * and segments they refer to plus the rule tags' and segments' own memberships (to tell entering from
 * staying), and layers only if a definition uses them. A person's other tags are not read: with 200
 * imported tags, reading all of them (one row fetch each) cost ten times the rest of the page.
 */
function incrementalNeeds(model: WorkspaceModel, now: Date, defs: readonly CompiledDefinition[] | null): PageNeeds {
  const list = defs ?? model.ordered;
  const needs = pageNeedsOf(model, list.map((d) => d.condition), now);
  const tags = new Set(needs.tags);
  const segments = new Set(needs.segments);
  for (const d of list) (d.kind === 'tag' ? tags : segments).add(d.id);
  return { ...needs, tags: [...tags], segments: [...segments], layers: list.some((d) => d.deps.usesLifecycle || d.deps.usesRfm) };
}

/** A chunk's pages read outside the write lock, with what tells whether they are still current. */
interface OutsideRead {
  /** {@link SqlStore.readToken} before the read: any commit since, by this connection too (an index load numbering profiles), changes it. */
  token: string | undefined;
  epoch: number;
  /** {@link SqlStore.membershipVersion} before the read: the epoch sees this process's threads, this also other processes. */
  memberships: number | undefined;
  pages: EvaluationRow[][];
}

/** Part of an incremental chunk: profiles, the definitions they are evaluated against and what that reads. */
interface ChunkPart {
  plan: { group: EvaluationGroup; needs: PageNeeds; only: Set<CompiledDefinition> | undefined };
  ids: string[];
}

/** Profiles to evaluate against the same definitions (null: all of them). */
interface EvaluationGroup {
  ids: string[];
  defs: readonly CompiledDefinition[] | null;
}
