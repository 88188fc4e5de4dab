import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';

/** A customer's first two months, as a shop's server would send them (yuan on the wire). */
const ORDER_HISTORY = [
  { type: 'page', anonymousId: 'a1', name: 'Home', timestamp: '2026-01-01T02:00:00Z', context: { campaign: { source: 'xiaohongshu', name: 'new-year' } } },
  { type: 'identify', anonymousId: 'a1', userId: 'u1', traits: { phone: '13800138000', city: '杭州' }, timestamp: '2026-01-01T02:05:00Z' },
  { type: 'track', userId: 'u1', event: 'Order Completed', timestamp: '2026-01-01T02:10:00Z', properties: { order_id: 'o1', total: 199.0, currency: 'CNY' } },
  { type: 'track', userId: 'u1', event: 'Order Completed', timestamp: '2026-01-15T12:00:00Z', properties: { order_id: 'o2', revenue: '88.80', currency: 'CNY' } },
  { type: 'track', userId: 'u1', event: 'Order Completed', timestamp: '2026-02-02T09:30:00Z', properties: { order_id: 'o3', products: [{ sku: 'tea', price: 19.9, quantity: 3 }, { sku: 'cup', price: 35, quantity: 1 }] } },
  { type: 'track', userId: 'u1', event: 'Order Refunded', timestamp: '2026-02-05T09:30:00Z', properties: { order_id: 'o2', total: 88.8 } },
  { type: 'screen', userId: 'u1', name: 'Orders', timestamp: '2026-02-06T09:30:00Z' },
];

const EXPECTED = {
  first_seen: '2026-01-01T02:00:00.000Z',
  last_seen: '2026-02-06T09:30:00.000Z',
  event_count: 6,
  event_counts: { 'Page Viewed': 1, 'Order Completed': 3, 'Order Refunded': 1, 'Screen Viewed': 1 },
  order_count: 3,
  total_spent: 19900 + 8880 + (5970 + 3500),
  avg_order_value: Math.round((19900 + 8880 + 9470) / 3),
  first_order_at: '2026-01-01T02:10:00.000Z',
  last_order_at: '2026-02-02T09:30:00.000Z',
  refund_count: 1,
  total_refunded: 8880,
  net_spent: 19900 + 9470,
};

describe.each(TEST_BACKENDS)('traits and computed traits on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  const send = (ws: WorkspaceRecord, kind: 'identify' | 'track' | 'batch', body: Record<string, unknown>) => t.services.ingest.ingest(ws, kind, body, 500);

  it.each([
    ['in order, one batch', ORDER_HISTORY, false],
    ['in reverse order, one batch', [...ORDER_HISTORY].reverse(), false],
    ['in reverse order, processed one by one', [...ORDER_HISTORY].reverse(), true],
  ])('an order history sent %s gives order count, spend, average and refunds in fen', async (_name, messages, oneByOne) => {
    const { workspace } = await t.workspace();
    if (oneByOne) {
      for (const m of messages) {
        await send(workspace, 'batch', { batch: [m] });
        await t.drain();
      }
    } else {
      await send(workspace, 'batch', { batch: messages });
      await t.drain();
    }
    const p = await t.services.profiles.lookup(workspace.id, 'phone', '13800138000');
    expect(p.computed).toEqual(EXPECTED);
    expect(p.traits).toEqual({ phone: '+8613800138000', city: '杭州' });
    expect(p.firstTouch).toMatchObject({ first_seen: '2026-01-01T02:00:00.000Z', first_source_channel: 'xiaohongshu', first_utm_campaign: 'new-year' });
    expect((await t.services.profiles.stats(workspace.id)).profiles).toBe(1);
  });

  it('an older message arriving late does not overwrite a newer trait', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', traits: { city: '上海', level: 'gold' }, timestamp: '2026-02-10T00:00:00Z' });
    await t.drain();
    await send(workspace, 'identify', { userId: 'u1', traits: { city: '北京', level: 'silver', gender: 'f' }, timestamp: '2026-01-10T00:00:00Z' });
    await t.drain();
    let p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.traits).toEqual({ city: '上海', level: 'gold', gender: 'f' });
    expect(p.traitTimes.city).toBe('2026-02-10T00:00:00.000Z');

    await send(workspace, 'identify', { userId: 'u1', traits: { city: '广州' }, timestamp: '2026-02-20T00:00:00Z' });
    await t.drain();
    p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.traits).toEqual({ city: '广州', level: 'gold', gender: 'f' });
    const found = await t.services.profiles.list(workspace.id, { limit: 10, traits: { city: '广州' } });
    expect(found.data.map((x) => x.id)).toEqual([p.id]);
    expect((await t.services.profiles.list(workspace.id, { limit: 10, traits: { city: '上海' } })).data).toEqual([]);
  });

  it('a trait set by a track call’s context.traits competes by timestamp with identify', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'track', { userId: 'u1', event: 'Address Updated', context: { traits: { city: '深圳' } }, timestamp: '2026-02-01T00:00:00Z' });
    await send(workspace, 'identify', { userId: 'u1', traits: { city: '上海' }, timestamp: '2026-01-01T00:00:00Z' });
    await t.drain();
    expect((await t.services.profiles.lookup(workspace.id, 'user_id', 'u1')).traits.city).toBe('深圳');
  });

  it('$set_once keeps the first signup channel', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', traits: { $set_once: { signup_channel: 'store' } }, timestamp: '2026-02-01T00:00:00Z' });
    await t.drain();
    await send(workspace, 'identify', { userId: 'u1', traits: { $set_once: { signup_channel: 'wecom' } }, timestamp: '2026-02-03T00:00:00Z' });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.firstTouch.signup_channel).toBe('store');
    expect(p.traits).not.toHaveProperty('$set_once');
  });

  it('merging two histories sums their orders', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'track', { anonymousId: 'guest', event: 'Order Completed', properties: { total: 10 }, timestamp: '2026-01-05T00:00:00Z' });
    await send(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 30 }, timestamp: '2026-01-02T00:00:00Z' });
    await t.drain();
    await send(workspace, 'identify', { userId: 'u1', anonymousId: 'guest', timestamp: '2026-01-06T00:00:00Z' });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'guest');
    expect(p.computed).toMatchObject({ order_count: 2, total_spent: 4000, avg_order_value: 2000, first_order_at: '2026-01-02T00:00:00.000Z', last_order_at: '2026-01-05T00:00:00.000Z' });
  });
});

