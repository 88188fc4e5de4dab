import type { z } from 'zod';
import type { Problem } from '../errors.ts';
import { formatPath } from '../errors.ts';
import { LIFECYCLE_STAGES, isLifecycleStage } from '../layers/lifecycle.ts';
import { RFM_SEGMENTS, isRfmSegmentName } from '../layers/rfm.ts';
import { conditionDependencies } from './condition-dependencies.ts';
import type { ComparisonOp, ConditionNode, ValueType } from './condition-schema.ts';
import {
  COMPARISON_OPS,
  COMPUTED_TRAITS,
  CONDITION_KINDS,
  CONDITION_VERSION,
  ConditionDefinition,
  ConditionNode as ConditionNodeSchema,
  EVENT_COUNTS_PREFIX,
  MAX_ANNIVERSARY_DAYS,
  MEASURE_OPS,
} from './condition-schema.ts';
import { toNumber } from './match-comparison.ts';
import { isIsoDateString, parseDateValue } from './zoned-time.ts';

/**
 * What the workspace knows, for checking references. Every part is optional: without `traits` no
 * trait is reported unknown, and so on.
 */
export interface ConditionCatalog {
  /** Known traits and their types. Unknown traits are warnings; type mismatches are errors. */
  traits?: ReadonlyMap<string, ValueType>;
  /** Known events, optionally with their known property types. Unknown events/properties are warnings. */
  events?: ReadonlyMap<string, { properties?: ReadonlyMap<string, ValueType> }>;
  /** Known tag ids and names. Unknown tags are warnings, or errors when `closed`. */
  tags?: { known: ReadonlySet<string>; closed?: boolean };
  /** Known segment ids (the keys of `segmentDefinitions` count too). Unknown: warning, or error when `closed`. */
  segments?: { known: ReadonlySet<string>; closed?: boolean };
  /** Definitions of the other segments, to reject reference cycles. */
  segmentDefinitions?: ReadonlyMap<string, ConditionDefinition>;
  /** Id of the segment whose definition is being validated, if it is one. */
  segmentId?: string;
}

/** All problems at once; warnings never block saving. */
export type ConditionValidation<T> = { ok: true; value: T; warnings: Problem[] } | { ok: false; problems: Problem[]; warnings: Problem[] };

/** Deeper trees are refused (they are never written by hand and would only strain evaluation). */
export const MAX_CONDITION_DEPTH = 32;

const KIND_FIELDS: Record<string, readonly string[]> = {
  all: ['all'],
  any: ['any'],
  not: ['not'],
  trait: ['trait', 'op', 'value'],
  computed: ['computed', 'op', 'value'],
  tag: ['tag', 'has'],
  event: ['event', 'where', 'measure', 'op', 'value', 'window'],
  sequence: ['sequence', 'within_days', 'window'],
  segment: ['segment', 'in'],
  lifecycle: ['lifecycle'],
  rfm: ['rfm'],
  rfm_segment: ['rfm_segment'],
};

const KIND_LABEL: Record<string, string> = {
  all: '"all" condition',
  any: '"any" condition',
  not: '"not" condition',
  trait: 'trait condition',
  computed: 'computed-trait condition',
  tag: 'tag condition',
  event: 'behaviour condition',
  sequence: 'sequence condition',
  segment: 'segment condition',
  lifecycle: 'lifecycle condition',
  rfm: 'RFM condition',
  rfm_segment: 'RFM segment condition',
};

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return JSON.stringify(x);
  if (Array.isArray(x)) return `a list of ${x.length}`;
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

const quoteList = (xs: readonly string[]): string => xs.join(', ');

/** A subject being compared: its description for messages and its type if known. */
interface Subject {
  label: string;
  type: ValueType | undefined;
}

class Checker {
  readonly problems: Problem[] = [];
  readonly warnings: Problem[] = [];
  readonly segmentRefs: Array<{ id: string; path: string }> = [];

  constructor(private readonly catalog: ConditionCatalog) {}

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  fields(node: Json, kind: string, path: string): void {
    const allowed = KIND_FIELDS[kind] ?? [];
    for (const key of Object.keys(node)) {
      if (!allowed.includes(key)) this.problem(`${path}.${key}`, `unknown field "${key}" in a ${KIND_LABEL[kind]}; allowed fields: ${quoteList(allowed)}`);
    }
  }

