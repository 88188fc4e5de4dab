import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../src/migrations.ts';
import { messageKey, registerMessageKey } from '../src/sqlite/message-key.ts';

describe('migrations of a database with data', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  /** A fresh SQLite file, with Kysely over it; removed after the test. */
  function tempDatabase(): { raw: BetterSqlite3.Database; db: Kysely<any> } {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-migrate-'));
    const raw = new BetterSqlite3(join(dir, 'siyu.db'));
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    cleanup = async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
    return { raw, db };
  }

  it('0006 gives existing events their profile number and replaces the event-name index', async () => {
    const { raw, db } = tempDatabase();
    await migrateTo(db, 'sqlite', '0005_canonical_num_index');
    const T = '2026-01-01T00:00:00.000Z';
    const profile = (id: string, num: number | null) => ({ id, workspace_id: 'ws_1', traits: '{}', trait_times: '{}', first_touch: '{}', computed: '{}', merged_into: null, first_seen: T, last_seen: T, created_at: T, updated_at: T, num });
    await db.insertInto('profiles').values([profile('prof_a', 7), profile('prof_b', null)]).execute();
    const event = (id: string, profileId: string) => ({ id, workspace_id: 'ws_1', profile_id: profileId, origin_profile_id: profileId, message_id: id, type: 'track', event: 'Order Completed', traits: '{}', properties: '{}', context: '{}', timestamp: T, received_at: T });
    await db.insertInto('events').values([event('e1', 'prof_a'), event('e2', 'prof_a'), event('e3', 'prof_b')]).execute();

    expect(await migrateTo(db, 'sqlite', '0006_events_profile_num')).toEqual(['0006_events_profile_num']);
    const rows = raw.prepare('select id, profile_num from events order by id').all();
    expect(rows).toEqual([
      { id: 'e1', profile_num: 7 },
      { id: 'e2', profile_num: 7 },
      { id: 'e3', profile_num: null },
    ]);
    const indexes = (raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'events'").pluck().all() as string[]).sort();
    expect(indexes).toContain('events_name_num_idx');
    expect(indexes).toContain('events_num_missing_idx');
    expect(indexes).not.toContain('events_name_type_idx');
    // The candidate read is answered from the index alone.
    const plan = raw.prepare("explain query plan select timestamp, profile_num from events where workspace_id = 'ws_1' and event = 'Order Completed' and type = 'track' and timestamp >= '2025' order by timestamp, profile_num").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('COVERING INDEX events_name_num_idx');
  });

  it('0007 lets event reads that need no properties come from events_profile_idx alone', async () => {
    const { raw, db } = tempDatabase();
    await migrateTo(db, 'sqlite', '0006_events_profile_num');
    expect(await migrateTo(db, 'sqlite', '0007_events_profile_covering')).toEqual(['0007_events_profile_covering']);
    const columns = raw.prepare(`select name from pragma_index_info('events_profile_idx') order by seqno`).pluck().all();
    expect(columns).toEqual(['profile_id', 'timestamp', 'type', 'event']);
    // The statement AudienceStore.eventsOfNames sends, without and with properties.
    const read = (cols: string) =>
      (raw.prepare(`explain query plan select ${cols} from events where profile_id in ('a', 'b') and ((type = 'track' and event in ('Order Completed')) or type in ('page')) and timestamp >= '2025'`).all() as { detail: string }[])
        .map((p) => p.detail)
        .join(' ');
    expect(read('profile_id, type, event, timestamp')).toContain('COVERING INDEX events_profile_idx');
    expect(read('profile_id, type, event, timestamp, properties')).toMatch(/USING INDEX events_profile_idx/);
  });
  it('0014: with real statistics, profiles looked up by id among canonical ones are searched by id, not scanned through the merged_into index', async () => {
    const { raw, db } = tempDatabase();
    registerMessageKey(raw);
    await migrateTo(db, 'sqlite', '0013_conflict_review');
    const T = '2026-01-01T00:00:00.000Z';
    const insert = raw.prepare("insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num) values (?, 'ws_1', '{}', '{}', '{}', '{}', ?, ?, ?, ?, ?, ?)");
    raw.transaction(() => {
      for (let i = 0; i < 40_000; i++) insert.run(`prof_${String(i).padStart(5, '0')}`, i % 50 === 49 ? `prof_${String(i - 1).padStart(5, '0')}` : null, T, T, T, T, i + 1);
    })();
    // What `PRAGMA optimize` does on close: real statistics, sampled (its analysis limit), replace the seeded ones.
    raw.pragma('analysis_limit = 2000');
    raw.exec('analyze');
    const ids = Array.from({ length: 2000 }, (_, i) => `prof_${String(i * 2).padStart(5, '0')}`);
    // LayerStore.statsOf's and AudienceStore's reads of canonical profiles by id, as they reach SQLite.
    const plan = () =>
      (raw.prepare(`explain query plan select id, computed from profiles where workspace_id = ? and merged_into is null and id in (${ids.map(() => '?').join(', ')})`).all('ws_1', ...ids) as { detail: string }[])
        .map((p) => p.detail)
        .join(' ');
    expect(plan()).toContain('profiles_merged_idx');
    expect(await migrateTo(db, 'sqlite', '0014_merged_index_partial')).toEqual(['0014_merged_index_partial']);
    raw.exec('analyze');
    expect(plan()).not.toContain('profiles_merged_idx');
    expect(plan()).toMatch(/SEARCH profiles USING .*INDEX .*\(.*id=\?\)/);
    // The same ids bound as one JSON array (LayerStore.statsOf on SQLite): searched by id too.
    const planJson = (raw.prepare('explain query plan select id, computed from profiles where workspace_id = ? and merged_into is null and id in (select value from json_each(?))').all('ws_1', JSON.stringify(ids)) as { detail: string }[])
      .map((p) => p.detail)
      .join(' ');
    expect(planJson).not.toContain('profiles_merged_idx');
    expect(planJson).toMatch(/SEARCH profiles USING .*INDEX .*\(.*id=\?\)/);
    // Losers are still found by their winner through it.
    const byWinner = (raw.prepare("explain query plan select id from profiles where merged_into = 'prof_00048'").all() as { detail: string }[]).map((p) => p.detail).join(' ');
    expect(byWinner).toContain('profiles_merged_idx');
  });
  it('0015 keeps one open (or dismissed) conflict per refused link: the first, or the dismissed one', async () => {
    const { raw, db } = tempDatabase();
    registerMessageKey(raw);
    await migrateTo(db, 'sqlite', '0014_merged_index_partial');
    const insert = raw.prepare("insert into identity_conflicts (id, workspace_id, message_id, profile_id, other_profile_id, identifier_type, identifier_value, reason, created_at, resolution) values (?, 'ws_1', 'm', ?, ?, 'device_id', ?, 'limit', '2026-01-01', ?)");
    for (const [id, profile, other, value, resolution] of [
      ['c1', 'p1', 'p2', 'ipad', null], ['c2', 'p1', 'p2', 'ipad', null], ['c3', 'p1', 'p2', 'ipad', null],
      ['d2', 'p3', null, 'kiosk', null], ['d1', 'p3', null, 'kiosk', 'dismissed'],
      ['m1', 'p5', 'p6', 'tv', 'merged'], ['m2', 'p5', 'p6', 'tv', null],
    ] as const) insert.run(id, profile, other, value, resolution);
    expect(await migrateTo(db, 'sqlite', '0015_one_open_conflict')).toEqual(['0015_one_open_conflict']);
    expect(raw.prepare('select id from identity_conflicts order by id').pluck().all()).toEqual(['c1', 'd1', 'm1', 'm2']);
    // A repeat is refused by the index (the processor inserts with ON CONFLICT DO NOTHING).
    expect(() => insert.run('c9', 'p1', 'p2', 'ipad', null)).toThrow(/UNIQUE/);
    expect(() => insert.run('d9', 'p3', null, 'kiosk', null)).toThrow(/UNIQUE/);
  });
});

