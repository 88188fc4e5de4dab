import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import type { Database } from '../schema.ts';
import { BACKSTOP_PAGES, Checkpointer, CHECKPOINT_PAGES } from './checkpointer.ts';
import { registerMessageKey } from './message-key.ts';
import { PageCache, type CacheSize } from './page-cache.ts';
import { SqliteHotPath } from './sqlite-hot-path.ts';
import { FlushAutocommitWrites, WalSync } from './wal-sync.ts';

/** Page size of a new database file, in bytes (see connectSqlite). */
export const PAGE_SIZE = 8192;
/** Page size of a new inbox file (see connectInbox). */
export const INBOX_PAGE_SIZE = 16384;

/**
 * The embedded default: one SQLite file in WAL mode (and the inbox beside it, see {@link connectInbox}).
 * Every write is on the device before the call that made it returns (and so before we answer 2xx):
 * with `sync = 'commit'` by flushing in each commit (`synchronous = FULL`), by default by one shared
 * flush for many commits ({@link WalSync}). WAL lets readers run while the processor writes.
 */
export function connectSqlite(
  file: string,
  queryLog?: import('kysely').LogConfig,
  cacheMb: CacheSize = 32,
  sync: 'commit' | 'group' = 'group',
  tempStore: 'file' | 'memory' = 'file',
): { db: Kysely<Database>; raw: BetterSqlite3.Database; inbox: BetterSqlite3.Database; hot: () => SqliteHotPath; walSync: WalSync | undefined; checkpointer: Checkpointer | undefined } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  const inbox = connectInbox(inboxFileOf(file));
  // A new file gets 8 KB pages (SQLite's default is 4 KB); an existing one keeps its own (SQLite ignores the
  // pragma once a WAL database has tables). Every dirty page costs the same system calls whatever its size
  // (two writes to the WAL, a read and a write when checkpointed), and on a VM each call is dear: fewer,
  // fuller pages took the ingest bench from 6.7 to 4.3 write and 3.1 to 2.2 read calls per event (server CPU
  // 186 → 176 µs) and the 1M-profile worker from ~22 to ~19 of each, for ~1.7× the bytes written per event.
  raw.pragma(`page_size = ${PAGE_SIZE}`);
  raw.pragma('journal_mode = WAL');
  // For migration 0011, which keys the events stored before it (message-key.ts).
  registerMessageKey(raw);
  // `group` (default): commits do not flush; the store awaits a shared flush of the WAL after each
  // transaction, and after each write outside one, off the thread and outside the write lock (see
  // wal-sync.ts). As durable when a call returns as `commit` (synchronous = FULL).
  const walSync = sync === 'group' && file !== ':memory:' ? WalSync.forDatabase(file) : undefined;
  raw.pragma(walSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
  raw.pragma('busy_timeout = 10000');
  // A larger WAL between checkpoints: fewer page copies and fsyncs of the main file under ingest load.
  // With group flushing the store checkpoints after its transactions, flushing the main file off the
  // thread (checkpointer.ts); SQLite's own checkpoint inside a commit stays as a backstop.
  const checkpointer = walSync ? new Checkpointer(file) : undefined;
  raw.pragma(`wal_autocheckpoint = ${checkpointer ? BACKSTOP_PAGES : CHECKPOINT_PAGES}`);
  // After a checkpoint has copied everything, the WAL file is cut back to this size when it restarts.
  raw.pragma('journal_size_limit = 67108864');
  const pageCache = new PageCache(raw, file, cacheMb);
  // Where SQLite keeps temporary data: sorts and temporary tables larger than the page cache, and statement
  // journals (what a multi-row statement changed, kept until it completes) past 64 KB.
  // `file` (the default, and the server thread's): they go to temporary files the OS caches rather than to
  // memory. The dashboard's events-per-hour GROUP BY sorts every event in its window, and at 1M events in
  // memory that was a 50–60 MB spike of resident memory (1M-profile ingest peak 494–521 → 460 MB).
  // `memory`: the connections that process events. Their multi-row writes (memberships, history, layers,
  // re-evaluation times) run with statement journals, and in files each journaled page cost two write calls:
  // at 1M profiles the worker made 15.5–15.7 write calls per event in memory against 18.4 in files.
  raw.pragma(`temp_store = ${tempStore === 'memory' ? 'MEMORY' : 'FILE'}`);
  // No memory-mapped reads: each connection (server and worker threads) would map the file again, and
  // mapped pages count in resident memory — at 1M profiles 2 × 64 MB. Reads go through the page cache.
  raw.pragma('mmap_size = 0');
  const db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: raw }),
    ...(queryLog ? { log: queryLog } : {}),
    ...(walSync ? { plugins: [new FlushAutocommitWrites(walSync, () => raw.inTransaction)] } : {}),
  });
  return { db, raw, inbox, hot: () => new SqliteHotPath(raw, inbox, undefined, pageCache), walSync, checkpointer };
}

