import type BetterSqlite3 from 'better-sqlite3';

/**
 * Tells SQLite's query planner that `workspace_id` (and `merged_into`, event names…) are not selective.
 *
 * Without statistics SQLite assumes any index equality matches ~10 rows, so for
 * `workspace_id = ? AND profile_id IN (…1000 ids…)` it picks an index that starts with workspace_id
 * and scans the whole workspace (measured: layer updates after each ingest batch took longer than
 * the batch itself). Seeded `sqlite_stat1` rows describe one large workspace; a later real `ANALYZE`
 * (run by `PRAGMA optimize`) replaces them with measured figures.
 */
/** Typical rows per distinct value, for columns that lead or narrow our indexes. */
const ROWS_PER_VALUE: Record<string, number> = {
  workspace_id: 1_000_000,
  merged_into: 500_000,
  event: 50_000,
  type: 100_000,
  lifecycle: 200_000,
  kind: 500_000,
  ref_id: 1_000,
  timestamp: 1,
};

export function seedPlannerStats(raw: BetterSqlite3.Database): void {
  raw.exec('analyze sqlite_schema'); // creates sqlite_stat1 if missing
  const has = raw.prepare('select 1 from sqlite_stat1 where idx = ?').pluck();
  const insert = raw.prepare('insert into sqlite_stat1 (tbl, idx, stat) values (?, ?, ?)');
  const indexes = raw.prepare("select name, tbl_name as tbl from sqlite_master where type = 'index' and name not like 'sqlite_%'").all() as { name: string; tbl: string }[];
  let seeded = 0;
  for (const { name, tbl } of indexes) {
    const cols = raw.prepare(`select name from pragma_index_info(?) order by seqno`).pluck().all(name) as string[];
    if (!cols[0] || !(cols[0] in ROWS_PER_VALUE) || has.get(name) !== undefined) continue;
    // Rows sharing a prefix of the index: low-cardinality columns keep many, others narrow to one.
    let rows = 1_000_000;
    const per = cols.map((col) => (rows = Math.max(1, Math.min(rows, ROWS_PER_VALUE[col] ?? 1))));
    insert.run(tbl, name, `1000000 ${per.join(' ')}`);
    seeded++;
  }
  if (seeded) raw.exec('analyze sqlite_schema');
}
