import { describe, expect, test } from 'vitest';
import type { ConditionNode } from './condition-schema.ts';
import { evaluateCondition } from './evaluate-condition.ts';
import type { EvaluationContext, EvaluationEvent, EvaluationProfile } from './evaluate-condition.ts';

/** 2024-06-15 12:00 in Shanghai. */
const NOW = '2024-06-15T04:00:00Z';
const DAY = 86_400_000;
const ago = (days: number, from = NOW): string => new Date(Date.parse(from) - days * DAY).toISOString();

function ev(event: string, timestamp: string, properties: Record<string, unknown> = {}): EvaluationEvent {
  return { event, type: 'track', timestamp, properties };
}

const TRAITS: Record<string, unknown> = {
  city: '上海',
  age: 30,
  age_text: '30',
  score: '12.50',
  vip: true,
  interests: ['running', 'books'],
  email: 'li.lei@example.com',
  address: { city: '上海', district: '浦东' },
  'wechat.nickname': '小李', // a key that contains a dot
  signup_at: '2024-06-01T00:00:00Z',
  late_signup: '2024-05-31T20:00:00Z', // 2024-06-01 04:00 in Shanghai, still 2024-05-31 in UTC
  birthday: '1990-06-20',
  nothing: '',
  future_at: '2024-07-01T00:00:00Z',
};

interface Row {
  name: string;
  node: ConditionNode;
  expected: boolean;
  traits?: Record<string, unknown>;
  computed?: Record<string, unknown>;
  profile?: Partial<EvaluationProfile>;
  events?: EvaluationEvent[];
  now?: string;
  timeZone?: string;
}

function context(row: Row): EvaluationContext {
  return {
    now: new Date(row.now ?? NOW),
    timeZone: row.timeZone ?? 'Asia/Shanghai',
    profile: {
      id: 'prof_1',
      traits: row.traits ?? TRAITS,
      computed: row.computed ?? {},
      tags: new Set(['tag_01', '高意向']),
      segments: new Set(['seg_vip']),
      lifecycle: 'at_risk',
      rfm: { r: 4, f: 2, m: 5, segment: 'Potential Loyalist' },
      ...row.profile,
    },
    events: row.events ?? [],
  };
}

function runTable(rows: Row[]): void {
  test.each(rows)('$name', (row) => {
    expect(evaluateCondition(row.node, context(row))).toBe(row.expected);
  });
}

