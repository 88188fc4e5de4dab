import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../src/migrations.ts';
import { Checkpointer } from '../src/sqlite/checkpointer.ts';
import { connectSqlite } from '../src/sqlite/connect.ts';
import { WalSync } from '../src/sqlite/wal-sync.ts';
import { SqlStore } from '../src/store.ts';

/** A database-file flush the test completes by hand. */
function manualFlush() {
  const pending: { fd: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const flush = (fd: number) => new Promise<void>((resolve, reject) => pending.push({ fd, resolve, reject }));
  return { flush, pending };
}

/** A WAL-mode database with SQLite's own checkpoints off, and a table to write pages into. */
function database(dir: string): { file: string; db: BetterSqlite3.Database; write: (rows: number) => void } {
  const file = join(dir, 'c.db');
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('create table t (id integer primary key, v text)');
  let next = 0;
  const insert = db.prepare('insert into t (id, v) values (?, ?)');
  // ~1 KB a row: four rows a page.
  const write = (rows: number) => db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(++next, 'x'.repeat(1000));
  })();
  return { file, db, write };
}

describe('Checkpointer: checkpoints with the database file flushed off the thread', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('does nothing while the WAL holds fewer uncopied frames than its threshold', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const { file, db, write } = database(dir);
    const f = manualFlush();
    const c = new Checkpointer(file, { pages: 200, flush: f.flush });
    write(100);
    const before = c.walState()!;
    expect(before.frames).toBeGreaterThan(0);
    expect(before.frames).toBeLessThan(200);
    c.afterCommit();
    expect(c.checkpoints).toBe(0);
    expect(c.walState()).toEqual(before);
    expect(c.beforeCommit()).toBeNull();
    await c.close();
    db.close();
  });

  it('copies the frames, and keeps the WAL from restarting until the database file is flushed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const { file, db, write } = database(dir);
    const f = manualFlush();
    const c = new Checkpointer(file, { pages: 200, flush: f.flush });
    write(1000);
    const full = c.walState()!;
    expect(full.frames).toBeGreaterThanOrEqual(200);
    expect(full.copied).toBe(0);

    c.afterCommit();
    expect(c.checkpoints).toBe(1);
    expect(c.walState()).toEqual({ frames: full.frames, copied: full.frames });
    expect(f.pending).toHaveLength(1);
    // While the copies may not be on the device, a commit appends to the WAL instead of restarting it
    // over frames a crash would still need.
    write(10);
    const appended = c.walState()!;
    expect(appended.frames).toBeGreaterThan(full.frames);
    expect(appended.copied).toBe(full.frames);
    // No second checkpoint while one is flushing.
    write(1000);
    c.afterCommit();
    expect(c.checkpoints).toBe(1);

    const waiting = c.beforeCommit();
    expect(waiting).not.toBeNull();
    f.pending[0]!.resolve();
    await waiting;
    expect(c.beforeCommit()).toBeNull();
    // Flushed: the next checkpoint copies the rest; once all is copied, a commit starts the WAL over.
    c.afterCommit();
    expect(c.checkpoints).toBe(2);
    f.pending[1]!.resolve();
    await c.beforeCommit();
    write(1);
    const restarted = c.walState()!;
    expect(restarted.frames).toBeLessThan(10);
    expect(db.prepare('select count(*) from t').pluck().get()).toBe(2011);
    await c.close();
    db.close();
  });

  it('a failed flush keeps the WAL pinned and fails every later commit through the store', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const c = connectSqlite(join(dir, 'siyu.db'), undefined, 8, 'group');
    await migrateToLatest(c.db, 'sqlite');
    const f = manualFlush();
    const checkpointer = new Checkpointer(join(dir, 'siyu.db'), { pages: 50, flush: f.flush });
    const store = new SqlStore(c.db, 'sqlite', false, c.hot(), undefined, c.walSync, checkpointer);
    const T = '2026-01-01T00:00:00.000Z';
    const addGroups = (from: number, n: number) =>
      store.transaction(async (tx) => {
        for (let i = from; i < from + n; i++) await tx.db.insertInto('tag_groups').values({ id: `tg_${i}`, workspace_id: 'ws_1', name: `g${i}-${'x'.repeat(900)}`, description: null, created_at: T }).execute();
      });
    await addGroups(0, 400);
    expect(checkpointer.checkpoints).toBe(1);
    const frames = checkpointer.walState()!.frames;
    f.pending[0]!.reject(new Error('EIO: the device failed'));
    await expect(addGroups(400, 1)).rejects.toThrow('EIO');
    // Nothing of the failed transaction was committed, and the WAL was not restarted.
    expect((await sql<{ n: number }>`select count(*) as n from tag_groups`.execute(c.db)).rows[0]!.n).toBe(400);
    expect(checkpointer.walState()!.frames).toBeGreaterThanOrEqual(frames);
    await c.db.destroy();
    c.inbox.close();
  });

  it('through the store: transactions checkpoint as they go, the WAL restarts, and everything is there after reopening', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const file = join(dir, 'siyu.db');
    const c = connectSqlite(file, undefined, 8, 'group');
    await migrateToLatest(c.db, 'sqlite');
    const checkpointer = new Checkpointer(file, { pages: 50 });
    const store = new SqlStore(c.db, 'sqlite', false, c.hot(), undefined, WalSync.forDatabase(file), checkpointer);
    const T = '2026-01-01T00:00:00.000Z';
    let maxFrames = 0;
    for (let b = 0; b < 40; b++) {
      await store.transaction(async (tx) => {
        for (let i = 0; i < 20; i++) await tx.db.insertInto('tag_groups').values({ id: `tg_${b}_${i}`, workspace_id: 'ws_1', name: `g${b}-${i}-${'x'.repeat(900)}`, description: null, created_at: T }).execute();
      });
      // (The first transaction's WAL also holds the migrations' pages.)
      if (b > 0) maxFrames = Math.max(maxFrames, checkpointer.walState()!.frames);
    }
    expect(checkpointer.checkpoints).toBeGreaterThan(3);
    // Restarted along the way: the WAL never held all 800 rows' pages.
    expect(maxFrames).toBeLessThan(150);
    await checkpointer.close();
    await c.db.destroy();
    c.inbox.close();
    const again = new BetterSqlite3(file, { readonly: true });
    expect(again.prepare('select count(*) from tag_groups').pluck().get()).toBe(800);
    expect(again.pragma('integrity_check', { simple: true })).toBe('ok');
    again.close();
  });
});

