import type { ConditionNode } from './condition-schema.ts';
import { evaluatePrepared, prepareContext, type EvaluationContext } from './evaluate-condition.ts';
import { isTimeDependent } from './match-comparison.ts';

const NO_EVENTS: readonly never[] = [];

/**
 * Three-valued evaluation of a condition before the profile's events are known: `true` or `false`
 * when the result is the same whatever the events are (behaviour and sequence leaves treated as
 * unknown under `all`/`any`/`not`), `null` when the events decide it. Bulk evaluation reads events
 * only for profiles where this is null. `tagsAndLayersUnknown`: tag, lifecycle and RFM leaves are unknown too (a
 * bulk pass screening rows before it has read their tags and layers).
 *
 * @example evaluateWithoutEvents({ all: [{ trait: 'city', op: 'eq', value: '上海' }, { event: 'Order Completed', op: 'gte', value: 1 }] }, ctx) // false for a Beijing profile
 */
export function evaluateWithoutEvents(node: ConditionNode, ctx: Omit<EvaluationContext, 'events'>, opts: { tagsAndLayersUnknown?: boolean } = {}): boolean | null {
  const env = prepareContext({ ...ctx, events: NO_EVENTS });
  const visit = (n: ConditionNode): boolean | null => {
    if ('all' in n) {
      let unknown = false;
      for (const c of n.all) {
        const r = visit(c);
        if (r === false) return false;
        if (r === null) unknown = true;
      }
      return unknown ? null : true;
    }
    if ('any' in n) {
      let unknown = false;
      for (const c of n.any) {
        const r = visit(c);
        if (r === true) return true;
        if (r === null) unknown = true;
      }
      return unknown ? null : false;
    }
    if ('not' in n) {
      const r = visit(n.not);
      return r === null ? null : !r;
    }
    if ('event' in n || 'sequence' in n) return null;
    if (opts.tagsAndLayersUnknown && ('tag' in n || 'lifecycle' in n || 'rfm' in n || 'rfm_segment' in n)) return null;
    return evaluatePrepared(n, env);
  };
  return visit(node);
}

/**
 * Whether any part of the condition other than behaviour and sequences changes with the clock alone
 * (`within_last`, `not_within_last`, `anniversary_within_next` on traits or computed traits). When
 * not, a result {@link evaluateWithoutEvents} decides stays decided until the profile's data changes.
 */
export function hasClockDependentTraits(node: ConditionNode): boolean {
  if ('all' in node) return node.all.some(hasClockDependentTraits);
  if ('any' in node) return node.any.some(hasClockDependentTraits);
  if ('not' in node) return hasClockDependentTraits(node.not);
  if ('trait' in node || 'computed' in node) return isTimeDependent(node.op);
  return false;
}