describe('trait conditions, every op', () => {
  runTable([
    { name: 'eq string', node: { trait: 'city', op: 'eq', value: '上海' }, expected: true },
    { name: 'eq string, other value', node: { trait: 'city', op: 'eq', value: '北京' }, expected: false },
    { name: 'eq number', node: { trait: 'age', op: 'eq', value: 30 }, expected: true },
    { name: 'eq number against a numeric string (CSV)', node: { trait: 'age_text', op: 'eq', value: 30 }, expected: true },
    { name: 'eq decimal string "12.50" = 12.5', node: { trait: 'score', op: 'eq', value: 12.5 }, expected: true },
    { name: 'eq boolean', node: { trait: 'vip', op: 'eq', value: true }, expected: true },
    { name: 'eq boolean false', node: { trait: 'vip', op: 'eq', value: false }, expected: false },
    { name: 'eq on a nested path', node: { trait: 'address.district', op: 'eq', value: '浦东' }, expected: true },
    { name: 'eq on a key containing a dot', node: { trait: 'wechat.nickname', op: 'eq', value: '小李' }, expected: true },
    { name: 'eq on a list matches an element', node: { trait: 'interests', op: 'eq', value: 'books' }, expected: true },
    { name: 'eq on a missing trait', node: { trait: 'gender', op: 'eq', value: 'f' }, expected: false },
    { name: 'eq same instant, different notation', node: { trait: 'signup_at', op: 'eq', value: '2024-06-01T08:00:00+08:00' }, expected: true },
    { name: 'neq different value', node: { trait: 'city', op: 'neq', value: '北京' }, expected: true },
    { name: 'neq same value', node: { trait: 'city', op: 'neq', value: '上海' }, expected: false },
    { name: 'neq matches a missing trait', node: { trait: 'gender', op: 'neq', value: 'f' }, expected: true },
    { name: 'in', node: { trait: 'city', op: 'in', value: ['北京', '上海'] }, expected: true },
    { name: 'in, not listed', node: { trait: 'city', op: 'in', value: ['北京', '广州'] }, expected: false },
    { name: 'in on a list trait', node: { trait: 'interests', op: 'in', value: ['cooking', 'running'] }, expected: true },
    { name: 'in on a missing trait', node: { trait: 'gender', op: 'in', value: ['f', 'm'] }, expected: false },
    { name: 'not_in', node: { trait: 'city', op: 'not_in', value: ['北京'] }, expected: true },
    { name: 'not_in, listed', node: { trait: 'city', op: 'not_in', value: ['上海'] }, expected: false },
    { name: 'not_in matches a missing trait', node: { trait: 'gender', op: 'not_in', value: ['f'] }, expected: true },
    { name: 'contains text', node: { trait: 'email', op: 'contains', value: '@example.' }, expected: true },
    { name: 'contains text, absent', node: { trait: 'email', op: 'contains', value: 'gmail' }, expected: false },
    { name: 'contains is case-sensitive', node: { trait: 'email', op: 'contains', value: 'EXAMPLE' }, expected: false },
    { name: 'contains on a list', node: { trait: 'interests', op: 'contains', value: 'running' }, expected: true },
    { name: 'contains on a list needs a whole element', node: { trait: 'interests', op: 'contains', value: 'run' }, expected: false },
    { name: 'contains on a number never matches', node: { trait: 'age', op: 'contains', value: '3' }, expected: false },
    { name: 'starts_with', node: { trait: 'email', op: 'starts_with', value: 'li.' }, expected: true },
    { name: 'starts_with, no', node: { trait: 'email', op: 'starts_with', value: 'lei' }, expected: false },
    { name: 'gt number', node: { trait: 'age', op: 'gt', value: 29 }, expected: true },
    { name: 'gt equal is false', node: { trait: 'age', op: 'gt', value: 30 }, expected: false },
    { name: 'gte equal', node: { trait: 'age', op: 'gte', value: 30 }, expected: true },
    { name: 'lt equal is false', node: { trait: 'age', op: 'lt', value: 30 }, expected: false },
    { name: 'lte equal', node: { trait: 'age', op: 'lte', value: 30 }, expected: true },
    { name: 'gt on numeric string "12.50"', node: { trait: 'score', op: 'gt', value: 12.4 }, expected: true },
    { name: 'lt on numeric string "12.50"', node: { trait: 'score', op: 'lt', value: 12.5 }, expected: false },
    { name: 'gt on a missing trait', node: { trait: 'height', op: 'gt', value: 0 }, expected: false },
    { name: 'gt on a non-numeric string', node: { trait: 'city', op: 'gt', value: 0 }, expected: false },
    { name: 'gt date', node: { trait: 'signup_at', op: 'gt', value: '2024-05-31T23:59:59Z' }, expected: true },
    { name: 'lt date at the same instant', node: { trait: 'signup_at', op: 'lt', value: '2024-06-01T08:00:00+08:00' }, expected: false },
    { name: 'lte date at the same instant', node: { trait: 'signup_at', op: 'lte', value: '2024-06-01T08:00:00+08:00' }, expected: true },
    { name: 'date-only bound is local midnight (Shanghai)', node: { trait: 'late_signup', op: 'gte', value: '2024-06-01' }, expected: true },
    { name: 'date-only bound is local midnight (UTC)', node: { trait: 'late_signup', op: 'gte', value: '2024-06-01' }, timeZone: 'UTC', expected: false },
    { name: 'between inclusive low', node: { trait: 'age', op: 'between', value: [30, 40] }, expected: true },
    { name: 'between inclusive high', node: { trait: 'age', op: 'between', value: [18, 30] }, expected: true },
    { name: 'between outside', node: { trait: 'age', op: 'between', value: [31, 40] }, expected: false },
    { name: 'between dates', node: { trait: 'signup_at', op: 'between', value: ['2024-06-01', '2024-06-30'] }, expected: true },
    { name: 'exists', node: { trait: 'city', op: 'exists' }, expected: true },
    { name: 'exists, missing', node: { trait: 'gender', op: 'exists' }, expected: false },
    { name: 'exists, empty string counts as missing', node: { trait: 'nothing', op: 'exists' }, expected: false },
    { name: 'not_exists, missing', node: { trait: 'gender', op: 'not_exists' }, expected: true },
    { name: 'not_exists, present', node: { trait: 'city', op: 'not_exists' }, expected: false },
    { name: 'within_last 30 days', node: { trait: 'signup_at', op: 'within_last', value: { days: 30 } }, expected: true },
    { name: 'within_last 10 days (14 days ago)', node: { trait: 'signup_at', op: 'within_last', value: { days: 10 } }, expected: false },
    { name: 'within_last excludes a future date', node: { trait: 'future_at', op: 'within_last', value: { days: 30 } }, expected: false },
    { name: 'within_last on a missing trait', node: { trait: 'gender', op: 'within_last', value: { days: 30 } }, expected: false },
    { name: 'not_within_last 10 days (14 days ago)', node: { trait: 'signup_at', op: 'not_within_last', value: { days: 10 } }, expected: true },
    { name: 'not_within_last 30 days (14 days ago)', node: { trait: 'signup_at', op: 'not_within_last', value: { days: 30 } }, expected: false },
    { name: 'not_within_last needs a date', node: { trait: 'gender', op: 'not_within_last', value: { days: 30 } }, expected: false },
    { name: 'within_last exactly at the boundary is out', node: { trait: 'signup_at', op: 'within_last', value: { days: 14 } }, now: '2024-06-15T00:00:00Z', expected: false },
    { name: 'within_last 1 ms before the boundary is in', node: { trait: 'signup_at', op: 'within_last', value: { days: 14 } }, now: '2024-06-14T23:59:59.999Z', expected: true },
  ]);
});

