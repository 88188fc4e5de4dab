import { z } from 'zod';
import { LIFECYCLE_STAGES } from '../layers/lifecycle.ts';
import { RFM_SEGMENTS } from '../layers/rfm.ts';
import { isIsoDateString } from './zoned-time.ts';

/**
 * The audience condition language (version 1): one JSON tree for rule tags, segments and journey
 * branches. A persisted definition is `{ "version": 1, "condition": <node> }`.
 *
 * Comparison ops and the value each takes (traits, computed traits and event `where` filters):
 *
 * | op                          | value                              | matches when the actual value…                         |
 * |-----------------------------|------------------------------------|--------------------------------------------------------|
 * | `eq` / `neq`                | string, number or boolean          | equals / does not equal it (`neq` also matches missing) |
 * | `in` / `not_in`             | non-empty list of those            | equals one / none of them (`not_in` matches missing)   |
 * | `contains`                  | string                             | text contains it; a list has an element equal to it    |
 * | `starts_with`               | string                             | text (or a list element) starts with it                |
 * | `gt` `gte` `lt` `lte`       | number or ISO date                 | compares as a number or an instant                     |
 * | `between`                   | `[low, high]`, both ends inclusive | lies in the range                                      |
 * | `exists` / `not_exists`     | (none)                             | is present (not null, "" or []) / is not               |
 * | `within_last`               | `{ "days": n }`, n ≥ 1             | is an instant in `(now − n×24h, now]`                  |
 * | `not_within_last`           | `{ "days": n }`, n ≥ 1             | is present and at or before `now − n×24h`              |
 * | `anniversary_within_next`   | `{ "days": n }`, 0 ≤ n ≤ 366       | its month-day recurs within n calendar days (0 = today) |
 *
 * Missing values match only `neq`, `not_in` and `not_exists`. Numeric strings ("12.50") compare as
 * numbers; date-only values ("1990-05-01") and offset-less date-times are read in the workspace zone.
 * String comparisons are case-sensitive. When the actual value is a list, `eq`/`in`/`contains`/
 * `starts_with` match if any element does.
 */
export const COMPARISON_OPS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'contains',
  'starts_with',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'exists',
  'not_exists',
  'within_last',
  'not_within_last',
  'anniversary_within_next',
] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

export const EQUALITY_OPS = ['eq', 'neq'] as const;
export const LIST_OPS = ['in', 'not_in'] as const;
export const TEXT_OPS = ['contains', 'starts_with'] as const;
export const ORDER_OPS = ['gt', 'gte', 'lt', 'lte'] as const;
export const PRESENCE_OPS = ['exists', 'not_exists'] as const;
export const RECENCY_OPS = ['within_last', 'not_within_last'] as const;
/** Ops whose result depends on the clock. */
export const TIME_OPS = ['within_last', 'not_within_last', 'anniversary_within_next'] as const;
/** Ops allowed on a behaviour measure (a count, sum, average, minimum or maximum). */
export const MEASURE_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between'] as const;
export type MeasureOp = (typeof MEASURE_OPS)[number];

export const MAX_ANNIVERSARY_DAYS = 366;

