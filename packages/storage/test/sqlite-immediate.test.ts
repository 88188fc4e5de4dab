import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProfileState, type ProfileRow } from '@siyu/core';
import type { OpenedStore } from '../src/index.ts';
import { openTestStore } from '../src/testing.ts';

const T0 = '2026-02-01T00:00:00.000Z';

/**
 * Another process writing the same SQLite file (an import's processor beside the server's) must make a
 * transaction wait, never fail: a deferred transaction that had read first failed at its first write
 * with SQLITE_BUSY_SNAPSHOT once the other one had committed.
 */
describe('SQLite transactions beside another process', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openTestStore({ name: 'sqlite' });
  });
  afterAll(async () => opened.close());

  const profile = (workspaceId: string, id: string, traits: Record<string, unknown>): ProfileRow => ({ id, workspaceId, mergedInto: null, createdAt: T0, updatedAt: T0, ...emptyProfileState(), traits });

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
