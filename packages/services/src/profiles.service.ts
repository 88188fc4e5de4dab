import { AppError, applyMessage, emptyProfileState, extractIdentifiers, notFound, toRuleMap, type ConflictRow, type EventRow, type MergeRow, type NormalizedMessage, type Page, type ProfileRow } from '@siyu/core';
import type { WorkspaceStats } from '@siyu/storage';
import type { ServiceDeps } from './deps.ts';
import { hashIdentifier } from './ids.ts';
import { PROCESSOR_LOCK, type DerivationLog } from './processor.service.ts';
import type { WorkspaceService } from './workspaces.service.ts';

export interface ProfileView {
  id: string;
  traits: Record<string, unknown>;
  traitTimes: Record<string, string>;
  firstTouch: Record<string, unknown>;
  computed: ProfileRow['computed'];
  identities: { type: string; value: string; firstSeen: string; sourceMessageId: string }[];
  merges: Omit<MergeRow, 'workspaceId'>[];
  tags: ProfileTag[];
  createdAt: string;
  updatedAt: string;
}

/** A tag a person holds, as profile responses show it. */
export interface ProfileTag {
  id: string;
  name: string;
  source: string;
  appliedBy?: string;
  appliedAt: string;
  expiresAt: string | null;
}

export interface ProfileSummary {
  id: string;
  traits: Record<string, unknown>;
  computed: ProfileRow['computed'];
  identities: { type: string; value: string }[];
  /** Set by the tag service's decorator (every summary a service answers with carries it). */
  tags?: ProfileTag[];
  createdAt: string;
  updatedAt: string;
}

/** Enriches a page of profile summaries (profile lists, segment members, count samples) in one go. */
export type ProfileSummaryDecorator = (workspaceId: string, summaries: ProfileSummary[]) => Promise<void>;

/** Enriches a profile view (tags, lifecycle…) — later capabilities register one. */
export type ProfileDecorator = (workspaceId: string, view: ProfileView) => Promise<void>;