/** `data/siyu.db` → `data/siyu-inbox.db`. */
export function inboxFileOf(file: string): string {
  if (file === ':memory:') return ':memory:';
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}-inbox${ext || '.db'}`);
}

/**
 * The inbox in a file of its own (SQLite only). Ingestion appends to it and the processor takes from
 * it, but SQLite has one writer per file: in the same file as events and profiles, every append would
 * wait for the processor's transaction (hundreds of ms under load), so accepting would run only as
 * fast as processing. Apart, a request commits in a few ms whatever the processor does. Rows are
 * deleted after the processor's transaction commits; a crash in between re-delivers them, and the
 * processor drops messages whose event already exists — at least once in, exactly once stored.
 */
function connectInbox(file: string): BetterSqlite3.Database {
  const inbox = new BetterSqlite3(file);
  // Messages (~1–2 KB each) are appended and removed in order: 16 KB pages hold ~10 of them, so a commit
  // writes fewer pages (ingest bench, inbox 4 → 16 KB: 4.3 → 3.5 write and 2.2 → 1.6 read calls per event,
  // server CPU 181–201 → 166–172 µs). As for the main file, an existing inbox keeps its page size.
  inbox.pragma(`page_size = ${INBOX_PAGE_SIZE}`);
  inbox.pragma('journal_mode = WAL');
  inbox.pragma('synchronous = FULL');
  inbox.pragma('busy_timeout = 10000');
  inbox.pragma('cache_size = -4096');
  // No index on message ids: SDKs send random UUIDs, so a unique (workspace_id, message_id) index took
  // one random leaf page per message — a 4 KB WAL frame for a ~1 KB payload, and most of the inbox's
  // writes. Waiting duplicates are found in memory instead (SqliteHotPath.appendInbox) and dropped by
  // the processor; (workspace_id) alone grows at the end of each workspace's range.
  inbox.exec(`
    create table if not exists inbox (seq integer primary key autoincrement, workspace_id text not null, message_id text not null, payload text not null, received_at text not null);
    drop index if exists inbox_message_uq;
    create index if not exists inbox_ws_idx on inbox (workspace_id);
    create table if not exists inbox_dead (seq integer primary key, workspace_id text not null, message_id text not null, payload text not null, error text not null, failed_at text not null);
  `);
  return inbox;
}

/**
 * Databases from before the inbox had its own file keep their waiting messages: moved over (skipping
 * any already there, so a move cut short is simply done again), then removed from the main file.
 */
export function moveLegacyInbox(raw: BetterSqlite3.Database, inbox: BetterSqlite3.Database): number {
  const rows = raw.prepare('select workspace_id, message_id, payload, received_at from inbox order by seq').all() as { workspace_id: string; message_id: string; payload: string; received_at: string }[];
  const dead = raw.prepare('select seq, workspace_id, message_id, payload, error, failed_at from inbox_dead order by seq').all() as { seq: number; workspace_id: string; message_id: string; payload: string; error: string; failed_at: string }[];
  if (rows.length === 0 && dead.length === 0) return 0;
  const add = inbox.prepare('insert into inbox (workspace_id, message_id, payload, received_at) values (?, ?, ?, ?)');
  const there = new Set((inbox.prepare('select workspace_id, message_id from inbox').all() as { workspace_id: string; message_id: string }[]).map((r) => `${r.workspace_id}\u0000${r.message_id}`));
  const addDead = inbox.prepare('insert into inbox_dead (seq, workspace_id, message_id, payload, error, failed_at) values (?, ?, ?, ?, ?, ?) on conflict (seq) do nothing');
  inbox.transaction(() => {
    for (const r of rows) {
      const key = `${r.workspace_id}\u0000${r.message_id}`;
      if (there.has(key)) continue;
      there.add(key);
      add.run(r.workspace_id, r.message_id, r.payload, r.received_at);
    }
    for (const d of dead) addDead.run(d.seq, d.workspace_id, d.message_id, d.payload, d.error, d.failed_at);
  }).immediate();
  raw.transaction(() => {
    raw.prepare('delete from inbox').run();
    raw.prepare('delete from inbox_dead').run();
  }).immediate();
  return rows.length + dead.length;
}

/**
 * Transactions that take SQLite's write lock when they begin (`BEGIN IMMEDIATE`), not at their first
 * write. A deferred transaction reads from a snapshot first; if another process (an import's processor
 * beside the server's) commits before its first write, that write fails with `SQLITE_BUSY_SNAPSHOT`,
 * which no busy timeout waits out. Begun immediately, it waits (`busy_timeout`) for the other writer
 * instead and reads what that one committed. Threads of one process already take turns through the
 * writer lock before they begin, so for them nothing changes.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
