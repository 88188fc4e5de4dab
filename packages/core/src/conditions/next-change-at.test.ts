import { describe, expect, test } from 'vitest';
import type { ConditionNode } from './condition-schema.ts';
import { evaluateCondition } from './evaluate-condition.ts';
import type { EvaluationContext, EvaluationEvent } from './evaluate-condition.ts';
import { nextChangeAt } from './next-change-at.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2024-06-15T04:00:00Z'); // 12:00 in Shanghai
const iso = (ms: number): string => new Date(ms).toISOString();

function ev(event: string, ms: number, properties: Record<string, unknown> = {}): EvaluationEvent {
  return { event, type: 'track', timestamp: iso(ms), properties };
}

function ctx(events: EvaluationEvent[], now = NOW, traits: Record<string, unknown> = {}, timeZone = 'Asia/Shanghai'): EvaluationContext {
  return {
    now: new Date(now),
    timeZone,
    profile: { id: 'prof_1', traits, computed: {}, tags: new Set(['vip']), segments: new Set() },
    events,
  };
}

const at = (c: EvaluationContext, ms: number): EvaluationContext => ({ ...c, now: new Date(ms) });

describe('window expiry on a virtual clock', () => {
  const bought = NOW - 29 * DAY;
  const node: ConditionNode = { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } };
  const c = ctx([ev('Order Completed', bought)]);

  test('bought 29 days ago matches "last 30 days"; two days later it does not', () => {
    expect(evaluateCondition(node, c)).toBe(true);
    expect(evaluateCondition(node, at(c, NOW + 2 * DAY))).toBe(false);
  });

  test('nextChangeAt is exactly 30×24h after the purchase', () => {
    const next = nextChangeAt(node, c);
    expect(next?.toISOString()).toBe(iso(bought + 30 * DAY));
    expect(evaluateCondition(node, at(c, bought + 30 * DAY - 1))).toBe(true);
    expect(evaluateCondition(node, at(c, bought + 30 * DAY))).toBe(false);
  });

  test('after expiry nothing changes any more', () => {
    expect(nextChangeAt(node, at(c, NOW + 2 * DAY))).toBeNull();
  });
});

