import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { isolatedTestBackend, openTestStore, TEST_BACKENDS } from '@siyu/storage/testing';

describe.each(TEST_BACKENDS)('planner statistics on $name', (base) => {
  it('tables that changed past autovacuum’s threshold are analyzed, once', async () => {
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
    } finally {
      await opened.close();
      await drop();
    }
  });
});
