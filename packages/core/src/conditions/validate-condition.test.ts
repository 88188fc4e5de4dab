import { describe, expect, test } from 'vitest';
import { ConditionDefinition } from './condition-schema.ts';
import type { ValueType } from './condition-schema.ts';
import { validateCondition, validateConditionNode } from './validate-condition.ts';
import type { ConditionCatalog } from './validate-condition.ts';

const catalog: ConditionCatalog = {
  traits: new Map<string, ValueType>([
    ['city', 'string'],
    ['age', 'number'],
    ['vip', 'boolean'],
    ['birthday', 'date'],
    ['interests', 'array'],
  ]),
  events: new Map([
    ['Order Completed', { properties: new Map<string, ValueType>([['revenue', 'number'], ['category', 'string']]) }],
    ['Product Viewed', {}],
  ]),
  tags: { known: new Set(['tag_01', '高意向']), closed: false },
  segments: { known: new Set(['seg_vip']), closed: false },
};

/** Uses every kind of condition once. */
const everyKind = {
  version: 1,
  condition: {
    all: [
      { trait: 'city', op: 'in', value: ['上海', '北京'] },
      { trait: 'age', op: 'between', value: [18, 35] },
      { trait: 'birthday', op: 'anniversary_within_next', value: { days: 7 } },
      { computed: 'total_spent', op: 'gte', value: 50_000 },
      { computed: 'event_counts.Product Viewed', op: 'gt', value: 3 },
      { computed: 'last_order_at', op: 'not_within_last', value: { days: 90 } },
      { tag: '高意向', has: true },
      {
        event: 'Order Completed',
        where: [{ property: 'category', op: 'eq', value: 'shoes' }],
        measure: { sum: 'revenue' },
        op: 'gte',
        value: 100,
        window: { last_days: 30 },
      },
      { event: 'Order Completed', op: 'eq', value: 0, window: { between: ['2024-01-01T00:00:00+08:00', '2024-02-01T00:00:00+08:00'] } },
      { sequence: ['Product Viewed', { event: 'Order Completed', where: [{ property: 'revenue', op: 'gt', value: 10 }] }], within_days: 7, window: 'ever' },
      { any: [{ segment: 'seg_vip', in: true }, { lifecycle: ['silent', 'at_risk'] }, { rfm: { r: [4, 5], f: [1, 2] } }, { rfm_segment: 'Champions' }] },
      { not: { trait: 'vip', op: 'eq', value: true } },
      { trait: 'interests', op: 'contains', value: 'running' },
      { trait: 'city', op: 'exists' },
    ],
  },
};

describe('validateCondition accepts', () => {
  test('a definition using every kind, with no warnings when everything is known', () => {
    const r = validateCondition(everyKind, catalog);
    expect(r).toEqual({ ok: true, value: everyKind, warnings: [] });
  });

  test('without a catalog nothing is reported unknown', () => {
    const r = validateCondition({ version: 1, condition: { trait: 'anything', op: 'eq', value: 1 } });
    expect(r.ok && r.warnings).toEqual([]);
  });

  test('unknown traits, events, open tags and segments are warnings, not errors', () => {
    const r = validateCondition(
      {
        version: 1,
        condition: {
          all: [
            { trait: 'vip_levl', op: 'eq', value: 'gold' },
            { event: 'Ordr Completed', op: 'gte', value: 1 },
            { tag: '新标签', has: true },
            { segment: 'seg_new', in: false },
            { event: 'Order Completed', where: [{ property: 'colour', op: 'eq', value: 'red' }], op: 'gte', value: 1 },
          ],
        },
      },
      catalog,
    );
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.path)).toEqual([
      'condition.all[0].trait',
      'condition.all[1].event',
      'condition.all[2].tag',
      'condition.all[3].segment',
      'condition.all[4].where[0].property',
    ]);
    expect(r.warnings[0]!.message).toContain('trait "vip_levl" has not been seen');
  });
});

