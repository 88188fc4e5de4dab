import type { Kysely } from 'kysely';
import { migrateToLatest } from './migrations.ts';
import { connectPostgres } from './postgres/connect.ts';
import type { Database } from './schema.ts';
import type { CacheSize } from './sqlite/page-cache.ts';
import { connectSqlite, moveLegacyInbox } from './sqlite/connect.ts';
import type { WalSync } from './sqlite/wal-sync.ts';
import type { Checkpointer } from './sqlite/checkpointer.ts';
import { seedPlannerStats } from './sqlite/planner-stats.ts';
import { SqlStore } from './store.ts';
import type { Dialect } from './dialect.ts';
import type { SqliteHotPath } from './sqlite/sqlite-hot-path.ts';
import { MembershipEpoch, WriterLock } from './sqlite/writer-lock.ts';
import { threadId } from 'node:worker_threads';

export { SqlStore } from './store.ts';
export { isTransientStorageError } from './dialect.ts';
export { autoCacheMb, type CacheSize } from './sqlite/page-cache.ts';
export { messageKey } from './sqlite/message-key.ts';
export { MembershipEpoch, WriterLock } from './sqlite/writer-lock.ts';
export { LayerStore, type LayerRow, type OrderStats, type LayerGroupTotal } from './layers-store.ts';
export * from './audience-store.ts';
export type { NewWorkspace, ProfileListQuery, WorkspaceStats, DerivationConsumer, DerivationRange } from './store.ts';
export { mergeRanges } from './store.ts';
export type { Dialect } from './dialect.ts';
export type { DeadLetterRow, PipelineCounts } from './pipeline.ts';
export type { Database } from './schema.ts';

export interface OpenStoreOptions {
  /** `postgres://…` for PostgreSQL; otherwise the SQLite file at `sqliteFile`. */
  databaseUrl?: string | undefined;
  sqliteFile: string;
  /** Run migrations before returning (default true). */
  migrate?: boolean;
  /** Kysely query log (benchmarks use it to find slow statements). */
  queryLog?: import('kysely').LogConfig;
  /**
   * SQLite opened by several threads of one process (server and worker): the same buffer
   * (`WriterLock.create()`) in each, so their write transactions take turns without blocking.
   */
  writerLock?: SharedArrayBuffer | undefined;
  /**
   * SQLite page cache of this connection, MB (default 32), or `auto`: 1 % of the database file, between
   * 32 and 128 MB, following its growth (`sqlite/page-cache.ts`).
   */
  sqliteCacheMb?: CacheSize | undefined;
  /**
   * SQLite: how writes become durable (both: on the device before the call returns). `group` (default):
   * `synchronous = NORMAL`, and each `transaction()` — and each write outside one — awaits one
   * `fdatasync` of the WAL shared with every commit that finished before it, outside the write lock
   * and off the thread (`sqlite/wal-sync.ts`). `commit`: each commit flushes (`synchronous = FULL`);
   * benchmarks compare the two.
   */
  sqliteSync?: 'commit' | 'group' | undefined;
  /**
   * SQLite: where sorts larger than the page cache and statement journals go (default `file`): temporary
   * files, or `memory` for a connection that processes events (fewer system calls; see connect.ts).
   */
  sqliteTempStore?: 'file' | 'memory' | undefined;
}

export interface OpenedStore {
  store: SqlStore;
  dialect: Dialect;
  /** Where the data lives, for logs (password redacted). */
  location: string;
  close(): Promise<void>;
}

/** Opens the configured database, applies migrations, and returns the store. */
export async function openStore(opts: OpenStoreOptions): Promise<OpenedStore> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  let location: string;
  let hot: (() => SqliteHotPath) | undefined;
  let raw: import('better-sqlite3').Database | undefined;
  let inbox: import('better-sqlite3').Database | undefined;
  let walSync: WalSync | undefined;
  let checkpointer: Checkpointer | undefined;
  if (opts.databaseUrl && /^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
    db = connectPostgres(opts.databaseUrl, 10, opts.queryLog).db;
    dialect = 'postgres';
    location = opts.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  } else {
    const c = connectSqlite(opts.sqliteFile, opts.queryLog, opts.sqliteCacheMb, opts.sqliteSync, opts.sqliteTempStore);
    walSync = c.walSync;
    checkpointer = c.checkpointer;
    db = c.db;
    hot = c.hot;
    raw = c.raw;
    inbox = c.inbox;
    dialect = 'sqlite';
    location = opts.sqliteFile;
  }
  if (opts.migrate !== false) await migrateToLatest(db, dialect);
  if (raw) seedPlannerStats(raw);
  if (raw && inbox) moveLegacyInbox(raw, inbox);
  // Statements are prepared after migrations, once the tables exist.
  return {
    store: new SqlStore(db, dialect, false, hot?.(), raw && opts.writerLock ? { main: new WriterLock(opts.writerLock, threadId, 0), inbox: new WriterLock(opts.writerLock, threadId, 1) } : undefined, walSync, checkpointer, new MembershipEpoch(opts.writerLock)),
    dialect,
    location,
    async close() {
      // Refreshes planner statistics where the data has changed a lot (cheap; SQLite's advice for long-lived connections).
      if (raw?.open) raw.pragma('optimize');
      await checkpointer?.close();
      await db.destroy();
      walSync?.close();
      if (inbox?.open) inbox.close();
    },
  };
}
