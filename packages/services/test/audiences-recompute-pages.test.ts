import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConditionNode, WorkspaceRecord } from '@siyu/core';
import { AudienceStore } from '@siyu/storage';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';

const DAY = 86_400_000;

/**
 * A bulk recompute over many pages: on PostgreSQL each page is read before its transaction (a screened one
 * completed with its events) and its writes overlap the reading of the next pages (one transaction in flight).
 * Pages of two profiles make every step cross page boundaries; each member enters once, with one history row
 * and one event, a person gone before the write gets nothing, and a page that fails fails the recompute without
 * leaving a write running.
 */

/** The user id of the i-th person `populate` creates. */
const user = (i: number): string => `p${String(i).padStart(2, '0')}`;
describe.each(TEST_BACKENDS)('recompute across pages on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend, { audiences: { pageSize: 2 } });
    t.clock.set('2026-05-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());
  afterEach(() => vi.restoreAllMocks());

  async function settle(): Promise<void> {
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
  }

  async function memberUsers(wsId: string, segmentId: string): Promise<string[]> {
    const page = await t.services.segments.members(wsId, segmentId, { limit: 500 });
    return page.data.map((p) => p.identities.find((i) => i.type === 'user_id')?.value ?? p.id).sort();
  }

  /** 24 people: city, VIP tag and an order 5 or 45 days ago vary, so trait, tag and window each decide someone. */
  async function populate(ws: WorkspaceRecord): Promise<string[]> {
    await t.services.tags.create(ws.id, { name: 'VIP' });
    const expected: string[] = [];
    const cities = ['上海', '杭州', '北京'];
    for (let i = 0; i < 24; i++) {
      const city = cities[i % 3]!;
      const recent = i % 4 !== 3;
      await t.services.ingest.ingest(ws, 'identify', { userId: user(i), traits: { city } }, 10);
      await t.services.ingest.ingest(ws, 'track', { userId: user(i), event: 'Order Completed', properties: { total: 10 }, timestamp: new Date(t.clock().getTime() - (recent ? 5 : 45) * DAY).toISOString() }, 10);
      if (i % 5 !== 4) expected.push(user(i));
    }
    await settle();
    for (let i = 0; i < 24; i++) {
      if (i % 5 === 4) continue;
      await t.services.tags.applyToProfile(ws.id, (await t.services.profiles.lookup(ws.id, 'user_id', user(i))).id, { tagName: 'VIP' }, 'test');
    }
    await settle();
    // Members: VIP, in 上海 or 杭州, ordered in the last 30 days.
    return expected.filter((u) => {
      const i = Number(u.slice(1));
      return i % 3 !== 2 && i % 4 !== 3;
    });
  }

  const mixed: ConditionNode = {
    all: [
      { trait: 'city', op: 'in', value: ['上海', '杭州'] },
      { tag: 'VIP', has: true },
      { event: 'Order Completed', measure: 'count', op: 'gte', value: 1, window: { last_days: 30 } },
    ],
  };

  it('each member enters once, with one history row and one Segment Entered event; a redefinition exits the rest', async () => {
    const { workspace: ws } = await t.workspace('pages');
    const expected = await populate(ws);
    expect(expected.length).toBeGreaterThan(6);
    const s = await t.services.segments.create(ws.id, { name: '沪杭VIP近30天下单', definition: { version: 1, condition: mixed } });
    expect(s.count).toBe(expected.length);
    expect(await memberUsers(ws.id, s.id)).toEqual(expected);
    const history = await t.services.segments.history(ws.id, s.id, { limit: 500 });
    expect(history.data.map((h) => h.action)).toEqual(expected.map(() => 'entered'));
    expect(new Set(history.data.map((h) => h.profileId)).size).toBe(expected.length);
    const entered = await t.services.deps.store.db.selectFrom('events').select('profile_id').where('workspace_id', '=', ws.id).where('event', '=', 'Segment Entered').execute();
    expect(entered.length).toBe(expected.length);

    // Narrowed to 上海: the 杭州 members leave, page by page.
    const shanghai = expected.filter((u) => Number(u.slice(1)) % 3 === 0);
    const updated = await t.services.segments.update(ws.id, s.id, { definition: { version: 1, condition: { all: [{ trait: 'city', op: 'eq', value: '上海' }, ...(mixed as { all: ConditionNode[] }).all.slice(1)] } } });
    expect(updated.count).toBe(shanghai.length);
    expect(await memberUsers(ws.id, s.id)).toEqual(shanghai);
    const exits = (await t.services.segments.history(ws.id, s.id, { limit: 500 })).data.filter((h) => h.action === 'exited');
    expect(exits.length).toBe(expected.length - shanghai.length);
  });

  it('a condition with no trait (pages read whole, not screened) enters each member once too', async () => {
    const { workspace: ws } = await t.workspace('pages whole');
    await populate(ws);
    const recent = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 4 !== 3).map(user);
    const s = await t.services.segments.create(ws.id, { name: '近30天下单', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    expect(s.count).toBe(recent.length);
    expect(await memberUsers(ws.id, s.id)).toEqual(recent);
    const history = await t.services.segments.history(ws.id, s.id, { limit: 500 });
    expect(history.data.map((h) => h.action)).toEqual(recent.map(() => 'entered'));
    const entered = await t.services.deps.store.db.selectFrom('events').select('profile_id').where('workspace_id', '=', ws.id).where('event', '=', 'Segment Entered').execute();
    expect(entered.length).toBe(recent.length);
  });

  it('a person erased while their page is read gets no membership and no schedule', async () => {
    const { workspace: ws } = await t.workspace('pages erased');
    await populate(ws);
    const victim = (await t.services.profiles.lookup(ws.id, 'user_id', 'p00')).id;
    // Right after the first page with events is read — outside its transaction on PostgreSQL, inside it on SQLite
    // (where the erasure then waits its turn and the page is written first) — p00 is erased.
    const original = AudienceStore.prototype.evaluationPage;
    let erasing: Promise<unknown> | null = null;
    vi.spyOn(AudienceStore.prototype, 'evaluationPage').mockImplementation(async function (this: AudienceStore, ...args) {
      const rows = await original.apply(this, args);
      if (!erasing && args[2].events && rows.some((r) => r.id === victim)) {
        erasing = t.services.profiles.erase(ws.id, victim, 'test');
        if (!this.sql.isTransaction) await erasing;
      }
      return rows;
    });
    const s = await t.services.segments.create(ws.id, { name: '近30天下单', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    await erasing;
    vi.restoreAllMocks();
    await settle();
    expect(erasing).not.toBeNull();
    const recent = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 4 !== 3 && i !== 0).map(user);
    expect(await memberUsers(ws.id, s.id)).toEqual(recent);
    const db = t.services.deps.store.db;
    expect(await db.selectFrom('reevaluations').select('profile_id').where('profile_id', '=', victim).execute()).toEqual([]);
    expect(await db.selectFrom('segment_members').select('profile_id').where('profile_id', '=', victim).execute()).toEqual([]);
  });

  it('a page whose write fails fails the recompute, and the engine goes on afterwards', async () => {
    const { workspace: ws } = await t.workspace('pages failing');
    const expected = await populate(ws);
    const original = AudienceStore.prototype.insertSegmentMembers;
    let calls = 0;
    vi.spyOn(AudienceStore.prototype, 'insertSegmentMembers').mockImplementation(function (this: AudienceStore, ...args) {
      if (++calls === 2) return Promise.reject(new Error('disk full (injected)'));
      return original.apply(this, args);
    });
    await expect(t.services.segments.create(ws.id, { name: 'fails', definition: { version: 1, condition: mixed } })).rejects.toThrow('disk full (injected)');
    vi.restoreAllMocks();
    // Nothing is left running: the engine's next recompute takes its turn and is complete.
    const again = await t.services.segments.create(ws.id, { name: 'again', definition: { version: 1, condition: mixed } });
    expect(await memberUsers(ws.id, again.id)).toEqual(expected);
  });
});