describe('anniversary_within_next', () => {
  const birthday = (days: number): ConditionNode => ({ trait: 'birthday', op: 'anniversary_within_next', value: { days } });
  const withBirthday = (birthdayValue: string): Record<string, unknown> => ({ birthday: birthdayValue });
  runTable([
    { name: 'birthday in 5 days, within 7', node: birthday(7), expected: true },
    { name: 'birthday in 5 days, within 5 (inclusive)', node: birthday(5), expected: true },
    { name: 'birthday in 5 days, within 4', node: birthday(4), expected: false },
    { name: 'birthday yesterday is next year', node: birthday(30), traits: withBirthday('1990-06-14'), expected: false },
    { name: 'across year end: Dec 30 → Jan 2 is 3 days', node: birthday(3), traits: withBirthday('1985-01-02'), now: '2024-12-30T04:00:00Z', expected: true },
    { name: 'across year end: not within 2', node: birthday(2), traits: withBirthday('1985-01-02'), now: '2024-12-30T04:00:00Z', expected: false },
    { name: 'Feb 29 falls on Feb 28 in a common year', node: birthday(1), traits: withBirthday('2000-02-29'), now: '2025-02-27T04:00:00Z', expected: true },
    { name: 'Feb 29 on Feb 28 of a common year is today', node: birthday(0), traits: withBirthday('2000-02-29'), now: '2025-02-28T04:00:00Z', expected: true },
    { name: 'Feb 29 in a leap year is Feb 29, not Feb 28', node: birthday(0), traits: withBirthday('2000-02-29'), now: '2028-02-28T04:00:00Z', expected: false },
    { name: 'Feb 29 in a leap year, on the day', node: birthday(0), traits: withBirthday('2000-02-29'), now: '2028-02-29T04:00:00Z', expected: true },
    // 2024-06-19T16:30Z is 00:30 on June 20 in Shanghai but still June 19 in UTC.
    { name: 'just past midnight in Shanghai it is the birthday', node: birthday(0), now: '2024-06-19T16:30:00Z', expected: true },
    { name: 'the same instant in UTC is the day before', node: birthday(0), now: '2024-06-19T16:30:00Z', timeZone: 'UTC', expected: false },
    { name: 'the same instant in UTC, within 1 day', node: birthday(1), now: '2024-06-19T16:30:00Z', timeZone: 'UTC', expected: true },
    // An instant-valued date takes its month-day in the workspace zone: 1990-06-19T17:00Z is June 20 in Shanghai.
    { name: 'instant birthday read in Shanghai', node: birthday(0), traits: withBirthday('1990-06-19T17:00:00Z'), now: '2024-06-20T02:00:00Z', expected: true },
    { name: 'instant birthday read in UTC', node: birthday(0), traits: withBirthday('1990-06-19T17:00:00Z'), now: '2024-06-20T02:00:00Z', timeZone: 'UTC', expected: false },
    { name: 'the origin date itself is not an anniversary', node: birthday(0), traits: withBirthday('2024-06-15'), expected: false },
    { name: 'one year later it is', node: birthday(0), traits: withBirthday('2023-06-15'), expected: true },
    { name: 'missing date', node: birthday(30), traits: {}, expected: false },
  ]);
});

