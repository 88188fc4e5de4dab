/**
 * The audience condition language (version 1, see packages/core/src/conditions/condition-schema.ts)
 * as the visual builder edits it: a tree of groups (all / any, optionally negated) and typed rules,
 * converted to and from the wire JSON. `toDefinition` also returns each builder node's JSON path
 * (`definition.condition.all[1]`), so the server's validation problems can be shown next to the
 * rule they point at. Money in computed traits is integer fen on the wire and yuan in the editor.
 */
import { LIFECYCLE_STAGES, RFM_SEGMENTS, type ConditionDefinitionJson, type Problem } from './api';

export const CONDITION_VERSION = 1;

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

export const MEASURE_OPS = ['gte', 'gt', 'eq', 'neq', 'lte', 'lt', 'between'] as const;
export type MeasureOp = (typeof MEASURE_OPS)[number];

export type ValueType = 'string' | 'number' | 'boolean' | 'date' | 'array';

/** Computed traits the builder offers, with their types; money ones are fen on the wire. */
export const COMPUTED_TRAITS = {
  total_spent: 'number',
  order_count: 'number',
  avg_order_value: 'number',
  net_spent: 'number',
  total_refunded: 'number',
  refund_count: 'number',
  event_count: 'number',
  first_order_at: 'date',
  last_order_at: 'date',
  first_seen: 'date',
  last_seen: 'date',
} as const satisfies Record<string, ValueType>;
export type ComputedTraitName = keyof typeof COMPUTED_TRAITS;

export const MONEY_COMPUTED: ReadonlySet<string> = new Set(['total_spent', 'avg_order_value', 'net_spent', 'total_refunded']);

export function computedType(name: string): ValueType | undefined {
  if (name.startsWith('event_counts.')) return 'number';
  return Object.hasOwn(COMPUTED_TRAITS, name) ? COMPUTED_TRAITS[name as ComputedTraitName] : undefined;
}

/** The comparison ops that make sense for a value type (all of them when the type is unknown). */
export function opsForType(type: ValueType | null | undefined): readonly ComparisonOp[] {
  switch (type) {
    case 'number':
      return ['gte', 'gt', 'eq', 'neq', 'lte', 'lt', 'between', 'in', 'not_in', 'exists', 'not_exists'];
    case 'string':
      return ['eq', 'neq', 'in', 'not_in', 'contains', 'starts_with', 'exists', 'not_exists'];
    case 'boolean':
      return ['eq', 'neq', 'exists', 'not_exists'];
    case 'date':
      return ['within_last', 'not_within_last', 'gt', 'gte', 'lt', 'lte', 'between', 'anniversary_within_next', 'exists', 'not_exists'];
    case 'array':
      return ['contains', 'starts_with', 'eq', 'in', 'not_in', 'exists', 'not_exists'];
    default:
      return COMPARISON_OPS;
  }
}

/** What shape of value an op takes. */
export type ValueShape = 'scalar' | 'list' | 'text' | 'order' | 'range' | 'none' | 'days';

export function valueShape(op: ComparisonOp): ValueShape {
  switch (op) {
    case 'eq':
    case 'neq':
      return 'scalar';
    case 'in':
    case 'not_in':
      return 'list';
    case 'contains':
    case 'starts_with':
      return 'text';
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return 'order';
    case 'between':
      return 'range';
    case 'exists':
    case 'not_exists':
      return 'none';
    default:
      return 'days';
  }
}

