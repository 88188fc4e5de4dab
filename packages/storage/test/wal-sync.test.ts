import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_IDENTITY_RULES, type NormalizedMessage } from '@siyu/core';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { migrateToLatest } from '../src/migrations.ts';
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
