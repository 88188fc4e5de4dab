import {
  AppError,
  aliasIdentifier,
  formatPath,
  notFound,
  applyMessage,
  emptyProfileState,
  identifierKey,
  mergeProfileStates,
  resolveIdentifiers,
  withoutIdentifiers,
  type ConflictRow,
  type Identifier,
  type IdentityGraph,
  type InboxItem,
  type ProcessorChanges,
  type ProfileRow,
} from '@siyu/core';
import { isTransientStorageError, type DerivationRange, type SqlStore } from '@siyu/storage';
import { z } from 'zod';
import type { ServiceDeps } from './deps.ts';
import { hashIdentifier } from './ids.ts';
import type { WorkspaceService } from './workspaces.service.ts';

/**
 * PostgreSQL advisory lock key: one processor at a time keeps message order per profile. Anything
 * else that rewrites profiles (unmerge, erasure) takes it too.
 */
export const PROCESSOR_LOCK = 7070_0001;

export interface BatchReport {
  messages: number;
  /** Time each message spent between being received and its profile being committed, ms. */
  latenciesMs: number[];
}

/**
 * Listeners for profile changes (segments, journeys and the audience index subscribe here).
 * `orderStatsChanged`, when given, is the subset of `profileIds` whose order statistics (order
 * count, total spent, first/last order, first seen — what lifecycle and RFM are computed from)
 * changed, new profiles included; undefined means any of them may have.
 */
export type ProfileChangeListener = (
  workspaceId: string,
  profileIds: ReadonlySet<string>,
  mergedAway: ReadonlySet<string>,
  orderStatsChanged?: ReadonlySet<string>,
  /** What changed per profile of `profileIds`, when known (processor batches): audiences skip profiles no definition depends on. */
  changes?: ReadonlyMap<string, ProfileChange>,
  /**
   * The batch's derivation-log rows per consumer, for every workspace of the batch: given with the last
   * workspace's call (after the others). A consumer removes its range once its work for the batch has committed.
   */
  log?: DerivationLog,
) => void;

/** Derivation-log ranges of one processor batch (see SqlStore.logDerivations). */
export interface DerivationLog {
  audiences?: DerivationRange;
  layers?: DerivationRange;
}

/** What one batch changed on one profile. */
export interface ProfileChange {
  /** Created or merged with another profile in this batch: anything may have changed. */
  whole: boolean;
  /** Event names as conditions see them (`track` → its event; page/screen → `Page Viewed`/`Screen Viewed`; other calls → their type). */
  events: Set<string>;
  /** Top-level trait keys whose value changed. */
  traits: Set<string>;
  /** Top-level computed-trait keys whose value changed (`event_counts` for any per-event count). */
  computed: Set<string>;
}

const CALL_EVENT_NAMES: Record<string, string> = { page: 'Page Viewed', screen: 'Screen Viewed' };

/** The body of `POST /api/v1/identity/conflicts/{id}/resolve`. */
export const ConflictReview = z.strictObject({ action: z.enum(['merge', 'dismiss']) });

/**
 * Steps 2–3 of the data flow: takes inbox batches in order, resolves identities (merging profiles by
 * the workspace's rules), folds each message into its profile's traits and computed traits, and
 * commits events, identities, merges, conflicts and profiles in one transaction per batch.
 */
