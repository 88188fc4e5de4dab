import pg from 'pg';

/** The PostgreSQL server benchmarks run against (`SIYU_BENCH_DATABASE_URL`, else the test URL, else the local default). */
export function benchPostgresUrl(): string {
  return process.env.SIYU_BENCH_DATABASE_URL ?? process.env.SIYU_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * A fresh database on that server for one run (`siyu_bench_<time>`), so figures do not depend on what
 * earlier runs and tests left in a shared one; `drop()` removes it.
 */
export async function createBenchDatabase(base = benchPostgresUrl()): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `siyu_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
