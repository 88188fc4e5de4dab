import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_IDENTITY_RULES, type NormalizedMessage } from '@siyu/core';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { migrateToLatest } from '../src/migrations.ts';
import { Checkpointer } from '../src/sqlite/checkpointer.ts';
import { connectSqlite } from '../src/sqlite/connect.ts';
import { WalSync } from '../src/sqlite/wal-sync.ts';
import { SqlStore } from '../src/store.ts';

/** A flush the test completes by hand. */
function manualFlush() {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const flush = () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  return { flush, pending };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('WalSync: one flush for every commit that finished before it started', () => {
  it('starts a flush at once when none is running', async () => {
    const f = manualFlush();
    const s = new WalSync(f.flush);
    let done = false;
    void s.sync().then(() => (done = true));
    expect(f.pending).toHaveLength(1);
    f.pending[0]!.resolve();
    await tick();
    expect(done).toBe(true);
  });

  it('callers arriving during a flush share exactly one more, which starts after the first ends', async () => {
    const f = manualFlush();
    const s = new WalSync(f.flush);
    const order: string[] = [];
    void s.sync().then(() => order.push('first'));
    // These commits may have finished after the running flush started: it does not cover them.
    void s.sync().then(() => order.push('second'));
    void s.sync().then(() => order.push('third'));
    expect(f.pending).toHaveLength(1);
    f.pending[0]!.resolve();
    await tick();
    expect(order).toEqual(['first']);
    expect(f.pending).toHaveLength(2);
    f.pending[1]!.resolve();
    await tick();
    expect(order).toEqual(['first', 'second', 'third']);
    expect(s.flushes).toBe(2);
  });

  it('a failed flush fails its callers, and the next caller starts a new one', async () => {
    const f = manualFlush();
    const s = new WalSync(f.flush);
    const first = s.sync();
    const queued = s.sync();
    f.pending[0]!.reject(new Error('EIO'));
    await expect(first).rejects.toThrow('EIO');
    // The queued flush still runs (it covers its own callers).
    await tick();
    expect(f.pending).toHaveLength(2);
    f.pending[1]!.resolve();
    await expect(queued).resolves.toBeUndefined();
    const later = s.sync();
    expect(f.pending).toHaveLength(3);
    f.pending[2]!.resolve();
    await expect(later).resolves.toBeUndefined();
  });
});

describe('SQLite with group flushing', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a transaction returns only after the flush covering it, and consumed inbox rows are removed only then', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-walsync-'));
    const c = connectSqlite(join(dir, 'siyu.db'), undefined, 8, 'group');
    expect(c.raw.pragma('synchronous', { simple: true })).toBe(1); // NORMAL: commits do not flush
    await migrateToLatest(c.db, 'sqlite');
    const inboxRows = () => c.inbox.prepare('select count(*) from inbox').pluck().get() as number;
    const seen: number[] = [];
    const walSync = new WalSync(async () => {
      // What the flush sees: the batch's inbox rows still there.
      seen.push(inboxRows());
    });
    const store = new SqlStore(c.db, 'sqlite', false, c.hot(), undefined, walSync);
    const T = '2026-01-01T00:00:00.000Z';
    const message = (messageId: string): NormalizedMessage => ({ messageId, type: 'track', userId: 'u1', anonymousId: null, previousId: null, groupId: null, event: 'E', traits: {}, properties: {}, context: {}, externalIds: [], timestamp: T, originalTimestamp: null, sentAt: null, receivedAt: T });
    await store.appendInbox('ws_1', ['a', 'b'].map((id) => ({ messageId: id, payload: JSON.stringify({ message: message(id), identifiers: [] }), receivedAt: T })));
    expect(inboxRows()).toBe(2);
    await store.transaction(async (tx) => {
      const items = await tx.claimInbox(10);
      await tx.applyChanges({ consumedSeqs: items.map((i) => i.seq), profiles: [], identities: [], events: [], merges: [], conflicts: [] });
    });
    expect(seen).toEqual([2]);
    expect(inboxRows()).toBe(0);
    await c.db.destroy();
    c.inbox.close();
  });

  it('a write outside a transaction returns after a flush; reads and statements inside a transaction do not flush', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-walsync-'));
    const c = connectSqlite(join(dir, 'siyu.db'));
    expect(c.raw.pragma('synchronous', { simple: true })).toBe(1); // group is the default
    await migrateToLatest(c.db, 'sqlite');
    const walSync = c.walSync!;
    const T = '2026-01-01T00:00:00.000Z';
    const flushes = walSync.flushes;
    await c.db.selectFrom('tag_groups').selectAll().execute();
    await sql`select count(*) from tag_groups`.execute(c.db);
    expect(walSync.flushes).toBe(flushes);
    await c.db.insertInto('tag_groups').values({ id: 'tg_1', workspace_id: 'ws_1', name: 'a', description: null, created_at: T }).execute();
    expect(walSync.flushes).toBe(flushes + 1);
    await sql`update tag_groups set name = 'b' where id = 'tg_1'`.execute(c.db);
    expect(walSync.flushes).toBe(flushes + 2);
    await c.db.transaction().execute(async (trx) => {
      await trx.insertInto('tag_groups').values({ id: 'tg_2', workspace_id: 'ws_1', name: 'c', description: null, created_at: T }).execute();
      await trx.deleteFrom('tag_groups').where('id', '=', 'tg_1').execute();
    });
    expect(walSync.flushes).toBe(flushes + 2);
    await c.db.destroy();
    c.inbox.close();
  });

  it('data written by transactions is there after reopening', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-walsync-'));
    const file = join(dir, 'siyu.db');
    const opened = await openStore({ sqliteFile: file });
    const T = '2026-01-01T00:00:00.000Z';
    await opened.store.createWorkspace({ id: 'ws_group', name: 'group', timeZone: 'Asia/Shanghai', createdAt: T, instanceAdmin: false, writeKeyHash: 'w', adminTokenHash: 'a', rules: DEFAULT_IDENTITY_RULES });
    await opened.close();
    const again = await openStore({ sqliteFile: file });
    expect((await again.store.getWorkspace('ws_group'))?.name).toBe('group');
    await again.close();
  });
});

