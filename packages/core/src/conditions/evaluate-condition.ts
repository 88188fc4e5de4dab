import type {
  BehaviourCondition,
  ComputedCondition,
  ConditionNode,
  EventWindow,
  Measure,
  PropertyFilter,
  SequenceCondition,
} from './condition-schema.ts';
import { EVENT_COUNTS_PREFIX, ZERO_DEFAULT_COMPUTED, normalizeStep } from './condition-schema.ts';
import { matchComparison, readPath, toNumber } from './match-comparison.ts';
import type { ComparisonEnv } from './match-comparison.ts';
import { DAY_MS, parseDateValue } from './zoned-time.ts';

/** A profile as the evaluator sees it. */
export interface EvaluationProfile {
  id: string;
  traits: Record<string, unknown>;
  /** Computed traits: see `COMPUTED_TRAITS`; `event_counts` maps event name → count. */
  computed: Record<string, unknown>;
  /** The profile's tag ids AND names. */
  tags: ReadonlySet<string>;
  /** Ids of the segments the profile is currently in. */
  segments: ReadonlySet<string>;
  lifecycle?: string | null;
  rfm?: { r: number; f: number; m: number; segment: string } | null;
}

export interface EvaluationEvent {
  event: string;
  type: string;
  /** ISO-8601; offset-less timestamps are read in the workspace zone. */
  timestamp: string;
  properties: Record<string, unknown>;
}

export interface EvaluationContext {
  /** The (virtual) clock. */
  now: Date;
  /** Workspace IANA time zone for calendar math, e.g. `Asia/Shanghai`. */
  timeZone: string;
  profile: EvaluationProfile;
  /** This profile's events, in any order. */
  events: ReadonlyArray<EvaluationEvent>;
}

/** An event with its instant parsed. */
export interface TimedEvent {
  ms: number;
  /** Position in the input, to tell apart events at the same instant. */
  index: number;
  properties: Record<string, unknown>;
}

/** A context with events parsed and grouped by name, sorted by time; shared across clock positions. */
export interface PreparedContext extends ComparisonEnv {
  profile: EvaluationProfile;
  byName: ReadonlyMap<string, readonly TimedEvent[]>;
}

const preparedEvents = new WeakMap<object, Map<string, ReadonlyMap<string, readonly TimedEvent[]>>>();

function groupEvents(events: ReadonlyArray<EvaluationEvent>, timeZone: string): ReadonlyMap<string, readonly TimedEvent[]> {
  let perZone = preparedEvents.get(events);
  const cached = perZone?.get(timeZone);
  if (cached) return cached;
  const byName = new Map<string, TimedEvent[]>();
  events.forEach((e, index) => {
    const at = parseDateValue(e.timestamp, timeZone);
    if (!at) return; // an event without a readable time cannot be placed in any window
    let list = byName.get(e.event);
    if (!list) byName.set(e.event, (list = []));
    list.push({ ms: at.ms, index, properties: e.properties ?? {} });
  });
  for (const list of byName.values()) list.sort((a, b) => a.ms - b.ms || a.index - b.index);
  if (!perZone) preparedEvents.set(events, (perZone = new Map()));
  perZone.set(timeZone, byName);
  return byName;
}

/** Parses and groups the events once; {@link evaluatePrepared} can then run at any clock position. */
export function prepareContext(ctx: EvaluationContext): PreparedContext {
  return {
    nowMs: ctx.now.getTime(),
    timeZone: ctx.timeZone,
    profile: ctx.profile,
    byName: groupEvents(ctx.events, ctx.timeZone),
  };
}

/**
 * Whether the profile matches the condition at `ctx.now`.
 *
 * @example evaluateCondition({ trait: 'city', op: 'eq', value: '上海' }, ctx) // true for a Shanghai profile
 */
export function evaluateCondition(node: ConditionNode, ctx: EvaluationContext): boolean {
  return evaluatePrepared(node, prepareContext(ctx));
}

export function evaluatePrepared(node: ConditionNode, env: PreparedContext): boolean {
  if ('all' in node) return node.all.every((n) => evaluatePrepared(n, env));
  if ('any' in node) return node.any.some((n) => evaluatePrepared(n, env));
  if ('not' in node) return !evaluatePrepared(node.not, env);
  if ('trait' in node) return matchComparison(readPath(env.profile.traits, node.trait), node, env);
  if ('computed' in node) return matchComparison(readComputed(env.profile.computed, node), node, env);
  if ('tag' in node) return env.profile.tags.has(node.tag) === node.has;
  if ('event' in node) return evaluateBehaviour(node, env);
  if ('sequence' in node) return evaluateSequence(node, env);
  if ('segment' in node) return env.profile.segments.has(node.segment) === node.in;
  if ('lifecycle' in node) {
    const stages: readonly string[] = Array.isArray(node.lifecycle) ? node.lifecycle : [node.lifecycle];
    return env.profile.lifecycle != null && stages.includes(env.profile.lifecycle);
  }
  if ('rfm' in node) {
    const rfm = env.profile.rfm;
    if (!rfm) return false;
    const { r, f, m } = node.rfm;
    return (!r || r.includes(rfm.r)) && (!f || f.includes(rfm.f)) && (!m || m.includes(rfm.m));
  }
  const names: readonly string[] = Array.isArray(node.rfm_segment) ? node.rfm_segment : [node.rfm_segment];
  return env.profile.rfm != null && names.includes(env.profile.rfm.segment);
}

