import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProfileState, type ProcessorChanges, type ProfileRow } from '@siyu/core';
import type { OpenedStore } from '../src/index.ts';
import { openTestStore } from '../src/testing.ts';

const T0 = '2026-02-01T00:00:00.000Z';

/**
 * SQLite transactions: the processor path updates the profiles it read in the transaction by rowid, and a
 * transaction beside another process's writes waits for them rather than failing.
 */
describe('SQLite transactions', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openTestStore({ name: 'sqlite' });
  });
  afterAll(async () => opened.close());

  function profile(workspaceId: string, id: string, traits: Record<string, unknown>): ProfileRow {
    return { id, workspaceId, mergedInto: null, createdAt: T0, updatedAt: T0, ...emptyProfileState(), traits };
  }
  const changes = (profiles: ProfileRow[]): ProcessorChanges => ({ consumedSeqs: [], profiles, identities: [], events: [], merges: [], conflicts: [] });
  const traitsOf = async (id: string) => (await opened.store.profilesByIds([id]))[0]?.traits;

  it('writes a profile read in the transaction, and new ones, as the upsert did', async () => {
    const ws = `ws_${randomUUID()}`;
    const [a, b] = [`prof_${randomUUID()}`, `prof_${randomUUID()}`];
    await opened.store.upsertProfiles([profile(ws, a, { v: 1 })]);
    await opened.store.transaction(async (tx) => {
      const [loaded] = await tx.profilesByIds([a]);
      await tx.applyChanges(changes([{ ...loaded!, traits: { v: 2 }, updatedAt: '2026-02-02T00:00:00.000Z' }, profile(ws, b, { v: 1 })]));
    });
    expect(await traitsOf(a)).toEqual({ v: 2 });
    expect(await traitsOf(b)).toEqual({ v: 1 });
    const [stored] = await opened.store.profilesByIds([a]);
    expect(stored!.updatedAt).toBe('2026-02-02T00:00:00.000Z');
  });

  it('a rowid read before the profile was erased and its rowid reused never writes the other profile', async () => {
    const ws = `ws_${randomUUID()}`;
    const [a, b] = [`prof_${randomUUID()}`, `prof_${randomUUID()}`];
    await opened.store.upsertProfiles([profile(ws, a, { who: 'a' })]);
    const rowOf = async (id: string, db = opened.store.db) => (await db.selectFrom('profiles').select(({ ref }) => ref('rowid' as never).as('r')).where('id', '=', id).executeTakeFirst())?.r;
    const rowA = await rowOf(a);
    await opened.store.transaction(async (tx) => {
      const [loaded] = await tx.profilesByIds([a]);
      // Meanwhile (here: in the same transaction) a is erased and b takes its rowid (the highest one, reused).
      await tx.db.deleteFrom('profiles').where('id', '=', a).execute();
      await tx.db
        .insertInto('profiles')
        .values({ id: b, workspace_id: ws, traits: JSON.stringify({ who: 'b' }), trait_times: '{}', first_touch: '{}', computed: '{}', merged_into: null, first_seen: null, last_seen: null, created_at: T0, updated_at: T0 } as never)
        .execute();
      expect(await rowOf(b, tx.db)).toBe(rowA);
      await tx.applyChanges(changes([{ ...loaded!, traits: { who: 'a again' } }]));
    });
    expect(await traitsOf(b)).toEqual({ who: 'b' });
    expect(await traitsOf(a)).toEqual({ who: 'a again' });
  });

  // Another process writing the same SQLite file (an import's processor beside the server's) must make a
  // transaction wait, never fail: a deferred transaction that had read first failed at its first write
  // with SQLITE_BUSY_SNAPSHOT once the other one had committed.
  it('a transaction that read first is not failed by another connection committing before its first write', async () => {
    const ws = `ws_${randomUUID()}`;
    const [a, b] = [`prof_${randomUUID()}`, `prof_${randomUUID()}`];
    await opened.store.upsertProfiles([profile(ws, a, { v: 0 }), profile(ws, b, { v: 0 })]);
    // The other writer, on a connection of its own in another thread (its busy wait must not block this one).
    const other = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const Database = require(workerData.driver);
       const db = new Database(workerData.file);
       db.pragma('busy_timeout = 10000');
       parentPort.on('message', () => {
         try {
           db.prepare('update profiles set traits = ? where id = ?').run(JSON.stringify({ by: 'other' }), workerData.b);
           parentPort.postMessage('committed');
         } catch (e) {
           parentPort.postMessage('failed: ' + e.code);
         }
         db.close();
       });`,
      { eval: true, workerData: { file: opened.location, b, driver: createRequire(import.meta.url).resolve('better-sqlite3') } },
    );
    try {
      const otherDone = new Promise<string>((resolve) => other.once('message', resolve));
      await opened.store.transaction(async (tx) => {
        await tx.profilesByIds([a]);
        other.postMessage('go');
        // The other connection tries to commit while this transaction has read and not yet written.
        await new Promise((r) => setTimeout(r, 300));
        await tx.upsertProfiles([profile(ws, a, { v: 1 })]);
      });
      expect(await otherDone).toBe('committed');
      const rows = new Map((await opened.store.profilesByIds([a, b])).map((p) => [p.id, p.traits]));
      expect(rows.get(a)).toEqual({ v: 1 });
      expect(rows.get(b)).toEqual({ by: 'other' });
    } finally {
      await other.terminate();
    }
  });
});
