import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore, type SqlStore } from '../src/index.ts';
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