describe('computed traits', () => {
  const computed = {
    first_seen: '2023-01-01T00:00:00Z',
    last_seen: ago(1),
    event_count: 120,
    order_count: 4,
    total_spent: 60_000,
    avg_order_value: 15_000,
    first_order_at: '2023-02-01T00:00:00Z',
    last_order_at: ago(20),
    refund_count: 1,
    total_refunded: 5_000,
    event_counts: { 'Product Viewed': 42, 'Order Completed': 4 },
  };
  runTable([
    { name: 'total_spent gte', node: { computed: 'total_spent', op: 'gte', value: 50_000 }, computed, expected: true },
    { name: 'total_spent lt', node: { computed: 'total_spent', op: 'lt', value: 50_000 }, computed, expected: false },
    { name: 'avg_order_value between', node: { computed: 'avg_order_value', op: 'between', value: [10_000, 20_000] }, computed, expected: true },
    { name: 'order_count eq', node: { computed: 'order_count', op: 'eq', value: 4 }, computed, expected: true },
    { name: 'refund_count gt', node: { computed: 'refund_count', op: 'gt', value: 0 }, computed, expected: true },
    { name: 'total_refunded lte', node: { computed: 'total_refunded', op: 'lte', value: 4_999 }, computed, expected: false },
    { name: 'event_count gt', node: { computed: 'event_count', op: 'gt', value: 100 }, computed, expected: true },
    { name: 'last_order_at within_last 30', node: { computed: 'last_order_at', op: 'within_last', value: { days: 30 } }, computed, expected: true },
    { name: 'last_order_at not_within_last 14', node: { computed: 'last_order_at', op: 'not_within_last', value: { days: 14 } }, computed, expected: true },
    { name: 'last_seen within_last 7', node: { computed: 'last_seen', op: 'within_last', value: { days: 7 } }, computed, expected: true },
    { name: 'first_seen before 2024', node: { computed: 'first_seen', op: 'lt', value: '2024-01-01' }, computed, expected: true },
    { name: 'first_order_at anniversary', node: { computed: 'first_order_at', op: 'anniversary_within_next', value: { days: 366 } }, computed, expected: true },
    { name: 'event_counts by name', node: { computed: 'event_counts.Product Viewed', op: 'gte', value: 40 }, computed, expected: true },
    { name: 'event_counts of an unseen event is 0', node: { computed: 'event_counts.Coupon Applied', op: 'eq', value: 0 }, computed, expected: true },
    { name: 'a missing counter is 0', node: { computed: 'order_count', op: 'eq', value: 0 }, computed: {}, expected: true },
    { name: 'a missing average is missing', node: { computed: 'avg_order_value', op: 'exists' }, computed: {}, expected: false },
    { name: 'a missing date is missing', node: { computed: 'last_order_at', op: 'not_exists' }, computed: {}, expected: true },
  ]);
});