export class ProcessorService {
  private readonly listeners: ProfileChangeListener[] = [];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly workspaces: WorkspaceService,
  ) {}

  onProfilesChanged(listener: ProfileChangeListener): void {
    this.listeners.push(listener);
  }

  async processBatch(limit: number): Promise<BatchReport> {
    const touchedByWs = new Map<string, { touched: Set<string>; merged: Set<string>; statsChanged: Set<string>; changes: Map<string, ProfileChange> }>();
    let log: DerivationLog = {};
    const report = await this.deps.store.transaction(async (tx) => {
      const items = await tx.claimInbox(limit);
      if (items.length === 0) return { messages: 0, latenciesMs: [] };
      const changes: ProcessorChanges = { consumedSeqs: items.map((i) => i.seq), profiles: [], identities: [], events: [], merges: [], conflicts: [] };
      const byWs = new Map<string, InboxItem[]>();
      for (const item of items) {
        const list = byWs.get(item.workspaceId) ?? [];
        list.push(item);
        byWs.set(item.workspaceId, list);
      }
      for (const [workspaceId, wsItems] of byWs) {
        touchedByWs.set(workspaceId, await this.processWorkspace(tx, workspaceId, wsItems, changes));
      }
      await tx.applyChanges(changes);
      // Recorded with the batch, removed by each consumer once its work has committed (a crash before
      // that leaves them for the next start: see AudienceEngine.recover, LayerService.recover).
      const forAudiences: string[] = [];
      const forLayers: string[] = [];
      for (const t of touchedByWs.values()) {
        forAudiences.push(...t.touched, ...t.merged);
        forLayers.push(...t.statsChanged, ...t.merged);
      }
      const audiences = await tx.logDerivations('audiences', forAudiences);
      const layers = await tx.logDerivations('layers', forLayers);
      log = { ...(audiences ? { audiences } : {}), ...(layers ? { layers } : {}) };
      const committedAt = this.deps.clock().getTime();
      return { messages: items.length, latenciesMs: items.map((i) => committedAt - Date.parse(i.message.receivedAt)) };
    }, PROCESSOR_LOCK);
    // The log's ranges cover every workspace of the batch: they go with the last workspace's call only, so
    // a consumer that starts on one workspace's work does not remove rows of another it has not queued yet.
    const entries = [...touchedByWs];
    entries.forEach(([ws, t], i) => {
      for (const l of this.listeners) l(ws, t.touched, t.merged, t.statsChanged, t.changes, i === entries.length - 1 ? log : undefined);
    });
    return report;
  }

  /**
   * Tells the listeners (layers, audiences) that profiles changed outside a batch — after an
   * unmerge (`touched`) or an erasure (`removed`).
   */
  announce(workspaceId: string, touched: ReadonlySet<string>, removed: ReadonlySet<string>, log?: DerivationLog): void {
    for (const l of this.listeners) l(workspaceId, touched, removed, undefined, undefined, log);
  }

  /**
   * An operator's review of a refused link (`GET /api/v1/identity/conflicts`): `dismiss` keeps the two apart and
   * closes it; `merge` makes the link the rules refused — the other profile is merged into the conflict's
   * profile (an ordinary merge: logged with the operator as actor, and undone with unmerge), or an identifier
   * that was refused and is held by no one now is attached to it. Under the processor's lock, like a batch.
   */
  async resolveConflict(workspaceId: string, conflictId: string, input: unknown, actor: string): Promise<{ conflict: ConflictRow; merge: { id: string; winnerId: string; loserId: string } | null; attached: boolean }> {
    const parsed = ConflictReview.safeParse(input);
    if (!parsed.success) {
      throw new AppError('INVALID_INPUT', 'send { "action": "merge" } to make the refused link, or { "action": "dismiss" } to keep them apart', {
        problems: parsed.error.issues.map((i) => ({ path: formatPath(i.path) || '(body)', message: i.message })),
      });
    }
    const { action } = parsed.data;
    const now = this.deps.clock().toISOString();
    const { announce, ...result } = await this.deps.store.transaction(async (tx) => {
      const c = await tx.getConflict(workspaceId, conflictId);
      if (!c) throw notFound('identity conflict', conflictId);
      if (c.resolution) throw new AppError('CONFLICT', `this conflict was already reviewed (${c.resolution} by ${c.resolvedBy ?? '?'} at ${c.resolvedAt ?? '?'})`, { resolution: c.resolution });
      let merge: { id: string; winnerId: string; loserId: string } | null = null;
      let attached = false;
      // What the listeners (layers, audiences) are told once this commits: as after a processor batch.
      let announce: { touched: Set<string>; merged: Set<string>; log: DerivationLog } | null = null;
      if (action === 'merge') {
        const profile = await tx.canonicalProfile(workspaceId, c.profileId);
        if (!profile) throw new AppError('CONFLICT', `profile ${c.profileId} no longer exists (erased); dismiss the conflict instead`, { profileId: c.profileId });
        const otherId = c.otherProfileId ?? (await tx.profileIdByIdentifier(workspaceId, c.identifierType, c.identifierValue));
        const other = otherId ? await tx.canonicalProfile(workspaceId, otherId) : undefined;
        const changes: ProcessorChanges = { consumedSeqs: [], profiles: [], identities: [], events: [], merges: [], conflicts: [] };
        if (c.otherProfileId && !other) throw new AppError('CONFLICT', `profile ${c.otherProfileId} no longer exists (erased); dismiss the conflict instead`, { profileId: c.otherProfileId });
        if (!other) {
          changes.identities.push({ workspaceId, type: c.identifierType, value: c.identifierValue, profileId: profile.id, originProfileId: profile.id, firstSeen: now, sourceMessageId: c.messageId });
          attached = true;
        } else if (other.id !== profile.id) {
          mergeProfileStates(profile, other);
          profile.updatedAt = now;
          other.mergedInto = profile.id;
          other.updatedAt = now;
          changes.profiles.push(profile, other);
          merge = { id: this.deps.newId('merge'), winnerId: profile.id, loserId: other.id };
          changes.merges.push({ ...merge, workspaceId, reason: `conflict reviewed: ${c.identifierType} ${c.identifierValue}`, messageId: c.messageId, actor, createdAt: now, undoneAt: null });
        }
        await tx.applyChanges(changes);
        const ids = [profile.id, ...(merge ? [merge.loserId] : [])];
        const audiences = await tx.logDerivations('audiences', ids);
        const layers = await tx.logDerivations('layers', ids);
        announce = { touched: new Set([profile.id]), merged: new Set(merge ? [merge.loserId] : []), log: { ...(audiences ? { audiences } : {}), ...(layers ? { layers } : {}) } };
      }
      await tx.resolveConflict(workspaceId, conflictId, { resolution: action === 'merge' ? 'merged' : 'dismissed', by: actor, at: now });
      return { conflict: { ...c, resolution: action === 'merge' ? ('merged' as const) : ('dismissed' as const), resolvedAt: now, resolvedBy: actor }, merge, attached, announce };
    }, PROCESSOR_LOCK);
    if (announce) for (const l of this.listeners) l(workspaceId, announce.touched, announce.merged, announce.touched, undefined, announce.log);
    return result;
  }

  /** Processes messages one at a time to find the one that fails, and dead-letters it. */
  async isolateFailure(error: unknown): Promise<void> {
    const [item] = await this.deps.store.claimInbox(1);
    if (!item) return;
    try {
      await this.processBatch(1);
    } catch (e) {
      // Another writer's lock or commit (an import's processor beside the server's): the message is
      // fine and stays in the inbox for the next batch.
      if (isTransientStorageError(e)) {
        this.deps.log.warn({ seq: item.seq, messageId: item.message.messageId, err: e instanceof Error ? e.message : String(e) }, 'message kept in the inbox: the database was busy');
        return;
      }
      const message = e instanceof Error ? e.message : String(e ?? error);
      this.deps.log.error({ seq: item.seq, messageId: item.message.messageId, err: message }, 'message moved to dead letters');
      await this.deps.store.deadLetter(item.seq, message, this.deps.clock().toISOString());
    }
  }

  private async processWorkspace(tx: SqlStore, workspaceId: string, items: InboxItem[], changes: ProcessorChanges) {
    const now = this.deps.clock().toISOString();
    // Read in the batch's transaction, not from the cache: a rule changed through the API (by another thread or
    // process, whose cache is the one cleared) applies from the next batch on. One small read per workspace and batch.
    const rules = await this.workspaces.identityRules(workspaceId, tx, { fresh: true });
    const processed = await tx.processedMessageIds(workspaceId, items.map((i) => i.message.messageId));
    // A message id is stored once: skip ids already stored, and repeats within the batch (the SQLite
    // inbox has no unique index on message ids; a retry from another process can wait there twice).
    const taken = new Set<string>();
    let work = items.filter((i) => {
      const id = i.message.messageId;
      if (processed.has(id) || taken.has(id)) return false;
      taken.add(id);
      return true;
    });

    // Erased people stay erased: identifiers with a suppression record are dropped from messages, wherever the
    // message carries them (and so are traits holding their values), alias previousIds included.
    if (await tx.hasSuppressions(workspaceId)) {
      const hashes = new Map<string, string>();
      const hashOf = (type: string, value: string) => {
        const key = identifierKey(type, value);
        let h = hashes.get(key);
        if (!h) hashes.set(key, (h = hashIdentifier(workspaceId, type, value)));
        return h;
      };
      for (const item of work) {
        for (const id of item.identifiers) hashOf(id.type, id.value);
        if (item.message.previousId) for (const type of ['user_id', 'anonymous_id']) hashOf(type, item.message.previousId);
      }
      const suppressed = await tx.suppressedHashes(workspaceId, [...hashes.values()]);
      if (suppressed.size) {
        const isSuppressed = (type: string, value: string) => suppressed.has(hashOf(type, value));
        const previousSuppressed = (id: string | null) => id !== null && (isSuppressed('user_id', id) || isSuppressed('anonymous_id', id));
        work = work
          .map((item) => {
            if (!item.identifiers.some((id) => isSuppressed(id.type, id.value)) && !previousSuppressed(item.message.previousId)) return item;
            // Stored without them anywhere in the message (traits, context.traits, externalIds, device id), not only unattached.
            const message = withoutIdentifiers(item.message, rules, (id) => isSuppressed(id.type, id.value));
            if (previousSuppressed(message.previousId)) message.previousId = null;
            // And any other trait holding one of their values as sent (`wechat_phone: "+86…"`).
            const values = new Set(item.identifiers.filter((id) => isSuppressed(id.type, id.value)).map((id) => id.value));
            for (const [key, v] of Object.entries(message.traits)) if (typeof v === 'string' && values.has(v)) delete message.traits[key];
            return { ...item, message, identifiers: item.identifiers.filter((id) => !isSuppressed(id.type, id.value)) };
          })
          .filter((item) => item.identifiers.length > 0 || (item.message.type === 'alias' && item.message.previousId !== null));
      }
    }

    // Load the identity graph and profiles this batch can reach, in bulk.
    const keys = new Map<string, Identifier>();
    for (const item of work) {
      for (const id of item.identifiers) keys.set(identifierKey(id.type, id.value), id);
      if (item.message.type === 'alias' && item.message.previousId) {
        keys.set(identifierKey('user_id', item.message.previousId), { type: 'user_id', value: item.message.previousId });
        keys.set(identifierKey('anonymous_id', item.message.previousId), { type: 'anonymous_id', value: item.message.previousId });
      }
    }
    const owners = new Map<string, string>();
    for (const row of await tx.identitiesByKeys(workspaceId, [...keys.values()])) owners.set(identifierKey(row.type, row.value), row.profileId);
    const reached = [...new Set(owners.values())];
    // All identifiers a profile holds are needed only where a message may attach identifiers to it
    // or merge it (limits, and re-pointing the loser's identifiers): profiles reached by a message
    // whose identifiers are not all held by one profile already. A returning customer's events —
    // most traffic — need none. Other messages of the batch reach merged or extended profiles only
    // through these, so the graph stays exact for them.
    const linking = profilesReachedByLinkingMessages(work, owners);
    const held = new Map<string, Identifier[]>();
    for (const id of linking) held.set(id, []);
    for (const row of await tx.identitiesOfProfiles([...linking])) {
      held.get(row.profileId)!.push({ type: row.type, value: row.value });
      owners.set(identifierKey(row.type, row.value), row.profileId);
    }
    const profiles = new Map<string, ProfileRow>();
    // Order statistics as loaded, to tell which profiles this batch changes them for (layers need only those).
    const statsBefore = new Map<string, string>();
    // Traits and computed traits as loaded, to tell audiences what changed (shallow copies: folding replaces values).
    const before = new Map<string, { traits: Record<string, unknown>; computed: Record<string, unknown>; firstTouch: string }>();
    for (const p of await tx.profilesByIds(reached)) {
      profiles.set(p.id, p);
      statsBefore.set(p.id, orderStatsKey(p));
      before.set(p.id, { traits: { ...p.traits }, computed: { ...p.computed, event_counts: { ...p.computed.event_counts } }, firstTouch: JSON.stringify(p.firstTouch) });
    }
    const eventNames = new Map<string, Set<string>>();
    const whole = new Set<string>();
    // Profiles a message set traits on (their traits and trait times are rewritten).
    const traitsSet = new Set<string>();

    const graph: IdentityGraph = {
      profileOf: (type, value) => owners.get(identifierKey(type, value)),
      identitiesOf: (profileId) => held.get(profileId) ?? [],
    };
    const touched = new Set<string>();
    const merged = new Set<string>();
    const newProfileId = () => this.deps.newId('profile');
    const conflictKeys = new Set<string>();

    for (const item of work) {
      const msg = item.message;
      const identifiers = [...item.identifiers];
      // An alias links its userId and previousId on purpose: past the per-profile limits (resolveIdentifiers).
      const explicit: Identifier[] = [];
      if (msg.type === 'alias' && msg.previousId) {
        const previous = aliasIdentifier(msg.previousId, graph);
        identifiers.push(previous);
        explicit.push(previous, ...identifiers.filter((id) => (id.type === 'user_id' && id.value === msg.userId?.trim()) || (id.type === 'anonymous_id' && id.value === msg.anonymousId?.trim())));
      }
      const res = resolveIdentifiers(identifiers, rules, graph, newProfileId, explicit);
      if (res.createdId) {
        whole.add(res.createdId);
        profiles.set(res.createdId, { id: res.createdId, workspaceId, mergedInto: null, createdAt: msg.receivedAt, updatedAt: now, ...emptyProfileState() });
        held.set(res.createdId, []);
      }
      let profile = profiles.get(res.profileId)!;
      for (const id of res.attach) {
        owners.set(identifierKey(id.type, id.value), profile.id);
        held.get(profile.id)!.push(id);
        changes.identities.push({ workspaceId, type: id.type, value: id.value, profileId: profile.id, originProfileId: profile.id, firstSeen: msg.timestamp, sourceMessageId: msg.messageId });
      }
      for (const m of res.merges) {
        const winner = profiles.get(m.winnerId)!;
        const loser = profiles.get(m.loserId);
        if (loser) mergeProfileStates(winner, loser);
        const moved = held.get(m.loserId) ?? [];
        for (const id of moved) owners.set(identifierKey(id.type, id.value), winner.id);
        held.get(winner.id)!.push(...moved);
        held.delete(m.loserId);
        if (loser) loser.mergedInto = winner.id;
        merged.add(m.loserId);
        touched.delete(m.loserId);
        touched.add(winner.id);
        whole.add(winner.id);
        changes.merges.push({ id: this.deps.newId('merge'), workspaceId, winnerId: winner.id, loserId: m.loserId, reason: m.reason, messageId: msg.messageId, actor: 'identity-resolution', createdAt: now, undoneAt: null });
      }
      profile = profiles.get(res.profileId)!;
      for (const c of res.conflicts) {
        // One open conflict per (profile, identifier, other profile): a shared device that keeps sending does not flood
        // the review list. Repeats within the batch are dropped here, those of earlier batches (or dismissed) by the
        // store's unique index.
        const key = `${c.profileId}|${c.type}|${c.value}|${c.otherProfileId ?? ''}`;
        if (conflictKeys.has(key)) continue;
        conflictKeys.add(key);
        changes.conflicts.push(toConflictRow(this.deps.newId('conflict'), workspaceId, msg.messageId, c, now));
      }
      // A refused identifier is not written as a trait either: the profile would show a member number, phone… that
      // is not its own (the event keeps the message as sent).
      if (res.conflicts.length) {
        const refused = new Set(res.conflicts.map((c) => identifierKey(c.type, c.value)));
        applyMessage(profile, { ...msg, traits: withoutIdentifiers(msg, rules, (id) => refused.has(identifierKey(id.type, id.value))).traits });
      } else applyMessage(profile, msg);
      if (setsTraits(msg.traits)) traitsSet.add(profile.id);
      profile.updatedAt = now;
      touched.add(profile.id);
      let names = eventNames.get(profile.id);
      if (!names) eventNames.set(profile.id, (names = new Set()));
      names.add(msg.type === 'track' ? (msg.event ?? '') : (CALL_EVENT_NAMES[msg.type] ?? msg.type));
      changes.events.push({
        id: this.deps.newId('event'),
        workspaceId,
        profileId: profile.id,
        originProfileId: profile.id,
        messageId: msg.messageId,
        type: msg.type,
        event: msg.event,
        traits: msg.traits,
        properties: msg.properties,
        context: msg.context,
        timestamp: msg.timestamp,
        receivedAt: msg.receivedAt,
        // Known for a profile read from storage: the insert need not look it up (one index search per event;
        // measured at 1M profiles, the saving is within noise — the pages are usually cached).
        ...(profile.num !== undefined ? { profileNum: profile.num } : {}),
      });
    }
    const statsChanged = new Set<string>();
    const profileChanges = new Map<string, ProfileChange>();
    const kept = new Map<string, { traits: boolean; firstTouch: boolean }>();
    for (const id of touched) {
      const p = profiles.get(id)!;
      changes.profiles.push(p);
      const loaded = before.get(id);
      if (loaded && !whole.has(id)) kept.set(id, { traits: !traitsSet.has(id), firstTouch: loaded.firstTouch === JSON.stringify(p.firstTouch) });
      if (statsBefore.get(id) !== orderStatsKey(p)) statsChanged.add(id);
      const b = before.get(id);
      profileChanges.set(id, {
        whole: whole.has(id) || !b,
        events: eventNames.get(id) ?? new Set(),
        traits: b ? changedKeys(b.traits, p.traits) : new Set(),
        computed: b ? changedKeys(b.computed, p.computed as unknown as Record<string, unknown>) : new Set(),
      });
    }
    // Profiles merged away in this batch are written too (new ones must exist; merged_into is set by the merge).
    for (const id of merged) {
      const p = profiles.get(id);
      if (p) changes.profiles.push(p);
    }
    if (kept.size) changes.kept = new Map([...(changes.kept ?? []), ...kept]);
    return { touched, merged, statsChanged, changes: profileChanges };
  }
}