describe('0011: events found by a message key (SQLite)', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('keys the events stored before (also after a start that failed midway), and replaces the unique (workspace_id, message_id) index by one on the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-migrate-'));
    const raw = new BetterSqlite3(join(dir, 'siyu.db'));
    registerMessageKey(raw);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    cleanup = async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
    await migrateTo(db, 'sqlite', '0010_sync_counters');
    const T = '2026-01-01T00:00:00.000Z';
    const event = (id: string, ws: string, messageId: string) => ({ id, workspace_id: ws, profile_id: 'prof_a', origin_profile_id: 'prof_a', message_id: messageId, type: 'track', event: 'Viewed', traits: '{}', properties: '{}', context: '{}', timestamp: T, received_at: T, profile_num: 1 });
    await db.insertInto('events').values([event('e1', 'ws_1', 'm-1'), event('e2', 'ws_1', 'm-2'), event('e3', 'ws_2', 'm-1')]).execute();

    // As a start that failed midway left it: the column added, the backfill not done.
    await db.schema.alterTable('events').addColumn('message_key', 'integer').execute();
    expect(await migrateTo(db, 'sqlite', '0011_events_message_key')).toEqual(['0011_events_message_key']);
    const rows = raw.prepare('select id, workspace_id, message_id, message_key from events order by id').all() as { id: string; workspace_id: string; message_id: string; message_key: number }[];
    expect(rows.map((r) => r.message_key)).toEqual(rows.map((r) => messageKey(r.workspace_id, r.message_id)));
    // The same message id in two workspaces: two keys.
    expect(rows[0]!.message_key).not.toBe(rows[2]!.message_key);
    const indexes = raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'events'").pluck().all();
    expect(indexes).toContain('events_message_key_idx');
    expect(indexes).not.toContain('events_message_uq');
    const plan = raw.prepare('explain query plan select 1 from events where message_key = ? and workspace_id = ? and message_id = ?').all(1, 'ws_1', 'm-1') as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('INDEX events_message_key_idx');
  });
});