describe('tags, segments, lifecycle, RFM', () => {
  runTable([
    { name: 'has tag by name', node: { tag: '高意向', has: true }, expected: true },
    { name: 'has tag by id', node: { tag: 'tag_01', has: true }, expected: true },
    { name: 'has tag it lacks', node: { tag: '流失', has: true }, expected: false },
    { name: 'has not a tag it has', node: { tag: '高意向', has: false }, expected: false },
    { name: 'has not a tag it lacks', node: { tag: '流失', has: false }, expected: true },
    { name: 'in segment', node: { segment: 'seg_vip', in: true }, expected: true },
    { name: 'in a segment it is not in', node: { segment: 'seg_other', in: true }, expected: false },
    { name: 'not in segment', node: { segment: 'seg_other', in: false }, expected: true },
    { name: 'lifecycle stage', node: { lifecycle: 'at_risk' }, expected: true },
    { name: 'lifecycle other stage', node: { lifecycle: 'active' }, expected: false },
    { name: 'lifecycle list', node: { lifecycle: ['silent', 'at_risk'] }, expected: true },
    { name: 'lifecycle unknown for the profile', node: { lifecycle: 'prospect' }, profile: { lifecycle: null }, expected: false },
    { name: 'rfm r and m', node: { rfm: { r: [4, 5], m: [5] } }, expected: true },
    { name: 'rfm f not in list', node: { rfm: { r: [4, 5], f: [3, 4, 5] } }, expected: false },
    { name: 'rfm without scores', node: { rfm: { r: [1, 2, 3, 4, 5] } }, profile: { rfm: null }, expected: false },
    { name: 'rfm segment', node: { rfm_segment: 'Potential Loyalist' }, expected: true },
    { name: 'rfm segment other', node: { rfm_segment: 'Champions' }, expected: false },
    { name: 'rfm segment list', node: { rfm_segment: ['Champions', 'Potential Loyalist'] }, expected: true },
  ]);
});

describe('combinators', () => {
  const yes: ConditionNode = { trait: 'city', op: 'eq', value: '上海' };
  const no: ConditionNode = { trait: 'city', op: 'eq', value: '北京' };
  runTable([
    { name: 'all true', node: { all: [yes, yes] }, expected: true },
    { name: 'all with one false', node: { all: [yes, no] }, expected: false },
    { name: 'any with one true', node: { any: [no, yes] }, expected: true },
    { name: 'any all false', node: { any: [no, no] }, expected: false },
    { name: 'not false', node: { not: no }, expected: true },
    { name: 'not true', node: { not: yes }, expected: false },
    { name: 'nested', node: { all: [yes, { not: { any: [no, { tag: '流失', has: true }] } }] }, expected: true },
  ]);
});

