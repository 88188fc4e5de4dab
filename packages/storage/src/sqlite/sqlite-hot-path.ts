import type BetterSqlite3 from 'better-sqlite3';
import type { ConflictRow, EventRow, IdentityRow, InboxItem, MergeRow, ProfileRow } from '@siyu/core';
import { decodeJson, encodeJson } from '../dialect.ts';
import { receivedAtOf, type DeadLetterRow, type PipelineCounts } from '../pipeline.ts';
import { firstPerMessage, messageKey } from './message-key.ts';
import type { PageCache } from './page-cache.ts';
import { WaitingTable } from './waiting-table.ts';

/** Known waiting message ids kept before the first prune (then twice what remained). */
const WAITING_PRUNE_FROM = 50_000;

/**
 * The low 32 bits of the message key (message-key.ts) as a signed integer: map keys V8 stores inline (a map of
 * the id strings held ~150 bytes per waiting message — 169 MB of heap with 500k waiting at 1M profiles).
 * A hit is confirmed against the inbox row, so a collision only costs a lookup.
 */
export function waitingKey(workspaceId: string, messageId: string): number {
  return messageKey(workspaceId, messageId) | 0;
}

/**
 * The ingestion hot path on SQLite, as cached prepared statements run synchronously.
 *
 * Kysely compiles and prepares every statement on every call, which costs more than SQLite's own
 * work for these tiny row operations (measured: ~3× the time at 30k events). The main-file methods
 * are only called inside a `SqlStore.transaction()`, which holds Kysely's single connection, so they
 * never interleave with another transaction; the inbox methods run their own synchronous
 * transactions on the inbox file.
 */
export class SqliteHotPath {
  private readonly s;