describe('nextChangeAt', () => {
  const o1 = NOW - 25 * DAY;
  const o2 = NOW - 10 * DAY;
  const twoOrders = [ev('Order Completed', o1), ev('Order Completed', o2)];
  const lastDays = (op: 'gte' | 'eq', value: number, days = 30): ConditionNode => ({ event: 'Order Completed', op, value, window: { last_days: days } });

  test.each([
    { name: 'count ≥ 2 changes when the older order leaves', node: lastDays('gte', 2), expected: o1 + 30 * DAY },
    { name: 'count ≥ 1 skips the first expiry and changes when the newer leaves', node: lastDays('gte', 1), expected: o2 + 30 * DAY },
    { name: '"did not do" becomes true when the last order leaves', node: lastDays('eq', 0), expected: o2 + 30 * DAY },
  ])('$name', ({ node, expected }) => {
    const c = ctx(twoOrders);
    const next = nextChangeAt(node, c);
    expect(next?.getTime()).toBe(expected);
    expect(evaluateCondition(node, at(c, expected - 1))).toBe(evaluateCondition(node, c));
    expect(evaluateCondition(node, at(c, expected))).not.toBe(evaluateCondition(node, c));
  });

  test('a combination changes only when its result does', () => {
    // any(count ≥ 2 in 30 days → false at NOW+5d, count ≥ 1 in 20 days → false at NOW+10d)
    const node: ConditionNode = { any: [lastDays('gte', 2), lastDays('gte', 1, 20)] };
    const c = ctx(twoOrders);
    expect(nextChangeAt(node, c)?.getTime()).toBe(o2 + 20 * DAY);
  });

  test('an event timestamped in the future counts from its timestamp', () => {
    const later = NOW + 3 * HOUR;
    const node: ConditionNode = { event: 'Order Completed', op: 'gte', value: 1 };
    expect(nextChangeAt(node, ctx([ev('Order Completed', later)]))?.getTime()).toBe(later);
  });

  test('a fixed between-window changes only as future events inside it arrive', () => {
    const inside = NOW + 2 * DAY;
    const outside = NOW + 1 * DAY;
    const node: ConditionNode = { event: 'Order Completed', op: 'gte', value: 1, window: { between: [iso(NOW + 36 * HOUR), iso(NOW + 10 * DAY)] } };
    expect(nextChangeAt(node, ctx([ev('Order Completed', outside), ev('Order Completed', inside)]))?.getTime()).toBe(inside);
  });

  test('within_last on a trait date changes when the date crosses the boundary', () => {
    const signup = NOW - 5 * DAY;
    const node: ConditionNode = { trait: 'signup_at', op: 'within_last', value: { days: 7 } };
    expect(nextChangeAt(node, ctx([], NOW, { signup_at: iso(signup) }))?.getTime()).toBe(signup + 7 * DAY);
    const node2: ConditionNode = { trait: 'signup_at', op: 'not_within_last', value: { days: 7 } };
    expect(nextChangeAt(node2, ctx([], NOW, { signup_at: iso(signup) }))?.getTime()).toBe(signup + 7 * DAY);
  });

  test('within_last on a date-only trait uses local midnight', () => {
    // 2024-06-10 starts at 2024-06-09T16:00Z in Shanghai; 7 days later is 2024-06-16T16:00Z.
    const node: ConditionNode = { trait: 'signup_day', op: 'within_last', value: { days: 7 } };
    expect(nextChangeAt(node, ctx([], NOW, { signup_day: '2024-06-10' }))?.toISOString()).toBe('2024-06-16T16:00:00.000Z');
    expect(nextChangeAt(node, ctx([], NOW, { signup_day: '2024-06-10' }, 'UTC'))?.toISOString()).toBe('2024-06-17T00:00:00.000Z');
  });

  test.each([
    // Birthday June 20; now June 15 12:00 Shanghai (5 days away).
    { name: 'enters a 3-day range at local midnight of June 17 (Shanghai)', days: 3, zone: 'Asia/Shanghai', expected: '2024-06-16T16:00:00.000Z' },
    { name: 'enters a 3-day range at midnight of June 17 (UTC)', days: 3, zone: 'UTC', expected: '2024-06-17T00:00:00.000Z' },
    { name: 'leaves a 7-day range at local midnight after the birthday', days: 7, zone: 'Asia/Shanghai', expected: '2024-06-20T16:00:00.000Z' },
    { name: 'a 366-day range always matches', days: 366, zone: 'Asia/Shanghai', expected: null },
  ])('anniversary: $name', ({ days, zone, expected }) => {
    const node: ConditionNode = { trait: 'birthday', op: 'anniversary_within_next', value: { days } };
    expect(nextChangeAt(node, ctx([], NOW, { birthday: '1990-06-20' }, zone))?.toISOString() ?? null).toBe(expected);
  });

  test('anniversary across the year end', () => {
    // Dec 30 12:00 Shanghai, birthday Jan 2, within 1 day: enters at Jan 1 00:00 Shanghai = Dec 31 16:00Z.
    const node: ConditionNode = { trait: 'birthday', op: 'anniversary_within_next', value: { days: 1 } };
    expect(nextChangeAt(node, ctx([], Date.parse('2024-12-30T04:00:00Z'), { birthday: '1985-01-02' }))?.toISOString()).toBe('2024-12-31T16:00:00.000Z');
  });

  test('a sequence in a rolling window changes when its first step leaves', () => {
    const viewed = NOW - 6 * DAY;
    const bought = NOW - 5 * DAY;
    const node: ConditionNode = { sequence: ['Product Viewed', 'Order Completed'], within_days: 2, window: { last_days: 7 } };
    const c = ctx([ev('Product Viewed', viewed), ev('Order Completed', bought)]);
    expect(evaluateCondition(node, c)).toBe(true);
    expect(nextChangeAt(node, c)?.getTime()).toBe(viewed + 7 * DAY);
  });

  test('a time-dependent property filter is a boundary too', () => {
    const delivered = NOW - 2 * DAY;
    const node: ConditionNode = { event: 'Order Shipped', op: 'gte', value: 1, where: [{ property: 'delivered_at', op: 'within_last', value: { days: 3 } }] };
    expect(nextChangeAt(node, ctx([ev('Order Shipped', NOW - 4 * DAY, { delivered_at: iso(delivered) })]))?.getTime()).toBe(delivered + 3 * DAY);
  });

  test.each<{ name: string; node: ConditionNode }>([
    { name: 'a plain trait comparison', node: { trait: 'city', op: 'eq', value: '上海' } },
    { name: 'a tag', node: { tag: 'vip', has: true } },
    { name: 'an "ever" count with no future events', node: { event: 'Order Completed', op: 'gte', value: 1 } },
    { name: 'a window with no events', node: { event: 'Order Refunded', op: 'eq', value: 0, window: { last_days: 30 } } },
  ])('never changes without new data: $name', ({ node }) => {
    expect(nextChangeAt(node, ctx(twoOrders, NOW, { city: '上海' }))).toBeNull();
  });
});