describe('behaviour conditions', () => {
  const events = [
    ev('Order Completed', ago(29), { revenue: '12.50', category: 'shoes', product: { sku: 'A1' } }),
    ev('Order Completed', ago(5), { revenue: 100.1, category: 'bags', product: { sku: 'B2' } }),
    ev('Order Completed', ago(40), { revenue: 0.2, category: 'shoes' }),
    ev('Product Viewed', ago(3), { category: 'shoes' }),
    ev('Product Viewed', ago(2), { category: 'shoes' }),
    ev('Product Viewed', ago(1), { category: 'bags' }),
    ev('Order Completed', '2024-06-15T05:00:00Z', { revenue: 999 }), // an hour after now: not yet happened
  ];
  const orders = (rest: Partial<Extract<ConditionNode, { event: string }>>): ConditionNode =>
    ({ event: 'Order Completed', op: 'gte', value: 1, ...rest }) as ConditionNode;
  runTable([
    { name: 'count in the last 30 days (one 29 days ago)', node: orders({ window: { last_days: 30 } }), events, expected: true },
    { name: 'count ever', node: orders({ op: 'eq', value: 3 }), events, expected: true },
    { name: 'count in the last 30 days is 2', node: orders({ op: 'eq', value: 2, window: { last_days: 30 } }), events, expected: true },
    { name: 'count gte 3 in 30 days fails', node: orders({ op: 'gte', value: 3, window: { last_days: 30 } }), events, expected: false },
    { name: 'count lt', node: orders({ op: 'lt', value: 3, window: { last_days: 30 } }), events, expected: true },
    { name: 'count lte', node: orders({ op: 'lte', value: 1, window: { last_days: 30 } }), events, expected: false },
    { name: 'count gt', node: orders({ op: 'gt', value: 2 }), events, expected: true },
    { name: 'count neq', node: orders({ op: 'neq', value: 3 }), events, expected: false },
    { name: 'count between', node: orders({ op: 'between', value: [2, 5] }), events, expected: true },
    { name: 'did not do: never refunded', node: { event: 'Order Refunded', op: 'eq', value: 0 }, events, expected: true },
    { name: 'did not do in 30 days, but did', node: orders({ op: 'eq', value: 0, window: { last_days: 30 } }), events, expected: false },
    { name: 'did not do in 4 days', node: orders({ op: 'eq', value: 0, window: { last_days: 4 } }), events, expected: true },
    { name: 'where eq', node: orders({ op: 'eq', value: 2, where: [{ property: 'category', op: 'eq', value: 'shoes' }] }), events, expected: true },
    { name: 'where eq in window', node: orders({ op: 'eq', value: 1, where: [{ property: 'category', op: 'eq', value: 'shoes' }], window: { last_days: 30 } }), events, expected: true },
    { name: 'where on a nested property', node: orders({ where: [{ property: 'product.sku', op: 'in', value: ['B2', 'C3'] }] }), events, expected: true },
    { name: 'where numeric string coerced', node: orders({ op: 'eq', value: 2, where: [{ property: 'revenue', op: 'gt', value: 10 }] }), events, expected: true },
    { name: 'where several filters (all must hold)', node: orders({ where: [{ property: 'category', op: 'eq', value: 'shoes' }, { property: 'revenue', op: 'gt', value: 50 }] }), events, expected: false },
    { name: 'sum revenue in decimal yuan, no float drift', node: orders({ measure: { sum: 'revenue' }, op: 'eq', value: 112.8 }), events, expected: true },
    { name: 'sum of 0.1 + 0.2 is 0.3', node: { event: 'Paid', measure: { sum: 'revenue' }, op: 'eq', value: 0.3 }, events: [ev('Paid', ago(1), { revenue: 0.1 }), ev('Paid', ago(2), { revenue: '0.2' })], expected: true },
    { name: 'sum over no events is 0', node: { event: 'Paid', measure: { sum: 'revenue' }, op: 'eq', value: 0 }, events, expected: true },
    { name: 'avg revenue in 30 days', node: orders({ measure: { avg: 'revenue' }, op: 'between', value: [56.29, 56.31], window: { last_days: 30 } }), events, expected: true },
    { name: 'avg over no events never matches', node: { event: 'Paid', measure: { avg: 'revenue' }, op: 'neq', value: 1 }, events, expected: false },
    { name: 'min revenue', node: orders({ measure: { min: 'revenue' }, op: 'lt', value: 1 }), events, expected: true },
    { name: 'max revenue ignores the future event', node: orders({ measure: { max: 'revenue' }, op: 'eq', value: 100.1 }), events, expected: true },
    { name: 'window between (inclusive)', node: orders({ op: 'eq', value: 1, window: { between: [ago(40), ago(29)] } }), events, expected: false },
    { name: 'window between, wider', node: orders({ op: 'eq', value: 2, window: { between: [ago(40), ago(29)] } }), events, expected: true },
    { name: 'window between with local dates', node: orders({ op: 'eq', value: 1, window: { between: ['2024-05-01T00:00:00+08:00', '2024-05-10T23:59:59+08:00'] } }), events, expected: true },
    { name: 'future events have not happened yet', node: { event: 'Order Completed', op: 'eq', value: 0, window: { last_days: 1 } }, events, expected: true },
    { name: 'other events do not count', node: { event: 'Product Viewed', op: 'eq', value: 3, window: { last_days: 7 } }, events, expected: true },
  ]);
});