  constructor(
    private readonly raw: BetterSqlite3.Database,
    /** The inbox's own file (connect.ts explains why). */
    private readonly inbox: BetterSqlite3.Database,
    /** Known waiting message ids kept before the first prune (tests make it small). */
    private readonly waitingPruneFrom = WAITING_PRUNE_FROM,
    /** The main connection's page cache limit, which an `auto` size adjusts as the file grows. */
    readonly pageCache?: PageCache,
  ) {
    this.waitingPruneAt = waitingPruneFrom;
    const p = (sql: string) => raw.prepare(sql);
    const q = (sql: string) => inbox.prepare(sql);
    this.s = {
      insertInbox: q('insert into inbox (workspace_id, message_id, payload, received_at) values (?, ?, ?, ?)'),
      waitingIds: q('select seq, workspace_id, message_id from inbox order by seq'),
      waitingRow: q('select workspace_id, message_id from inbox where seq = ?'),
      oldestSeq: q('select min(seq) from inbox').pluck(),
      claim: q('select seq, workspace_id, payload from inbox order by seq limit ?'),
      deleteInbox: q('delete from inbox where seq = ?'),
      deleteInboxRange: q('delete from inbox where seq between ? and ?'),
      inboxSyncNormal: q('pragma synchronous = NORMAL'),
      inboxSyncFull: q('pragma synchronous = FULL'),
      inboxRow: q('select * from inbox where seq = ?'),
      insertDead: q('insert into inbox_dead (seq, workspace_id, message_id, payload, error, failed_at) values (?, ?, ?, ?, ?, ?) on conflict (seq) do nothing'),
      inboxDepth: q('select count(*) from inbox').pluck(),
      // The count reads only the (workspace_id) index; the oldest waiting message is the workspace's
      // first by seq (arrival order, the order of that index's entries), found without reading every row.
      waitingCount: q('select count(*) from inbox where workspace_id = ?').pluck(),
      oldestWaiting: q('select received_at from inbox where workspace_id = ? order by seq limit 1').pluck(),
      deadCount: q('select count(*) from inbox_dead where workspace_id = ?').pluck(),
      deadPage: q('select seq, message_id, payload, error, failed_at from inbox_dead where workspace_id = ? and seq > ? order by seq limit ?'),
      deadRow: q('select * from inbox_dead where workspace_id = ? and seq = ?'),
      deadAll: q('select * from inbox_dead where workspace_id = ? order by seq'),
      deleteDead: q('delete from inbox_dead where seq = ?'),
      // By the message key's index; a key shared by another message (a hash collision) is told apart by the row.
      eventExists: p('select 1 from events where message_key = ? and workspace_id = ? and message_id = ?').pluck(),
      dataVersion: p('pragma data_version').pluck(),
      identity: p('select * from identities where workspace_id = ? and type = ? and value = ?'),
      identitiesOf: p('select * from identities where profile_id = ?'),
      profile: p('select rowid as row_number, * from profiles where id = ?'),
      insertIdentity: p(
        'insert into identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id) values (?, ?, ?, ?, ?, ?, ?) on conflict (workspace_id, type, value) do update set profile_id = excluded.profile_id',
      ),
      // No unique index keeps out a second event of a message (the message key's is not unique, message-key.ts):
      // the processor drops messages whose event is stored, in the transaction that writes the batch, under the
      // write lock; applyChanges drops repeats within a batch. (A `WHERE NOT EXISTS` guard here made each insert an
      // INSERT … SELECT, which SQLite runs with a statement journal: a temporary file written per insert.)
      insertEvent: p(
        'insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num, message_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, (select num from profiles where id = ?)), ?)',
      ),
      upsertProfile: p(
        `insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (select coalesce(max(num), 0) + 1 from profiles))
         on conflict (id) do update set traits = excluded.traits, trait_times = excluded.trait_times, first_touch = excluded.first_touch,
           computed = excluded.computed, first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at`,
      ),
      // A profile this connection read in the transaction, by the rowid it read: one B-tree search instead of
      // two (the id index, then the table). `id = ?` checks the row is still that profile's.
      updateLoadedProfile: p(
        'update profiles set traits = ?, trait_times = ?, first_touch = ?, computed = ?, first_seen = ?, last_seen = ?, updated_at = ? where rowid = ? and id = ?',
      ),
      repointIdentities: p('update identities set profile_id = ? where profile_id = ?'),
      repointEvents: p('update events set profile_id = ?, profile_num = (select num from profiles where id = ?) where profile_id = ?'),
      setMergedInto: p('update profiles set merged_into = ?, updated_at = ? where id = ?'),
      insertMerge: p('insert into merges (id, workspace_id, winner_id, loser_id, reason, message_id, actor, created_at, undone_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      logDerivations: p('insert into derivation_log (consumer, profile_id) select ?, value from json_each(?)'),
      insertConflict: p(
        // The same link refused again while open or after a dismissal is not recorded twice (identity_conflicts_open_uq).
        'insert into identity_conflicts (id, workspace_id, message_id, profile_id, other_profile_id, identifier_type, identifier_value, reason, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing',
      ),
    };
  }

  /**
   * Messages waiting in the inbox, by a 32-bit hash of workspace and messageId → seq ({@link WaitingTable}), as this connection knows them:
   * loaded on first append, added to by its appends, pruned of processed ones (seq below the oldest
   * waiting) when it grows. The inbox has no index on message ids (connect.ts says why), so this is how
   * an append finds a message that is already waiting. Appends made by another process meanwhile (an
   * import beside a running server) are not in it: such a duplicate is stored twice in the inbox and
   * the processor keeps the first (ProcessorService drops repeated message ids) — it is only reported
   * as accepted rather than as a duplicate.
   */
  private waiting: WaitingTable | null = null;
  private waitingPruneAt: number;

  private waitingIds(): WaitingTable {
    if (this.waiting) return this.waiting;
    const waiting = new WaitingTable();
    for (const r of this.s.waitingIds.iterate() as Iterable<{ seq: number; workspace_id: string; message_id: string }>) waiting.set(waitingKey(r.workspace_id, r.message_id), r.seq);
    return (this.waiting = waiting);
  }

  /**
   * Whether the message is known to be waiting and still in the inbox (checked by its seq: it may have been
   * processed, or moved to the dead letters, since — a retry of a dead letter must be taken again).
   */
  private stillWaiting(waiting: WaitingTable, workspaceId: string, messageId: string): boolean {
    const key = waitingKey(workspaceId, messageId);
    const seq = waiting.get(key);
    if (seq === undefined) return false;
    const row = this.s.waitingRow.get(seq) as { workspace_id: string; message_id: string } | undefined;
    if (row?.workspace_id === workspaceId && row.message_id === messageId) return true;
    // Gone from the inbox, or another message with the same hash (its entry is then replaced).
    if (!row) waiting.delete(key);
    return false;
  }

  /** Forgets messages the processor has taken (seqs below the oldest still waiting). */
  private pruneWaiting(waiting: WaitingTable): void {
    waiting.retainFrom(this.s.oldestSeq.get() as number | null);
    this.waitingPruneAt = Math.max(this.waitingPruneFrom, waiting.size * 2);
  }

  /**
   * Appends the groups' messages in one transaction of the inbox file (one fsync); returns each
   * group's duplicates: ids already waiting, or whose event is already stored.
   */
  appendInbox(groups: readonly { workspaceId: string; items: readonly { messageId: string; payload: string; receivedAt: string }[] }[]): string[][] {
    const waiting = this.waitingIds();
    if (waiting.size >= this.waitingPruneAt) this.pruneWaiting(waiting);
    return this.inboxWrite((insert) =>
      groups.map(({ workspaceId, items }) => {
        const duplicates: string[] = [];
        for (const i of items) {
          if (this.stillWaiting(waiting, workspaceId, i.messageId) || this.eventExists(workspaceId, i.messageId)) duplicates.push(i.messageId);
          else insert(workspaceId, i.messageId, i.payload, i.receivedAt);
        }
        return duplicates;
      }),
    );
  }

  /**
   * Runs `fn` in one immediate transaction of the inbox file; `insert` appends a message and records
   * it as waiting. If the transaction rolls back, the ids it recorded are forgotten again.
   */
  private inboxWrite<T>(fn: (insert: (workspaceId: string, messageId: string, payload: string, receivedAt: string) => void) => T): T {
    const waiting = this.waitingIds();
    const added: [number, number][] = [];
    const insert = (workspaceId: string, messageId: string, payload: string, receivedAt: string) => {
      const key = waitingKey(workspaceId, messageId);
      const seq = Number(this.s.insertInbox.run(workspaceId, messageId, payload, receivedAt).lastInsertRowid);
      waiting.set(key, seq);
      added.push([key, seq]);
    };
    try {
      return this.inbox.transaction(() => fn(insert)).immediate();
    } catch (e) {
      for (const [key, seq] of added) if (waiting.get(key) === seq) waiting.delete(key);
      throw e;
    }
  }

  /**
   * Removes inbox rows whose batch has committed, without flushing the inbox file (`synchronous =
   * NORMAL` for this transaction; the next append's flush carries it): a removal lost in a crash
   * re-delivers messages whose events are stored, and the processor drops those.
   */
  /** SQLite's `data_version`: changes when another connection (thread or process) commits to the main file. */
  dataVersion(): number {
    return this.s.dataVersion.get() as number;
  }

  ackInbox(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.s.inboxSyncNormal.run();
    try {
      this.inbox
        .transaction(() => {
          // A batch's rows are consecutive seqs, bar the odd one left for a later batch: one range
          // delete per run of consecutive numbers (one delete per row cost ~4 µs per event).
          for (const [from, to] of consecutiveRuns(seqs)) this.s.deleteInboxRange.run(from, to);
        })
        .immediate();
    } finally {
      this.s.inboxSyncFull.run();
    }
  }

  /** Moves one inbox row to the dead letters (same file, one transaction). */
  deadLetter(seq: number, error: string, at: string): void {
    this.inbox
      .transaction(() => {
        const row = this.s.inboxRow.get(seq) as { seq: number; workspace_id: string; message_id: string; payload: string } | undefined;
        if (!row) return;
        this.s.insertDead.run(row.seq, row.workspace_id, row.message_id, row.payload, error, at);
        this.s.deleteInbox.run(seq);
      })
      .immediate();
  }

  /** Messages of a workspace waiting for the processor, the oldest one's receipt, and its dead letters. */
  pipelineStatus(workspaceId: string): PipelineCounts {
    const waiting = Number(this.s.waitingCount.get(workspaceId));
    const oldest = waiting > 0 ? ((this.s.oldestWaiting.get(workspaceId) as string | undefined) ?? null) : null;
    return { waiting, oldestWaitingAt: oldest, deadLetters: Number(this.s.deadCount.get(workspaceId)) };
  }

  deadLetters(workspaceId: string, afterSeq: number, limit: number): DeadLetterRow[] {
    return (this.s.deadPage.all(workspaceId, afterSeq, limit) as { seq: number; message_id: string; payload: string; error: string; failed_at: string }[]).map((r) => ({
      seq: Number(r.seq),
      messageId: r.message_id,
      payload: r.payload,
      error: r.error,
      failedAt: r.failed_at,
    }));
  }

  /** Moves dead letters of a workspace (these seqs, or all) back into the inbox, in one transaction; returns how many. */
  retryDeadLetters(workspaceId: string, seqs: readonly number[] | null): number {
    const waiting = this.waitingIds();
    return this.inboxWrite((insert) => {
      type Dead = { seq: number; workspace_id: string; message_id: string; payload: string; failed_at: string };
      const rows = seqs === null ? (this.s.deadAll.all(workspaceId) as Dead[]) : seqs.map((seq) => this.s.deadRow.get(workspaceId, seq) as Dead | undefined).filter((r): r is Dead => r !== undefined);
      for (const r of rows) {
        // Already waiting again (retried twice): the dead letter just goes.
        if (!this.stillWaiting(waiting, r.workspace_id, r.message_id)) insert(r.workspace_id, r.message_id, r.payload, receivedAtOf(r.payload, r.failed_at));
        this.s.deleteDead.run(r.seq);
      }
      return rows.length;
    });
  }

  inboxDepth(): number {
    return Number(this.s.inboxDepth.get());
  }

  claimInbox(limit: number): InboxItem[] {
    const rows = this.s.claim.all(limit) as { seq: number; workspace_id: string; payload: string }[];
    return rows.map((r) => {
      const p = JSON.parse(r.payload) as Pick<InboxItem, 'message' | 'identifiers'>;
      return { seq: r.seq, workspaceId: r.workspace_id, message: p.message, identifiers: p.identifiers };
    });
  }

  processedMessageIds(workspaceId: string, messageIds: readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const id of messageIds) if (this.eventExists(workspaceId, id)) out.add(id);
    return out;
  }