/** The value kept when the op changes: the old one if it still fits, else an empty one of the new shape. */
export function valueForOp(op: ComparisonOp, previousOp: ComparisonOp, previous: unknown): unknown {
  const shape = valueShape(op);
  const before = valueShape(previousOp);
  if (shape === before) return previous;
  if ((shape === 'scalar' || shape === 'order' || shape === 'text') && (before === 'scalar' || before === 'order' || before === 'text')) return previous;
  switch (shape) {
    case 'list':
      return previous === undefined || previous === null || previous === '' || typeof previous === 'object' ? [] : [previous];
    case 'range':
      return [null, null];
    case 'none':
      return undefined;
    case 'days':
      return { days: op === 'anniversary_within_next' ? 7 : 30 };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The builder tree
// ---------------------------------------------------------------------------------------------

export interface PropertyFilterDraft {
  property: string;
  op: ComparisonOp;
  value?: unknown;
}

export type MeasureFn = 'count' | 'sum' | 'avg' | 'min' | 'max';
export interface MeasureDraft {
  fn: MeasureFn;
  property: string;
}

export type WindowType = 'ever' | 'last_days' | 'between';
export interface WindowDraft {
  type: WindowType;
  days: number | null;
  from: string;
  to: string;
}

export type RuleBody =
  | { kind: 'trait'; trait: string; op: ComparisonOp; value?: unknown }
  | { kind: 'computed'; computed: string; op: ComparisonOp; value?: unknown }
  | { kind: 'tag'; tag: string; has: boolean }
  | { kind: 'event'; event: string; measure: MeasureDraft; op: MeasureOp; value?: unknown; window: WindowDraft; where: PropertyFilterDraft[] }
  | { kind: 'not_done'; event: string; window: WindowDraft; where: PropertyFilterDraft[] }
  | { kind: 'sequence'; steps: string[]; withinDays: number | null; window: WindowDraft }
  | { kind: 'segment'; segment: string; in: boolean }
  | { kind: 'lifecycle'; stages: string[] }
  | { kind: 'rfm_segment'; segments: string[] }
  | { kind: 'rfm'; r: number[]; f: number[]; m: number[] }
  | { kind: 'json'; text: string };

export type RuleKind = RuleBody['kind'];

/** Rule kinds in the order the "add rule" menu lists them. */
export const RULE_KINDS: readonly RuleKind[] = ['trait', 'computed', 'tag', 'event', 'not_done', 'sequence', 'segment', 'lifecycle', 'rfm_segment', 'rfm', 'json'];

export interface GroupNode {
  key: string;
  type: 'group';
  mode: 'all' | 'any';
  /** Serialised as `{ "not": { "all": [...] } }`. */
  negate: boolean;
  children: BuilderNode[];
}

export type RuleNode = { key: string; type: 'rule'; negate: boolean } & RuleBody;

export type BuilderNode = GroupNode | RuleNode;

let keySeq = 0;
export function newKey(): string {
  keySeq += 1;
  return `n${keySeq}`;
}

export function newGroup(mode: 'all' | 'any' = 'all', children: BuilderNode[] = []): GroupNode {
  return { key: newKey(), type: 'group', mode, negate: false, children };
}

const LAST_30_DAYS: WindowDraft = { type: 'last_days', days: 30, from: '', to: '' };
const EVER: WindowDraft = { type: 'ever', days: 30, from: '', to: '' };

/** A new rule of a kind, with sensible defaults (first known event / tag where there is one). */
export function newRule(kind: RuleKind, hints: { event?: string; tag?: string } = {}): RuleNode {
  const base = { key: newKey(), type: 'rule' as const, negate: false };
  switch (kind) {
    case 'trait':
      return { ...base, kind, trait: '', op: 'eq', value: '' };
    case 'computed':
      return { ...base, kind, computed: 'total_spent', op: 'gte', value: undefined };
    case 'tag':
      return { ...base, kind, tag: hints.tag ?? '', has: true };
    case 'event':
      return { ...base, kind, event: hints.event ?? '', measure: { fn: 'count', property: '' }, op: 'gte', value: 1, window: { ...LAST_30_DAYS }, where: [] };
    case 'not_done':
      return { ...base, kind, event: hints.event ?? '', window: { ...LAST_30_DAYS }, where: [] };
    case 'sequence':
      return { ...base, kind, steps: [hints.event ?? '', ''], withinDays: 7, window: { ...EVER } };
    case 'segment':
      return { ...base, kind, segment: '', in: true };
    case 'lifecycle':
      return { ...base, kind, stages: ['active'] };
    case 'rfm_segment':
      return { ...base, kind, segments: ['Champions'] };
    case 'rfm':
      return { ...base, kind, r: [4, 5], f: [], m: [] };
    case 'json':
      return { ...base, kind, text: '{\n  "trait": "city",\n  "op": "eq",\n  "value": "上海"\n}' };
  }
}

// ---------------------------------------------------------------------------------------------
// Builder → JSON
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function comparisonJson<K extends string>(subjectKey: K, subject: string, op: ComparisonOp, value: unknown): Json {
  const out: Json = { [subjectKey]: subject, op };
  if (valueShape(op) !== 'none' && value !== undefined) out.value = value;
  return out;
}

function windowJson(w: WindowDraft): unknown {
  if (w.type === 'last_days') return { last_days: w.days };
  if (w.type === 'between') return { between: [w.from, w.to] };
  return undefined;
}

function measureJson(m: MeasureDraft): unknown {
  return m.fn === 'count' ? undefined : { [m.fn]: m.property };
}

function withOptional(out: Json, key: string, value: unknown): Json {
  if (value !== undefined) out[key] = value;
  return out;
}

/** The JSON of one rule, or a local problem when it cannot be written (a JSON rule that does not parse). */
function ruleJson(rule: RuleNode): { json: unknown; problem?: string } {
  switch (rule.kind) {
    case 'trait':
      return { json: comparisonJson('trait', rule.trait, rule.op, rule.value) };
    case 'computed':
      return { json: comparisonJson('computed', rule.computed, rule.op, rule.value) };
    case 'tag':
      return { json: { tag: rule.tag, has: rule.has } };
    case 'event': {
      const out: Json = { event: rule.event };
      if (rule.where.length) out.where = rule.where.map((f) => comparisonJson('property', f.property, f.op, f.value));
      withOptional(out, 'measure', measureJson(rule.measure));
      out.op = rule.op;
      withOptional(out, 'value', rule.value);
      return { json: withOptional(out, 'window', windowJson(rule.window)) };
    }
    case 'not_done': {
      const out: Json = { event: rule.event };
      if (rule.where.length) out.where = rule.where.map((f) => comparisonJson('property', f.property, f.op, f.value));
      out.op = 'eq';
      out.value = 0;
      return { json: withOptional(out, 'window', windowJson(rule.window)) };
    }
    case 'sequence': {
      const out: Json = { sequence: rule.steps };
      if (rule.withinDays !== null) out.within_days = rule.withinDays;
      return { json: withOptional(out, 'window', windowJson(rule.window)) };
    }
    case 'segment':
      return { json: { segment: rule.segment, in: rule.in } };
    case 'lifecycle':
      return { json: { lifecycle: rule.stages.length === 1 ? rule.stages[0] : rule.stages } };
    case 'rfm_segment':
      return { json: { rfm_segment: rule.segments.length === 1 ? rule.segments[0] : rule.segments } };
    case 'rfm': {
      const rfm: Json = {};
      if (rule.r.length) rfm.r = [...rule.r].sort();
      if (rule.f.length) rfm.f = [...rule.f].sort();
      if (rule.m.length) rfm.m = [...rule.m].sort();
      return { json: { rfm } };
    }
    case 'json':
      try {
        return { json: JSON.parse(rule.text) as unknown };
      } catch (err) {
        return { json: null, problem: err instanceof Error ? err.message : String(err) };
      }
  }
}

/**
 * Whether a rule still lacks what the operator has to pick first (the trait, computed trait, event, tag or
 * segment): such a rule is not sent for a live count, so a row just added is not shown as an error.
 */
export function isUnfinishedRule(node: RuleNode): boolean {
  switch (node.kind) {
    case 'trait':
      return node.trait.trim() === '';
    case 'computed':
      return node.computed.trim() === '';
    case 'tag':
      return node.tag === '';
    case 'segment':
      return node.segment === '';
    case 'event':
    case 'not_done':
      return node.event.trim() === '';
    case 'sequence':
      return node.steps.some((s) => s.trim() === '');
    default:
      return false;
  }
}

/** Whether any rule of the tree is unfinished ({@link isUnfinishedRule}). */
export function hasUnfinishedRule(node: BuilderNode): boolean {
  return node.type === 'group' ? node.children.some(hasUnfinishedRule) : isUnfinishedRule(node);
}

export interface SerializedDefinition {
  definition: ConditionDefinitionJson;
  /** Each builder node's JSON path, e.g. `definition.condition.all[1]`. */
  paths: Map<string, string>;
  /** Problems found before asking the server (a JSON rule that does not parse), keyed by node. */
  localProblems: Map<string, string>;
}

/** The wire definition of a builder tree, with every node's path under `pathPrefix`. */
export function toDefinition(root: BuilderNode, pathPrefix = 'definition'): SerializedDefinition {
  const paths = new Map<string, string>();
  const localProblems = new Map<string, string>();
  const visit = (node: BuilderNode, path: string): unknown => {
    paths.set(node.key, path);
    const inner = node.negate ? `${path}.not` : path;
    let json: unknown;
    if (node.type === 'group') {
      json = { [node.mode]: node.children.map((c, i) => visit(c, `${inner}.${node.mode}[${i}]`)) };
    } else {
      const r = ruleJson(node);
      if (r.problem !== undefined) localProblems.set(node.key, r.problem);
      json = r.json;
    }
    return node.negate ? { not: json } : json;
  };
  const condition = visit(root, `${pathPrefix}.condition`);
  return { definition: { version: CONDITION_VERSION, condition }, paths, localProblems };
}

// ---------------------------------------------------------------------------------------------
// JSON → builder
// ---------------------------------------------------------------------------------------------

const COMPARISON_SET: ReadonlySet<string> = new Set(COMPARISON_OPS);
const MEASURE_SET: ReadonlySet<string> = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between']);

function onlyKeys(x: Json, allowed: readonly string[]): boolean {
  return Object.keys(x).every((k) => allowed.includes(k));
}

function parseComparison(x: Json, subjectKey: string): { subject: string; op: ComparisonOp; value?: unknown } | null {
  if (!onlyKeys(x, [subjectKey, 'op', 'value'])) return null;
  const subject = x[subjectKey];
  if (typeof subject !== 'string' || typeof x.op !== 'string' || !COMPARISON_SET.has(x.op)) return null;
  return { subject, op: x.op as ComparisonOp, value: x.value };
}

function parseWindow(x: unknown): WindowDraft | null {
  if (x === undefined || x === 'ever') return { ...EVER };
  if (!isObject(x)) return null;
  if (onlyKeys(x, ['last_days']) && typeof x.last_days === 'number') return { type: 'last_days', days: x.last_days, from: '', to: '' };
  if (onlyKeys(x, ['between']) && Array.isArray(x.between) && x.between.length === 2 && x.between.every((d) => typeof d === 'string')) {
    return { type: 'between', days: 30, from: x.between[0] as string, to: x.between[1] as string };
  }
  return null;
}

function parseMeasure(x: unknown): MeasureDraft | null {
  if (x === undefined || x === 'count') return { fn: 'count', property: '' };
  if (!isObject(x)) return null;
  const keys = Object.keys(x);
  const fn = keys[0];
  if (keys.length !== 1 || !fn || !['sum', 'avg', 'min', 'max'].includes(fn) || typeof x[fn] !== 'string') return null;
  return { fn: fn as MeasureFn, property: x[fn] as string };
}

function parseWhere(x: unknown): PropertyFilterDraft[] | null {
  if (x === undefined) return [];
  if (!Array.isArray(x)) return null;
  const out: PropertyFilterDraft[] = [];
  for (const f of x) {
    if (!isObject(f)) return null;
    const c = parseComparison(f, 'property');
    if (!c) return null;
    out.push({ property: c.subject, op: c.op, value: c.value });
  }
  return out;
}

function stringList(x: unknown, allowed?: readonly string[]): string[] | null {
  const list = typeof x === 'string' ? [x] : x;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string')) return null;
  if (allowed && !list.every((s) => allowed.includes(s as string))) return null;
  return list as string[];
}

function scoreList(x: unknown): number[] | null {
  if (x === undefined) return [];
  if (!Array.isArray(x) || !x.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 5)) return null;
  return x as number[];
}

function parseRule(x: unknown): RuleBody | null {
  if (!isObject(x)) return null;
  if ('trait' in x) {
    const c = parseComparison(x, 'trait');
    return c ? { kind: 'trait', trait: c.subject, op: c.op, value: c.value } : null;
  }
  if ('computed' in x) {
    const c = parseComparison(x, 'computed');
    return c ? { kind: 'computed', computed: c.subject, op: c.op, value: c.value } : null;
  }
  if ('tag' in x) {
    return onlyKeys(x, ['tag', 'has']) && typeof x.tag === 'string' && typeof x.has === 'boolean' ? { kind: 'tag', tag: x.tag, has: x.has } : null;
  }
  if ('segment' in x) {
    return onlyKeys(x, ['segment', 'in']) && typeof x.segment === 'string' && typeof x.in === 'boolean' ? { kind: 'segment', segment: x.segment, in: x.in } : null;
  }
  if ('event' in x) {
    if (!onlyKeys(x, ['event', 'where', 'measure', 'op', 'value', 'window']) || typeof x.event !== 'string') return null;
    const window = parseWindow(x.window);
    const measure = parseMeasure(x.measure);
    const where = parseWhere(x.where);
    if (!window || !measure || !where || typeof x.op !== 'string' || !MEASURE_SET.has(x.op)) return null;
    if (measure.fn === 'count' && x.op === 'eq' && x.value === 0) return { kind: 'not_done', event: x.event, window, where };
    return { kind: 'event', event: x.event, measure, op: x.op as MeasureOp, value: x.value, window, where };
  }
  if ('sequence' in x) {
    if (!onlyKeys(x, ['sequence', 'within_days', 'window'])) return null;
    const steps = Array.isArray(x.sequence) && x.sequence.every((s) => typeof s === 'string') ? (x.sequence as string[]) : null;
    const window = parseWindow(x.window);
    const within = x.within_days === undefined ? null : typeof x.within_days === 'number' ? x.within_days : undefined;
    if (!steps || !window || within === undefined) return null;
    return { kind: 'sequence', steps, withinDays: within, window };
  }
  if ('lifecycle' in x) {
    const stages = onlyKeys(x, ['lifecycle']) ? stringList(x.lifecycle, LIFECYCLE_STAGES) : null;
    return stages ? { kind: 'lifecycle', stages } : null;
  }
  if ('rfm_segment' in x) {
    const segments = onlyKeys(x, ['rfm_segment']) ? stringList(x.rfm_segment, RFM_SEGMENTS) : null;
    return segments ? { kind: 'rfm_segment', segments } : null;
  }
  if ('rfm' in x) {
    if (!onlyKeys(x, ['rfm']) || !isObject(x.rfm) || !onlyKeys(x.rfm, ['r', 'f', 'm'])) return null;
    const [r, f, m] = [scoreList(x.rfm.r), scoreList(x.rfm.f), scoreList(x.rfm.m)];
    return r && f && m ? { kind: 'rfm', r, f, m } : null;
  }
  return null;
}

/** A builder node for any condition JSON; what the visual rules cannot show becomes a JSON rule. */
export function fromCondition(x: unknown): BuilderNode {
  if (isObject(x)) {
    if (onlyKeys(x, ['all']) && Array.isArray(x.all)) return { ...newGroup('all'), children: x.all.map(fromCondition) };
    if (onlyKeys(x, ['any']) && Array.isArray(x.any)) return { ...newGroup('any'), children: x.any.map(fromCondition) };
    if (onlyKeys(x, ['not']) && 'not' in x) {
      const inner = fromCondition(x.not);
      if (!inner.negate) return { ...inner, negate: true };
    } else {
      const body = parseRule(x);
      if (body) return { key: newKey(), type: 'rule', negate: false, ...body };
    }
  }
  return { key: newKey(), type: 'rule', negate: false, kind: 'json', text: JSON.stringify(x, null, 2) ?? 'null' };
}

/** The builder's root for a definition: always a group (a single condition is wrapped in "all"). */
export function fromDefinition(definition: unknown): GroupNode {
  const condition = isObject(definition) ? definition.condition : undefined;
  if (condition === undefined) return newGroup('all');
  const node = fromCondition(condition);
  return node.type === 'group' ? node : newGroup('all', [node]);
}

// ---------------------------------------------------------------------------------------------
// Tree edits (immutable)
// ---------------------------------------------------------------------------------------------

/** A copy of the tree with the node `key` replaced by `update(node)` (or removed when it returns null). */
export function updateNode(root: BuilderNode, key: string, update: (node: BuilderNode) => BuilderNode | null): BuilderNode {
  if (root.key === key) return update(root) ?? root;
  if (root.type !== 'group') return root;
  let changed = false;
  const children: BuilderNode[] = [];
  for (const child of root.children) {
    if (child.key === key) {
      const next = update(child);
      changed = true;
      if (next) children.push(next);
    } else {
      const next = updateNode(child, key, update);
      if (next !== child) changed = true;
      children.push(next);
    }
  }
  return changed ? { ...root, children } : root;
}

// ---------------------------------------------------------------------------------------------
// Problems → nodes
// ---------------------------------------------------------------------------------------------

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/**
 * Sorts problems to the deepest builder node whose path they fall under; the rest (the definition
 * as a whole, other fields) are returned as `unplaced`.
 */
export function placeProblems(problems: readonly Problem[], paths: ReadonlyMap<string, string>): { byNode: Map<string, Problem[]>; unplaced: Problem[] } {
  const byNode = new Map<string, Problem[]>();
  const unplaced: Problem[] = [];
  const entries = [...paths.entries()];
  for (const p of problems) {
    let best: { key: string; length: number } | null = null;
    for (const [key, path] of entries) {
      if (isUnder(p.path, path) && (!best || path.length > best.length)) best = { key, length: path.length };
    }
    if (best) byNode.set(best.key, [...(byNode.get(best.key) ?? []), p]);
    else unplaced.push(p);
  }
  return { byNode, unplaced };
}

// ---------------------------------------------------------------------------------------------
// Money
// ---------------------------------------------------------------------------------------------

/** Fen → yuan for an editor (null stays null). */
export function fenToYuan(fen: unknown): number | null {
  return typeof fen === 'number' && Number.isFinite(fen) ? fen / 100 : null;
}

/** Yuan from an editor → integer fen. */
export function yuanToFen(yuan: number | null | undefined): number | undefined {
  return yuan === null || yuan === undefined || !Number.isFinite(yuan) ? undefined : Math.round(yuan * 100);
}

/**
 * A value typed into a text box, as the type it should be sent as: numbers for number subjects (and,
 * for unknown subjects, wherever the op orders values), booleans for boolean subjects.
 */
export function coerceText(text: string, type: ValueType | null | undefined, shape: ValueShape): unknown {
  const trimmed = text.trim();
  if (type === 'boolean') return trimmed === 'true' ? true : trimmed === 'false' ? false : text;
  const numeric = trimmed !== '' && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(trimmed);
  if (numeric && (type === 'number' || ((type === null || type === undefined) && (shape === 'order' || shape === 'range')))) return Number(trimmed);
  return text;
}
