import type { BehaviourCondition, ConditionNode, EventWindow, PropertyFilter, SequenceCondition, TraitCondition, ComputedCondition } from './condition-schema.ts';
import { normalizeStep } from './condition-schema.ts';
import { evaluatePrepared, prepareContext, readComputed } from './evaluate-condition.ts';
import type { EvaluationContext, PreparedContext, TimedEvent } from './evaluate-condition.ts';
import { comparisonNextChange, isTimeDependent, readPath } from './match-comparison.ts';
import { DAY_MS, parseDateValue } from './zoned-time.ts';

/**
 * Bounds on the search. Past them the answer is an instant at which re-evaluating is safe but the
 * result may not have changed yet (the scheduler then simply asks again).
 */
const MAX_TREE_STEPS = 1_000;
const MAX_LEAF_STEPS = 5_000;

type TimeLeaf = TraitCondition | ComputedCondition | BehaviourCondition | SequenceCondition;

function collectTimeLeaves(node: ConditionNode, out: TimeLeaf[]): TimeLeaf[] {
  if ('all' in node) node.all.forEach((n) => collectTimeLeaves(n, out));
  else if ('any' in node) node.any.forEach((n) => collectTimeLeaves(n, out));
  else if ('not' in node) collectTimeLeaves(node.not, out);
  else if ('trait' in node || 'computed' in node) {
    if (isTimeDependent(node.op)) out.push(node);
  } else if ('event' in node || 'sequence' in node) out.push(node);
  return out;
}

/** Earliest instant after now at which an event enters or leaves the window, or a `where` filter flips. */
function eventBoundary(name: string, where: readonly PropertyFilter[], window: EventWindow | undefined, env: PreparedContext): number | null {
  const list = env.byName.get(name);
  if (!list || list.length === 0) return null;
  const now = env.nowMs;
  let best: number | null = null;
  const consider = (c: number | null): void => {
    if (c !== null && c > now && (best === null || c < best)) best = c;
  };
  // Entering: the first event timestamped after now (inside a fixed `between` range).
  if (window !== undefined && window !== 'ever' && 'between' in window) {
    const from = parseDateValue(window.between[0], env.timeZone);
    const to = parseDateValue(window.between[1], env.timeZone);
    if (from && to) {
      const e = list[firstAfter(list, Math.max(now, from.ms - 1))];
      if (e && e.ms <= to.ms) consider(e.ms);
    }
  } else {
    consider(list[firstAfter(list, now)]?.ms ?? null);
  }
  // Leaving a rolling window: the oldest event still inside it.
  if (window !== undefined && window !== 'ever' && 'last_days' in window) {
    const span = window.last_days * DAY_MS;
    const e = list[firstAfter(list, now - span)];
    if (e) consider(e.ms + span);
  }
  for (const filter of where) {
    if (!isTimeDependent(filter.op)) continue;
    for (const e of list) consider(comparisonNextChange(readPath(e.properties, filter.property), filter, env));
  }
  return best;
}

/** First index in `list` (sorted by ms) with `ms > at`. */
function firstAfter(list: readonly TimedEvent[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.ms <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function leafBoundary(leaf: BehaviourCondition | SequenceCondition, env: PreparedContext): number | null {
  if ('event' in leaf) return eventBoundary(leaf.event, leaf.where ?? [], leaf.window, env);
  let best: number | null = null;
  for (const step of leaf.sequence.map(normalizeStep)) {
    const c = eventBoundary(step.event, step.where, leaf.window, env);
    if (c !== null && (best === null || c < best)) best = c;
  }
  return best;
}

/** Exact next instant at which this leaf alone changes (bounded; see MAX_LEAF_STEPS). */
function leafNextChange(leaf: TimeLeaf, env: PreparedContext): number | null {
  if ('trait' in leaf) return comparisonNextChange(readPath(env.profile.traits, leaf.trait), leaf, env);
  if ('computed' in leaf) return comparisonNextChange(readComputed(env.profile.computed, leaf), leaf, env);
  const current = evaluatePrepared(leaf, env);
  let t = env.nowMs;
  for (let i = 0; i < MAX_LEAF_STEPS; i++) {
    const b = leafBoundary(leaf, { ...env, nowMs: t });
    if (b === null) return null;
    if (evaluatePrepared(leaf, { ...env, nowMs: b }) !== current) return b;
    t = b;
  }
  return t;
}

/**
 * The earliest instant after `ctx.now` at which {@link evaluateCondition} could return a different
 * result with no new data — an event leaving a `last_days` window, a `within_last` date crossing its
 * boundary, the local midnight an anniversary enters or leaves its range, an event timestamped in the
 * future arriving — or null if the result can only change through new data. Segment, tag, lifecycle
 * and RFM references are treated as fixed: their own schedulers report their changes.
 *
 * The answer is exact (the result differs at that instant and at no earlier one) except for
 * pathological inputs with thousands of boundaries, where it is an earlier safe re-check time.
 */
export function nextChangeAt(node: ConditionNode, ctx: EvaluationContext): Date | null {
  const leaves = collectTimeLeaves(node, []);
  if (leaves.length === 0) return null;
  const base = prepareContext(ctx);
  const initial = evaluatePrepared(node, base);
  let t = base.nowMs;
  for (let i = 0; i < MAX_TREE_STEPS; i++) {
    const at: PreparedContext = { ...base, nowMs: t };
    let next: number | null = null;
    for (const leaf of leaves) {
      const c = leafNextChange(leaf, at);
      if (c !== null && (next === null || c < next)) next = c;
    }
    if (next === null) return null;
    if (evaluatePrepared(node, { ...base, nowMs: next }) !== initial) return new Date(next);
    t = next;
  }
  return new Date(t);
}