  private eventExists(workspaceId: string, messageId: string): boolean {
    return this.s.eventExists.get(messageKey(workspaceId, messageId), workspaceId, messageId) !== undefined;
  }

  identitiesByKeys(workspaceId: string, keys: readonly { type: string; value: string }[]): IdentityRow[] {
    const out: IdentityRow[] = [];
    // In key order: consecutive searches share the index's pages (at 1M profiles ~10 % faster than a batch's arrival order).
    for (const k of [...keys].sort(byTypeThenValue)) {
      const row = this.s.identity.get(workspaceId, k.type, k.value) as IdentityDbRow | undefined;
      if (row) out.push(toIdentity(row));
    }
    return out;
  }

  identitiesOfProfiles(profileIds: readonly string[]): IdentityRow[] {
    const out: IdentityRow[] = [];
    for (const id of [...profileIds].sort()) for (const row of this.s.identitiesOf.all(id) as IdentityDbRow[]) out.push(toIdentity(row));
    return out;
  }

  /**
   * Rowids of the profiles {@link profilesByIds} read since the last {@link applyChanges}, which updates
   * them by rowid. A stale entry (a transaction rolled back, the row erased and its rowid reused) is
   * harmless: the update also matches the id, and a profile it misses goes through the upsert.
   */
  private readonly loadedRows = new Map<string, number>();