/** Deterministic pseudo-random numbers for generated scenarios (tests only). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('nextChangeAt agrees with stepping the clock hour by hour', () => {
  const rand = lcg(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const names = ['Product Viewed', 'Order Completed'] as const;
  const scenarios = Array.from({ length: 80 }, (_, i) => {
    // Whole-hour timestamps and whole-day windows put every change on the hourly grid.
    const events = Array.from({ length: 2 + Math.floor(rand() * 5) }, () =>
      ev(pick(names), NOW + Math.round((rand() * 23 - 20) * 24) * HOUR, { revenue: Math.round(rand() * 100) }),
    );
    const leaf = (): ConditionNode =>
      pick<ConditionNode>([
        { event: pick(names), op: pick(['gte', 'eq', 'lt'] as const), value: 1 + Math.floor(rand() * 2), window: { last_days: 1 + Math.floor(rand() * 20) } },
        { event: 'Order Completed', measure: { sum: 'revenue' }, op: 'gte', value: 1 + Math.round(rand() * 100), window: { last_days: 1 + Math.floor(rand() * 20) } },
        { sequence: ['Product Viewed', 'Order Completed'], within_days: 1 + Math.floor(rand() * 5), window: { last_days: 1 + Math.floor(rand() * 20) } },
        { trait: 'signup_at', op: pick(['within_last', 'not_within_last'] as const), value: { days: 1 + Math.floor(rand() * 20) } },
      ]);
    const node: ConditionNode = pick<ConditionNode>([leaf(), { all: [leaf(), leaf()] }, { any: [leaf(), { not: leaf() }] }]);
    const traits = { signup_at: iso(NOW + Math.round((rand() * 30 - 25) * 24) * HOUR) };
    return { name: `scenario ${i}`, c: ctx(events, NOW, traits), node };
  });

  test('the generated scenarios include many that change', () => {
    const changing = scenarios.filter(({ c, node }) => nextChangeAt(node, c) !== null).length;
    expect(changing).toBeGreaterThanOrEqual(20);
  });

  test.each(scenarios)('$name', ({ c, node }) => {
    const initial = evaluateCondition(node, c);
    const next = nextChangeAt(node, c);
    const horizon = next === null ? NOW + 60 * DAY : next.getTime();
    for (let t = NOW + HOUR; t < horizon; t += HOUR) {
      expect(evaluateCondition(node, at(c, t)), `changed at ${iso(t)} before ${next?.toISOString() ?? 'never'}`).toBe(initial);
    }
    if (next !== null) {
      expect(evaluateCondition(node, at(c, horizon - 1))).toBe(initial);
      expect(evaluateCondition(node, at(c, horizon))).toBe(!initial);
    }
  });
});