/**
 * A killed process leaves its writes in the OS page cache, so this cannot show what the pin guards
 * against (power loss, copies not yet on the device); it shows that a kill in any step — the pin, the
 * copy, the flushes, a commit waiting for one — leaves a database SQLite opens whole, with every
 * transaction that returned.
 */
describe('Checkpointer: a process killed at any moment loses no committed transaction', () => {
  it('SIGKILL while committing and checkpointing: every transaction that returned is there, and the file is intact', { timeout: 60_000 }, async () => {
    const fixture = fileURLToPath(new URL('./fixtures/checkpoint-writer.ts', import.meta.url));
    for (const killAfter of [150, 400, 777]) {
      const dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-kill-'));
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
        let last = 0;
        let checkpoints = 0;
        let buffered = '';
        await new Promise<void>((resolve, reject) => {
          child.on('error', reject);
          child.on('exit', () => resolve());
          child.stdout.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) {
              const [n, c] = line.split(' ').map(Number);
              last = n!;
              checkpoints = c!;
            }
            if (last >= killAfter && child.exitCode === null) child.kill('SIGKILL');
          });
        });
        expect(checkpoints).toBeGreaterThan(2);
        const db = new BetterSqlite3(join(dir, 'siyu.db'));
        const stored = db.prepare('select id from tag_groups').pluck().all() as string[];
        const numbers = new Set(stored.map((id) => Number(id.slice(3))));
        for (let n = 1; n <= last; n++) expect(numbers.has(n), `transaction ${n} returned before the kill`).toBe(true);
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
