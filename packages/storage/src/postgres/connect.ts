import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.ts';

// bigint (inbox seq, counts) as JS numbers: our values stay far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** PostgreSQL for scale: many server and worker processes share one database. */
export function connectPostgres(url: string, poolSize = 10, queryLog?: import('kysely').LogConfig): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(queryLog ? { log: queryLog } : {}) });
  return { db, pool };
}