  nonEmptyString(node: Json, key: string, path: string, what: string): string | null {
    const v = node[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
    this.problem(`${path}.${key}`, `"${key}" must be a non-empty string (${what}), got ${show(v)}`);
    return null;
  }

  node(x: unknown, path: string, depth: number): void {
    if (depth > MAX_CONDITION_DEPTH) {
      this.problem(path, `conditions nest deeper than ${MAX_CONDITION_DEPTH} levels; flatten them with "all"/"any"`);
      return;
    }
    if (!isObject(x)) {
      this.problem(path, `expected a condition object such as {"trait": "city", "op": "eq", "value": "上海"}, got ${show(x)}`);
      return;
    }
    const kinds = CONDITION_KINDS.filter((k) => Object.hasOwn(x, k));
    if (kinds.length === 0) {
      const found = Object.keys(x);
      this.problem(path, `not a condition: expected one of the keys ${quoteList(CONDITION_KINDS)}${found.length ? ` (found ${quoteList(found)})` : ''}`);
      return;
    }
    if (kinds.length > 1) {
      this.problem(path, `a condition has exactly one kind but this one has ${kinds.map((k) => `"${k}"`).join(' and ')}; combine separate conditions with "all" or "any"`);
      return;
    }
    const kind = kinds[0]!;
    this.fields(x, kind, path);
    switch (kind) {
      case 'all':
      case 'any':
        return this.combinator(x, kind, path, depth);
      case 'not':
        return this.node(x.not, `${path}.not`, depth + 1);
      case 'trait':
        return this.trait(x, path);
      case 'computed':
        return this.computed(x, path);
      case 'tag':
        return this.tag(x, path);
      case 'event':
        return this.behaviour(x, path);
      case 'sequence':
        return this.sequence(x, path);
      case 'segment':
        return this.segment(x, path);
      case 'lifecycle':
        return this.choice(x.lifecycle, `${path}.lifecycle`, 'lifecycle stage', LIFECYCLE_STAGES, isLifecycleStage);
      case 'rfm':
        return this.rfm(x.rfm, `${path}.rfm`);
      case 'rfm_segment':
        return this.choice(x.rfm_segment, `${path}.rfm_segment`, 'RFM segment', RFM_SEGMENTS, isRfmSegmentName);
    }
  }

  combinator(x: Json, kind: 'all' | 'any', path: string, depth: number): void {
    const list = x[kind];
    if (!Array.isArray(list)) {
      this.problem(`${path}.${kind}`, `"${kind}" must be a list of conditions, got ${show(list)}`);
      return;
    }
    if (list.length === 0) {
      this.problem(`${path}.${kind}`, `"${kind}" needs at least one condition (an empty "${kind}" would match ${kind === 'all' ? 'everyone' : 'no one'}); add a condition or remove it`);
      return;
    }
    list.forEach((child, i) => this.node(child, `${path}.${kind}[${i}]`, depth + 1));
  }

  trait(x: Json, path: string): void {
    const name = this.nonEmptyString(x, 'trait', path, 'the trait name, e.g. "city"');
    let type: ValueType | undefined;
    if (name !== null && this.catalog.traits) {
      type = this.catalog.traits.get(name);
      if (type === undefined) {
        this.warn(`${path}.trait`, `trait "${name}" has not been seen in this workspace yet; check the spelling (the condition is kept for when profiles carry it)`);
      }
    }
    this.comparison(x, path, { label: `trait "${name ?? '?'}"`, type }, COMPARISON_OPS);
  }

  computed(x: Json, path: string): void {
    const name = this.nonEmptyString(x, 'computed', path, `one of ${quoteList(Object.keys(COMPUTED_TRAITS))} or "event_counts.<event>"`);
    let type: ValueType | undefined;
    if (name !== null) {
      if (name.startsWith(EVENT_COUNTS_PREFIX) && name.length > EVENT_COUNTS_PREFIX.length) {
        type = 'number';
        const event = name.slice(EVENT_COUNTS_PREFIX.length);
        if (this.catalog.events && !this.catalog.events.has(event)) {
          this.warn(`${path}.computed`, `event "${event}" has not been seen in this workspace yet; check the spelling`);
        }
      } else if (Object.hasOwn(COMPUTED_TRAITS, name)) {
        type = COMPUTED_TRAITS[name as keyof typeof COMPUTED_TRAITS];
      } else {
        this.problem(
          `${path}.computed`,
          `unknown computed trait "${name}"; use one of ${quoteList(Object.keys(COMPUTED_TRAITS))}, or "event_counts.<event name>" for one event's count`,
        );
        return;
      }
    }
    this.comparison(x, path, { label: `computed trait "${name ?? '?'}"`, type }, COMPARISON_OPS);
  }

  /** The op/value of a trait, computed or property comparison. */
  comparison(x: Json, path: string, subject: Subject, ops: readonly string[]): void {
    const op = x.op;
    if (op === undefined) {
      this.problem(`${path}.op`, `missing "op"; use one of ${quoteList(ops)}`);
      return;
    }
    if (typeof op !== 'string' || !ops.includes(op)) {
      this.problem(`${path}.op`, `unknown op ${show(op)}; use one of ${quoteList(ops)}`);
      return;
    }
    const valuePath = `${path}.value`;
    const hasValue = Object.hasOwn(x, 'value');
    const value = x.value;
    const { label, type } = subject;
    switch (op as ComparisonOp) {
      case 'exists':
      case 'not_exists':
        if (hasValue) this.problem(valuePath, `op "${op}" takes no "value"; remove it`);
        return;
      case 'eq':
      case 'neq':
        if (!hasValue) return this.problem(valuePath, `op "${op}" needs a "value" (a string, number or boolean)`);
        return this.scalar(value, valuePath, subject, op);
      case 'in':
      case 'not_in':
        if (!Array.isArray(value)) {
          return this.problem(valuePath, `op "${op}" needs a list of values, e.g. ["上海", "北京"], got ${show(value)}`);
        }
        if (value.length === 0) return this.problem(valuePath, `op "${op}" needs at least one value in the list`);
        value.forEach((v, i) => this.scalar(v, `${valuePath}[${i}]`, subject, op));
        return;
      case 'contains':
      case 'starts_with':
        if (type === 'number' || type === 'date' || type === 'boolean') {
          this.problem(`${path}.op`, `op "${op}" searches text or lists but ${label} is a ${type}; use ${type === 'boolean' ? 'eq' : 'eq/in/gt/lt/between'}`);
          return;
        }
        if (typeof value !== 'string' || value === '') this.problem(valuePath, `op "${op}" needs a non-empty string value, got ${show(value)}`);
        return;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (!this.orderable(op, subject, path)) return;
        this.bound(value, valuePath, subject, op);
        return;
      case 'between': {
        if (!this.orderable(op, subject, path)) return;
        if (!Array.isArray(value) || value.length !== 2) {
          return this.problem(
            valuePath,
            `op "between" needs a 2-element list [low, high], got ${Array.isArray(value) ? `${value.length} element${value.length === 1 ? '' : 's'}` : show(value)}`,
          );
        }
        const lo = this.bound(value[0], `${valuePath}[0]`, subject, op);
        const hi = this.bound(value[1], `${valuePath}[1]`, subject, op);
        if (lo && hi) {
          if (lo.kind !== hi.kind) this.problem(valuePath, 'both ends of "between" must be numbers, or both dates');
          else if (lo.n > hi.n) this.problem(valuePath, `the low end ${show(value[0])} is above the high end ${show(value[1])}; swap them`);
        }
        return;
      }
      case 'within_last':
      case 'not_within_last':
      case 'anniversary_within_next': {
        if (type !== undefined && type !== 'date') {
          this.problem(`${path}.op`, `op "${op}" works on dates but ${label} is a ${type}; use ${type === 'number' ? 'gt/lt/between' : 'eq/in/contains'}`);
          return;
        }
        const min = op === 'anniversary_within_next' ? 0 : 1;
        const max = op === 'anniversary_within_next' ? MAX_ANNIVERSARY_DAYS : Infinity;
        if (!isObject(value)) {
          return this.problem(valuePath, `op "${op}" takes {"days": n}, e.g. {"days": ${op === 'anniversary_within_next' ? 7 : 30}}; got ${show(value)}`);
        }
        for (const key of Object.keys(value)) if (key !== 'days') this.problem(`${valuePath}.${key}`, `unknown field "${key}"; the value is {"days": n}`);
        const days = value.days;
        if (typeof days !== 'number' || !Number.isInteger(days) || days < min || days > max) {
          this.problem(
            `${valuePath}.days`,
            `"days" must be a whole number ${max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`}, got ${show(days)}`,
          );
        }
        return;
      }
    }
  }

  /** Whether ordered comparison applies to this subject's type (reports when not). */
  orderable(op: string, { label, type }: Subject, path: string): boolean {
    if (type === 'string' || type === 'array') {
      this.problem(`${path}.op`, `op "${op}" compares numbers or dates but ${label} is ${type === 'string' ? 'a string' : 'a list'}; use eq/in/contains`);
      return false;
    }
    if (type === 'boolean') {
      this.problem(`${path}.op`, `op "${op}" compares numbers or dates but ${label} is a boolean; use eq with true or false`);
      return false;
    }
    return true;
  }

  /** A bound of gt/gte/lt/lte/between: a number, or an ISO date, matching the subject's type. */
  bound(value: unknown, path: string, { label, type }: Subject, op: string): { kind: 'number' | 'date'; n: number } | null {
    if (typeof value === 'number' && Number.isFinite(value)) {
      if (type === 'date') {
        this.problem(path, `${label} is a date; write the value as an ISO date such as "2024-01-31" or "2024-01-31T08:00:00Z"`);
        return null;
      }
      return { kind: 'number', n: value };
    }
    if (isIsoDateString(value)) {
      if (type === 'number') {
        this.problem(path, `${label} is a number; ${show(value)} is a date`);
        return null;
      }
      return { kind: 'date', n: parseDateValue(value, 'UTC')!.ms };
    }
    if (toNumber(value) !== null) {
      this.problem(path, `write the number without quotes: ${String(toNumber(value))}, not ${show(value)}`);
      return null;
    }
    this.problem(path, `op "${op}" needs a number or an ISO date (e.g. 100 or "2024-01-31"), got ${show(value)}`);
    return null;
  }

  /** A value for eq/neq/in/not_in, checked against the subject's type. */
  scalar(value: unknown, path: string, { label, type }: Subject, op: string): void {
    if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
      this.problem(path, `op "${op}" compares with a string, number or boolean, got ${show(value)}`);
      return;
    }
    if (type === 'number' && typeof value !== 'number') {
      const n = toNumber(value);
      this.problem(path, n === null ? `${label} is a number; ${show(value)} is not a number` : `${label} is a number; write ${String(n)} without quotes`);
    } else if (type === 'boolean' && typeof value !== 'boolean') {
      this.problem(path, `${label} is a boolean; use true or false`);
    } else if (type === 'date' && !isIsoDateString(value)) {
      this.problem(path, `${label} is a date; write the value as an ISO date such as "2024-01-31" or "2024-01-31T08:00:00Z"`);
    } else if (type === 'string' && typeof value !== 'string') {
      this.problem(path, `${label} is a string; write the value in quotes: "${String(value)}"`);
    }
  }

  tag(x: Json, path: string): void {
    const tag = this.nonEmptyString(x, 'tag', path, 'a tag id "tag_…" or tag name');
    if (typeof x.has !== 'boolean') this.problem(`${path}.has`, `"has" must be true (has the tag) or false (does not), got ${show(x.has)}`);
    const tags = this.catalog.tags;
    if (tag !== null && tags && !tags.known.has(tag)) {
      if (tags.closed) this.problem(`${path}.tag`, `unknown tag "${tag}"; create the tag first or pick an existing one`);
      else this.warn(`${path}.tag`, `tag "${tag}" does not exist yet; no profile has it until it is created`);
    }
  }

  segment(x: Json, path: string): void {
    const id = this.nonEmptyString(x, 'segment', path, 'a segment id "seg_…"');
    if (typeof x.in !== 'boolean') this.problem(`${path}.in`, `"in" must be true (in the segment) or false (not in it), got ${show(x.in)}`);
    if (id === null) return;
    this.segmentRefs.push({ id, path: `${path}.segment` });
    const { segments, segmentDefinitions } = this.catalog;
    if (segments || segmentDefinitions) {
      const known = (segments?.known.has(id) ?? false) || (segmentDefinitions?.has(id) ?? false) || id === this.catalog.segmentId;
      if (!known) {
        if (segments?.closed) this.problem(`${path}.segment`, `unknown segment "${id}"; pick an existing segment`);
        else this.warn(`${path}.segment`, `segment "${id}" does not exist yet; no profile is in it until it is created`);
      }
    }
  }

  eventName(x: Json, path: string): string | null {
    const event = this.nonEmptyString(x, 'event', path, 'an event name such as "Order Completed"');
    if (event !== null && this.catalog.events && !this.catalog.events.has(event)) {
      this.warn(`${path}.event`, `event "${event}" has not been seen in this workspace yet; check the spelling`);
    }
    return event;
  }

  propertyType(event: string | null, property: string, path: string): ValueType | undefined {
    const props = event === null ? undefined : this.catalog.events?.get(event)?.properties;
    if (!props) return undefined;
    const type = props.get(property);
    if (type === undefined) this.warn(path, `property "${property}" has not been seen on "${event}" yet; check the spelling`);
    return type;
  }

  where(where: unknown, event: string | null, path: string): void {
    if (where === undefined) return;
    if (!Array.isArray(where)) {
      this.problem(path, `"where" must be a list of property filters such as [{"property": "category", "op": "eq", "value": "shoes"}], got ${show(where)}`);
      return;
    }
    where.forEach((f, i) => {
      const p = `${path}[${i}]`;
      if (!isObject(f)) return this.problem(p, `expected a property filter {"property": …, "op": …, "value": …}, got ${show(f)}`);
      for (const key of Object.keys(f)) {
        if (!['property', 'op', 'value'].includes(key)) this.problem(`${p}.${key}`, `unknown field "${key}" in a property filter; allowed fields: property, op, value`);
      }
      const property = this.nonEmptyString(f, 'property', p, 'a property name or dotted path');
      const type = property === null ? undefined : this.propertyType(event, property, `${p}.property`);
      this.comparison(f, p, { label: `property "${property ?? '?'}"`, type }, COMPARISON_OPS);
    });
  }

  window(window: unknown, path: string): void {
    if (window === undefined || window === 'ever') return;
    const hint = 'use "ever", {"last_days": n} or {"between": ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]}';
    if (!isObject(window)) return this.problem(path, `unknown window ${show(window)}; ${hint}`);
    const keys = Object.keys(window);
    if (keys.length !== 1 || (keys[0] !== 'last_days' && keys[0] !== 'between')) return this.problem(path, `unknown window; ${hint}`);
    if ('last_days' in window) {
      const d = window.last_days;
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) this.problem(`${path}.last_days`, `"last_days" must be a whole number ≥ 1, got ${show(d)}`);
      return;
    }
    const range = window.between;
    if (!Array.isArray(range) || range.length !== 2) return this.problem(`${path}.between`, `"between" needs [from, to] as two ISO timestamps; ${hint}`);
    const [from, to] = range.map((v, i) => {
      if (isIsoDateString(v)) return parseDateValue(v, 'UTC')!.ms;
      this.problem(`${path}.between[${i}]`, `expected an ISO timestamp such as "2024-01-31T00:00:00+08:00", got ${show(v)}`);
      return null;
    });
    if (from != null && to != null && from > to) this.problem(`${path}.between`, 'the window starts after it ends; swap from and to');
  }

  behaviour(x: Json, path: string): void {
    const event = this.eventName(x, path);
    this.where(x.where, event, `${path}.where`);
    const measure = x.measure;
    if (measure !== undefined && measure !== 'count') {
      const hint = 'use "count", {"sum": property}, {"avg": property}, {"min": property} or {"max": property}';
      if (!isObject(measure) || Object.keys(measure).length !== 1 || !['sum', 'avg', 'min', 'max'].includes(Object.keys(measure)[0]!)) {
        this.problem(`${path}.measure`, `unknown measure ${show(measure)}; ${hint}`);
      } else {
        const [agg, property] = Object.entries(measure)[0]!;
        if (typeof property !== 'string' || property === '') {
          this.problem(`${path}.measure.${agg}`, `"${agg}" needs a property name such as "revenue", got ${show(property)}`);
        } else {
          const type = this.propertyType(event, property, `${path}.measure.${agg}`);
          if (type !== undefined && type !== 'number') this.problem(`${path}.measure.${agg}`, `cannot ${agg} property "${property}": it is a ${type}, not a number`);
        }
      }
    }
    const op = x.op;
    const what = measure === undefined || measure === 'count' ? 'a count' : 'a measure';
    if (op === undefined) {
      this.problem(`${path}.op`, `missing "op"; compare ${what} with one of ${quoteList(MEASURE_OPS)} (e.g. "op": "gte", "value": 1; "did not do" is "op": "eq", "value": 0)`);
    } else if (typeof op !== 'string' || !(MEASURE_OPS as readonly string[]).includes(op)) {
      this.problem(`${path}.op`, `op ${show(op)} does not apply to ${what}; use one of ${quoteList(MEASURE_OPS)}`);
    } else if (op === 'between') {
      const v = x.value;
      if (!Array.isArray(v) || v.length !== 2 || v.some((n) => typeof n !== 'number' || !Number.isFinite(n))) {
        this.problem(`${path}.value`, `op "between" needs a 2-element list of numbers [low, high], got ${show(v)}`);
      } else if (v[0] > v[1]) {
        this.problem(`${path}.value`, `the low end ${v[0]} is above the high end ${v[1]}; swap them`);
      }
    } else if (typeof x.value !== 'number' || !Number.isFinite(x.value)) {
      const n = toNumber(x.value);
      this.problem(`${path}.value`, n === null ? `op "${op}" needs a number, got ${show(x.value)}` : `write the number without quotes: ${String(n)}`);
    }
    this.window(x.window, `${path}.window`);
  }

  sequence(x: Json, path: string): void {
    const steps = x.sequence;
    if (!Array.isArray(steps) || steps.length < 2) {
      this.problem(`${path}.sequence`, `a sequence needs a list of at least two steps, e.g. ["Product Viewed", "Order Completed"], got ${show(steps)}`);
    } else {
      steps.forEach((step, i) => {
        const p = `${path}.sequence[${i}]`;
        if (typeof step === 'string') {
          if (step.trim() === '') this.problem(p, 'a step needs an event name');
          else if (this.catalog.events && !this.catalog.events.has(step)) this.warn(p, `event "${step}" has not been seen in this workspace yet; check the spelling`);
          return;
        }
        if (!isObject(step)) return this.problem(p, `a step is an event name or {"event": name, "where": [...]}, got ${show(step)}`);
        for (const key of Object.keys(step)) {
          if (key !== 'event' && key !== 'where') this.problem(`${p}.${key}`, `unknown field "${key}" in a sequence step; allowed fields: event, where`);
        }
        const event = this.eventName(step, p);
        this.where(step.where, event, `${p}.where`);
      });
    }
    const within = x.within_days;
    if (within !== undefined && (typeof within !== 'number' || !Number.isInteger(within) || within < 1)) {
      this.problem(`${path}.within_days`, `"within_days" must be a whole number ≥ 1 (or left out for no limit), got ${show(within)}`);
    }
    this.window(x.window, `${path}.window`);
  }

  choice(value: unknown, path: string, what: string, allowed: readonly string[], is: (v: unknown) => boolean): void {
    const one = (v: unknown, p: string): void => {
      if (!is(v)) this.problem(p, `unknown ${what} ${show(v)}; use one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    };
    if (Array.isArray(value)) {
      if (value.length === 0) this.problem(path, `give at least one ${what}`);
      value.forEach((v, i) => one(v, `${path}[${i}]`));
    } else one(value, path);
  }

  rfm(value: unknown, path: string): void {
    if (!isObject(value)) return this.problem(path, `"rfm" takes score lists such as {"r": [4, 5], "f": [1, 2]}, got ${show(value)}`);
    let any = false;
    for (const [key, scores] of Object.entries(value)) {
      if (key !== 'r' && key !== 'f' && key !== 'm') {
        this.problem(`${path}.${key}`, `unknown field "${key}"; use r, f and/or m`);
        continue;
      }
      any = true;
      if (!Array.isArray(scores) || scores.length === 0) {
        this.problem(`${path}.${key}`, `"${key}" must be a non-empty list of scores 1–5, e.g. [4, 5]`);
        continue;
      }
      scores.forEach((s, i) => {
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 5) this.problem(`${path}.${key}[${i}]`, `RFM scores are whole numbers 1–5, got ${show(s)}`);
      });
    }
    if (!any) this.problem(path, 'give at least one of "r", "f", "m"');
  }

  /** Segment references that lead back to the segment being validated. */
  cycles(): void {
    const self = this.catalog.segmentId;
    const defs = this.catalog.segmentDefinitions;
    if (self === undefined) return;
    for (const ref of this.segmentRefs) {
      const chain = findPathTo(ref.id, self, defs);
      if (chain) {
        const cycle = [self, ...chain].join(' → ');
        const message =
          chain.length === 1
            ? `segment "${self}" cannot refer to itself`
            : `segment "${ref.id}" depends back on this segment (${cycle}); a segment cannot depend on itself, remove this reference`;
        this.problem(ref.path, message);
      }
    }
  }
}

/** Shortest reference chain from `from` to `target` (both included), through the stored definitions. */
function findPathTo(from: string, target: string, defs: ReadonlyMap<string, ConditionDefinition> | undefined): string[] | null {
  if (from === target) return [from];
  if (!defs) return null;
  const previous = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const id = queue.shift()!;
    const def = defs.get(id);
    if (!def) continue;
    for (const next of conditionDependencies(def.condition).segments) {
      if (previous.has(next)) continue;
      previous.set(next, id);
      if (next === target) {
        const chain = [next];
        for (let at: string | null | undefined = id; at != null; at = previous.get(at)) chain.unshift(at);
        return chain;
      }
      queue.push(next);
    }
  }
  return null;
}

function finish<T>(checker: Checker, schema: z.ZodType<T>, input: unknown, prefix: string): ConditionValidation<T> {
  checker.cycles();
  const { problems, warnings } = checker;
  if (problems.length > 0) return { ok: false, problems, warnings };
  // The schema is the final word; the checker above exists for precise paths and helpful messages.
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => ({ path: formatPath(i.path, prefix), message: i.message })), warnings };
  }
  return { ok: true, value: parsed.data, warnings };
}