describe('validateCondition reports every problem at once', () => {
  test('several problems, each with its JSON path', () => {
    const r = validateCondition(
      {
        version: 1,
        condition: {
          all: [
            { any: [] },
            { trait: 'age', op: 'between', value: [1, 2, 3] },
            { trait: 'city', op: 'in', value: '上海' },
            { trait: 'birthday', op: 'within_last', value: { days: 0 } },
            { trait: 'city', op: 'gt', value: 3 },
            { trait: 'city', op: 'like', value: '上%' },
            { computed: 'lifetime_value', op: 'gt', value: 1 },
            { event: 'Order Completed', op: 'contains', value: 1, window: { last_days: 0 } },
            { sequence: ['Product Viewed'] },
            { tag: '', has: 'yes' },
          ],
        },
      },
      catalog,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toEqual([
      'condition.all[0].any',
      'condition.all[1].value',
      'condition.all[2].value',
      'condition.all[3].value.days',
      'condition.all[4].op',
      'condition.all[5].op',
      'condition.all[6].computed',
      'condition.all[7].op',
      'condition.all[7].window.last_days',
      'condition.all[8].sequence',
      'condition.all[9].tag',
      'condition.all[9].has',
    ]);
    const message = (path: string): string | undefined => r.problems.find((p) => p.path === path)?.message;
    expect(message('condition.all[4].op')).toBe('op "gt" compares numbers or dates but trait "city" is a string; use eq/in/contains');
    expect(message('condition.all[1].value')).toBe('op "between" needs a 2-element list [low, high], got 3 elements');
    expect(message('condition.all[0].any')).toContain('needs at least one condition');
    expect(message('condition.all[3].value.days')).toBe('"days" must be a whole number ≥ 1, got 0');
    expect(message('condition.all[6].computed')).toContain('unknown computed trait "lifetime_value"; use one of first_seen, last_seen');
  });

  test.each([
    { name: 'number trait compared with a quoted number', node: { trait: 'age', op: 'eq', value: '30' }, path: 'condition.value', message: 'trait "age" is a number; write 30 without quotes' },
    { name: 'date trait compared with a number', node: { trait: 'birthday', op: 'gt', value: 19900101 }, path: 'condition.value', message: 'trait "birthday" is a date; write the value as an ISO date such as "2024-01-31" or "2024-01-31T08:00:00Z"' },
    { name: 'boolean trait with a string', node: { trait: 'vip', op: 'eq', value: 'yes' }, path: 'condition.value', message: 'trait "vip" is a boolean; use true or false' },
    { name: 'contains on a number trait', node: { trait: 'age', op: 'contains', value: '3' }, path: 'condition.op', message: 'op "contains" searches text or lists but trait "age" is a number; use eq/in/gt/lt/between' },
    { name: 'within_last on a string trait', node: { trait: 'city', op: 'within_last', value: { days: 3 } }, path: 'condition.op', message: 'op "within_last" works on dates but trait "city" is a string; use eq/in/contains' },
    { name: 'within_last with a bare number', node: { trait: 'birthday', op: 'within_last', value: 30 }, path: 'condition.value', message: 'op "within_last" takes {"days": n}, e.g. {"days": 30}; got 30' },
    { name: 'anniversary beyond a year', node: { trait: 'birthday', op: 'anniversary_within_next', value: { days: 400 } }, path: 'condition.value.days', message: '"days" must be a whole number from 0 to 366, got 400' },
    { name: 'exists with a value', node: { trait: 'city', op: 'exists', value: true }, path: 'condition.value', message: 'op "exists" takes no "value"; remove it' },
    { name: 'between upside down', node: { trait: 'age', op: 'between', value: [40, 18] }, path: 'condition.value', message: 'the low end 40 is above the high end 18; swap them' },
    { name: 'between mixing a number and a date', node: { trait: 'x', op: 'between', value: [1, '2024-01-01'] }, path: 'condition.value', message: 'both ends of "between" must be numbers, or both dates' },
    { name: 'gt with text', node: { trait: 'x', op: 'gt', value: 'abc' }, path: 'condition.value', message: 'op "gt" needs a number or an ISO date (e.g. 100 or "2024-01-31"), got "abc"' },
    { name: 'in with an empty list', node: { trait: 'city', op: 'in', value: [] }, path: 'condition.value', message: 'op "in" needs at least one value in the list' },
    { name: 'in with a bad element', node: { trait: 'city', op: 'in', value: ['上海', { a: 1 }] }, path: 'condition.value[1]', message: 'op "in" compares with a string, number or boolean, got an object' },
    { name: 'missing op', node: { trait: 'city', value: '上海' }, path: 'condition.op', message: 'missing "op"; use one of eq, neq, in, not_in, contains, starts_with, gt, gte, lt, lte, between, exists, not_exists, within_last, not_within_last, anniversary_within_next' },
    { name: 'two kinds in one node', node: { trait: 'city', event: 'Order Completed' }, path: 'condition', message: 'a condition has exactly one kind but this one has "trait" and "event"; combine separate conditions with "all" or "any"' },
    { name: 'no kind', node: { foo: 1 }, path: 'condition', message: 'not a condition: expected one of the keys all, any, not, trait, computed, tag, event, sequence, segment, lifecycle, rfm, rfm_segment (found foo)' },
    { name: 'unknown field', node: { tag: '高意向', has: true, weight: 2 }, path: 'condition.weight', message: 'unknown field "weight" in a tag condition; allowed fields: tag, has' },
    { name: 'sum of a string property', node: { event: 'Order Completed', measure: { sum: 'category' }, op: 'gt', value: 1 }, path: 'condition.measure.sum', message: 'cannot sum property "category": it is a string, not a number' },
    { name: 'behaviour without op', node: { event: 'Order Completed' }, path: 'condition.op', message: 'missing "op"; compare a count with one of eq, neq, gt, gte, lt, lte, between (e.g. "op": "gte", "value": 1; "did not do" is "op": "eq", "value": 0)' },
    { name: 'window upside down', node: { event: 'Order Completed', op: 'gte', value: 1, window: { between: ['2024-02-01T00:00:00Z', '2024-01-01T00:00:00Z'] } }, path: 'condition.window.between', message: 'the window starts after it ends; swap from and to' },
    { name: 'unknown lifecycle stage', node: { lifecycle: ['active', 'dormant'] }, path: 'condition.lifecycle[1]', message: 'unknown lifecycle stage "dormant"; use one of "prospect", "new", "active", "silent", "at_risk", "churned"' },
    { name: 'rfm score out of range', node: { rfm: { r: [0, 5] } }, path: 'condition.rfm.r[0]', message: 'RFM scores are whole numbers 1–5, got 0' },
    { name: 'rfm with no dimension', node: { rfm: {} }, path: 'condition.rfm', message: 'give at least one of "r", "f", "m"' },
    { name: 'unknown rfm segment', node: { rfm_segment: 'Whales' }, path: 'condition.rfm_segment', message: expect.stringContaining('unknown RFM segment "Whales"; use one of "Champions"') },
    { name: 'sequence within_days 0', node: { sequence: ['A', 'B'], within_days: 0 }, path: 'condition.within_days', message: '"within_days" must be a whole number ≥ 1 (or left out for no limit), got 0' },
  ])('$name', ({ node, path, message }) => {
    const r = validateCondition({ version: 1, condition: node }, catalog);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([{ path, message }]);
  });

  test('the envelope: version and unknown fields', () => {
    const r = validateCondition({ version: 2, conditon: {} }, catalog);
    expect(!r.ok && r.problems).toEqual([
      { path: 'conditon', message: 'unknown field "conditon"; a definition has only "version" and "condition"' },
      { path: 'version', message: 'unsupported version 2; this server understands version 1' },
      { path: 'condition', message: 'missing "condition"' },
    ]);
    expect(!validateCondition('all', catalog).ok).toBe(true);
  });

  test('unknown tags and segments are errors when the namespace is closed', () => {
    const closed: ConditionCatalog = { ...catalog, tags: { known: new Set(['tag_01']), closed: true }, segments: { known: new Set(['seg_vip']), closed: true } };
    const r = validateCondition({ version: 1, condition: { any: [{ tag: '新标签', has: true }, { segment: 'seg_gone', in: true }, { tag: 'tag_01', has: false }] } }, closed);
    expect(!r.ok && r.problems).toEqual([
      { path: 'condition.any[0].tag', message: 'unknown tag "新标签"; create the tag first or pick an existing one' },
      { path: 'condition.any[1].segment', message: 'unknown segment "seg_gone"; pick an existing segment' },
    ]);
  });

  test('refuses trees nested too deep', () => {
    let node: unknown = { tag: 'a', has: true };
    for (let i = 0; i < 40; i++) node = { not: node };
    const r = validateCondition({ version: 1, condition: node });
    expect(!r.ok && r.problems[0]!.message).toContain('nest deeper than 32 levels');
  });
});

describe('segment reference cycles', () => {
  const def = (condition: unknown) => ({ version: 1 as const, condition }) as ConditionDefinition;
  const segmentDefinitions = new Map<string, ConditionDefinition>([
    ['seg_b', def({ all: [{ segment: 'seg_c', in: true }, { tag: 'x', has: true }] })],
    ['seg_c', def({ any: [{ segment: 'seg_a', in: false }, { segment: 'seg_d', in: true }] })],
    ['seg_d', def({ tag: 'y', has: true })],
  ]);

  test('a reference that leads back is rejected with the cycle path', () => {
    const r = validateCondition(
      { version: 1, condition: { all: [{ tag: 'x', has: true }, { segment: 'seg_b', in: true }, { segment: 'seg_d', in: true }] } },
      { segmentDefinitions, segmentId: 'seg_a' },
    );
    expect(!r.ok && r.problems).toEqual([
      {
        path: 'condition.all[1].segment',
        message: 'segment "seg_b" depends back on this segment (seg_a → seg_b → seg_c → seg_a); a segment cannot depend on itself, remove this reference',
      },
    ]);
  });

  test('a segment cannot refer to itself', () => {
    const r = validateCondition({ version: 1, condition: { not: { segment: 'seg_a', in: true } } }, { segmentDefinitions, segmentId: 'seg_a' });
    expect(!r.ok && r.problems).toEqual([{ path: 'condition.not.segment', message: 'segment "seg_a" cannot refer to itself' }]);
  });

  test('references that do not lead back are fine', () => {
    expect(validateCondition({ version: 1, condition: { segment: 'seg_b', in: true } }, { segmentDefinitions, segmentId: 'seg_z' }).ok).toBe(true);
  });
});

describe('validateConditionNode (journey branches)', () => {
  test('paths start where the node sits', () => {
    const r = validateConditionNode({ all: [{ trait: 'age', op: 'gt', value: 'old' }] }, catalog, 'steps[3].branches[0].condition');
    expect(!r.ok && r.problems.map((p) => p.path)).toEqual(['steps[3].branches[0].condition.all[0].value']);
  });
});

describe('the checker and the zod schema agree', () => {
  const valid: unknown[] = [
    everyKind,
    { version: 1, condition: { trait: 'a', op: 'not_exists' } },
    { version: 1, condition: { trait: 'a', op: 'anniversary_within_next', value: { days: 0 } } },
    { version: 1, condition: { event: 'E', measure: { max: 'p' }, op: 'between', value: [1, 2] } },
    { version: 1, condition: { sequence: ['A', { event: 'B' }, 'C'] } },
  ];
  const invalid: unknown[] = [
    { version: 1, condition: { all: [] } },
    { version: 1, condition: { trait: 'a', op: 'between', value: [1] } },
    { version: 1, condition: { trait: 'a', op: 'within_last', value: { days: 0 } } },
    { version: 1, condition: { event: 'E', op: 'in', value: [1] } },
    { version: 1, condition: { sequence: ['A'] } },
    { version: 1, condition: { rfm: {} } },
    { version: 1, condition: { tag: 't' } },
    { version: 1, condition: { trait: 'a', op: 'gt', value: 'abc' } },
  ];
  test.each(valid)('valid %#', (x) => {
    expect(validateCondition(x).ok).toBe(true);
    expect(ConditionDefinition.safeParse(x).success).toBe(true);
  });
  test.each(invalid)('invalid %#', (x) => {
    expect(validateCondition(x).ok).toBe(false);
    expect(ConditionDefinition.safeParse(x).success).toBe(false);
  });
});