/** A computed trait's value; counters and sums default to 0, `event_counts.<name>` too. */
export function readComputed(computed: Record<string, unknown>, node: Pick<ComputedCondition, 'computed'>): unknown {
  const name = node.computed;
  if (name.startsWith(EVENT_COUNTS_PREFIX)) {
    const counts = computed['event_counts'];
    const eventName = name.slice(EVENT_COUNTS_PREFIX.length);
    const n = counts !== null && typeof counts === 'object' && Object.hasOwn(counts, eventName) ? (counts as Record<string, unknown>)[eventName] : undefined;
    return n ?? 0;
  }
  const value = Object.hasOwn(computed, name) ? computed[name] : undefined;
  return value ?? (ZERO_DEFAULT_COMPUTED.has(name) ? 0 : undefined);
}

/**
 * The instants a window covers at `nowMs`: `(after, upTo]`. Events after now have not happened yet.
 * A `between` window `[from, to]` is inclusive at both ends.
 */
export function windowRange(window: EventWindow | undefined, env: ComparisonEnv): { after: number; upTo: number } {
  const now = env.nowMs;
  if (window === undefined || window === 'ever') return { after: -Infinity, upTo: now };
  if ('last_days' in window) return { after: now - window.last_days * DAY_MS, upTo: now };
  const from = parseDateValue(window.between[0], env.timeZone);
  const to = parseDateValue(window.between[1], env.timeZone);
  if (!from || !to) return { after: Infinity, upTo: -Infinity };
  return { after: from.ms - 1, upTo: Math.min(to.ms, now) };
}

/** Events of `list` (sorted by time) inside the window. */
function eventsInWindow(list: readonly TimedEvent[] | undefined, window: EventWindow | undefined, env: ComparisonEnv): readonly TimedEvent[] {
  if (!list) return [];
  const { after, upTo } = windowRange(window, env);
  return list.filter((e) => e.ms > after && e.ms <= upTo);
}

export function matchesWhere(e: TimedEvent, where: readonly PropertyFilter[] | undefined, env: ComparisonEnv): boolean {
  return !where || where.every((f) => matchComparison(readPath(e.properties, f.property), f, env));
}

/**
 * Sum of decimal values without binary drift (0.1 + 0.2 = 0.3): values are added as integers scaled by
 * the most decimals any of them has.
 */
export function decimalSum(values: readonly number[]): number {
  let scale = 0;
  for (const v of values) {
    const s = String(v);
    if (s.includes('e')) return values.reduce((a, b) => a + b, 0);
    const dot = s.indexOf('.');
    if (dot >= 0) scale = Math.max(scale, s.length - dot - 1);
  }
  if (scale > 12) return values.reduce((a, b) => a + b, 0);
  const factor = 10 ** scale;
  let total = 0;
  for (const v of values) total += Math.round(v * factor);
  return total / factor;
}

/** The measure over the matching events; undefined for avg/min/max over no numeric value. */
export function measureEvents(events: readonly TimedEvent[], measure: Measure | undefined): number | undefined {
  if (measure === undefined || measure === 'count') return events.length;
  const property = 'sum' in measure ? measure.sum : 'avg' in measure ? measure.avg : 'min' in measure ? measure.min : measure.max;
  const values: number[] = [];
  for (const e of events) {
    const n = toNumber(readPath(e.properties, property));
    if (n !== null) values.push(n);
  }
  if ('sum' in measure) return decimalSum(values);
  if (values.length === 0) return undefined;
  if ('avg' in measure) return decimalSum(values) / values.length;
  return 'min' in measure ? Math.min(...values) : Math.max(...values);
}

function compareMeasure(value: number | undefined, node: BehaviourCondition): boolean {
  if (value === undefined) return false;
  switch (node.op) {
    case 'eq':
      return value === node.value;
    case 'neq':
      return value !== node.value;
    case 'gt':
      return value > node.value;
    case 'gte':
      return value >= node.value;
    case 'lt':
      return value < node.value;
    case 'lte':
      return value <= node.value;
    case 'between':
      return value >= node.value[0] && value <= node.value[1];
  }
}

function evaluateBehaviour(node: BehaviourCondition, env: PreparedContext): boolean {
  const matching = eventsInWindow(env.byName.get(node.event), node.window, env).filter((e) => matchesWhere(e, node.where, env));
  return compareMeasure(measureEvents(matching, node.measure), node);
}

/** First index in `list` (sorted by ms) with `ms >= at`. */
function firstAtOrAfter(list: readonly TimedEvent[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.ms < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function evaluateSequence(node: SequenceCondition, env: PreparedContext): boolean {
  const steps = node.sequence.map(normalizeStep);
  const lists = steps.map((s) => eventsInWindow(env.byName.get(s.event), node.window, env).filter((e) => matchesWhere(e, s.where, env)));
  const limit = node.within_days === undefined ? Infinity : node.within_days * DAY_MS;
  const [firstList, ...rest] = lists;
  if (!firstList) return false;
  // From each start, greedily taking the earliest possible next step gives the earliest possible end.
  for (const start of firstList) {
    const used = new Set<TimedEvent>([start]);
    let previous = start;
    let complete = true;
    for (const list of rest) {
      let i = firstAtOrAfter(list, previous.ms);
      while (i < list.length && used.has(list[i]!)) i++;
      const next = list[i];
      if (!next) {
        complete = false;
        break;
      }
      used.add(next);
      previous = next;
    }
    if (complete && previous.ms - start.ms <= limit) return true;
  }
  return false;
}