  profilesByIds(profileIds: readonly string[]): ProfileRow[] {
    const out: ProfileRow[] = [];
    // A transaction that reads profiles without applying changes (not the processor's) leaves them: bounded.
    if (this.loadedRows.size > 100_000) this.loadedRows.clear();
    // In id order, as identitiesByKeys.
    for (const id of [...profileIds].sort()) {
      const r = this.s.profile.get(id) as (ProfileDbRow & { row_number: number }) | undefined;
      if (r) this.loadedRows.set(r.id, r.row_number);
      if (r) out.push({ id: r.id, workspaceId: r.workspace_id, traits: decodeJson(r.traits), traitTimes: decodeJson(r.trait_times), firstTouch: decodeJson(r.first_touch), computed: decodeJson(r.computed), mergedInto: r.merged_into, createdAt: r.created_at, updatedAt: r.updated_at, ...(r.num == null ? {} : { num: r.num }) });
    }
    return out;
  }

  /** See SqlStore.logDerivations (in the caller's transaction): one statement over a bound JSON array. */
  logDerivations(consumer: number, profileIds: readonly string[]): [number, number] | null {
    if (profileIds.length === 0) return null;
    // One INSERT … SELECT numbers its rows consecutively (AUTOINCREMENT, one writer).
    const last = Number(this.s.logDerivations.run(consumer, JSON.stringify(profileIds)).lastInsertRowid);
    return [last - profileIds.length + 1, last];
  }

