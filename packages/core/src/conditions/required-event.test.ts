import { describe, expect, test } from 'vitest';
import type { BehaviourCondition } from './condition-schema.ts';
import { evaluateCondition } from './evaluate-condition.ts';
import { behaviourRequiresEvent, requiredEvent } from './required-event.ts';

const NOW = new Date('2024-06-15T04:00:00Z');
const noEvents = (node: BehaviourCondition): boolean =>
  evaluateCondition(node, { now: NOW, timeZone: 'Asia/Shanghai', profile: { id: 'p', traits: {}, computed: {}, tags: new Set(), segments: new Set() }, events: [] });

describe('behaviourRequiresEvent', () => {
  test.each<[string, BehaviourCondition, boolean]>([
    ['bought at least once', { event: 'Order Completed', op: 'gte', value: 1 }, true],
    ['bought more than 0 times', { event: 'Order Completed', op: 'gt', value: 0 }, true],
    ['bought exactly twice', { event: 'Order Completed', op: 'eq', value: 2 }, true],
    ['bought 1 to 5 times', { event: 'Order Completed', op: 'between', value: [1, 5] }, true],
    ['did not buy (count = 0)', { event: 'Order Completed', op: 'eq', value: 0 }, false],
    ['bought fewer than 3 times', { event: 'Order Completed', op: 'lt', value: 3 }, false],
    ['bought 0 to 2 times', { event: 'Order Completed', op: 'between', value: [0, 2] }, false],
    ['count not 0', { event: 'Order Completed', op: 'neq', value: 0 }, true],
    ['count not 3', { event: 'Order Completed', op: 'neq', value: 3 }, false],
    ['spent at least 100', { event: 'Order Completed', measure: { sum: 'revenue' }, op: 'gte', value: 100 }, true],
    ['spent at most 100', { event: 'Order Completed', measure: { sum: 'revenue' }, op: 'lte', value: 100 }, false],
    ['average below 10', { event: 'Order Completed', measure: { avg: 'revenue' }, op: 'lt', value: 10 }, true],
    ['smallest order at most 100', { event: 'Order Completed', measure: { min: 'revenue' }, op: 'lte', value: 100 }, true],
    ['largest order not 0', { event: 'Order Completed', measure: { max: 'revenue' }, op: 'neq', value: 0 }, true],
  ])('%s → %s', (_name, node, expected) => {
    expect(behaviourRequiresEvent(node)).toBe(expected);
  });

  test('agrees with the evaluator: a profile without events matches exactly when no event is required', () => {
    const ops = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
    const measures = [undefined, 'count', { sum: 'revenue' }, { avg: 'revenue' }, { min: 'revenue' }, { max: 'revenue' }] as const;
    for (const measure of measures) {
      for (const value of [-1, 0, 0.5, 1, 3]) {
        for (const op of ops) {
          const node: BehaviourCondition = { event: 'E', op, value, ...(measure ? { measure } : {}) };
          expect(behaviourRequiresEvent(node), JSON.stringify(node)).toBe(!noEvents(node));
        }
        for (const high of [-1, 0, 2]) {
          const node: BehaviourCondition = { event: 'E', op: 'between', value: [value, high], ...(measure ? { measure } : {}) };
          expect(behaviourRequiresEvent(node), JSON.stringify(node)).toBe(!noEvents(node));
        }
      }
    }
  });
});

describe('requiredEvent', () => {
  test('a behaviour condition that needs an event gives its name and window', () => {
    expect(requiredEvent({ event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } })).toEqual({ event: 'Order Completed', window: { last_days: 30 } });
    expect(requiredEvent({ event: 'Order Completed', op: 'gte', value: 1 })).toEqual({ event: 'Order Completed', window: 'ever' });
  });
  test('"did not do" requires nothing', () => {
    expect(requiredEvent({ event: 'Order Completed', op: 'eq', value: 0, window: { last_days: 30 } })).toBeNull();
  });
  test('a sequence requires its first step inside its window', () => {
    expect(requiredEvent({ sequence: [{ event: 'Product Viewed', where: [] }, 'Order Completed'], window: { last_days: 7 } })).toEqual({ event: 'Product Viewed', window: { last_days: 7 } });
  });
});
