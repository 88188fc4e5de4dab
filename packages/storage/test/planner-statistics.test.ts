import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { isolatedTestBackend, openTestStore, TEST_BACKENDS } from '@siyu/storage/testing';

describe.each(TEST_BACKENDS)('planner statistics on $name', (base) => {
  it('tables that changed past autovacuum’s threshold are analyzed, once; young tables at once, others at most every interval', async () => {
    // A database of its own: other files' writes would change the tables meanwhile.
    const { backend, drop } = await isolatedTestBackend(base);
    const opened = await openTestStore(backend);
    try {
      const { store } = opened;
      if (backend.name === 'sqlite') {
        // SQLite's statistics are seeded and refreshed by `PRAGMA optimize` on close.
        expect(await store.refreshPlannerStatistics()).toEqual([]);
        return;
      }
      await store.refreshPlannerStatistics();
      await sql`insert into suppressions (workspace_id, identifier_hash, created_at)
        select 'ws_stats', md5(g::text), '2026-01-01T00:00:00.000Z' from generate_series(1, 2000) g`.execute(store.db);
      // pg_stat counters reach the statistics collector at the end of the transaction, not at once.
      let analyzed: string[] = [];
      for (let i = 0; i < 50 && !analyzed.includes('suppressions'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        analyzed = await store.refreshPlannerStatistics();
      }
      expect(analyzed).toContain('suppressions');
      const { rows } = await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = 'suppressions'`.execute(store.db);
      expect(rows[0]!.n).toBe(2000);
      expect(await store.refreshPlannerStatistics()).not.toContain('suppressions');

      // Analyzed with 2,000 rows: young, so past the threshold again it is analyzed again at once.
      const grow = async (from: number, n: number) =>
        sql`insert into suppressions (workspace_id, identifier_hash, created_at)
          select 'ws_stats', md5(g::text), '2026-01-01T00:00:00.000Z' from generate_series(${from}::int, ${from + n - 1}::int) g`.execute(store.db);
      const refreshedUntil = async (opts: { minIntervalMs?: number } = {}) => {
        for (let i = 0; i < 50; i++) {
          const tables = await store.refreshPlannerStatistics(opts);
          if (tables.includes('suppressions')) return true;
          await new Promise((r) => setTimeout(r, 100));
        }
        return false;
      };
      // A queue (the inbox, the derivation log): many changes, as many rows as before — it waits like any other.
      await sql`delete from suppressions where workspace_id = 'ws_stats' and identifier_hash in (select md5(g::text) from generate_series(1, 1500) g)`.execute(store.db);
      await grow(20_001, 1500);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await store.refreshPlannerStatistics()).not.toContain('suppressions');
      // Grown past twice its rows at the last analysis: analyzed at once.
      await grow(2001, 12_000);
      expect(await refreshedUntil()).toBe(true);
      const tuples = async () => (await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = 'suppressions'`.execute(store.db)).rows[0]!.n;
      expect(await tuples()).toBe(14_000);
      // 14,000 rows at its last analysis, seconds ago: past the threshold again (500 + 10 %), it waits for the interval.
      await grow(14_001, 3_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await store.refreshPlannerStatistics()).not.toContain('suppressions');
      expect(await tuples()).toBe(14_000);
      expect(await refreshedUntil({ minIntervalMs: 0 })).toBe(true);
      expect(await tuples()).toBe(17_000);
    } finally {
      await opened.close();
      await drop();
    }
  });
});