describe('Checkpointer: the WAL is copied into the database file by a thread of its own', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fill = async (store: SqlStore, workspaceId: string) => {
    // ~2,000 pages: well under the 10,000 after which a commit would checkpoint by itself.
    const T = '2026-01-01T00:00:00.000Z';
    const blob = 'x'.repeat(3000);
    for (let batch = 0; batch < 10; batch++) {
      await store.transaction(async (tx) => {
        await tx.db
          .insertInto('tag_groups')
          .values(Array.from({ length: 250 }, (_, i) => ({ id: `tg_${batch}_${i}`, workspace_id: workspaceId, name: `g${batch}-${i}`, description: blob, created_at: T })))
          .execute();
      });
    }
  };

  async function grows(file: string, from: number, withinMs: number): Promise<boolean> {
    const until = Date.now() + withinMs;
    while (Date.now() < until) {
      if (statSync(file).size > from) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return statSync(file).size > from;
  }

  const withCheckpointer = async (minFrames: number) => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const file = join(dir, 'siyu.db');
    const c = connectSqlite(file);
    await migrateToLatest(c.db, 'sqlite');
    c.raw.pragma('wal_autocheckpoint = 0'); // as openStore does with sqliteCheckpoints: 'thread'
    const checkpointer = Checkpointer.start(file, { minFrames, intervalMs: 50, onFailure: () => undefined });
    await checkpointer.whenReady();
    const store = new SqlStore(c.db, 'sqlite', false, c.hot(), undefined, c.walSync);
    const before = statSync(file).size;
    await fill(store, 'ws_1');
    return {
      file,
      before,
      async close() {
        await checkpointer.stop();
        await c.db.destroy();
        c.inbox.close();
      },
    };
  };

  it('once minFrames wait in the WAL, the thread copies them into the database file', async () => {
    const t = await withCheckpointer(500);
    expect(await grows(t.file, t.before, 3000)).toBe(true);
    await t.close();
  });

  it('fewer than minFrames stay in the WAL (a page rewritten meanwhile is copied once)', async () => {
    const t = await withCheckpointer(1_000_000);
    expect(await grows(t.file, t.before, 600)).toBe(false);
    await t.close();
  });

  it('inline (default): the same writes stay in the WAL until a commit crosses the threshold', async () => {
    dir = mkdtempSync(join(tmpdir(), 'siyu-ckpt-'));
    const file = join(dir, 'siyu.db');
    const opened = await openStore({ sqliteFile: file });
    const before = statSync(file).size;
    await fill(opened.store, 'ws_1');
    expect(await grows(file, before, 600)).toBe(false);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(4_000_000);
    await opened.close();
  });

  it('closing waits for the thread even when nothing else keeps the process alive', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'open-close-checkpointer.ts')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('closed\n');
  });

  it('a thread that cannot run reports it, so the connection checkpoints by itself again', async () => {
    const reason = await new Promise<string>((resolve) => {
      Checkpointer.start(join(tmpdir(), 'siyu-no-such-dir', 'nested', 'siyu.db'), { intervalMs: 50, minFrames: 1, onFailure: resolve });
    });
    expect(reason).toMatch(/directory|open|exited/i);
  });
});