/** Value types a catalog can declare for a trait or event property. */
export const VALUE_TYPES = ['string', 'number', 'boolean', 'date', 'array'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/**
 * Computed traits maintained on every profile (`profile.computed`, see `profile/computed.ts`) and their
 * types. Money is integer fen (`net_spent` = total_spent − total_refunded). Counters and sums that are missing count as 0. `event_counts` is addressed per event as
 * `event_counts.<event name>` (a number, 0 when absent).
 */
export const COMPUTED_TRAITS = {
  first_seen: 'date',
  last_seen: 'date',
  event_count: 'number',
  order_count: 'number',
  total_spent: 'number',
  avg_order_value: 'number',
  first_order_at: 'date',
  last_order_at: 'date',
  refund_count: 'number',
  total_refunded: 'number',
  net_spent: 'number',
} as const satisfies Record<string, ValueType>;
export type ComputedTraitName = keyof typeof COMPUTED_TRAITS;
export const EVENT_COUNTS_PREFIX = 'event_counts.';
/** Computed counters whose absence means 0. */
export const ZERO_DEFAULT_COMPUTED: ReadonlySet<string> = new Set(['event_count', 'order_count', 'total_spent', 'refund_count', 'total_refunded', 'net_spent']);

/** The kind keys: a condition node has exactly one of them. */
export const CONDITION_KINDS = ['all', 'any', 'not', 'trait', 'computed', 'tag', 'event', 'sequence', 'segment', 'lifecycle', 'rfm', 'rfm_segment'] as const;
export type ConditionKind = (typeof CONDITION_KINDS)[number];

export const CONDITION_VERSION = 1;

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const IsoDate = z.string().refine(isIsoDateString, { message: 'expected an ISO-8601 date such as "2024-01-31" or "2024-01-31T08:00:00Z"' });
const Orderable = z.union([z.number(), IsoDate]);
const Days = z.strictObject({ days: z.number().int().min(1) });
const AnniversaryDays = z.strictObject({ days: z.number().int().min(0).max(MAX_ANNIVERSARY_DAYS) });

/** The op/value part of a comparison, discriminated on `op`, attached to a subject (`trait`, `computed`, `property`). */
function comparison<S extends z.ZodRawShape>(subject: S) {
  return z.discriminatedUnion('op', [
    z.strictObject({ ...subject, op: z.enum(EQUALITY_OPS), value: Scalar }),
    z.strictObject({ ...subject, op: z.enum(LIST_OPS), value: z.array(Scalar).min(1) }),
    z.strictObject({ ...subject, op: z.enum(TEXT_OPS), value: z.string().min(1) }),
    z.strictObject({ ...subject, op: z.enum(ORDER_OPS), value: Orderable }),
    z.strictObject({ ...subject, op: z.literal('between'), value: z.tuple([Orderable, Orderable]) }),
    z.strictObject({ ...subject, op: z.enum(PRESENCE_OPS) }),
    z.strictObject({ ...subject, op: z.enum(RECENCY_OPS), value: Days }),
    z.strictObject({ ...subject, op: z.literal('anniversary_within_next'), value: AnniversaryDays }),
  ]);
}

/** `{ "trait": "city", "op": "eq", "value": "上海" }` — a profile trait (dotted paths reach nested values). */
export const TraitCondition = comparison({ trait: z.string().min(1) });
export type TraitCondition = z.infer<typeof TraitCondition>;

/** `{ "computed": "total_spent", "op": "gte", "value": 50000 }` — see {@link COMPUTED_TRAITS}. */
export const ComputedCondition = comparison({ computed: z.string().min(1) });
export type ComputedCondition = z.infer<typeof ComputedCondition>;

/** `{ "property": "category", "op": "eq", "value": "shoes" }` — an event property filter (dotted paths). */
export const PropertyFilter = comparison({ property: z.string().min(1) });
export type PropertyFilter = z.infer<typeof PropertyFilter>;

/** What a behaviour condition measures over the matching events. Default `"count"`. */
export const Measure = z.union([
  z.literal('count'),
  z.strictObject({ sum: z.string().min(1) }),
  z.strictObject({ avg: z.string().min(1) }),
  z.strictObject({ min: z.string().min(1) }),
  z.strictObject({ max: z.string().min(1) }),
]);
export type Measure = z.infer<typeof Measure>;

/**
 * Which events count. `{ "last_days": n }`: timestamp in `(now − n×24h, now]`; `{ "between": [from, to] }`:
 * timestamp in `[from, to]` (and not after now); `"ever"` (default): any time up to now.
 * Events timestamped after `now` have not happened yet on the evaluation clock.
 */
export const EventWindow = z.union([
  z.literal('ever'),
  z.strictObject({ last_days: z.number().int().min(1) }),
  z.strictObject({ between: z.tuple([IsoDate, IsoDate]) }),
]);
export type EventWindow = z.infer<typeof EventWindow>;

const behaviourBase = {
  event: z.string().min(1),
  where: z.array(PropertyFilter).optional(),
  measure: Measure.optional(),
  window: EventWindow.optional(),
};

/**
 * `{ "event": "Order Completed", "where": [...], "measure": "count", "op": "gte", "value": 3, "window": { "last_days": 30 } }`.
 * "Did not do" is `count eq 0`. Sums keep the unit of the property (decimal yuan for `revenue`).
 */
export const BehaviourCondition = z.discriminatedUnion('op', [
  z.strictObject({ ...behaviourBase, op: z.enum(['eq', 'neq', 'gt', 'gte', 'lt', 'lte']), value: z.number() }),
  z.strictObject({ ...behaviourBase, op: z.literal('between'), value: z.tuple([z.number(), z.number()]) }),
]);
export type BehaviourCondition = z.infer<typeof BehaviourCondition>;

/** A sequence step: an event name, or an event with property filters. */
export const SequenceStep = z.union([z.string().min(1), z.strictObject({ event: z.string().min(1), where: z.array(PropertyFilter).optional() })]);
export type SequenceStep = z.infer<typeof SequenceStep>;

/**
 * `{ "sequence": ["Product Viewed", "Order Completed"], "within_days": 7 }`: the steps happened in this
 * order (events at the same instant count in either order), the last within `within_days × 24h` of the
 * first (no limit when omitted), all inside `window` (default `"ever"`).
 */
export const SequenceCondition = z.strictObject({
  sequence: z.array(SequenceStep).min(2),
  within_days: z.number().int().min(1).optional(),
  window: EventWindow.optional(),
});
export type SequenceCondition = z.infer<typeof SequenceCondition>;

/** `{ "tag": "高意向", "has": true }` — by tag id (`tag_…`) or name. */
export const TagCondition = z.strictObject({ tag: z.string().min(1), has: z.boolean() });
export type TagCondition = z.infer<typeof TagCondition>;

/** `{ "segment": "seg_…", "in": true }` — current membership of another segment. */
export const SegmentCondition = z.strictObject({ segment: z.string().min(1), in: z.boolean() });
export type SegmentCondition = z.infer<typeof SegmentCondition>;

const LifecycleStageSchema = z.enum(LIFECYCLE_STAGES);
/** `{ "lifecycle": "at_risk" }` or `{ "lifecycle": ["silent", "at_risk"] }`. */
export const LifecycleCondition = z.strictObject({ lifecycle: z.union([LifecycleStageSchema, z.array(LifecycleStageSchema).min(1)]) });
export type LifecycleCondition = z.infer<typeof LifecycleCondition>;

const ScoreList = z.array(z.number().int().min(1).max(5)).min(1);
/** `{ "rfm": { "r": [4, 5], "f": [1, 2] } }` — each listed dimension's score is one of the list; at least one dimension. */
export const RfmCondition = z.strictObject({
  rfm: z
    .strictObject({ r: ScoreList.optional(), f: ScoreList.optional(), m: ScoreList.optional() })
    .refine((x) => x.r !== undefined || x.f !== undefined || x.m !== undefined, { message: 'give at least one of r, f, m' }),
});
export type RfmCondition = z.infer<typeof RfmCondition>;

const RfmSegmentSchema = z.enum(RFM_SEGMENTS);
/** `{ "rfm_segment": "Champions" }` or a list of segment names. */
export const RfmSegmentCondition = z.strictObject({ rfm_segment: z.union([RfmSegmentSchema, z.array(RfmSegmentSchema).min(1)]) });
export type RfmSegmentCondition = z.infer<typeof RfmSegmentCondition>;

export interface AllCondition {
  all: ConditionNode[];
}
export interface AnyCondition {
  any: ConditionNode[];
}
export interface NotCondition {
  not: ConditionNode;
}

export type LeafCondition =
  | TraitCondition
  | ComputedCondition
  | TagCondition
  | BehaviourCondition
  | SequenceCondition
  | SegmentCondition
  | LifecycleCondition
  | RfmCondition
  | RfmSegmentCondition;

/** Any node of the condition tree. */
export type ConditionNode = AllCondition | AnyCondition | NotCondition | LeafCondition;

/**
 * Zod schema of a condition node. Use {@link validateCondition} for user input: it reports every
 * problem with a JSON path and a fix, and checks the catalog; this schema is its final guarantee and
 * the source of the OpenAPI shape.
 */
export const ConditionNode: z.ZodType<ConditionNode> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(ConditionNode).min(1) }),
    z.strictObject({ any: z.array(ConditionNode).min(1) }),
    z.strictObject({ not: ConditionNode }),
    TraitCondition,
    ComputedCondition,
    TagCondition,
    BehaviourCondition,
    SequenceCondition,
    SegmentCondition,
    LifecycleCondition,
    RfmCondition,
    RfmSegmentCondition,
  ]),
);

/** The persisted, versioned definition: `{ "version": 1, "condition": <node> }`. */
export const ConditionDefinition = z.strictObject({ version: z.literal(CONDITION_VERSION), condition: ConditionNode });
export type ConditionDefinition = z.infer<typeof ConditionDefinition>;

/** Which kind a node is (its one kind key). */
export function conditionKind(node: ConditionNode): ConditionKind {
  for (const k of CONDITION_KINDS) if (k in node) return k;
  throw new TypeError('not a condition node');
}

/** A sequence step in its object form. */
export function normalizeStep(step: SequenceStep): { event: string; where: PropertyFilter[] } {
  return typeof step === 'string' ? { event: step, where: [] } : { event: step.event, where: step.where ?? [] };
}
