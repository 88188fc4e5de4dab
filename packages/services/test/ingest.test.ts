import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import { createServices, newId, silentLogger } from '@siyu/services';
import { createTestSiyu, rejection, testClock, type TestSiyu } from '@siyu/services/testing';
import { openStore } from '@siyu/storage';
import { tempDirs, TEST_BACKENDS } from '@siyu/storage/testing';

/** Temp directories of this file, removed when it is done. */
const tempDir = tempDirs();


describe.each(TEST_BACKENDS)('ingest on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  const bytes = (body: unknown) => Buffer.byteLength(JSON.stringify(body));
  const ingest = (ws: WorkspaceRecord, kind: Parameters<TestSiyu['services']['ingest']['ingest']>[1], body: Record<string, unknown>) =>
    t.services.ingest.ingest(ws, kind, body, bytes(body));

  async function profileCount(ws: WorkspaceRecord) {
    return (await t.services.profiles.stats(ws.id)).profiles;
  }

  describe('validation', () => {
    it('one bad message rejects the whole batch with every problem and its path; nothing is stored', async () => {
      const { workspace } = await t.workspace();
      const body = {
        batch: [
          { type: 'identify', userId: 'u1', traits: { phone: '13800138000' } },
          { type: 'track', userId: 'u1' },
          { type: 'identify', userId: 'u2', traits: { phone: '12' } },
          { type: 'track', anonymousId: 'a1', event: 'E', context: { externalIds: [{ type: 'shop_id', id: 'S1' }] } },
          { type: 'alias', userId: 'u3' },
        ],
      };
      const e = await rejection(ingest(workspace, 'batch', body));
      expect(e.code).toBe('INVALID_INPUT');
      const problems = (e.details?.problems as { path: string; message: string }[]).map((p) => p.path);
      expect(problems).toEqual(['batch[1].event', 'batch[2].traits.phone', 'batch[3].context.externalIds[0].type', 'batch[4].previousId']);
      expect(e.message).toMatch(/^batch\[1\]\.event: .*\(and 3 more problems\); nothing in this request was stored$/);
      await t.drain();
      expect(await profileCount(workspace)).toBe(0);
    });

    it('the phone problem quotes the value and how to fix it', async () => {
      const { workspace } = await t.workspace();
      const e = await rejection(ingest(workspace, 'identify', { userId: 'u1', traits: { phone: '1380013800' } }));
      expect(e.details?.problems).toEqual([{ path: 'traits.phone', message: expect.stringContaining('phone "1380013800" is not a valid phone number') }]);
    });

    it.each<[string, unknown, RegExp]>([
      ['a body that is not an object', ['x'], /must be a JSON object/],
      ['a batch that is not an array', { batch: {} }, /batch must be an array/],
      ['an empty batch', { batch: [] }, /batch is empty/],
    ])('%s is refused', async (_name, body, message) => {
      const { workspace } = await t.workspace();
      const e = await rejection(t.services.ingest.ingest(workspace, 'batch', body, 10));
      expect(e.code).toBe('INVALID_INPUT');
      expect(e.message).toMatch(message);
    });

    it('a message over 32 KB and a batch over 500 KB are refused with their limits', async () => {
      const { workspace } = await t.workspace();
      const big = { userId: 'u1', traits: { note: 'x'.repeat(33 * 1024) } };
      expect((await rejection(ingest(workspace, 'identify', big))).details).toMatchObject({ limit: 'message' });
      expect((await rejection(t.services.ingest.ingest(workspace, 'batch', { batch: [big] }, 501 * 1024))).details).toMatchObject({ limit: 'batch' });
      const e = await rejection(ingest(workspace, 'batch', { batch: [{ type: 'identify', userId: 'ok' }, { type: 'identify', ...big }] }));
      expect(e.details?.problems).toEqual([{ path: 'batch[1]', message: expect.stringMatching(/32 KB/) }]);
    });

    it('a numeric userId is stored as a string: a later string userId finds the same person', async () => {
      const { workspace } = await t.workspace();
      await ingest(workspace, 'identify', { userId: 10086, traits: { name: '李雷' } });
      await ingest(workspace, 'track', { userId: '10086', event: 'Signed In' });
      await t.drain();
      const p = await t.services.profiles.lookup(workspace.id, 'user_id', '10086');
      expect(p.traits.name).toBe('李雷');
      expect(p.computed.event_count).toBe(1);
      expect(await profileCount(workspace)).toBe(1);
    });

    it('batch-level context and sentAt apply to every message', async () => {
      const { workspace } = await t.workspace();
      // The device clock is 2 hours behind: it says 21:59 when it sends at 22:00 (server time is 00:00).
      await ingest(workspace, 'batch', {
        sentAt: '2026-02-28T22:00:00.000Z',
        context: { campaign: { source: 'wechat' } },
        batch: [{ type: 'track', userId: 'u1', event: 'Coupon Applied', messageId: 'c1', originalTimestamp: '2026-02-28T21:59:00.000Z' }],
      });
      await t.drain();
      const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
      expect(p.firstTouch.first_source_channel).toBe('wechat');
      const events = await t.services.profiles.events(workspace.id, p.id, { limit: 5 });
      expect(events.data[0]!.timestamp).toBe('2026-02-28T23:59:00.000Z');
    });
  });

  describe('messageId dedupe', () => {
    const batch = {
      batch: [
        { type: 'identify', messageId: 'm1', userId: 'u1', traits: { phone: '13800138000' } },
        { type: 'track', messageId: 'm2', userId: 'u1', event: 'Order Completed', properties: { total: 99 } },
        { type: 'track', messageId: 'm3', anonymousId: 'a1', event: 'Product Viewed', context: { traits: { phone: '13800138000' } } },
      ],
    };

    it('the same batch sent twice before and after processing is stored and counted once', async () => {
      const { workspace } = await t.workspace();
      expect(await ingest(workspace, 'batch', batch)).toEqual({ accepted: 3, duplicates: 0 });
      expect(await ingest(workspace, 'batch', batch)).toEqual({ accepted: 0, duplicates: 3 });
      await t.drain();
      expect(await ingest(workspace, 'batch', batch)).toEqual({ accepted: 0, duplicates: 3 });
      await t.drain();
      const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
      expect(p.computed).toMatchObject({ order_count: 1, total_spent: 9900, event_count: 2 });
      expect((await t.services.profiles.events(workspace.id, p.id, { limit: 10 })).data.map((e) => e.messageId).sort()).toEqual(['m1', 'm2', 'm3']);
      const stats = await t.services.profiles.stats(workspace.id);
      expect(stats).toMatchObject({ profiles: 1, events: 3, mergedProfiles: 0 });
    });

    it('a retry with some new messages stores only the new ones', async () => {
      const { workspace } = await t.workspace();
      await ingest(workspace, 'batch', batch);
      await t.drain();
      const retry = { batch: [...batch.batch, { type: 'track', messageId: 'm4', userId: 'u1', event: 'Order Completed', properties: { total: 1 } }] };
      expect(await ingest(workspace, 'batch', retry)).toEqual({ accepted: 1, duplicates: 3 });
      await t.drain();
      expect((await t.services.profiles.lookup(workspace.id, 'user_id', 'u1')).computed).toMatchObject({ order_count: 2, total_spent: 10000 });
    });

    it('a messageId repeated inside one request is stored once', async () => {
      const { workspace } = await t.workspace();
      const twice = { type: 'track', messageId: 'dup', userId: 'u1', event: 'Order Completed', properties: { total: 5 } };
      expect(await ingest(workspace, 'batch', { batch: [twice, twice] })).toEqual({ accepted: 1, duplicates: 1 });
      await t.drain();
      expect((await t.services.profiles.lookup(workspace.id, 'user_id', 'u1')).computed.order_count).toBe(1);
    });

    it('the same messageId in two workspaces is two messages', async () => {
      const one = (await t.workspace()).workspace;
      const two = (await t.workspace()).workspace;
      expect(await ingest(one, 'batch', batch)).toEqual({ accepted: 3, duplicates: 0 });
      expect(await ingest(two, 'batch', batch)).toEqual({ accepted: 3, duplicates: 0 });
      await t.drain();
      expect((await t.services.profiles.stats(one.id)).events).toBe(3);
      expect((await t.services.profiles.stats(two.id)).events).toBe(3);
    });
  });

  describe('workspace isolation', () => {
    it('the same userId in two workspaces is two people, and no lookup crosses workspaces', async () => {
      const one = (await t.workspace('one')).workspace;
      const two = (await t.workspace('two')).workspace;
      await ingest(one, 'identify', { userId: 'u1', traits: { city: '上海', phone: '13800138000' } });
      await ingest(two, 'identify', { userId: 'u1', traits: { city: '成都' } });
      await ingest(two, 'track', { anonymousId: 'a1', event: 'Order Completed', properties: { total: 1 }, context: { traits: { phone: '13800138000' } } });
      await t.drain();

      const p1 = await t.services.profiles.lookup(one.id, 'user_id', 'u1');
      const p2 = await t.services.profiles.lookup(two.id, 'user_id', 'u1');
      expect(p1.id).not.toBe(p2.id);
      expect(p1.traits.city).toBe('上海');
      expect(p2.traits.city).toBe('成都');
      // The phone in workspace two did not reach the person in workspace one.
      expect(p1.identities.map((i) => i.type).sort()).toEqual(['phone', 'user_id']);
      expect(p1.computed.order_count).toBe(0);
      expect((await t.services.profiles.lookup(two.id, 'phone', '13800138000')).id).not.toBe(p1.id);

      for (const call of [
        () => t.services.profiles.get(two.id, p1.id),
        () => t.services.profiles.events(two.id, p1.id, { limit: 10 }),
        () => t.services.profiles.export(two.id, p1.id, 'admin@two'),
        () => t.services.profiles.erase(two.id, p1.id, 'admin@two'),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }
      expect((await t.services.profiles.get(one.id, p1.id)).traits.city).toBe('上海');
      expect((await t.services.profiles.list(one.id, { limit: 10 })).data.map((p) => p.id)).toEqual([p1.id]);
      expect((await t.services.profiles.list(two.id, { limit: 10, traits: { city: '上海' } })).data).toEqual([]);
      expect((await t.services.profiles.stats(one.id)).events).toBe(1);
    });

    it('a merge in one workspace cannot be undone from another', async () => {
      const one = (await t.workspace()).workspace;
      const two = (await t.workspace()).workspace;
      await ingest(one, 'page', { anonymousId: 'a1' });
      await ingest(one, 'identify', { userId: 'u1' });
      await ingest(two, 'identify', { userId: 'u1' });
      await t.drain();
      await ingest(one, 'alias', { previousId: 'a1', userId: 'u1' });
      await t.drain();
      const p1 = await t.services.profiles.lookup(one.id, 'user_id', 'u1');
      const p2 = await t.services.profiles.lookup(two.id, 'user_id', 'u1');
      await expect(t.services.profiles.unmerge(two.id, p2.id, p1.merges[0]!.id, 'admin@two')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await t.services.profiles.get(one.id, p1.id)).merges[0]!.undoneAt).toBeNull();
    });

    it('a custom identifier type belongs to the workspace that added it', async () => {
      const one = (await t.workspace()).workspace;
      const two = (await t.workspace()).workspace;
      await t.services.workspaces.putIdentityType(one.id, { type: 'crm_id', priority: 95, maxPerProfile: 1 });
      const body = { userId: 'u1', context: { externalIds: [{ type: 'crm_id', id: 'C1' }] } };
      expect(await ingest(one, 'identify', body)).toEqual({ accepted: 1, duplicates: 0 });
      await expect(ingest(two, 'identify', body)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(t.services.profiles.lookup(two.id, 'crm_id', 'C1')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('conflicts are listed only in their own workspace', async () => {
      const one = (await t.workspace()).workspace;
      const two = (await t.workspace()).workspace;
      await ingest(one, 'identify', { userId: 'u1', traits: { member_no: 'M1' } });
      await ingest(one, 'identify', { userId: 'u1', traits: { member_no: 'M2' } });
      await t.drain();
      expect((await t.services.profiles.conflicts(one.id, { limit: 10 })).data).toHaveLength(1);
      expect((await t.services.profiles.conflicts(two.id, { limit: 10 })).data).toEqual([]);
    });
  });
});

describe('crash safety on a SQLite file', () => {
  it('messages accepted but not processed before the process died are processed after a restart', async () => {
    const file = join(tempDir('siyu-crash-'), 'siyu.db');
    const clock = testClock('2026-03-01T00:00:00.000Z');

    const first = await openStore({ sqliteFile: file });
    const before = createServices({ store: first.store, clock, newId, log: silentLogger });
    const { workspace } = await before.workspaces.create({ name: 'crash' });
    const body = {
      batch: [
        { type: 'identify', messageId: 'k1', userId: 'u1', traits: { phone: '13800138000', city: '上海' } },
        { type: 'track', messageId: 'k2', userId: 'u1', event: 'Order Completed', properties: { total: 42 } },
      ],
    };
    expect(await before.ingest.ingest(workspace, 'batch', body, 300)).toEqual({ accepted: 2, duplicates: 0 });
    expect((await before.profiles.stats(workspace.id)).profiles).toBe(0);
    // The process stops here: no processor ran, nothing is flushed or drained.
    await first.close();

    const second = await openStore({ sqliteFile: file });
    try {
      const after = createServices({ store: second.store, clock, newId, log: silentLogger });
      // A client retrying the request after the crash does not create duplicates.
      expect(await after.ingest.ingest(workspace, 'batch', body, 300)).toEqual({ accepted: 0, duplicates: 2 });
      let processed = 0;
      for (let r = await after.processor.processBatch(100); r.messages > 0; r = await after.processor.processBatch(100)) processed += r.messages;
      expect(processed).toBe(2);
      const p = await after.profiles.lookup(workspace.id, 'phone', '13800138000');
      expect(p.traits.city).toBe('上海');
      expect(p.computed).toMatchObject({ order_count: 1, total_spent: 4200 });
      expect(await second.store.inboxDepth()).toBe(0);
    } finally {
      await second.close();
    }
  });
  it('a message waiting twice in the SQLite inbox (appended by two processes) is stored and counted once', async () => {
    const file = join(tempDir('siyu-twice-'), 'siyu.db');
    const clock = testClock('2026-03-01T00:00:00.000Z');
    const a = await openStore({ sqliteFile: file });
    const b = await openStore({ sqliteFile: file });
    try {
      const server = createServices({ store: a.store, clock, newId, log: silentLogger });
      const importer = createServices({ store: b.store, clock, newId, log: silentLogger });
      const { workspace } = await server.workspaces.create({ name: 'twice' });
      // The importer has appended before, so it knows what was waiting then — not what the server appends next.
      expect(await importer.ingest.ingest(workspace, 'track', { messageId: 'other', userId: 'u9', event: 'Signed Up' }, 100)).toEqual({ accepted: 1, duplicates: 0 });
      const order = { type: 'track', messageId: 'o-1', userId: 'u1', event: 'Order Completed', properties: { total: 42 } };
      expect(await server.ingest.ingest(workspace, 'batch', { batch: [order] }, 100)).toEqual({ accepted: 1, duplicates: 0 });
      expect(await importer.ingest.ingest(workspace, 'batch', { batch: [order] }, 100)).toEqual({ accepted: 1, duplicates: 0 });
      expect(await a.store.inboxDepth()).toBe(3);
      // Each side still finds its own waiting copy.
      expect(await server.ingest.ingest(workspace, 'batch', { batch: [order] }, 100)).toEqual({ accepted: 0, duplicates: 1 });

      for (let r = await server.processor.processBatch(100); r.messages > 0; r = await server.processor.processBatch(100));
      expect(await a.store.inboxDepth()).toBe(0);
      const p = await server.profiles.lookup(workspace.id, 'user_id', 'u1');
      expect(p.computed).toMatchObject({ order_count: 1, total_spent: 4200 });
      const events = await server.profiles.events(workspace.id, p.id, { limit: 10 });
      expect(events.data.filter((e) => e.messageId === 'o-1')).toHaveLength(1);
      // Once stored, a retry is a duplicate on either side.
      expect(await importer.ingest.ingest(workspace, 'batch', { batch: [order] }, 100)).toEqual({ accepted: 0, duplicates: 1 });
    } finally {
      await b.close();
      await a.close();
    }
  });
});