/** Unified profiles: read, look up, unmerge, export and erase (PIPL / GDPR). */
export class ProfileService {
  private readonly decorators: ProfileDecorator[] = [];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly workspaces: WorkspaceService,
  ) {}

  addDecorator(d: ProfileDecorator): void {
    this.decorators.push(d);
  }

  private readonly summaryDecorators: ProfileSummaryDecorator[] = [];

  addSummaryDecorator(d: ProfileSummaryDecorator): void {
    this.summaryDecorators.push(d);
  }

  /** Runs the summary decorators (tags…) over summaries built elsewhere (segment members, count samples). */
  async decorateSummaries(workspaceId: string, summaries: ProfileSummary[]): Promise<ProfileSummary[]> {
    if (summaries.length) for (const d of this.summaryDecorators) await d(workspaceId, summaries);
    return summaries;
  }

  /**
   * Called after an unmerge (`touched`) or erasure (`removed`) commits, so derived state follows; `log`: the
   * derivation-log rows recorded with an unmerge (see SqlStore.logDerivations).
   */
  onChanged(fn: (workspaceId: string, touched: ReadonlySet<string>, removed: ReadonlySet<string>, log?: DerivationLog) => void): void {
    this.changeListeners.push(fn);
  }

  private readonly changeListeners: Array<(workspaceId: string, touched: ReadonlySet<string>, removed: ReadonlySet<string>, log?: DerivationLog) => void> = [];

  private announce(workspaceId: string, touched: readonly string[], removed: readonly string[], log?: DerivationLog): void {
    for (const l of this.changeListeners) l(workspaceId, new Set(touched), new Set(removed), log);
  }

  async list(
    workspaceId: string,
    q: { limit: number; cursor?: string | undefined; traits?: Record<string, string>; identifierType?: string | undefined; identifierValue?: string | undefined; q?: string | undefined },
  ): Promise<Page<ProfileSummary>> {
    let identifier: { type: string; value: string } | undefined;
    if (q.identifierType || q.identifierValue) {
      if (!q.identifierType || !q.identifierValue) throw new AppError('INVALID_INPUT', 'give both identifierType and identifierValue to filter by an identifier', { problems: [{ path: q.identifierType ? 'identifierValue' : 'identifierType', message: 'required' }] });
      identifier = await this.normalizeIdentifier(workspaceId, q.identifierType, q.identifierValue);
    }
    const search = q.q?.trim() ? await this.searchOf(workspaceId, q.q.trim()) : undefined;
    const page = await this.deps.store.listProfiles(workspaceId, { limit: q.limit, cursor: q.cursor, traits: q.traits, identifier, search });
    const ids = await this.deps.store.identitiesOfProfiles(page.data.map((p) => p.id));
    const byProfile = new Map<string, { type: string; value: string }[]>();
    for (const i of ids) {
      const list = byProfile.get(i.profileId) ?? [];
      list.push({ type: i.type, value: i.value });
      byProfile.set(i.profileId, list);
    }
    const data: ProfileSummary[] = page.data.map((p) => ({ id: p.id, traits: p.traits, computed: p.computed, identities: byProfile.get(p.id) ?? [], createdAt: p.createdAt, updatedAt: p.updatedAt }));
    return { data: await this.decorateSummaries(workspaceId, data), nextCursor: page.nextCursor };
  }

  /** A profile by id; an id that was merged away answers with the surviving profile. */
  async get(workspaceId: string, id: string): Promise<ProfileView> {
    const p = await this.deps.store.canonicalProfile(workspaceId, id);
    if (!p) throw notFound('profile', id);
    return this.view(p);
  }

  async lookup(workspaceId: string, type: string, value: string): Promise<ProfileView> {
    const id = await this.normalizeIdentifier(workspaceId, type, value);
    const profileId = await this.deps.store.profileIdByIdentifier(workspaceId, id.type, id.value);
    if (!profileId) throw new AppError('NOT_FOUND', `no profile holds ${id.type} "${id.value}"`, { type: id.type, value: id.value });
    return this.get(workspaceId, profileId);
  }

  async events(workspaceId: string, id: string, q: { limit: number; cursor?: string | undefined }): Promise<Page<Omit<EventRow, 'workspaceId' | 'profileId' | 'originProfileId'>>> {
    const p = await this.deps.store.canonicalProfile(workspaceId, id);
    if (!p) throw notFound('profile', id);
    const page = await this.deps.store.eventsOf(workspaceId, p.id, q);
    return { data: page.data.map(({ workspaceId: _w, profileId: _p, originProfileId: _o, ...e }) => e), nextCursor: page.nextCursor };
  }

  /** Refused links, newest first: open ones by default (the review list), `resolved` or `all`. */
  async conflicts(workspaceId: string, q: { limit: number; cursor?: string | undefined; status?: string | undefined }): Promise<Page<Omit<ConflictRow, 'workspaceId'>>> {
    const status = q.status ?? 'open';
    if (status !== 'open' && status !== 'resolved' && status !== 'all') {
      throw new AppError('INVALID_INPUT', `status must be open, resolved or all, not "${status}"`, { problems: [{ path: 'status', message: 'use open, resolved or all' }] });
    }
    const page = await this.deps.store.listConflicts(workspaceId, { ...q, status });
    return { data: page.data.map(({ workspaceId: _w, ...c }) => c), nextCursor: page.nextCursor };
  }

  /** Overview figures; events per day are calendar days in the workspace's time zone. */
  async stats(workspaceId: string): Promise<Omit<WorkspaceStats, 'eventsPerHour'> & { eventsPerDay: { day: string; count: number }[] }> {
    const since = new Date(this.deps.clock().getTime() - 31 * 86_400_000).toISOString();
    const ws = await this.deps.store.getWorkspace(workspaceId);
    const stats = await this.deps.store.stats(workspaceId, since);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: ws?.timeZone ?? 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });
    const byDay = new Map<string, number>();
    // The store buckets by UTC hour; every hour falls wholly inside one local day for whole-hour zones.
    for (const h of stats.eventsPerHour) {
      const local = day.format(new Date(`${h.hour}:00:00.000Z`));
      byDay.set(local, (byDay.get(local) ?? 0) + h.count);
    }
    const cutoff = day.format(new Date(this.deps.clock().getTime() - 29 * 86_400_000));
    const { eventsPerHour: _h, ...rest } = stats;
    return { ...rest, eventsPerDay: [...byDay].filter(([d]) => d >= cutoff).sort(([a], [b]) => a.localeCompare(b)).map(([d, count]) => ({ day: d, count })) };
  }

  /**
   * Splits a merge: the profile that was merged away comes back with the identities and events it
   * (and anything merged into it before) brought, and both profiles' traits are rebuilt from their events.
   */
  async unmerge(workspaceId: string, profileId: string, mergeId: unknown, actor: string): Promise<{ profileId: string; restoredProfileId: string }> {
    if (typeof mergeId !== 'string' || !mergeId) throw new AppError('INVALID_INPUT', 'mergeId is required: the id of the merge to undo (see "merges" on the profile)', { problems: [{ path: 'mergeId', message: 'expected a merge id such as mrg_…' }] });
    const now = this.deps.clock().toISOString();
    const result = await this.deps.store.transaction(async (tx) => {
      const canonical = await tx.canonicalProfile(workspaceId, profileId);
      if (!canonical) throw notFound('profile', profileId);
      const merge = await tx.getMerge(workspaceId, mergeId);
      if (!merge) throw notFound('merge', mergeId);
      if (merge.undoneAt) throw new AppError('CONFLICT', `merge ${mergeId} was already undone at ${merge.undoneAt}`);
      const winnerCanonical = await tx.canonicalProfile(workspaceId, merge.winnerId);
      if (winnerCanonical?.id !== canonical.id) throw new AppError('INVALID_INPUT', `merge ${mergeId} does not belong to profile ${profileId}`);
      const loserTree = [merge.loserId, ...(await tx.mergedDescendants(workspaceId, merge.loserId))];
      await tx.setMergedInto(workspaceId, merge.loserId, null, now);
      await tx.repointByOrigin(workspaceId, loserTree, merge.loserId);
      await tx.markMergeUndone(workspaceId, merge.id, now);
      for (const id of [canonical.id, merge.loserId]) await this.refold(tx, workspaceId, id, now);
      await tx.audit({ id: this.deps.newId('event'), workspaceId, actor, action: 'profile.unmerge', target: canonical.id, details: { mergeId, restoredProfileId: merge.loserId }, createdAt: now });
      // Both profiles' memberships and layers follow once announced; recorded so a crash before that does not lose it.
      const both = [canonical.id, merge.loserId];
      const audiences = await tx.logDerivations('audiences', both);
      const layers = await tx.logDerivations('layers', both);
      return { result: { profileId: canonical.id, restoredProfileId: merge.loserId }, log: { ...(audiences ? { audiences } : {}), ...(layers ? { layers } : {}) } };
    }, PROCESSOR_LOCK);
    this.announce(workspaceId, [result.result.profileId, result.result.restoredProfileId], [], result.log);
    return result.result;
  }

  /** Everything held on a person: profile, identities, events, merges, conflicts (PIPL art. 45 / GDPR art. 15). */
  async export(workspaceId: string, id: string, actor: string): Promise<Record<string, unknown>> {
    const view = await this.get(workspaceId, id);
    const tree = [view.id, ...(await this.deps.store.mergedDescendants(workspaceId, view.id))];
    const events = await this.deps.store.allEventsOf(workspaceId, [view.id]);
    const conflicts = await this.deps.store.conflictsOf(workspaceId, tree);
    await this.deps.store.audit({ id: this.deps.newId('event'), workspaceId, actor, action: 'profile.export', target: view.id, details: {}, createdAt: this.deps.clock().toISOString() });
    return {
      exportedAt: this.deps.clock().toISOString(),
      profile: view,
      mergedProfileIds: tree.slice(1),
      events: events.map(({ workspaceId: _w, ...e }) => e),
      identityConflicts: conflicts.map(({ workspaceId: _w, ...c }) => c),
    };
  }

  /**
   * Erases a person (and every profile merged into them): traits, identities, events. Keeps only
   * hashed suppression records so later messages carrying the same identifiers are not re-attached.
   */
  async erase(workspaceId: string, id: string, actor: string): Promise<{ deleted: true; suppressedIdentifiers: number }> {
    const now = this.deps.clock().toISOString();
    const { result, tree } = await this.deps.store.transaction(async (tx) => {
      const p = await tx.canonicalProfile(workspaceId, id);
      if (!p) throw notFound('profile', id);
      const tree = [p.id, ...(await tx.mergedDescendants(workspaceId, p.id))];
      const identities = await tx.eraseProfiles(workspaceId, tree);
      await tx.addSuppressions(workspaceId, identities.map((i) => hashIdentifier(workspaceId, i.type, i.value)), now);
      // The audit entry names the profile id only: no personal data survives erasure.
      await tx.audit({ id: this.deps.newId('event'), workspaceId, actor, action: 'profile.erase', target: p.id, details: { profiles: tree.length, identifiers: identities.length }, createdAt: now });
      return { result: { deleted: true as const, suppressedIdentifiers: identities.length }, tree };
    }, PROCESSOR_LOCK);
    this.announce(workspaceId, [], tree);
    return result;
  }

  private async refold(tx: ServiceDeps['store'], workspaceId: string, profileId: string, now: string): Promise<void> {
    const p = await tx.getProfile(workspaceId, profileId);
    if (!p) return;
    const state = emptyProfileState();
    for (const e of await tx.allEventsOf(workspaceId, [profileId])) {
      // Membership events the audience engine writes (Segment Entered, Tag Added…) are not customer behaviour.
      if ((e.context.library as { name?: unknown } | undefined)?.name === 'siyu-audiences') continue;
      applyMessage(state, eventToMessage(e));
    }
    await tx.upsertProfiles([{ ...p, ...state, updatedAt: now }]);
  }

  /**
   * What a search box text matches: any identifier it is, written as ingestion would store it (`138 0013 8000` is
   * the phone +8613800138000, `Li@X.cn` the email li@x.cn, or a user id, member number…), the last 4–10 digits of
   * a phone, or the start of a name or nickname.
   */
  private async searchOf(workspaceId: string, text: string): Promise<{ identifiers: { type: string; value: string }[]; phoneSuffix?: string; namePrefix: string }> {
    const rules = await this.workspaces.identityRules(workspaceId);
    const identifiers: { type: string; value: string }[] = [];
    for (const type of rules.keys()) {
      // An openid means nothing without its app; a search by one goes through lookup with the app id.
      if (type === 'wechat_openid') continue;
      try {
        identifiers.push(await this.normalizeIdentifier(workspaceId, type, text));
      } catch {
        // Not a valid value of this type: it cannot match.
      }
    }
    return { identifiers, ...(/^\d{4,10}$/.test(text) ? { phoneSuffix: text } : {}), namePrefix: text };
  }

  private async normalizeIdentifier(workspaceId: string, type: string, value: string): Promise<{ type: string; value: string }> {
    const rules = await this.workspaces.identityRules(workspaceId);
    if (!rules.has(type)) throw new AppError('INVALID_INPUT', `"${type}" is not an identifier type of this workspace (known: ${[...rules.keys()].join(', ')})`, { problems: [{ path: 'type', message: 'unknown identifier type' }] });
    if (type === 'user_id' || type === 'anonymous_id') return { type, value: value.trim() };
    const probe: NormalizedMessage = { messageId: 'lookup', type: 'identify', userId: null, anonymousId: null, previousId: null, groupId: null, event: null, traits: { [type]: value }, properties: {}, context: {}, externalIds: [], timestamp: '', originalTimestamp: null, sentAt: null, receivedAt: '' };
    const res = extractIdentifiers(probe, toRuleMap([...rules.values()]));
    const found = res.identifiers.find((i) => i.type === type);
    if (res.problems.length || !found) throw new AppError('INVALID_INPUT', res.problems[0]?.message.replace(/^traits\./, '') ?? `"${value}" is not a valid ${type}`, { problems: [{ path: 'value', message: res.problems[0]?.message ?? 'invalid value' }] });
    return found;
  }

  private async view(p: ProfileRow): Promise<ProfileView> {
    // Merge history covers the whole tree that built this profile (A←B←C lists C→B too), so each can be undone.
    const tree = [p.id, ...(await this.deps.store.mergedDescendants(p.workspaceId, p.id))];
    const [identities, merges] = await Promise.all([this.deps.store.identitiesOf(p.workspaceId, p.id), this.deps.store.mergesOf(p.workspaceId, tree)]);
    const view: ProfileView = {
      id: p.id,
      traits: p.traits,
      traitTimes: p.traitTimes,
      firstTouch: p.firstTouch,
      computed: p.computed,
      identities: identities.map((i) => ({ type: i.type, value: i.value, firstSeen: i.firstSeen, sourceMessageId: i.sourceMessageId })),
      merges: merges.map(({ workspaceId: _w, ...m }) => m),
      tags: [],
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
    for (const d of this.decorators) await d(p.workspaceId, view);
    return view;
  }
}

/** Rebuilds the message a stored event came from, for refolding a profile. */
export function eventToMessage(e: EventRow): NormalizedMessage {
  return { messageId: e.messageId, type: e.type, userId: null, anonymousId: null, previousId: null, groupId: null, event: e.event, traits: e.traits, properties: e.properties, context: e.context, externalIds: [], timestamp: e.timestamp, originalTimestamp: null, sentAt: null, receivedAt: e.receivedAt };
}
