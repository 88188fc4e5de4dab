import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore, type SqlStore } from '../src/index.ts';
import { INBOX_PAGE_SIZE, inboxFileOf, PAGE_SIZE } from '../src/sqlite/connect.ts';
import { autoCacheMb, PageCache, type CacheSize } from '../src/sqlite/page-cache.ts';

const GB = 1024 * 1048576;

describe('SQLite page cache sizing', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('auto: 1 % of the database file, between 32 and 128 MB', () => {
    expect(autoCacheMb(0)).toBe(32);
    expect(autoCacheMb(3 * GB)).toBe(32);
    expect(autoCacheMb(10 * GB)).toBe(102);
    expect(autoCacheMb(12 * GB)).toBe(123);
    expect(autoCacheMb(22 * GB)).toBe(128);
    expect(autoCacheMb(200 * GB)).toBe(128);
  });

  it('auto follows the file as it grows, checking at most once a minute; a fixed size stays', () => {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-cache-'));
    dirs.push(dir);
    // A sparse stand-in for a large database file: only its size is read.
    const file = join(dir, 'big.db');
    writeFileSync(file, '');
    truncateSync(file, 2 * GB);
    const raw = new Database(':memory:');
    const cacheKb = () => -Number(raw.pragma('cache_size', { simple: true }));
    let now = 1_000_000;
    const cache = new PageCache(raw, file, 'auto', () => now);
    expect(cache.mb).toBe(32);
    expect(cacheKb()).toBe(32 * 1024);

    truncateSync(file, 8 * GB);
    now += 30_000;
    cache.maybeResize();
    expect(cacheKb()).toBe(32 * 1024);
    now += 30_000;
    cache.maybeResize();
    expect(cache.mb).toBe(82);
    expect(cacheKb()).toBe(82 * 1024);

    const fixed = new PageCache(raw, file, 64, () => now);
    now += 120_000;
    fixed.maybeResize();
    expect(fixed.mb).toBe(64);
    expect(cacheKb()).toBe(64 * 1024);
    raw.close();
  });
});

describe('page cache of an opened store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(size: CacheSize) {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-cache-store-'));
    dirs.push(dir);
    return openStore({ sqliteFile: join(dir, 'siyu.db'), sqliteCacheMb: size });
  }
  const cacheKb = async (store: SqlStore) => -Number((await sql<{ cache_size: number }>`pragma cache_size`.execute(store.db)).rows[0]!.cache_size);

  it('applies the size given, `auto` from the file, and follows the file after each committed transaction', async () => {
    const fixed = await open(64);
    expect(await cacheKb(fixed.store)).toBe(64 * 1024);
    await fixed.close();

    const resize = vi.spyOn(PageCache.prototype, 'maybeResize');
    const auto = await open('auto');
    // A new database is small: the floor.
    expect(await cacheKb(auto.store)).toBe(32 * 1024);
    const before = resize.mock.calls.length;
    await auto.store.transaction(async (tx) => {
      await sql`insert into sync_counters (name, value) values ('page_cache_test', 1)`.execute(tx.db);
    });
    expect(resize.mock.calls.length).toBeGreaterThan(before);
    await auto.close();
  });
});

describe('SQLite page size', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a new database gets 8 KB pages and its inbox 16 KB; one made with 4 KB pages keeps them and opens as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-pages-'));
    dirs.push(dir);
    const fresh = join(dir, 'fresh.db');
    const opened = await openStore({ sqliteFile: fresh });
    await opened.close();
    const check = new Database(fresh, { readonly: true });
    expect(check.pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
    expect(PAGE_SIZE).toBe(8192);
    check.close();
    const inbox = new Database(inboxFileOf(fresh), { readonly: true });
    expect(inbox.pragma('page_size', { simple: true })).toBe(INBOX_PAGE_SIZE);
    expect(INBOX_PAGE_SIZE).toBe(16384);
    inbox.close();

    // As an earlier version made it: 4 KB pages, WAL, a table.
    const old = join(dir, 'old.db');
    const before = new Database(old);
    before.pragma('page_size = 4096');
    before.pragma('journal_mode = WAL');
    before.exec('create table kept (x integer)');
    before.close();
    const reopened = await openStore({ sqliteFile: old });
    await reopened.close();
    const after = new Database(old, { readonly: true });
    expect(after.pragma('page_size', { simple: true })).toBe(4096);
    expect(after.prepare("select count(*) as n from sqlite_master where name in ('kept', 'events')").get()).toEqual({ n: 2 });
    after.close();
  });

  it('temporary storage: in files by default, in memory when asked (a connection that processes events)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-temp-'));
    dirs.push(dir);
    const tempStore = async (opts: { sqliteTempStore?: 'file' | 'memory' }) => {
      const opened = await openStore({ sqliteFile: join(dir, 'siyu.db'), ...opts });
      try {
        return (await sql<{ temp_store: number }>`pragma temp_store`.execute(opened.store.db)).rows[0]!.temp_store;
      } finally {
        await opened.close();
      }
    };
    expect(await tempStore({})).toBe(1);
    expect(await tempStore({ sqliteTempStore: 'memory' })).toBe(2);
  });
});
