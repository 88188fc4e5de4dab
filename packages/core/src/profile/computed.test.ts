import { describe, expect, it } from 'vitest';
import type { MessageType, NormalizedMessage } from '../messages/message.ts';
import { applyMessage, emptyProfileState, mergeProfileStates, orderValueFen, toFen, type ProfileState } from './computed.ts';

let seq = 0;
function m(type: MessageType, timestamp: string, fields: Partial<NormalizedMessage> = {}): NormalizedMessage {
  return {
    messageId: `m${++seq}`,
    type,
    userId: 'u1',
    anonymousId: null,
    previousId: null,
    groupId: null,
    event: null,
    traits: {},
    properties: {},
    context: {},
    externalIds: [],
    timestamp,
    originalTimestamp: null,
    sentAt: null,
    receivedAt: timestamp,
    ...fields,
  };
}
const identify = (ts: string, traits: Record<string, unknown>, context: Record<string, unknown> = {}) => m('identify', ts, { traits, context });
const track = (ts: string, event: string, properties: Record<string, unknown> = {}, context: Record<string, unknown> = {}) => m('track', ts, { event, properties, context });

/** Folds messages into a fresh state (each message copied: applyMessage must not depend on shared objects). */
function fold(messages: readonly NormalizedMessage[]): ProfileState {
  const state = emptyProfileState();
  for (const msg of messages) applyMessage(state, structuredClone(msg));
  return state;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('money in fen', () => {
  it.each<[unknown, number | null]>([
    [12.5, 1250],
    ['12.50', 1250],
    [19.99, 1999],
    [0.1, 10],
    [0, 0],
    [-5, -500],
    ['', null],
    ['abc', null],
    [null, null],
    [undefined, null],
    [Number.NaN, null],
  ])('toFen(%j) = %j', (value, expected) => {
    expect(toFen(value)).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, number]>([
    ['total', { total: 299.9, revenue: 250 }, 29990],
    ['revenue when there is no total', { revenue: '88.80' }, 8880],
    ['value when there is neither', { value: 10 }, 1000],
    ['products price × quantity', { products: [{ price: 19.99, quantity: 3 }, { price: 5, quantity: '2' }] }, 6997],
    ['a product without quantity counts once', { products: [{ price: 9.9 }] }, 990],
    ['malformed products are skipped', { products: [null, 'x', { price: 'free' }, { price: 1 }] }, 100],
    ['no amount at all', { order_id: 'o1' }, 0],
  ])('orderValueFen: %s', (_name, props, expected) => {
    expect(orderValueFen(props)).toBe(expected);
  });
});

describe('applyMessage: traits', () => {
  it('latest timestamp wins per trait, also when the older message arrives late', () => {
    const s = fold([
      identify('2026-01-02T00:00:00.000Z', { city: '上海', name: '李雷' }),
      identify('2026-01-01T00:00:00.000Z', { city: '北京', gender: 'm' }),
    ]);
    expect(s.traits).toEqual({ city: '上海', name: '李雷', gender: 'm' });
    expect(s.traitTimes.city).toBe('2026-01-02T00:00:00.000Z');
    expect(s.traitTimes.gender).toBe('2026-01-01T00:00:00.000Z');
  });

  it('a newer message overwrites, including with null', () => {
    const s = fold([identify('2026-01-01T00:00:00.000Z', { city: '上海' }), identify('2026-01-03T00:00:00.000Z', { city: null })]);
    expect(s.traits.city).toBeNull();
  });

  it('$set_once keeps the first (earliest) value and is not stored as a trait', () => {
    const s = fold([
      identify('2026-01-05T00:00:00.000Z', { $set_once: { signup_channel: 'douyin' } }),
      identify('2026-01-02T00:00:00.000Z', { $set_once: { signup_channel: 'wechat' } }),
      identify('2026-01-09T00:00:00.000Z', { $set_once: { signup_channel: 'offline' } }),
    ]);
    expect(s.firstTouch.signup_channel).toBe('wechat');
    expect(s.traits).not.toHaveProperty('$set_once');
    expect(s.traits).not.toHaveProperty('signup_channel');
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, string]>([
    ['context.campaign.source', {}, { campaign: { source: 'xiaohongshu', name: 'spring' } }, 'xiaohongshu'],
    ['traits.source_channel first', { source_channel: 'store' }, { campaign: { source: 'baidu' } }, 'store'],
    ['context.source_channel', {}, { source_channel: 'wecom' }, 'wecom'],
  ])('first_source_channel from %s', (_name, traits, context, expected) => {
    const s = fold([m('identify', '2026-01-01T00:00:00.000Z', { traits, context })]);
    expect(s.firstTouch.first_source_channel).toBe(expected);
  });

  it('first-touch is the earliest message’s, also when it arrives last', () => {
    const s = fold([
      track('2026-02-01T00:00:00.000Z', 'Page Viewed', {}, { campaign: { source: 'baidu', name: 'b' }, page: { referrer: 'https://baidu.com' } }),
      track('2026-01-01T00:00:00.000Z', 'Page Viewed', {}, { campaign: { source: 'douyin', name: 'd' }, page: { referrer: 'https://douyin.com' } }),
    ]);
    expect(s.firstTouch).toMatchObject({
      first_seen: '2026-01-01T00:00:00.000Z',
      first_source_channel: 'douyin',
      first_utm_source: 'douyin',
      first_utm_campaign: 'd',
      first_referrer: 'https://douyin.com',
    });
  });
});

describe('applyMessage: computed traits', () => {
  it('a realistic order history, in fen', () => {
    const s = fold([
      m('page', '2026-01-01T09:00:00.000Z', { event: 'Home' }),
      track('2026-01-02T10:00:00.000Z', 'Product Viewed', { product_id: 'p1' }),
      track('2026-01-02T10:05:00.000Z', 'Order Completed', { order_id: 'o1', total: 199 }),
      track('2026-01-10T20:00:00.000Z', 'Order Completed', { order_id: 'o2', revenue: '58.50' }),
      track('2026-02-01T08:00:00.000Z', 'Order Completed', { order_id: 'o3', products: [{ price: 12.5, quantity: 2 }] }),
      track('2026-02-03T08:00:00.000Z', 'Order Refunded', { order_id: 'o2', total: 58.5 }),
      m('screen', '2026-02-04T08:00:00.000Z', { event: 'Cart' }),
      identify('2026-02-05T08:00:00.000Z', { city: '杭州' }),
    ]);
    expect(s.computed).toEqual({
      first_seen: '2026-01-01T09:00:00.000Z',
      last_seen: '2026-02-05T08:00:00.000Z',
      event_count: 7,
      event_counts: { 'Page Viewed': 1, 'Product Viewed': 1, 'Order Completed': 3, 'Order Refunded': 1, 'Screen Viewed': 1 },
      order_count: 3,
      total_spent: 19900 + 5850 + 2500,
      avg_order_value: Math.round((19900 + 5850 + 2500) / 3),
      first_order_at: '2026-01-02T10:05:00.000Z',
      last_order_at: '2026-02-01T08:00:00.000Z',
      refund_count: 1,
      total_refunded: 5850,
      net_spent: 19900 + 2500,
    });
  });

  it('a refund given as a negative amount still reduces net spend', () => {
    const s = fold([track('2026-01-01T00:00:00.000Z', 'Order Completed', { total: 100 }), track('2026-01-02T00:00:00.000Z', 'Order Refunded', { total: -30 })]);
    expect(s.computed).toMatchObject({ total_refunded: 3000, net_spent: 7000 });
  });

  it('identify, alias and group calls are not counted as events but move last_seen', () => {
    const s = fold([identify('2026-01-01T00:00:00.000Z', {}), m('alias', '2026-01-03T00:00:00.000Z', { previousId: 'a1' }), m('group', '2026-01-02T00:00:00.000Z', { groupId: 'g1' })]);
    expect(s.computed).toMatchObject({ event_count: 0, event_counts: {}, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-03T00:00:00.000Z' });
  });
});

const HISTORY: NormalizedMessage[] = [
  identify('2026-01-03T00:00:00.000Z', { city: '上海', level: 'silver' }, { campaign: { source: 'baidu' } }),
  track('2026-01-01T00:00:00.000Z', 'Order Completed', { total: 10 }, { campaign: { source: 'douyin' } }),
  track('2026-01-05T00:00:00.000Z', 'Order Completed', { total: 25.5 }),
  identify('2026-01-02T00:00:00.000Z', { city: '北京', gender: 'f', $set_once: { signup_channel: 'wechat' } }),
  track('2026-01-06T00:00:00.000Z', 'Order Refunded', { total: 10 }),
  identify('2026-01-07T00:00:00.000Z', { level: 'gold', $set_once: { signup_channel: 'store' } }),
];

describe('commutativity', () => {
  it('folding the same messages in any order gives the same profile', () => {
    const expected = fold(HISTORY);
    expect(expected.traits).toEqual({ city: '上海', level: 'gold', gender: 'f' });
    expect(expected.computed).toMatchObject({ order_count: 2, total_spent: 3550, net_spent: 2550, first_order_at: '2026-01-01T00:00:00.000Z' });
    expect(expected.firstTouch).toMatchObject({ first_source_channel: 'douyin', signup_channel: 'wechat' });
    for (const order of permutations(HISTORY)) expect(fold(order)).toEqual(expected);
  });

  it.each([
    ['first three / last three', 3],
    ['first one / the rest', 1],
    ['first five / last one', 5],
  ])('merging two states equals folding all their messages (%s), whichever side wins', (_name, cut) => {
    const all = fold(HISTORY);
    const a = HISTORY.slice(0, cut);
    const b = HISTORY.slice(cut);
    expect(mergeProfileStates(fold(a), fold(b))).toEqual(all);
    expect(mergeProfileStates(fold(b), fold(a))).toEqual(all);
  });

  it('merging with an empty profile changes nothing', () => {
    expect(mergeProfileStates(fold(HISTORY), emptyProfileState())).toEqual(fold(HISTORY));
    expect(mergeProfileStates(emptyProfileState(), fold(HISTORY))).toEqual(fold(HISTORY));
  });

  // Regression guard for a fixed bug: mergeProfileStates (computed.ts, the `firstTouch` block after the traits loop) takes all
  // first-touch keys wholesale from whichever profile was first seen earlier, instead of comparing each
  // key's own `<key>_at` time. Here the visitor was first seen without any campaign (Jan 1), the other
  // profile arrived through WeChat on Jan 5, and the visitor clicked a Douyin ad on Jan 10: folding all
  // messages gives first_source_channel "wechat", but the merge keeps "douyin".
  it('merging keeps each first-touch trait from the earliest message that set it', () => {
    const visitor = [track('2026-01-01T00:00:00.000Z', 'Page Viewed'), track('2026-01-10T00:00:00.000Z', 'Page Viewed', {}, { campaign: { source: 'douyin' } })];
    const customer = [identify('2026-01-05T00:00:00.000Z', { phone: '+8613800138000' }, { campaign: { source: 'wechat' } })];
    const folded = fold([...visitor, ...customer]);
    expect(folded.firstTouch.first_source_channel).toBe('wechat');
    expect(mergeProfileStates(fold(customer), fold(visitor)).firstTouch.first_source_channel).toBe('wechat');
    expect(mergeProfileStates(fold(visitor), fold(customer)).firstTouch.first_source_channel).toBe('wechat');
  });
});
