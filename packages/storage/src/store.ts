import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction } from 'kysely';
import type {
  ConflictRow,
  EventRow,
  Identifier,
  IdentityRow,
  IdentityRule,
  InboxItem,
  MergeRow,
  MessageType,
  Page,
  ProcessorChanges,
  ProfileRow,
  WorkspaceRecord,
} from '@siyu/core';
import { chunk, decodeJson, encodeJson, jsonText, MAX_PARAMS, numOf, type Dialect } from './dialect.ts';
import type { Database } from './schema.ts';
import { firstPerMessage, messageKey } from './sqlite/message-key.ts';
import type { SqliteHotPath } from './sqlite/sqlite-hot-path.ts';
import { MembershipEpoch, type WriterLock } from './sqlite/writer-lock.ts';
import type { WalSync } from './sqlite/wal-sync.ts';
import type { Checkpointer } from './sqlite/checkpointer.ts';
import { receivedAtOf, type DeadLetterRow, type PipelineCounts } from './pipeline.ts';
import { pgDeleteInbox, pgInsertEvents, pgInsertIdentities, pgUpsertProfiles } from './postgres/postgres-bulk.ts';

/** Under sustained ingest load, inbox commits (SQLite) start at least this many ms after the previous one ended (see `groupCommit`). */
export const GROUP_COMMIT_SPACING_MS = 2;

/** Who keeps derived state current after processor batches (see {@link SqlStore.logDerivations}). */
export type DerivationConsumer = 'audiences' | 'layers';
const CONSUMER_CODES: Record<DerivationConsumer, number> = { audiences: 1, layers: 2 };
/**
 * Numbers of derivation-log rows, first and last, inclusive. On PostgreSQL also the id of the transaction that
 * wrote them (`txid_current()`): there, transactions that log at once draw numbers from the sequence in turn,
 * so a range can hold another transaction's rows, which only its own id tells apart (see clearDerivations).
 */
export type DerivationRange = readonly [first: number, last: number, tx?: number];

/** Ranges sorted, overlapping and adjacent ones joined — those of one transaction (or of none: SQLite) only. */
export function mergeRanges(ranges: readonly DerivationRange[]): DerivationRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number, number?][] = [];
  for (const [first, last, tx] of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev[2] === tx && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push(tx === undefined ? [first, last] : [first, last, tx]);
  }
  return out;
}

export interface NewWorkspace extends WorkspaceRecord {
  writeKeyHash: string;
  adminTokenHash: string;
  rules: readonly IdentityRule[];
}

export interface ProfileListQuery {
  limit: number;
  cursor?: string | undefined;
  traits?: Record<string, string> | undefined;
  identifier?: Identifier | undefined;
  /**
   * The console's search box: profiles holding one of `identifiers`, or a phone ending in `phoneSuffix`, or whose
   * `name` / `nickname` trait starts with `namePrefix` (any of them). The prefix and suffix read every profile or
   * phone of the workspace that the page needs, so they are for people typing, not for integrations.
   */
  search?: { identifiers: Identifier[]; phoneSuffix?: string | undefined; namePrefix?: string | undefined } | undefined;
}

export interface WorkspaceStats {
  profiles: number;
  events: number;
  mergedProfiles: number;
  openConflicts: number;
  /** Events per UTC hour (`2026-01-31T16`); the service folds them into the workspace's calendar days. */
  eventsPerHour: { hour: string; count: number }[];
  eventsByName: { event: string; count: number }[];
  identitiesByType: { type: string; count: number }[];
}

type Db = Kysely<Database> | Transaction<Database>;

/**
 * All storage operations, written once with Kysely for both dialects. Methods called on a store
 * returned by `transaction()` run inside that transaction.
 */
export class SqlStore {
  constructor(
    readonly db: Db,
    readonly dialect: Dialect,
    private readonly inTransaction = false,
    private readonly sqlite?: SqliteHotPath,
    /** SQLite shared with another thread: write transactions take turns (see writer-lock.ts), one lock per file. */
    private readonly locks?: { main: WriterLock; inbox: WriterLock },
    /** SQLite in `synchronous = NORMAL`: a committed transaction awaits this shared WAL flush (see wal-sync.ts). */
    private readonly walSync?: WalSync,
    /** SQLite with group flushing: checkpoints after transactions (see checkpointer.ts). */
    private readonly checkpointer?: Checkpointer,
    /** Committed membership writes of this process (see writer-lock.ts); shared by the stores of a thread's connection. */
    readonly membershipEpoch: MembershipEpoch = new MembershipEpoch(),
    /** Transactions this connection has committed (shared by its stores; see {@link readToken}). */
    private readonly connection: { commits: number } = { commits: 0 },
  ) {}

  /** True for the store a {@link transaction} passes to its function. */
  get isTransaction(): boolean {
    return this.inTransaction;
  }

  /** Set in a transaction that wrote tag or segment memberships: the epoch is bumped once it commits. */
  private membershipsWritten = false;

  /**
   * Records a write to tag or segment memberships (`profile_tags`, `segment_members`): bumps the epoch
   * once it is committed — at the end of this transaction, or now for a write outside one — and, on
   * SQLite, the `memberships` counter of `sync_counters` in the same transaction, which other processes
   * see too (see {@link membershipVersion}). AudienceStore makes its membership writes in a transaction on
   * SQLite, so that the rows and the counter commit together; after a write outside one the counter moves
   * in a commit of its own, and a reader between the two could miss the write.
   */
  async noteMembershipWrite(): Promise<void> {
    if (this.inTransaction) {
      this.membershipsWritten = true;
      return;
    }
    if (this.dialect === 'sqlite') await bumpMembershipCounter(this.db);
    this.membershipEpoch.bump();
  }

  /**
   * SQLite: the count of committed transactions that wrote tag or segment memberships, by any connection
   * of any process (migration 0010). Undefined on PostgreSQL, where nothing reads outside a transaction.
   */
  async membershipVersion(): Promise<number | undefined> {
    if (this.dialect !== 'sqlite') return undefined;
    const r = await this.db.selectFrom('sync_counters').select('value').where('name', '=', 'memberships').executeTakeFirst();
    return r === undefined ? undefined : Number(r.value);
  }

  /**
   * Records that this process changed profiles, memberships or layers that no running server hears of: a
   * `siyu import` or `siyu demo` writing to the file a `siyu start` serves (SQLite; each process keeps its own
   * audience bitmaps, and a server's follow only its own threads' changes). The `side_writes` counter of
   * `sync_counters` moves, and a server's bitmaps are rebuilt before their next use (AudienceIndex).
   */
  async noteSideWrites(): Promise<void> {
    await sql`insert into sync_counters (name, value) values ('side_writes', 1) on conflict (name) do update set value = sync_counters.value + 1`.execute(this.db);
  }

