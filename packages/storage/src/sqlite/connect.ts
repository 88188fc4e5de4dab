import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../schema.ts';
import { SqliteHotPath } from './sqlite-hot-path.ts';

/**
 * The embedded default: one SQLite file in WAL mode. `synchronous = FULL` makes every commit
 * durable (fsync) before we answer 2xx; WAL lets readers run while the processor writes.
 */
export function connectSqlite(file: string, queryLog?: import('kysely').LogConfig): { db: Kysely<Database>; raw: BetterSqlite3.Database; hot: () => SqliteHotPath } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 10000');
  // A larger WAL between checkpoints: fewer page copies and fsyncs of the main file under ingest load.
  raw.pragma('wal_autocheckpoint = 10000');
  
  
  raw.pragma('cache_size = -32768');
  raw.pragma('temp_store = MEMORY');
  // Memory-mapped reads, bounded so resident memory stays predictable on large databases.
  raw.pragma('mmap_size = 67108864');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }), ...(queryLog ? { log: queryLog } : {}) });
  return { db, raw, hot: () => new SqliteHotPath(raw) };
}
