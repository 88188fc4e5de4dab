import { describe, expect, test } from 'vitest';
import type { ConditionNode } from './condition-schema.ts';
import { evaluateCondition, type EvaluationEvent } from './evaluate-condition.ts';
import { evaluateWithoutEvents, hasClockDependentTraits } from './evaluate-without-events.ts';

const NOW = new Date('2024-06-15T04:00:00Z');
const profile = { id: 'p', traits: { city: '北京' }, computed: { order_count: 2 }, tags: new Set(['VIP']), segments: new Set<string>() };
const ctx = { now: NOW, timeZone: 'Asia/Shanghai', profile };
const bought: ConditionNode = { event: 'Order Completed', op: 'gte', value: 1 };
const shanghai: ConditionNode = { trait: 'city', op: 'eq', value: '上海' };
const vip: ConditionNode = { tag: 'VIP', has: true };

describe('evaluateWithoutEvents', () => {
  test.each<[string, ConditionNode, boolean | null]>([
    ['a trait alone', shanghai, false],
    ['all: a false trait decides', { all: [shanghai, bought] }, false],
    ['all: a true tag leaves it to the events', { all: [vip, bought] }, null],
    ['any: a true tag decides', { any: [bought, vip] }, true],
    ['any: a false trait leaves it to the events', { any: [shanghai, bought] }, null],
    ['not of undecided', { not: { all: [vip, bought] } }, null],
    ['not of decided', { not: { all: [shanghai, bought] } }, true],
    ['a sequence', { sequence: ['A', 'B'] }, null],
    ['computed event counts are not events', { computed: 'order_count', op: 'gte', value: 2 }, true],
  ])('%s', (_name, node, expected) => {
    expect(evaluateWithoutEvents(node, ctx)).toBe(expected);
  });

  test('a decided result is what the full evaluator says with any events', () => {
    const histories: EvaluationEvent[][] = [[], [{ event: 'Order Completed', type: 'track', timestamp: '2024-06-01T00:00:00Z', properties: {} }]];
    for (const node of [{ all: [shanghai, bought] }, { any: [bought, vip] }, { not: { all: [shanghai, bought] } }] as ConditionNode[]) {
      for (const events of histories) expect(evaluateCondition(node, { ...ctx, events })).toBe(evaluateWithoutEvents(node, ctx));
    }
  });

  test.each<[string, ConditionNode, boolean | null]>([
    ['a false trait still decides', { all: [shanghai, vip, bought] }, false],
    ['a tag is unknown', vip, null],
    ['any: a true computed trait decides past an unknown tag', { any: [vip, { computed: 'order_count', op: 'gte', value: 2 }] }, true],
    ['not of a tag', { not: vip }, null],
    ['lifecycle and RFM are unknown', { any: [{ lifecycle: 'active' }, { rfm_segment: 'Champions' }, { rfm: { r: [5] } }] }, null],
    ['segment membership is known', { segment: 'seg_1', in: true }, false],
  ])('tags and layers unknown: %s', (_name, node, expected) => {
    expect(evaluateWithoutEvents(node, ctx, { tagsAndLayersUnknown: true })).toBe(expected);
  });

  test('with tags and layers unknown, a decided result is what the full evaluator says for any tags', () => {
    const nodes: ConditionNode[] = [{ all: [shanghai, vip, bought] }, { any: [vip, { computed: 'order_count', op: 'gte', value: 2 }] }, { not: { all: [vip, shanghai] } }];
    for (const tags of [new Set<string>(), new Set(['VIP'])]) {
      for (const node of nodes) {
        const partial = evaluateWithoutEvents(node, { ...ctx, profile: { ...profile, tags: new Set<string>() } }, { tagsAndLayersUnknown: true });
        if (partial !== null) expect(evaluateCondition(node, { ...ctx, profile: { ...profile, tags }, events: [] })).toBe(partial);
      }
    }
  });
});

test('hasClockDependentTraits looks at traits and computed traits only', () => {
  expect(hasClockDependentTraits({ all: [bought, { event: 'E', op: 'gte', value: 1, window: { last_days: 7 } }] })).toBe(false);
  expect(hasClockDependentTraits({ any: [bought, { not: { trait: 'signup_at', op: 'within_last', value: { days: 7 } } }] })).toBe(true);
  expect(hasClockDependentTraits({ computed: 'last_order_at', op: 'anniversary_within_next', value: { days: 3 } })).toBe(true);
});
