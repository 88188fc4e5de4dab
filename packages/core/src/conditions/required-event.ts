import type { BehaviourCondition, EventWindow, SequenceCondition } from './condition-schema.ts';
import { normalizeStep } from './condition-schema.ts';

/** An event a profile must have for a condition to match: its name, inside this window. */
export interface RequiredEvent {
  event: string;
  window: EventWindow;
}

/**
 * Whether a behaviour condition can only match a profile with at least one event of its name in its
 * window (property filters aside). It holds when the measure over no events fails the comparison:
 * a count (or sum) of 0 fails `gte 1`, `gt 0`, `eq 2`, `between [1, 5]`, `neq 0`; avg/min/max over no
 * events have no value and never match. "Did not do" (`count eq 0`, `lt 1`, `lte 3`…) is matched by
 * profiles with no events at all, so it does not require one.
 */
export function behaviourRequiresEvent(node: BehaviourCondition): boolean {
  const measure = node.measure ?? 'count';
  if (measure !== 'count' && !('sum' in measure)) return true;
  // count and sum over no events are both 0.
  switch (node.op) {
    case 'eq':
      return node.value !== 0;
    case 'neq':
      return node.value === 0;
    case 'gt':
      return !(0 > node.value);
    case 'gte':
      return !(0 >= node.value);
    case 'lt':
      return !(0 < node.value);
    case 'lte':
      return !(0 <= node.value);
    case 'between':
      return !(0 >= node.value[0] && 0 <= node.value[1]);
  }
}

/**
 * An event every profile matching this behaviour or sequence condition has, or null when a profile
 * with no such event can match ("did not do"). A sequence requires each of its steps; its first is
 * given. Used to narrow bulk evaluation to the profiles that have the event (a superset of matches).
 *
 * @example requiredEvent({ event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } }) // { event: 'Order Completed', window: { last_days: 30 } }
 */
export function requiredEvent(node: BehaviourCondition | SequenceCondition): RequiredEvent | null {
  if ('sequence' in node) {
    const first = node.sequence[0];
    return first === undefined ? null : { event: normalizeStep(first).event, window: node.window ?? 'ever' };
  }
  return behaviourRequiresEvent(node) ? { event: node.event, window: node.window ?? 'ever' } : null;
}