  /** How many times {@link noteSideWrites} was called on this database, by any process (0 before the first). */
  async sideWrites(): Promise<number> {
    const r = await this.db.selectFrom('sync_counters').select('value').where('name', '=', 'side_writes').executeTakeFirst();
    return r === undefined ? 0 : Number(r.value);
  }

  /** SQLite: inbox rows consumed by this transaction, removed from the inbox file once it commits. */
  private consumed: number[] = [];

  /**
   * SQLite: a number that changes whenever another connection — another thread's or process's — commits
   * to the database file (`PRAGMA data_version`; this connection's own commits leave it). Undefined on
   * PostgreSQL.
   */
  dataVersion(): number | undefined {
    return this.sqlite?.dataVersion();
  }

  /**
   * SQLite: changes whenever a transaction is committed to the database file — by another connection
   * (`data_version`, autocommit writes included) or by this one through {@link transaction} (its
   * autocommit writes are not counted). Undefined on PostgreSQL.
   */
  readToken(): string | undefined {
    const v = this.dataVersion();
    return v === undefined ? undefined : `${v}.${this.connection.commits}`;
  }

  /** The SQLite prepared-statement path, usable only while this store holds the connection (in a transaction). */
  private get hot(): SqliteHotPath | undefined {
    return this.inTransaction ? this.sqlite : undefined;
  }

