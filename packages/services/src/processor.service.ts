import {
  aliasIdentifier,
  applyMessage,
  emptyProfileState,
  identifierKey,
  mergeProfileStates,
  resolveIdentifiers,
  type ConflictRow,
  type Identifier,
  type IdentityGraph,
  type InboxItem,
  type ProcessorChanges,
  type ProfileRow,
} from '@siyu/core';
import type { SqlStore } from '@siyu/storage';
import type { ServiceDeps } from './deps.ts';
import { hashIdentifier } from './ids.ts';
import type { WorkspaceService } from './workspaces.service.ts';

/** PostgreSQL advisory lock key: one processor at a time keeps message order per profile. */
const PROCESSOR_LOCK = 7070_0001;

export interface BatchReport {
  messages: number;
  /** Time each message spent between being received and its profile being committed, ms. */
  latenciesMs: number[];
}

/** Listeners for profile changes (segments, journeys and the audience index subscribe here). */
export type ProfileChangeListener = (workspaceId: string, profileIds: ReadonlySet<string>, mergedAway: ReadonlySet<string>) => void;

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
    const touchedByWs = new Map<string, { touched: Set<string>; merged: Set<string> }>();
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
      const committedAt = this.deps.clock().getTime();
      return { messages: items.length, latenciesMs: items.map((i) => committedAt - Date.parse(i.message.receivedAt)) };
    }, PROCESSOR_LOCK);
    for (const [ws, t] of touchedByWs) for (const l of this.listeners) l(ws, t.touched, t.merged);
    return report;
  }

  /** Processes messages one at a time to find the one that fails, and dead-letters it. */
  async isolateFailure(error: unknown): Promise<void> {
    const [item] = await this.deps.store.claimInbox(1);
    if (!item) return;
    try {
      await this.processBatch(1);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e ?? error);
      this.deps.log.error({ seq: item.seq, messageId: item.message.messageId, err: message }, 'message moved to dead letters');
      await this.deps.store.deadLetter(item.seq, message, this.deps.clock().toISOString());
    }
  }

  private async processWorkspace(tx: SqlStore, workspaceId: string, items: InboxItem[], changes: ProcessorChanges) {
    const now = this.deps.clock().toISOString();
    const rules = await this.workspaces.identityRules(workspaceId);
    const processed = await tx.processedMessageIds(workspaceId, items.map((i) => i.message.messageId));
    let work = items.filter((i) => !processed.has(i.message.messageId));

    // Erased people stay erased: identifiers with a suppression record are dropped from messages.
    if (await tx.hasSuppressions(workspaceId)) {
      const hashes = new Map<string, string>();
      for (const item of work) for (const id of item.identifiers) hashes.set(identifierKey(id.type, id.value), hashIdentifier(workspaceId, id.type, id.value));
      const suppressed = await tx.suppressedHashes(workspaceId, [...hashes.values()]);
      if (suppressed.size) {
        work = work
          .map((item) => ({ ...item, identifiers: item.identifiers.filter((id) => !suppressed.has(hashes.get(identifierKey(id.type, id.value))!)) }))
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
    const held = new Map<string, Identifier[]>();
    for (const row of await tx.identitiesOfProfiles(reached)) {
      const list = held.get(row.profileId) ?? [];
      list.push({ type: row.type, value: row.value });
      held.set(row.profileId, list);
      owners.set(identifierKey(row.type, row.value), row.profileId);
    }
    const profiles = new Map<string, ProfileRow>();
    for (const p of await tx.profilesByIds(reached)) profiles.set(p.id, p);

    const graph: IdentityGraph = {
      profileOf: (type, value) => owners.get(identifierKey(type, value)),
      identitiesOf: (profileId) => held.get(profileId) ?? [],
    };
    const touched = new Set<string>();
    const merged = new Set<string>();
    const newProfileId = () => this.deps.newId('profile');

    for (const item of work) {
      const msg = item.message;
      const identifiers = [...item.identifiers];
      if (msg.type === 'alias' && msg.previousId) identifiers.push(aliasIdentifier(msg.previousId, graph));
      const res = resolveIdentifiers(identifiers, rules, graph, newProfileId);
      let profile = profiles.get(res.profileId);
      if (!profile) {
        profile = { id: res.profileId, workspaceId, mergedInto: null, createdAt: msg.receivedAt, updatedAt: now, ...emptyProfileState() };
        profiles.set(profile.id, profile);
        held.set(profile.id, []);
      }
      for (const id of res.attach) {
        owners.set(identifierKey(id.type, id.value), profile.id);
        held.get(profile.id)!.push(id);
        changes.identities.push({ workspaceId, type: id.type, value: id.value, profileId: profile.id, originProfileId: profile.id, firstSeen: msg.timestamp, sourceMessageId: msg.messageId });
      }
      for (const m of res.merges) {
        const loser = profiles.get(m.loserId);
        if (loser) mergeProfileStates(profile, loser);
        const moved = held.get(m.loserId) ?? [];
        for (const id of moved) owners.set(identifierKey(id.type, id.value), profile.id);
        held.get(profile.id)!.push(...moved);
        held.delete(m.loserId);
        if (loser) loser.mergedInto = profile.id;
        merged.add(m.loserId);
        touched.delete(m.loserId);
        changes.merges.push({ id: this.deps.newId('merge'), workspaceId, winnerId: profile.id, loserId: m.loserId, reason: m.reason, messageId: msg.messageId, actor: 'identity-resolution', createdAt: now, undoneAt: null });
      }
      for (const c of res.conflicts) changes.conflicts.push(toConflictRow(this.deps.newId('conflict'), workspaceId, msg.messageId, c, now));
      applyMessage(profile, msg);
      profile.updatedAt = now;
      touched.add(profile.id);
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
      });
    }
    for (const id of touched) changes.profiles.push(profiles.get(id)!);
    // Profiles merged away in this batch are written too (new ones must exist; merged_into is set by the merge).
    for (const id of merged) {
      const p = profiles.get(id);
      if (p) changes.profiles.push(p);
    }
    return { touched, merged };
  }
}

function toConflictRow(id: string, workspaceId: string, messageId: string, c: { type: string; value: string; profileId: string; otherProfileId: string | null; reason: string }, now: string): ConflictRow {
  return { id, workspaceId, messageId, profileId: c.profileId, otherProfileId: c.otherProfileId, identifierType: c.type, identifierValue: c.value, reason: c.reason, createdAt: now };
}