/**
 * Validates a persisted definition `{ "version": 1, "condition": … }` from untrusted input, reporting
 * every problem at once with a JSON path (`condition.all[2].value`) and what to fix. Unknown traits,
 * events and (open) tags/segments are warnings; type mismatches, malformed values, unknown references
 * in closed namespaces and segment reference cycles are problems.
 *
 * @example
 * const r = validateCondition(body, { traits: new Map([['city', 'string']]) });
 * if (!r.ok) throw invalidInput('invalid segment condition', r.problems);
 */
export function validateCondition(input: unknown, catalog: ConditionCatalog = {}): ConditionValidation<ConditionDefinition> {
  const checker = new Checker(catalog);
  if (!isObject(input)) {
    checker.problem('(root)', `a condition definition is an object {"version": ${CONDITION_VERSION}, "condition": …}, got ${show(input)}`);
    return { ok: false, problems: checker.problems, warnings: [] };
  }
  for (const key of Object.keys(input)) {
    if (key !== 'version' && key !== 'condition') checker.problem(key, `unknown field "${key}"; a definition has only "version" and "condition"`);
  }
  if (input.version === undefined) checker.problem('version', `missing "version"; use ${CONDITION_VERSION}`);
  else if (input.version !== CONDITION_VERSION) checker.problem('version', `unsupported version ${show(input.version)}; this server understands version ${CONDITION_VERSION}`);
  if (input.condition === undefined) checker.problem('condition', 'missing "condition"');
  else checker.node(input.condition, 'condition', 0);
  return finish(checker, ConditionDefinition, input, '');
}

/**
 * Validates a bare condition node (a journey branch, an inline filter); paths start at `path`
 * (default `condition`). Same rules as {@link validateCondition}.
 */
export function validateConditionNode(input: unknown, catalog: ConditionCatalog = {}, path = 'condition'): ConditionValidation<ConditionNode> {
  const checker = new Checker(catalog);
  checker.node(input, path, 0);
  return finish(checker, ConditionNodeSchema, input, path);
}