  /** Runs `fn` in one transaction; on PostgreSQL `lockKey` takes a transaction-scoped advisory lock first. */
  async transaction<T>(fn: (tx: SqlStore) => Promise<T>, lockKey?: number): Promise<T> {
    if (this.inTransaction) return fn(this);
    // A checkpoint's flush of the database file still running: begin after it, so that this transaction's
    // commit can restart the WAL instead of growing it (usually long done). Awaited before taking the write
    // lock, not while holding it (as it was): the other thread's transactions go on meanwhile. A failed flush
    // rejects here: nothing commits on copies not known to be on the device.
    const flushing = this.checkpointer?.beforeCommit();
    if (flushing) await flushing;
    let txStore: SqlStore | undefined;
    const run = () =>
      (this.db as Kysely<Database>).transaction().execute(async (trx) => {
        if (lockKey !== undefined && this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${lockKey})`.execute(trx);
        txStore = new SqlStore(trx, this.dialect, true, this.sqlite, this.locks, undefined, undefined, this.membershipEpoch, this.connection);
        const result = await fn(txStore);
        if (txStore.membershipsWritten && this.dialect === 'sqlite') await bumpMembershipCounter(trx);
        return result;
      });
    const lock = this.locks?.main;
    let result: T;
    if (!lock) {
      result = await run();
      if (txStore?.membershipsWritten) this.membershipEpoch.bump();
    } else {
      await lock.acquire();
      try {
        result = await run();
        // Committed, and still holding the lock: see MembershipEpoch.
        if (txStore?.membershipsWritten) this.membershipEpoch.bump();
      } finally {
        lock.release();
      }
    }
    this.connection.commits++;
    // Durable: with group flushing, after the flush that covers this commit (the write lock is free
    // meanwhile, and the thread runs other work).
    if (this.walSync) await this.walSync.sync();
    // Committed: what the transaction consumed leaves the inbox file (a crash before this re-delivers
    // those messages, and the processor drops the ones whose event is stored).
    if (txStore?.consumed.length) await this.ackInbox(txStore.consumed);
    this.checkpoint();
    return result;
  }

  /**
   * Checkpoints the WAL when enough has gathered (checkpointer.ts). Best effort: the transaction has
   * committed; if this fails, SQLite's own checkpoint inside a later commit still bounds the WAL.
   */
  private checkpoint(): void {
    try {
      this.checkpointer?.afterCommit();
    } catch {
      // see above
    }
    try {
      // An `auto` page cache follows the file's growth (at most once a minute). Best effort too.
      this.sqlite?.pageCache?.maybeResize();
    } catch {
      // the size in force stays
    }
  }

  /** Runs synchronous work on the inbox file, taking turns with other threads when shared. */
  private onInbox<T>(fn: (hot: SqliteHotPath) => T): Promise<T> {
    const hot = this.sqlite!;
    return this.locks ? this.locks.inbox.run(() => fn(hot)) : Promise.resolve().then(() => fn(hot));
  }

  private async ackInbox(seqs: readonly number[]): Promise<void> {
    await this.onInbox((hot) => hot.ackInbox(seqs));
  }

  // ---------------------------------------------------------------- workspaces

  async createWorkspace(ws: NewWorkspace): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.db
        .insertInto('workspaces')
        .values({
          id: ws.id,
          name: ws.name,
          time_zone: ws.timeZone,
          write_key_hash: ws.writeKeyHash,
          admin_token_hash: ws.adminTokenHash,
          instance_admin: ws.instanceAdmin ? 1 : 0,
          created_at: ws.createdAt,
        })
        .execute();
      await tx.db
        .insertInto('identity_types')
        .values(ws.rules.map((r) => ({ workspace_id: ws.id, type: r.type, priority: r.priority, max_per_profile: r.maxPerProfile, builtin: r.builtin ? 1 : 0 })))
        .execute();
    });
  }

  async findWorkspaceByKey(kind: 'write' | 'admin', hash: string): Promise<WorkspaceRecord | undefined> {
    const row = await this.db
      .selectFrom('workspaces')
      .selectAll()
      .where(kind === 'write' ? 'write_key_hash' : 'admin_token_hash', '=', hash)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async getWorkspace(id: string): Promise<WorkspaceRecord | undefined> {
    const row = await this.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    const rows = await this.db.selectFrom('workspaces').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toWorkspace);
  }

  async rotateWorkspaceKeys(id: string, writeKeyHash: string, adminTokenHash: string): Promise<void> {
    await this.db.updateTable('workspaces').set({ write_key_hash: writeKeyHash, admin_token_hash: adminTokenHash }).where('id', '=', id).execute();
  }

  async identityRules(workspaceId: string): Promise<IdentityRule[]> {
    const rows = await this.db.selectFrom('identity_types').selectAll().where('workspace_id', '=', workspaceId).orderBy('priority', 'desc').execute();
    return rows.map((r) => ({ type: r.type, priority: Number(r.priority), maxPerProfile: r.max_per_profile === null ? null : Number(r.max_per_profile), builtin: Boolean(r.builtin) }));
  }

  async upsertIdentityRule(workspaceId: string, rule: IdentityRule): Promise<void> {
    await this.db
      .insertInto('identity_types')
      .values({ workspace_id: workspaceId, type: rule.type, priority: rule.priority, max_per_profile: rule.maxPerProfile, builtin: rule.builtin ? 1 : 0 })
      .onConflict((oc) => oc.columns(['workspace_id', 'type']).doUpdateSet({ priority: rule.priority, max_per_profile: rule.maxPerProfile }))
      .execute();
  }

  // ---------------------------------------------------------------- inbox

  /** Appends validated messages; returns the message ids that were already known (not stored again). */
  async appendInbox(workspaceId: string, items: { messageId: string; payload: string; receivedAt: string }[]): Promise<{ duplicates: string[] }> {
    if (items.length === 0) return { duplicates: [] };
    if (this.sqlite) return this.inTransaction ? { duplicates: (await this.onInbox((hot) => hot.appendInbox([{ workspaceId, items }])))[0]! } : this.groupCommit(workspaceId, items);
    // PostgreSQL: insert first, then look the inserted ids up among the stored events, once. A message already
    // waiting conflicts (a duplicate); one already processed is found by the lookup, and its row goes again. A
    // retry whose message the processor was committing meanwhile waited on the inbox row the processor deleted,
    // then went in; the lookup starts after that commit (each statement reads what committed before it), so it
    // sees that event too. (Looking up before the insert as well cost a second lookup of every id: each a random
    // leaf of the events' message index, ~70 µs apiece at 20M events.)
    return this.transaction(async (tx) => {
      const ids = items.map((i) => i.messageId);
      const inserted = new Set<string>();
      for (const part of chunk(items, Math.floor(MAX_PARAMS / 4))) {
        const rows = await tx.db
          .insertInto('inbox')
          .values(part.map((i) => ({ workspace_id: workspaceId, message_id: i.messageId, payload: i.payload, received_at: i.receivedAt })))
          .onConflict((oc) => oc.columns(['workspace_id', 'message_id']).doNothing())
          .returning('message_id')
          .execute();
        for (const r of rows) inserted.add(r.message_id);
      }
      if (inserted.size > 0) {
        const stored = await tx.processedMessageIds(workspaceId, [...inserted]);
        if (stored.size > 0) {
          for (const part of chunk([...stored], MAX_PARAMS - 1)) await tx.db.deleteFrom('inbox').where('workspace_id', '=', workspaceId).where('message_id', 'in', part).execute();
          for (const id of stored) inserted.delete(id);
        }
      }
      return { duplicates: ids.filter((id) => !inserted.has(id)) };
    });
  }

  private pendingAppends: { workspaceId: string; items: { messageId: string; payload: string; receivedAt: string }[]; resolve: (r: { duplicates: string[] }) => void; reject: (e: unknown) => void }[] = [];
  /** When the last inbox commit ended (`performance.now()`). */
  private lastInboxCommitAt = Number.NEGATIVE_INFINITY;

  /**
   * Group commit (SQLite): appends from requests arriving together share one transaction and one
   * fsync of the inbox file. Each caller still resolves only after that commit, so a 200 still means durable.
   * Under sustained load (the previous commit ended less than {@link GROUP_COMMIT_SPACING_MS} ago) the
   * next commit waits out that spacing and takes everything that arrived meanwhile: single-event
   * clients (browser SDKs send one request per call) would otherwise cost one fsync each, over a
   * thousand a second, and those device flushes slow the processor's writes to the same disk. An
   * idle server commits at once.
   */
  private groupCommit(workspaceId: string, items: { messageId: string; payload: string; receivedAt: string }[]): Promise<{ duplicates: string[] }> {
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ workspaceId, items, resolve, reject });
      if (this.pendingAppends.length > 1) return;
      const flush = () => {
        const group = this.pendingAppends;
        this.pendingAppends = [];
        this.onInbox((hot) => hot.appendInbox(group)).then(
          (results) => {
            this.lastInboxCommitAt = performance.now();
            group.forEach((g, i) => g.resolve({ duplicates: results[i]! }));
          },
          (e: unknown) => {
            this.lastInboxCommitAt = performance.now();
            group.forEach((g) => g.reject(e));
          },
        );
      };
      const wait = this.lastInboxCommitAt + GROUP_COMMIT_SPACING_MS - performance.now();
      if (wait > 0) setTimeout(flush, wait);
      else setImmediate(flush);
    });
  }

  async claimInbox(limit: number): Promise<InboxItem[]> {
    if (this.sqlite) return this.sqlite.claimInbox(limit);
    const rows = await this.db.selectFrom('inbox').select(['seq', 'workspace_id', 'payload']).orderBy('seq').limit(limit).execute();
    return rows.map((r) => {
      const p = JSON.parse(r.payload) as Pick<InboxItem, 'message' | 'identifiers'>;
      return { seq: Number(r.seq), workspaceId: r.workspace_id, message: p.message, identifiers: p.identifiers };
    });
  }

  /** Moves a message the processor cannot handle out of the way, keeping it for inspection and replay. */
  async deadLetter(seq: number, error: string, at: string): Promise<void> {
    if (this.sqlite) return this.onInbox((hot) => hot.deadLetter(seq, error, at));
    await this.transaction(async (tx) => {
      const row = await tx.db.selectFrom('inbox').selectAll().where('seq', '=', seq).executeTakeFirst();
      if (!row) return;
      await tx.db.insertInto('inbox_dead').values({ seq: Number(row.seq), workspace_id: row.workspace_id, message_id: row.message_id, payload: row.payload, error, failed_at: at }).execute();
      await tx.db.deleteFrom('inbox').where('seq', '=', seq).execute();
    });
  }

  /** How many of a workspace's accepted messages wait for the processor (and since when), and how many failed. */
  async pipelineStatus(workspaceId: string): Promise<PipelineCounts> {
    if (this.sqlite) return this.sqlite.pipelineStatus(workspaceId);
    const w = await this.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
    // The oldest waiting message is the workspace's first by seq (arrival order).
    const oldest = Number(w.n) > 0 ? await this.db.selectFrom('inbox').select('received_at').where('workspace_id', '=', workspaceId).orderBy('seq').limit(1).executeTakeFirst() : undefined;
    const d = await this.db.selectFrom('inbox_dead').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
    return { waiting: Number(w.n), oldestWaitingAt: oldest?.received_at ?? null, deadLetters: Number(d.n) };
  }

  /** A workspace's dead letters after `afterSeq`, oldest first. */
  async deadLetters(workspaceId: string, afterSeq: number, limit: number): Promise<DeadLetterRow[]> {
    if (this.sqlite) return this.sqlite.deadLetters(workspaceId, afterSeq, limit);
    const rows = await this.db
      .selectFrom('inbox_dead')
      .select(['seq', 'message_id', 'payload', 'error', 'failed_at'])
      .where('workspace_id', '=', workspaceId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), messageId: r.message_id, payload: r.payload, error: r.error, failedAt: r.failed_at }));
  }

  /**
   * Puts a workspace's dead letters (these seqs, or all of them) back into the inbox for the processor
   * to try again, with their original receipt time. Returns how many were moved; seqs of other
   * workspaces or already retried are ignored.
   */
  async retryDeadLetters(workspaceId: string, seqs: readonly number[] | null): Promise<number> {
    if (this.sqlite) return this.onInbox((hot) => hot.retryDeadLetters(workspaceId, seqs));
    return this.transaction(async (tx) => {
      let q = tx.db.selectFrom('inbox_dead').selectAll().where('workspace_id', '=', workspaceId);
      if (seqs !== null) q = q.where('seq', 'in', seqs.length ? [...seqs] : [-1]);
      const rows = await q.orderBy('seq').execute();
      for (const r of rows) {
        await tx.db
          .insertInto('inbox')
          .values({ workspace_id: r.workspace_id, message_id: r.message_id, payload: r.payload, received_at: receivedAtOf(r.payload, r.failed_at) })
          .onConflict((oc) => oc.columns(['workspace_id', 'message_id']).doNothing())
          .execute();
        await tx.db.deleteFrom('inbox_dead').where('seq', '=', r.seq).execute();
      }
      return rows.length;
    });
  }

  /**
   * PostgreSQL: analyzes the tables of the current schema that changed by more than 500 rows + 10%
   * since their last analysis (autovacuum's own rule), and returns their names; SQLite: nothing (its
   * statistics are seeded, then refreshed by `PRAGMA optimize` on close). With autovacuum off, or
   * while autovacuum lags behind a table that grows from empty, the planner works from no statistics:
   * at 165k profiles it hash-joined all of a workspace's identities for each batch's 2,000 keys and
   * scanned the whole identities table for its profiles (0.5 s each instead of milliseconds).
   *
   * A table analyzed within `minIntervalMs` (default 30 s) waits, so a fast-growing large table is not analyzed on
   * every call — unless its last analysis saw fewer than 10,000 rows (or none) and it has more than doubled since
   * (and holds over 1,000): a table that grows from empty is then analyzed within a few calls, while queues that stay
   * small (the inbox, the derivation log: many changes, few rows) wait like the rest. Until its first analysis the
   * planner had no statistics on the events table's columns and took `message_id = any($1)` of 100 ids for half the
   * table: on a fresh database under load each request's message-id check went from 0.3 to 20–40 ms for 30 s.
   */
  async refreshPlannerStatistics(opts: { minIntervalMs?: number } = {}): Promise<string[]> {
    if (this.dialect !== 'postgres') return [];
    const minSeconds = (opts.minIntervalMs ?? 30_000) / 1000;
    const { rows } = await sql<{ relname: string }>`
      select s.relname from pg_stat_user_tables s join pg_class c on c.oid = s.relid
      where s.schemaname = current_schema() and s.n_mod_since_analyze > 500 + 0.1 * s.n_live_tup
        and ((c.reltuples < 10000 and s.n_live_tup > 1000 + 2 * greatest(c.reltuples, 0))
          or coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity') < now() - make_interval(secs => ${minSeconds}))
      order by s.relname`.execute(this.db);
    for (const r of rows) await sql`analyze ${sql.table(r.relname)}`.execute(this.db);
    return rows.map((r) => r.relname);
  }

  async inboxDepth(): Promise<number> {
    if (this.sqlite) return this.sqlite.inboxDepth();
    const row = await this.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // ---------------------------------------------------------------- processor reads

  async identitiesByKeys(workspaceId: string, keys: readonly Identifier[]): Promise<IdentityRow[]> {
    if (this.hot) return this.hot.identitiesByKeys(workspaceId, keys);
    if (this.dialect === 'postgres') {
      // Arrays + unnest: one plan for any number of keys (a long tuple IN list is slow to plan). One primary-key
      // search per key (`limit 1` keeps the lateral subquery from being flattened into a join): as a join, PostgreSQL
      // costed a batch's ~4,000 searches above reading the whole workspace's identities into a hash table, and did that
      // for every batch until the table was past ~1M rows (200k-event ingest bench, 102 batches: 6.8 s → 3.4 s).
      const { rows } = await sql<Database['identities']>`
        select i.* from unnest(${keys.map((k) => k.type)}::text[], ${keys.map((k) => k.value)}::text[]) as k(type, value)
        cross join lateral (select * from identities where workspace_id = ${workspaceId} and type = k.type and value = k.value limit 1) as i`.execute(this.db);
      return rows.map(toIdentity);
    }
    const out: IdentityRow[] = [];
    for (const part of chunk(keys, Math.floor(MAX_PARAMS / 2) - 1)) {
      const rows = await this.db
        .selectFrom('identities')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where(({ eb, refTuple, tuple }) => eb(refTuple('type', 'value'), 'in', part.map((k) => tuple(k.type, k.value))))
        .execute();
      out.push(...rows.map(toIdentity));
    }
    return out;
  }

  async identitiesOfProfiles(profileIds: readonly string[]): Promise<IdentityRow[]> {
    if (this.hot) return this.hot.identitiesOfProfiles(profileIds);
    if (this.dialect === 'postgres') {
      const { rows } = await sql<Database['identities']>`select * from identities where profile_id = any(${[...profileIds]}::text[])`.execute(this.db);
      return rows.map(toIdentity);
    }
    const out: IdentityRow[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS)) {
      const rows = await this.db.selectFrom('identities').selectAll().where('profile_id', 'in', part).execute();
      out.push(...rows.map(toIdentity));
    }
    return out;
  }

  async profilesByIds(profileIds: readonly string[]): Promise<ProfileRow[]> {
    if (this.hot) return this.hot.profilesByIds(profileIds);
    if (this.dialect === 'postgres') {
      const { rows } = await sql<Database['profiles']>`select * from profiles where id = any(${[...profileIds]}::text[])`.execute(this.db);
      return rows.map(toNumberedProfile);
    }
    const out: ProfileRow[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS)) {
      const rows = await this.db.selectFrom('profiles').selectAll().where('id', 'in', part).execute();
      out.push(...rows.map(toNumberedProfile));
    }
    return out;
  }

  async processedMessageIds(workspaceId: string, messageIds: readonly string[]): Promise<Set<string>> {
    if (this.hot) return this.hot.processedMessageIds(workspaceId, messageIds);
    if (this.dialect === 'postgres') return this.pgProcessed(workspaceId, messageIds);
    // SQLite: by the message key's index (sqlite/message-key.ts); rows sharing a key are told apart by their ids.
    const out = new Set<string>();
    const wanted = new Set(messageIds);
    for (const part of chunk([...wanted], MAX_PARAMS - 1)) {
      const keys = part.map((id) => messageKey(workspaceId, id));
      const rows = await this.db.selectFrom('events').select('message_id').where('message_key', 'in', keys).where('workspace_id', '=', workspaceId).execute();
      for (const r of rows) if (wanted.has(r.message_id)) out.add(r.message_id);
    }
    return out;
  }

  private async pgProcessed(workspaceId: string, messageIds: readonly string[]): Promise<Set<string>> {
    const { rows } = await sql<{ message_id: string }>`select message_id from events where workspace_id = ${workspaceId} and message_id = any(${[...messageIds]}::text[])`.execute(this.db);
    return new Set(rows.map((r) => r.message_id));
  }

  async suppressedHashes(workspaceId: string, hashes: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunk(hashes, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('suppressions').select('identifier_hash').where('workspace_id', '=', workspaceId).where('identifier_hash', 'in', part).execute();
      for (const r of rows) out.add(r.identifier_hash);
    }
    return out;
  }

  async hasSuppressions(workspaceId: string): Promise<boolean> {
    const row = await this.db.selectFrom('suppressions').select('identifier_hash').where('workspace_id', '=', workspaceId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  // ---------------------------------------------------------------- derivation log

  /**
   * Records, in the caller's transaction, that `consumer` (the audience engine, the layer service) has
   * work for these profiles; returns the numbers the rows took, first and last, or null for none. The
   * consumer removes the range ({@link clearDerivations}) once that work has committed; rows a crash left
   * are read back at the next start ({@link derivationPage}). On SQLite one transaction writes at a time, so a
   * call's rows take consecutive numbers; on PostgreSQL the processor's batch, a layer update and an unmerge may
   * log at once and their numbers interleave, so the range carries the transaction's id too.
   * A row is the consumer (1 byte) and the profile id: ~40 bytes, a page per ~100 profiles.
   */
  async logDerivations(consumer: DerivationConsumer, profileIds: readonly string[]): Promise<DerivationRange | null> {
    if (profileIds.length === 0) return null;
    const code = CONSUMER_CODES[consumer];
    if (this.hot) return this.hot.logDerivations(code, profileIds);
    if (this.dialect === 'postgres') {
      const r = await sql<{ first: string; last: string; tx: string }>`
        with added as (
          insert into derivation_log (consumer, profile_id) select ${code}, u.p from unnest(${profileIds}::text[]) as u(p) returning seq)
        select min(seq) as first, max(seq) as last, txid_current() as tx from added`.execute(this.db);
      return [Number(r.rows[0]!.first), Number(r.rows[0]!.last), Number(r.rows[0]!.tx)];
    }
    let range: DerivationRange | null = null;
    for (const part of chunk(profileIds, Math.floor(MAX_PARAMS / 2))) {
      const added = await this.db.insertInto('derivation_log').values(part.map((profileId) => ({ consumer: code, profile_id: profileId }))).returning('seq').execute();
      const seqs = added.map((a) => Number(a.seq));
      range = [range ? range[0] : Math.min(...seqs), Math.max(...seqs)];
    }
    return range;
  }

  /**
   * Removes `consumer`'s rows in these ranges (its work for them has committed), in one transaction: on
   * SQLite it takes its turn at the writer lock the threads share rather than wait in SQLite's busy handler.
   */
  async clearDerivations(consumer: DerivationConsumer, ranges: readonly DerivationRange[]): Promise<void> {
    if (ranges.length === 0) return;
    await this.transaction(async (tx) => {
      for (const [first, last, writer] of mergeRanges(ranges)) {
        let q = tx.db.deleteFrom('derivation_log').where('consumer', '=', CONSUMER_CODES[consumer]).where('seq', '>=', first).where('seq', '<=', last);
        // PostgreSQL: only the rows that transaction wrote (`xmin`, the low 32 bits of its id), not another's that
        // drew numbers inside the range meanwhile — removed, they would be lost to recovery if that work never ran.
        if (writer !== undefined && tx.dialect === 'postgres') q = q.where(sql<boolean>`xmin = (${writer}::bigint % 4294967296)::text::xid`);
        await q.execute();
      }
    });
  }

  /**
   * `consumer`'s rows after `afterSeq` and up to `maxSeq` (when given) in order, at most `limit`, with
   * the profile's workspace (null when the profile is gone: erased).
   */
  async derivationPage(consumer: DerivationConsumer, afterSeq: number, limit: number, maxSeq?: number): Promise<{ seq: number; workspaceId: string | null; profileId: string }[]> {
    let q = this.db
      .selectFrom('derivation_log as d')
      .leftJoin('profiles as p', 'p.id', 'd.profile_id')
      .select(['d.seq', 'd.profile_id', 'p.workspace_id'])
      .where('d.seq', '>', afterSeq)
      .where('d.consumer', '=', CONSUMER_CODES[consumer]);
    if (maxSeq !== undefined) q = q.where('d.seq', '<=', maxSeq);
    const rows = await q.orderBy('d.seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), workspaceId: r.workspace_id ?? null, profileId: r.profile_id }));
  }

  /** The number of the last derivation-log row so far (0 when none was ever written). */
  async lastDerivationSeq(): Promise<number> {
    const r = await this.db.selectFrom('derivation_log').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    return Number(r?.seq ?? 0);
  }

  // ---------------------------------------------------------------- processor writes

  /** Writes one processor batch. Order matters: rows first, then merges re-point what was just written. */
  async applyChanges(changes: ProcessorChanges): Promise<void> {
    await this.transaction(async (tx) => {
      if (tx.hot) {
        tx.hot.applyChanges(changes);
        tx.consumed.push(...changes.consumedSeqs);
        return;
      }
      if (tx.dialect === 'postgres') {
        await pgUpsertProfiles(tx.db, changes.profiles, changes.kept);
        await pgInsertIdentities(tx.db, changes.identities);
        await pgInsertEvents(tx.db, changes.events);
      } else {
        await tx.upsertProfiles(changes.profiles);
        await tx.insertIdentitiesAndEvents(changes.identities, changes.events);
      }
      for (const m of changes.merges) {
        await tx.db.updateTable('identities').set({ profile_id: m.winnerId }).where('profile_id', '=', m.loserId).execute();
        await tx.db.updateTable('events').set({ profile_id: m.winnerId, profile_num: numOf(m.winnerId) }).where('profile_id', '=', m.loserId).execute();
        await tx.db.updateTable('profiles').set({ merged_into: m.winnerId, updated_at: m.createdAt }).where('id', '=', m.loserId).execute();
      }
      for (const part of chunk(changes.merges, Math.floor(MAX_PARAMS / 9))) {
        await tx.db.insertInto('merges').values(part.map(mergeValues)).execute();
      }
      for (const part of chunk(changes.conflicts, Math.floor(MAX_PARAMS / 9))) {
        await tx.db
          .insertInto('identity_conflicts')
          .values(part.map((c) => ({ id: c.id, workspace_id: c.workspaceId, message_id: c.messageId, profile_id: c.profileId, other_profile_id: c.otherProfileId, identifier_type: c.identifierType, identifier_value: c.identifierValue, reason: c.reason, created_at: c.createdAt })))
          // The same link refused again while open or after a dismissal (identity_conflicts_open_uq, migration 0015).
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      if (tx.dialect === 'postgres') return pgDeleteInbox(tx.db, changes.consumedSeqs);
      for (const part of chunk(changes.consumedSeqs, MAX_PARAMS)) {
        await tx.db.deleteFrom('inbox').where('seq', 'in', part).execute();
      }
    });
  }

  /**
   * Events Siyu makes itself (membership changes, with ids it generates), in the caller's transaction. On SQLite
   * they are stored without a message key: nothing checks their ids for duplicates, and their sortable ids,
   * hashed, would land at random in the key's index — a bulk recompute's events each cost a random leaf instead
   * of appending to one (100k profiles, `orders_30d`: 2.45 → 2.8–3.0 s with keys).
   */
  async insertGeneratedEvents(events: readonly EventRow[]): Promise<void> {
    if (events.length === 0) return;
    await this.transaction(async (tx) => {
      if (tx.hot) return tx.hot.insertEvents(events, false);
      if (tx.dialect === 'postgres') return pgInsertEvents(tx.db, events);
      await tx.insertIdentitiesAndEvents([], events, false);
    });
  }

  private async insertIdentitiesAndEvents(identities: readonly IdentityRow[], events: readonly EventRow[], keyed = true): Promise<void> {
    for (const part of chunk(identities, Math.floor(MAX_PARAMS / 7))) {
      await this.db
        .insertInto('identities')
        .values(part.map((i) => ({ workspace_id: i.workspaceId, type: i.type, value: i.value, profile_id: i.profileId, origin_profile_id: i.originProfileId, first_seen: i.firstSeen, source_message_id: i.sourceMessageId })))
        .onConflict((oc) => oc.columns(['workspace_id', 'type', 'value']).doUpdateSet((eb) => ({ profile_id: eb.ref('excluded.profile_id') })))
        .execute();
    }
    for (const part of chunk(firstPerMessage(events), Math.floor(MAX_PARAMS / 14))) {
      await this.db
        .insertInto('events')
        .values(part.map((e) => ({ ...eventValues(e), profile_num: numOf(e.profileId), message_key: keyed ? messageKey(e.workspaceId, e.messageId) : null })))
        .execute();
    }
  }

  async upsertProfiles(profiles: readonly ProfileRow[]): Promise<void> {
    for (const part of chunk(profiles, Math.floor(MAX_PARAMS / 11))) {
      if (part.length === 0) continue;
      // New profiles get the next dense number (callers hold the processor lock, so no two race); an
      // update keeps its own and burns none.
      const known = new Set((await this.db.selectFrom('profiles').select('id').where('id', 'in', part.map((p) => p.id)).execute()).map((r) => r.id));
      const next = await this.db.selectFrom('profiles').select((eb) => eb.fn.max('num').as('n')).executeTakeFirst();
      let num = Number(next?.n ?? 0);
      await this.db
        .insertInto('profiles')
        .values(part.map((p) => ({ ...profileValues(p), num: known.has(p.id) ? null : ++num })))
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            traits: eb.ref('excluded.traits'),
            trait_times: eb.ref('excluded.trait_times'),
            first_touch: eb.ref('excluded.first_touch'),
            computed: eb.ref('excluded.computed'),
            first_seen: eb.ref('excluded.first_seen'),
            last_seen: eb.ref('excluded.last_seen'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    }
  }

  // ---------------------------------------------------------------- profile reads

  async getProfile(workspaceId: string, id: string): Promise<ProfileRow | undefined> {
    const row = await this.db.selectFrom('profiles').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toProfile(row) : undefined;
  }

  /** Follows merged_into to the surviving profile (merges form a forest; ids never cycle). */
  async canonicalProfile(workspaceId: string, id: string): Promise<ProfileRow | undefined> {
    let current = await this.getProfile(workspaceId, id);
    for (let hops = 0; current?.mergedInto && hops < 1000; hops++) current = await this.getProfile(workspaceId, current.mergedInto);
    return current;
  }

  async listProfiles(workspaceId: string, q: ProfileListQuery): Promise<Page<ProfileRow>> {
    let query = this.db.selectFrom('profiles').selectAll('profiles').where('profiles.workspace_id', '=', workspaceId).where('profiles.merged_into', 'is', null);
    if (q.cursor) query = query.where('profiles.id', '>', q.cursor);
    for (const [key, value] of Object.entries(q.traits ?? {})) query = query.where(jsonText(this.dialect, 'profiles.traits', key), '=', value);
    if (q.identifier) {
      const { type, value } = q.identifier;
      query = query.where((eb) =>
        eb.exists(eb.selectFrom('identities').select('identities.profile_id').whereRef('identities.profile_id', '=', 'profiles.id').where('identities.workspace_id', '=', workspaceId).where('identities.type', '=', type).where('identities.value', '=', value)),
      );
    }
    if (q.search) {
      const { identifiers, phoneSuffix, namePrefix } = q.search;
      const like = (v: string) => v.replace(/[\\%_]/g, (c) => `\\${c}`);
      query = query.where((eb) => {
        const any: Expression<SqlBool>[] = [];
        // The profile holds an identity matching `match`.
        const holds = (match: (ib: ExpressionBuilder<Database, 'identities'>) => Expression<SqlBool>) =>
          eb.exists(eb.selectFrom('identities').select('identities.profile_id').whereRef('identities.profile_id', '=', 'profiles.id').where('identities.workspace_id', '=', workspaceId).where(match));
        if (identifiers.length) any.push(holds((ib) => ib.or(identifiers.map((i) => ib.and([ib('identities.type', '=', i.type), ib('identities.value', '=', i.value)])))));
        if (phoneSuffix) any.push(holds((ib) => ib.and([ib('identities.type', '=', 'phone'), sql<SqlBool>`identities.value like ${`%${like(phoneSuffix)}`} escape '\\'`])));
        if (namePrefix) {
          for (const key of ['name', 'nickname']) any.push(sql<SqlBool>`${jsonText(this.dialect, 'profiles.traits', key)} like ${`${like(namePrefix)}%`} escape '\\'`);
        }
        return any.length ? eb.or(any) : eb.val(false);
      });
    }
    const rows = await query.orderBy('profiles.id').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map(toProfile);
    return { data, nextCursor: rows.length > q.limit ? (data[data.length - 1]?.id ?? null) : null };
  }

  async identitiesOf(workspaceId: string, profileId: string): Promise<IdentityRow[]> {
    const rows = await this.db.selectFrom('identities').selectAll().where('workspace_id', '=', workspaceId).where('profile_id', '=', profileId).orderBy('first_seen').execute();
    return rows.map(toIdentity);
  }

  async profileIdByIdentifier(workspaceId: string, type: string, value: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('identities').select('profile_id').where('workspace_id', '=', workspaceId).where('type', '=', type).where('value', '=', value).executeTakeFirst();
    return row?.profile_id;
  }

  /** Merges a profile took part in, as winner or loser, newest first. */
  async mergesOf(workspaceId: string, profileIds: readonly string[]): Promise<MergeRow[]> {
    if (profileIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('merges')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where((eb) => eb.or([eb('winner_id', 'in', profileIds), eb('loser_id', 'in', profileIds)]))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toMerge);
  }

  async getMerge(workspaceId: string, id: string): Promise<MergeRow | undefined> {
    const row = await this.db.selectFrom('merges').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toMerge(row) : undefined;
  }

  /** Profile ids merged (directly or transitively) into `rootId`, excluding it. */
  async mergedDescendants(workspaceId: string, rootId: string): Promise<string[]> {
    const out: string[] = [];
    let frontier = [rootId];
    while (frontier.length) {
      const rows = await this.db.selectFrom('profiles').select('id').where('workspace_id', '=', workspaceId).where('merged_into', 'in', frontier).execute();
      frontier = rows.map((r) => r.id);
      out.push(...frontier);
    }
    return out;
  }

  async eventsOf(workspaceId: string, profileId: string, q: { limit: number; cursor?: string | undefined }): Promise<Page<EventRow>> {
    let query = this.db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId).where('profile_id', '=', profileId);
    if (q.cursor) {
      const [ts, id] = splitCursor(q.cursor);
      query = query.where((eb) => eb.or([eb('timestamp', '<', ts), eb.and([eb('timestamp', '=', ts), eb('id', '<', id)])]));
    }
    const rows = await query.orderBy('timestamp', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map(toEvent);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > q.limit && last ? `${last.timestamp}|${last.id}` : null };
  }

  /** Every event whose profile is one of `profileIds`, oldest first (for refolding and export). */
  async allEventsOf(workspaceId: string, profileIds: readonly string[]): Promise<EventRow[]> {
    const out: EventRow[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).orderBy('timestamp').orderBy('id').execute();
      // One by one: a person can have more events than a spread's arguments may hold.
      for (const r of rows) out.push(toEvent(r));
    }
    return out;
  }

  /** Conflicts newest first: open ones (not reviewed yet), reviewed ones, or all. */
  async listConflicts(workspaceId: string, q: { limit: number; cursor?: string | undefined; status?: 'open' | 'resolved' | 'all' | undefined }): Promise<Page<ConflictRow>> {
    let query = this.db.selectFrom('identity_conflicts').selectAll().where('workspace_id', '=', workspaceId);
    if (q.status === 'open') query = query.where('resolution', 'is', null);
    if (q.status === 'resolved') query = query.where('resolution', 'is not', null);
    if (q.cursor) query = query.where('id', '<', q.cursor);
    const rows = await query.orderBy('id', 'desc').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map(toConflict);
    return { data, nextCursor: rows.length > q.limit ? (data[data.length - 1]?.id ?? null) : null };
  }

  async getConflict(workspaceId: string, id: string): Promise<ConflictRow | undefined> {
    const row = await this.db.selectFrom('identity_conflicts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toConflict(row) : undefined;
  }

  /** Marks an open conflict reviewed; false when it was reviewed already (by someone else meanwhile). */
  async resolveConflict(workspaceId: string, id: string, r: { resolution: 'merged' | 'dismissed'; by: string; at: string }): Promise<boolean> {
    const res = await this.db
      .updateTable('identity_conflicts')
      .set({ resolution: r.resolution, resolved_by: r.by, resolved_at: r.at })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .where('resolution', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async conflictsOf(workspaceId: string, profileIds: readonly string[]): Promise<ConflictRow[]> {
    if (profileIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('identity_conflicts')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where((eb) => eb.or([eb('profile_id', 'in', profileIds), eb('other_profile_id', 'in', profileIds)]))
      .execute();
    return rows.map(toConflict);
  }

  async stats(workspaceId: string, since: string): Promise<WorkspaceStats> {
    const count = async (table: 'profiles' | 'events' | 'identity_conflicts', extra?: 'canonical' | 'merged' | 'open') => {
      let q = this.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId);
      if (table === 'profiles' && extra === 'canonical') q = q.where('merged_into' as never, 'is', null);
      if (table === 'profiles' && extra === 'merged') q = q.where('merged_into' as never, 'is not', null);
      if (table === 'identity_conflicts' && extra === 'open') q = q.where('resolution' as never, 'is', null);
      const row = await q.executeTakeFirstOrThrow();
      return Number(row.n);
    };
    // UTC hours (`2026-01-31T16`); the service folds them into the workspace's calendar days.
    const day = sql<string>`substr(timestamp, 1, 13)`;
    const perDay = await this.db
      .selectFrom('events')
      .select([day.as('day'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('workspace_id', '=', workspaceId)
      .where('timestamp', '>=', since)
      .groupBy(day)
      .orderBy(day)
      .execute();
    const byName = await this.db
      .selectFrom('events')
      .select(['event', (eb) => eb.fn.countAll<number>().as('n')])
      .where('workspace_id', '=', workspaceId)
      .where('type', '=', 'track')
      .groupBy('event')
      .orderBy((eb) => eb.fn.countAll(), 'desc')
      .limit(10)
      .execute();
    const byType = await this.db
      .selectFrom('identities')
      .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
      .where('workspace_id', '=', workspaceId)
      .groupBy('type')
      .orderBy('type')
      .execute();
    return {
      profiles: await count('profiles', 'canonical'),
      mergedProfiles: await count('profiles', 'merged'),
      events: await count('events'),
      openConflicts: await count('identity_conflicts', 'open'),
      eventsPerHour: perDay.map((r) => ({ hour: r.day, count: Number(r.n) })),
      eventsByName: byName.map((r) => ({ event: r.event ?? '', count: Number(r.n) })),
      identitiesByType: byType.map((r) => ({ type: r.type, count: Number(r.n) })),
    };
  }

  // ---------------------------------------------------------------- unmerge and erasure

  async repointByOrigin(workspaceId: string, originIds: readonly string[], profileId: string): Promise<void> {
    for (const part of chunk(originIds, MAX_PARAMS - 3)) {
      // `origin <> profile` matches the partial origin indexes: only moved rows can need moving back.
      await this.db.updateTable('identities').set({ profile_id: profileId }).where('workspace_id', '=', workspaceId).where('origin_profile_id', 'in', part).whereRef('origin_profile_id', '<>', 'profile_id').execute();
      await this.db.updateTable('events').set({ profile_id: profileId, profile_num: numOf(profileId) }).where('workspace_id', '=', workspaceId).where('origin_profile_id', 'in', part).whereRef('origin_profile_id', '<>', 'profile_id').execute();
    }
  }

  async setMergedInto(workspaceId: string, profileId: string, mergedInto: string | null, at: string): Promise<void> {
    await this.db.updateTable('profiles').set({ merged_into: mergedInto, updated_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', profileId).execute();
  }

  async markMergeUndone(workspaceId: string, mergeId: string, at: string): Promise<void> {
    await this.db.updateTable('merges').set({ undone_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', mergeId).execute();
  }

  /** Erases people: their events, identities, profiles, merge and conflict records. Returns identities removed. */
  async eraseProfiles(workspaceId: string, profileIds: readonly string[]): Promise<IdentityRow[]> {
    const identities = await this.identitiesOfProfiles(profileIds);
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      await this.db.deleteFrom('events').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('identities').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('identity_conflicts').where('workspace_id', '=', workspaceId).where((eb) => eb.or([eb('profile_id', 'in', part), eb('other_profile_id', 'in', part)])).execute();
      await this.db.deleteFrom('merges').where('workspace_id', '=', workspaceId).where((eb) => eb.or([eb('winner_id', 'in', part), eb('loser_id', 'in', part)])).execute();
      // Derived data about the person goes too: tags, memberships and their history, layers, schedules.
      await this.db.deleteFrom('profile_tags').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('segment_members').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.noteMembershipWrite();
      await this.db.deleteFrom('membership_history').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('profile_layers').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('reevaluations').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
      await this.db.deleteFrom('profiles').where('workspace_id', '=', workspaceId).where('id', 'in', part).execute();
    }
    return identities;
  }

  async addSuppressions(workspaceId: string, hashes: readonly string[], at: string): Promise<void> {
    for (const part of chunk(hashes, Math.floor(MAX_PARAMS / 3))) {
      if (part.length === 0) continue;
      await this.db
        .insertInto('suppressions')
        .values(part.map((h) => ({ workspace_id: workspaceId, identifier_hash: h, created_at: at })))
        .onConflict((oc) => oc.columns(['workspace_id', 'identifier_hash']).doNothing())
        .execute();
    }
  }

  async audit(entry: { id: string; workspaceId: string; actor: string; action: string; target: string; details: unknown; createdAt: string }): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({ id: entry.id, workspace_id: entry.workspaceId, actor: entry.actor, action: entry.action, target: entry.target, details: encodeJson(entry.details), created_at: entry.createdAt })
      .execute();
  }
}

function splitCursor(cursor: string): [string, string] {
  const i = cursor.lastIndexOf('|');
  return i < 0 ? [cursor, ''] : [cursor.slice(0, i), cursor.slice(i + 1)];
}

function toWorkspace(r: Database['workspaces']): WorkspaceRecord {
  return { id: r.id, name: r.name, timeZone: r.time_zone, createdAt: r.created_at, instanceAdmin: Boolean(r.instance_admin) };
}

function toIdentity(r: Database['identities']): IdentityRow {
  return { workspaceId: r.workspace_id, type: r.type, value: r.value, profileId: r.profile_id, originProfileId: r.origin_profile_id, firstSeen: r.first_seen, sourceMessageId: r.source_message_id };
}

function toProfile(r: Database['profiles']): ProfileRow {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    traits: decodeJson(r.traits),
    traitTimes: decodeJson(r.trait_times),
    firstTouch: decodeJson(r.first_touch),
    computed: decodeJson(r.computed),
    mergedInto: r.merged_into,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** {@link toProfile} with the profile's bitmap number, for the processor (not in API responses). */
function toNumberedProfile(r: Database['profiles']): ProfileRow {
  const p = toProfile(r);
  if (r.num != null) p.num = Number(r.num);
  return p;
}

function profileValues(p: ProfileRow): Database['profiles'] {
  return {
    id: p.id,
    workspace_id: p.workspaceId,
    traits: encodeJson(p.traits),
    trait_times: encodeJson(p.traitTimes),
    first_touch: encodeJson(p.firstTouch),
    computed: encodeJson(p.computed),
    merged_into: p.mergedInto,
    first_seen: p.computed.first_seen,
    last_seen: p.computed.last_seen,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

function toEvent(r: Database['events']): EventRow {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    profileId: r.profile_id,
    originProfileId: r.origin_profile_id,
    messageId: r.message_id,
    type: r.type as MessageType,
    event: r.event,
    traits: decodeJson(r.traits) ?? {},
    properties: decodeJson(r.properties) ?? {},
    context: decodeJson(r.context) ?? {},
    timestamp: r.timestamp,
    receivedAt: r.received_at,
  };
}

function eventValues(e: EventRow): Database['events'] {
  return {
    id: e.id,
    workspace_id: e.workspaceId,
    profile_id: e.profileId,
    origin_profile_id: e.originProfileId,
    message_id: e.messageId,
    type: e.type,
    event: e.event,
    traits: encodeJson(e.traits),
    properties: encodeJson(e.properties),
    context: encodeJson(e.context),
    timestamp: e.timestamp,
    received_at: e.receivedAt,
  };
}

function toMerge(r: Database['merges']): MergeRow {
  return { id: r.id, workspaceId: r.workspace_id, winnerId: r.winner_id, loserId: r.loser_id, reason: r.reason, messageId: r.message_id, actor: r.actor, createdAt: r.created_at, undoneAt: r.undone_at };
}

function mergeValues(m: MergeRow): Database['merges'] {
  return { id: m.id, workspace_id: m.workspaceId, winner_id: m.winnerId, loser_id: m.loserId, reason: m.reason, message_id: m.messageId, actor: m.actor, created_at: m.createdAt, undone_at: m.undoneAt };
}

function toConflict(r: Database['identity_conflicts']): ConflictRow {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    messageId: r.message_id,
    profileId: r.profile_id,
    otherProfileId: r.other_profile_id,
    identifierType: r.identifier_type,
    identifierValue: r.identifier_value,
    reason: r.reason,
    createdAt: r.created_at,
    resolution: (r.resolution as 'merged' | 'dismissed' | null) ?? null,
    resolvedAt: r.resolved_at ?? null,
    resolvedBy: r.resolved_by ?? null,
  };
}

/** The `memberships` counter of `sync_counters` (SQLite): see SqlStore.noteMembershipWrite. */
async function bumpMembershipCounter(db: Kysely<Database>): Promise<void> {
  // An upsert: a database whose row went missing gets it back rather than a check that never moves.
  await sql`insert into sync_counters (name, value) values ('memberships', 1) on conflict (name) do update set value = sync_counters.value + 1`.execute(db);
}