describe.each(TEST_BACKENDS)('which profiles a batch changes the order statistics of, on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  it('are told to listeners (layers need only those): new profiles, orders and earlier first touches — not page views of known customers', async () => {
    const { workspace } = await t.workspace();
    const send = async (batch: unknown[]) => {
      await t.services.ingest.ingest(workspace, 'batch', { batch }, 500);
      const seen: { touched: string[]; statsChanged: string[]; changes: Map<string, { whole: boolean; events: string[]; traits: string[]; computed: string[] }> }[] = [];
      t.services.processor.onProfilesChanged((ws, touched, _merged, statsChanged, changes) => {
        if (ws !== workspace.id) return;
        const described = new Map([...(changes ?? [])].map(([id, c]) => [id, { whole: c.whole, events: [...c.events].sort(), traits: [...c.traits].sort(), computed: [...c.computed].sort() }]));
        seen.push({ touched: [...touched], statsChanged: [...(statsChanged ?? touched)], changes: described });
      });
      await t.drain();
      return seen;
    };
    const idOf = async (userId: string) => (await t.services.profiles.lookup(workspace.id, 'user_id', userId)).id;

    const first = await send([
      { type: 'identify', userId: 'a', timestamp: '2026-02-01T00:00:00Z' },
      { type: 'identify', userId: 'b', timestamp: '2026-02-01T00:00:00Z' },
      { type: 'identify', userId: 'c', timestamp: '2026-02-01T00:00:00Z' },
    ]);
    const [a, b, c] = [await idOf('a'), await idOf('b'), await idOf('c')];
    expect(new Set(first.flatMap((s) => s.statsChanged))).toEqual(new Set([a, b, c]));
    // New profiles: anything may have changed.
    expect(first.flatMap((s) => [...s.changes.values()]).map((ch) => ch.whole)).toEqual([true, true, true]);

    const second = await send([
      { type: 'page', userId: 'a', name: 'Home', timestamp: '2026-02-10T00:00:00Z' },
      { type: 'track', userId: 'b', event: 'Order Completed', properties: { order_id: 'o-b', total: 10 }, timestamp: '2026-02-10T00:00:00Z' },
      // Backdated: c was first seen earlier than we knew.
      { type: 'track', userId: 'c', event: 'Product Viewed', timestamp: '2026-01-05T00:00:00Z' },
    ]);
    expect(new Set(second.flatMap((s) => s.touched))).toEqual(new Set([a, b, c]));
    expect(new Set(second.flatMap((s) => s.statsChanged))).toEqual(new Set([b, c]));
    // What changed, per profile, for audiences to skip what no definition uses.
    const changes = new Map(second.flatMap((s) => [...s.changes]));
    expect(changes.get(a)).toEqual({ whole: false, events: ['Page Viewed'], traits: [], computed: ['event_count', 'event_counts', 'last_seen'] });
    expect(changes.get(b)).toMatchObject({ whole: false, events: ['Order Completed'], traits: [] });
    expect(changes.get(b)!.computed).toEqual(expect.arrayContaining(['order_count', 'total_spent', 'first_order_at', 'last_order_at']));
    expect(changes.get(c)).toEqual({ whole: false, events: ['Product Viewed'], traits: [], computed: ['event_count', 'event_counts', 'first_seen'] });
    const third = await send([{ type: 'identify', userId: 'a', traits: { city: '上海' }, timestamp: '2026-02-11T00:00:00Z' }]);
    expect(new Map(third.flatMap((s) => [...s.changes])).get(a)).toMatchObject({ whole: false, events: ['identify'], traits: ['city'] });
  });
});
