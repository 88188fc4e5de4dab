import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.ts';

// bigint (inbox seq, counts) as JS numbers: our values stay far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** PostgreSQL for scale: many server and worker processes share one database. */
export function connectPostgres(url: string, poolSize = 10, queryLog?: import('kysely').LogConfig): { db: Kysely<Database>; pool: pg.Pool } {
  // No JIT compilation: our statements are short, and when an estimate is off (statistics not yet
  // gathered) PostgreSQL spent ~150 ms compiling a 2,000-key identity lookup that runs in 30 ms.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, options: '-c jit=off' });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(queryLog ? { log: queryLog } : {}) });
  return { db, pool };
}