describe('sequences', () => {
  const events = [
    ev('Product Viewed', ago(10), { category: 'shoes' }),
    ev('Product Added', ago(9), { category: 'shoes' }),
    ev('Order Completed', ago(4), { category: 'shoes' }),
    ev('Product Viewed', ago(2), { category: 'bags' }),
  ];
  runTable([
    { name: 'viewed then bought within 7 days', node: { sequence: ['Product Viewed', 'Order Completed'], within_days: 7 }, events, expected: true },
    { name: 'viewed then bought within 5 days fails (6 days)', node: { sequence: ['Product Viewed', 'Order Completed'], within_days: 5 }, events, expected: false },
    { name: 'without a limit', node: { sequence: ['Product Viewed', 'Order Completed'] }, events, expected: true },
    { name: 'wrong order does not match', node: { sequence: ['Order Completed', 'Product Added'] }, events, expected: false },
    { name: 'bought then viewed again', node: { sequence: ['Order Completed', 'Product Viewed'], within_days: 3 }, events, expected: true },
    { name: 'three steps in order', node: { sequence: ['Product Viewed', 'Product Added', 'Order Completed'], within_days: 6 }, events, expected: true },
    { name: 'three steps, too slow', node: { sequence: ['Product Viewed', 'Product Added', 'Order Completed'], within_days: 5 }, events, expected: false },
    {
      name: 'steps with filters',
      node: { sequence: [{ event: 'Product Viewed', where: [{ property: 'category', op: 'eq', value: 'bags' }] }, 'Order Completed'] },
      events,
      expected: false,
    },
    {
      name: 'steps with filters, matching',
      node: { sequence: [{ event: 'Product Viewed', where: [{ property: 'category', op: 'eq', value: 'shoes' }] }, { event: 'Order Completed' }], within_days: 7 },
      events,
      expected: true,
    },
    { name: 'window cuts off the first step', node: { sequence: ['Product Viewed', 'Order Completed'], window: { last_days: 8 } }, events, expected: false },
    { name: 'the same event twice needs two events', node: { sequence: ['Order Completed', 'Order Completed'] }, events, expected: false },
    { name: 'the same event twice', node: { sequence: ['Product Viewed', 'Product Viewed'], within_days: 8 }, events, expected: true },
    {
      name: 'events at the same instant count in either order',
      node: { sequence: ['Order Completed', 'Coupon Applied'], within_days: 1 },
      events: [ev('Coupon Applied', ago(1)), ev('Order Completed', ago(1))],
      expected: true,
    },
    {
      name: 'a later start can succeed where an earlier one is too slow',
      node: { sequence: ['Product Viewed', 'Order Completed'], within_days: 1 },
      events: [ev('Product Viewed', ago(10)), ev('Product Viewed', ago(4.5)), ev('Order Completed', ago(4))],
      expected: true,
    },
  ]);
});