/**
 * The profiles (by the identity owners loaded for the batch) reached by messages that may link
 * identifiers: an alias, or a message with an identifier no profile holds or identifiers of two
 * profiles. A message whose identifiers are all held by one profile resolves to it unchanged.
 */
function profilesReachedByLinkingMessages(items: readonly InboxItem[], owners: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const item of items) {
    let one: string | undefined;
    let links = item.message.type === 'alias';
    for (const id of item.identifiers) {
      const owner = owners.get(identifierKey(id.type, id.value));
      if (owner === undefined || (one !== undefined && owner !== one)) links = true;
      one ??= owner;
    }
    if (!links) continue;
    for (const id of item.identifiers) {
      const owner = owners.get(identifierKey(id.type, id.value));
      if (owner !== undefined) out.add(owner);
    }
    if (item.message.type === 'alias' && item.message.previousId) {
      for (const type of ['user_id', 'anonymous_id']) {
        const owner = owners.get(identifierKey(type, item.message.previousId));
        if (owner !== undefined) out.add(owner);
      }
    }
  }
  return out;
}

/** Whether a message's traits set any trait (`$set_once` only fills first-touch traits). */
function setsTraits(traits: Record<string, unknown>): boolean {
  for (const key in traits) if (key !== '$set_once') return true;
  return false;
}

/** Top-level keys whose value differs between `a` and `b` (objects compared by content). */
function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const k in a) if (!sameJson(a[k], b[k])) out.add(k);
  for (const k in b) if (!Object.hasOwn(a, k) && b[k] !== undefined) out.add(k);
  return out;
}

/** Whether two JSON values are equal by content (object key order aside). */
function sameJson(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || Array.isArray(x) !== Array.isArray(y)) return false;
  const a = x as Record<string, unknown>;
  const b = y as Record<string, unknown>;
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(b, k) || !sameJson(a[k], b[k])) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** What lifecycle and RFM are computed from, as one comparable value. */
function orderStatsKey(p: ProfileRow): string {
  const c = p.computed;
  return `${c.order_count}|${c.total_spent}|${c.first_order_at}|${c.last_order_at}|${c.first_seen}`;
}

function toConflictRow(id: string, workspaceId: string, messageId: string, c: { type: string; value: string; profileId: string; otherProfileId: string | null; reason: string }, now: string): ConflictRow {
  return { id, workspaceId, messageId, profileId: c.profileId, otherProfileId: c.otherProfileId, identifierType: c.type, identifierValue: c.value, reason: c.reason, createdAt: now };
}