  applyChanges(c: { consumedSeqs: number[]; profiles: ProfileRow[]; identities: IdentityRow[]; events: EventRow[]; merges: MergeRow[]; conflicts: ConflictRow[] }): void {
    const s = this.s;
    for (const p of c.profiles) {
      const traits = encodeJson(p.traits);
      const traitTimes = encodeJson(p.traitTimes);
      const firstTouch = encodeJson(p.firstTouch);
      const computed = encodeJson(p.computed);
      const row = this.loadedRows.get(p.id);
      if (row !== undefined && s.updateLoadedProfile.run(traits, traitTimes, firstTouch, computed, p.computed.first_seen, p.computed.last_seen, p.updatedAt, row, p.id).changes === 1) continue;
      s.upsertProfile.run(p.id, p.workspaceId, traits, traitTimes, firstTouch, computed, p.mergedInto, p.computed.first_seen, p.computed.last_seen, p.createdAt, p.updatedAt);
    }
    this.loadedRows.clear();
    for (const i of c.identities) s.insertIdentity.run(i.workspaceId, i.type, i.value, i.profileId, i.originProfileId, i.firstSeen, i.sourceMessageId);
    this.insertEvents(c.events, true);
    for (const m of c.merges) {
      s.repointIdentities.run(m.winnerId, m.loserId);
      s.repointEvents.run(m.winnerId, m.winnerId, m.loserId);
      s.setMergedInto.run(m.winnerId, m.createdAt, m.loserId);
      s.insertMerge.run(m.id, m.workspaceId, m.winnerId, m.loserId, m.reason, m.messageId, m.actor, m.createdAt, m.undoneAt);
    }
    for (const x of c.conflicts) s.insertConflict.run(x.id, x.workspaceId, x.messageId, x.profileId, x.otherProfileId, x.identifierType, x.identifierValue, x.reason, x.createdAt);
    // c.consumedSeqs: removed from the inbox file after this transaction commits (SqlStore.transaction).
  }

  /**
   * Events, a repeated message id within the call stored once. `keyed`: with their message key, so the
   * duplicate check finds them — not for events Siyu makes itself (see SqlStore.insertGeneratedEvents).
   */
  insertEvents(events: readonly EventRow[], keyed: boolean): void {
    for (const e of firstPerMessage(events)) {
      this.s.insertEvent.run(e.id, e.workspaceId, e.profileId, e.originProfileId, e.messageId, e.type, e.event, encodeJson(e.traits), encodeJson(e.properties), encodeJson(e.context), e.timestamp, e.receivedAt, e.profileNum ?? null, e.profileId, keyed ? messageKey(e.workspaceId, e.messageId) : null);
    }
  }

}

/** Sorted runs of consecutive integers, as [first, last] pairs: [1, 2, 3, 7, 9, 8] → [[1, 3], [7, 9]]. */
export function consecutiveRuns(values: readonly number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const v of sorted) {
    const last = runs[runs.length - 1];
    if (last && v <= last[1] + 1) last[1] = Math.max(last[1], v);
    else runs.push([v, v]);
  }
  return runs;
}

interface IdentityDbRow {
  workspace_id: string;
  type: string;
  value: string;
  profile_id: string;
  origin_profile_id: string;
  first_seen: string;
  source_message_id: string;
}

interface ProfileDbRow {
  id: string;
  workspace_id: string;
  traits: string;
  trait_times: string;
  first_touch: string;
  computed: string;
  merged_into: string | null;
  created_at: string;
  updated_at: string;
  num: number | null;
}

function toIdentity(r: IdentityDbRow): IdentityRow {
  return { workspaceId: r.workspace_id, type: r.type, value: r.value, profileId: r.profile_id, originProfileId: r.origin_profile_id, firstSeen: r.first_seen, sourceMessageId: r.source_message_id };
}

function byTypeThenValue(a: { type: string; value: string }, b: { type: string; value: string }): number {
  return a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
