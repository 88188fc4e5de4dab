import type { ComparisonOp } from './condition-schema.ts';
import { DAY_MS, addDays, daysUntilAnniversary, parseDateValue, startOfZonedDay, zonedDate } from './zoned-time.ts';
import type { CivilDate } from './zoned-time.ts';

/** The clock and zone a comparison is made in. */
export interface ComparisonEnv {
  nowMs: number;
  timeZone: string;
}

/** An op with its value, as in a trait, computed or property condition. */
export interface Comparison {
  op: ComparisonOp;
  value?: unknown;
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A finite number, or a numeric string ("12.50", " 3 ") as a number; otherwise null. */
export function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    const s = value.trim();
    if (!NUMERIC.test(s)) return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * Reads `path` from a record: the own key `path` itself if present (keys may contain dots), else the
 * dotted path through nested objects and arrays (`items.0.sku`).
 */
export function readPath(record: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(record, path)) return record[path];
  if (!path.includes('.')) return undefined;
  let current: unknown = record;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Present means not undefined, null, "" or []. */
export function isPresent(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

function looseEquals(actual: unknown, expected: unknown, timeZone: string): boolean {
  if (actual === expected) return true;
  if (typeof expected === 'number') return toNumber(actual) === expected;
  if (typeof expected === 'boolean') return typeof actual === 'string' && actual.trim().toLowerCase() === String(expected);
  if (typeof expected === 'string') {
    if (typeof actual === 'number') return toNumber(expected) === actual;
    if (typeof actual === 'boolean') return expected.trim().toLowerCase() === String(actual);
    if (typeof actual === 'string') {
      // "2024-01-01T00:00:00Z" and "2024-01-01T08:00:00+08:00" are the same instant.
      const a = parseDateValue(actual, timeZone);
      const b = a && parseDateValue(expected, timeZone);
      return a !== null && b !== null && a.ms === b.ms;
    }
  }
  return false;
}

function elements(actual: unknown): readonly unknown[] {
  return Array.isArray(actual) ? actual : [actual];
}

type Ordered = { kind: 'number'; n: number } | { kind: 'date'; n: number };

/** How a bound orders: numbers as numbers, ISO dates as instants, numeric strings as numbers. */
function orderedBound(bound: unknown, timeZone: string): Ordered | null {
  if (typeof bound === 'number') return Number.isFinite(bound) ? { kind: 'number', n: bound } : null;
  const date = parseDateValue(bound, timeZone);
  if (date) return { kind: 'date', n: date.ms };
  const n = toNumber(bound);
  return n === null ? null : { kind: 'number', n };
}

/** `actual` compared with `bound` in the bound's domain: negative, zero, positive, or null if incomparable. */
function orderedCompare(actual: unknown, bound: unknown, timeZone: string): number | null {
  const b = orderedBound(bound, timeZone);
  if (!b) return null;
  const a = b.kind === 'number' ? toNumber(actual) : (parseDateValue(actual, timeZone)?.ms ?? null);
  return a === null ? null : a - b.n;
}

function daysOf(value: unknown): number | null {
  if (value === null || typeof value !== 'object') return null;
  const days = (value as { days?: unknown }).days;
  return typeof days === 'number' && Number.isFinite(days) ? days : null;
}

/** The calendar date whose month-day recurs: a date-only value as written, an instant in the zone. */
function anniversaryOrigin(actual: unknown, timeZone: string): CivilDate | null {
  const d = parseDateValue(actual, timeZone);
  if (!d) return null;
  return d.date ?? zonedDate(d.ms, timeZone);
}

function anniversaryMatches(origin: CivilDate, today: CivilDate, days: number): boolean {
  return daysUntilAnniversary(origin, today) <= days;
}

/** Whether `actual` satisfies the comparison at `env.nowMs`. Semantics: see `COMPARISON_OPS`. */
export function matchComparison(actual: unknown, cmp: Comparison, env: ComparisonEnv): boolean {
  const { op, value } = cmp;
  switch (op) {
    case 'exists':
      return isPresent(actual);
    case 'not_exists':
      return !isPresent(actual);
    case 'eq':
      return isPresent(actual) && elements(actual).some((a) => looseEquals(a, value, env.timeZone));
    case 'neq':
      return !matchComparison(actual, { op: 'eq', value }, env);
    case 'in':
      return isPresent(actual) && Array.isArray(value) && value.some((v) => elements(actual).some((a) => looseEquals(a, v, env.timeZone)));
    case 'not_in':
      return !matchComparison(actual, { op: 'in', value }, env);
    case 'contains':
      if (typeof value !== 'string') return false;
      if (typeof actual === 'string') return actual.includes(value);
      return Array.isArray(actual) && actual.some((a) => looseEquals(a, value, env.timeZone));
    case 'starts_with':
      if (typeof value !== 'string') return false;
      return elements(actual).some((a) => typeof a === 'string' && a.startsWith(value));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const c = orderedCompare(actual, value, env.timeZone);
      if (c === null) return false;
      return op === 'gt' ? c > 0 : op === 'gte' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
    }
    case 'between': {
      if (!Array.isArray(value) || value.length !== 2) return false;
      const lo = orderedCompare(actual, value[0], env.timeZone);
      const hi = orderedCompare(actual, value[1], env.timeZone);
      return lo !== null && hi !== null && lo >= 0 && hi <= 0;
    }
    case 'within_last':
    case 'not_within_last': {
      const days = daysOf(value);
      const d = parseDateValue(actual, env.timeZone);
      if (days === null || !d) return false;
      const from = env.nowMs - days * DAY_MS;
      return op === 'within_last' ? d.ms > from && d.ms <= env.nowMs : d.ms <= from;
    }
    case 'anniversary_within_next': {
      const days = daysOf(value);
      const origin = anniversaryOrigin(actual, env.timeZone);
      if (days === null || !origin) return false;
      return anniversaryMatches(origin, zonedDate(env.nowMs, env.timeZone), days);
    }
  }
}

/** True when the comparison's result can change as the clock moves. */
export function isTimeDependent(op: ComparisonOp): boolean {
  return op === 'within_last' || op === 'not_within_last' || op === 'anniversary_within_next';
}

/**
 * The earliest instant after `env.nowMs` at which {@link matchComparison} gives a different result
 * for the same `actual`, or null if it never does.
 */
export function comparisonNextChange(actual: unknown, cmp: Comparison, env: ComparisonEnv): number | null {
  const { op, value } = cmp;
  const now = env.nowMs;
  if (op === 'within_last' || op === 'not_within_last') {
    const days = daysOf(value);
    const d = parseDateValue(actual, env.timeZone);
    if (days === null || !d) return null;
    const leaves = d.ms + days * DAY_MS;
    if (op === 'within_last' && now < d.ms) return d.ms; // a future date enters the window when it arrives
    return now < leaves ? leaves : null;
  }
  if (op === 'anniversary_within_next') {
    const days = daysOf(value);
    const origin = anniversaryOrigin(actual, env.timeZone);
    if (days === null || !origin) return null;
    const today = zonedDate(now, env.timeZone);
    const current = anniversaryMatches(origin, today, days);
    // The answer only changes at a local midnight; within two years every pattern has repeated.
    for (let k = 1; k <= 2 * 366 + 1; k++) {
      const day = addDays(today, k);
      if (anniversaryMatches(origin, day, days) !== current) return startOfZonedDay(day, env.timeZone);
    }
    return null;
  }
  return null;
}
