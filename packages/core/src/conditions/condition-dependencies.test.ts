import { describe, expect, test } from 'vitest';
import { conditionDependencies } from './condition-dependencies.ts';
import type { ConditionNode } from './condition-schema.ts';

describe('conditionDependencies', () => {
  test('lists everything a definition reads, sorted and without duplicates', () => {
    const deps = conditionDependencies({
      all: [
        { trait: 'city', op: 'eq', value: '上海' },
        { trait: 'address.city', op: 'exists' },
        { computed: 'event_counts.Product Viewed', op: 'gt', value: 1 },
        { computed: 'total_spent', op: 'gte', value: 1 },
        { any: [{ tag: '高意向', has: true }, { tag: 'tag_01', has: false }, { tag: '高意向', has: false }] },
        { not: { segment: 'seg_b', in: true } },
        { segment: 'seg_a', in: true },
        { event: 'Order Completed', op: 'gte', value: 1 },
        { sequence: ['Product Viewed', { event: 'Order Completed', where: [] }] },
        { lifecycle: 'at_risk' },
        { not: { lifecycle: ['silent', 'at_risk'] } },
        { rfm_segment: 'Champions' },
      ],
    });
    expect(deps).toEqual({
      traits: ['address.city', 'city'],
      computed: ['event_counts.Product Viewed', 'total_spent'],
      events: ['Order Completed', 'Product Viewed'],
      eventProperties: [],
      tags: ['tag_01', '高意向'],
      segments: ['seg_a', 'seg_b'],
      usesLifecycle: true,
      lifecycleStages: ['at_risk', 'silent'],
      usesRfm: true,
      timeDependent: false,
    });
  });

  test.each<{ name: string; node: ConditionNode; expected: boolean }>([
    { name: 'a rolling window', node: { event: 'E', op: 'gte', value: 1, window: { last_days: 7 } }, expected: true },
    { name: 'a fixed window', node: { event: 'E', op: 'gte', value: 1, window: { between: ['2024-01-01', '2024-02-01'] } }, expected: false },
    { name: 'within_last on a trait', node: { trait: 'signup_at', op: 'within_last', value: { days: 7 } }, expected: true },
    { name: 'an anniversary', node: { computed: 'first_order_at', op: 'anniversary_within_next', value: { days: 7 } }, expected: true },
    { name: 'a time filter inside a sequence step', node: { sequence: ['A', { event: 'B', where: [{ property: 'at', op: 'within_last', value: { days: 1 } }] }] }, expected: true },
    { name: 'rfm scores', node: { rfm: { r: [5] } }, expected: false },
  ])('timeDependent: $name', ({ node, expected }) => {
    expect(conditionDependencies(node).timeDependent).toBe(expected);
  });

  test.each<{ name: string; node: ConditionNode; expected: string[] }>([
    { name: 'a plain count', node: { event: 'E', op: 'gte', value: 1 }, expected: [] },
    { name: 'an explicit count', node: { event: 'E', measure: 'count', op: 'gte', value: 1 }, expected: [] },
    { name: 'a property filter', node: { event: 'E', where: [{ property: 'sku', op: 'eq', value: 'A' }], op: 'gte', value: 1 }, expected: ['E'] },
    { name: 'a sum', node: { event: 'E', measure: { sum: 'revenue' }, op: 'gte', value: 1 }, expected: ['E'] },
    { name: 'a max', node: { not: { event: 'E', measure: { max: 'revenue' }, op: 'gte', value: 1 } }, expected: ['E'] },
    { name: 'a filtered sequence step', node: { sequence: ['A', { event: 'B', where: [{ property: 'sku', op: 'eq', value: 'A' }] }] }, expected: ['B'] },
    { name: 'an unfiltered sequence', node: { sequence: ['A', { event: 'B', where: [] }] }, expected: [] },
  ])('eventProperties: $name', ({ node, expected }) => {
    expect(conditionDependencies(node).eventProperties).toEqual(expected);
  });

  test('rfm scores count as using RFM', () => {
    expect(conditionDependencies({ rfm: { r: [5] } }).usesRfm).toBe(true);
    expect(conditionDependencies({ tag: 'x', has: true }).usesRfm).toBe(false);
  });
});
