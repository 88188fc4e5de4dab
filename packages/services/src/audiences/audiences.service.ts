import {
  AppError,
  conditionDependencies,
  evaluateCondition,
  evaluateWithoutEvents,
  validateCondition,
  type ConditionCatalog,
  type ConditionDefinition,
  type ConditionNode,
  type Problem,
  type ValueType,
} from '@siyu/core';
import { AudienceBitmaps, type Bitmap, type EvaluationRow, type PageNeeds } from '@siyu/storage';
import type { ServiceDeps } from '../deps.ts';
import { yieldToEventLoop } from './yield.ts';
import type { ProfileService, ProfileSummary } from '../profiles.service.ts';
import type { AudienceEngine } from './audience-engine.service.ts';
import { pageNeedsOf, type DefinitionKind } from './definitions.ts';
import { screensBeforeTags, toEvaluationProfile } from './evaluation.ts';
import { invalid } from './helpers.ts';

export const COUNT_METHODS = ['auto', 'bitmap', 'bulk'] as const;
export type CountMethod = (typeof COUNT_METHODS)[number];

/** The answer to "how many people match this?". */
export interface AudienceCount {
  count: number;
  /** Up to 10 matching profiles, lowest profile number first. */
  sample: ProfileSummary[];
  /** `bitmap`: answered from the in-memory index; `bulk`: profiles were read and evaluated. */
  method: 'bitmap' | 'bulk';
  warnings: Problem[];
}

export type DefinitionValidation = { ok: true; definition: ConditionDefinition; warnings: Problem[] } | { ok: false; problems: Problem[]; warnings: Problem[] };

interface CachedCatalog {
  traits: Map<string, ValueType>;
  /** Traits seen with more than one type (or as objects): known, but not type-checked. */
  untyped: Set<string>;
  events: string[];
  at: number;
}

const CATALOG_TTL_MS = 30_000;
/** Latest events of a name read to learn its properties' types. */
const EVENT_SAMPLE = 200;
/** Events per definition whose properties are typed (the rest are checked for existence only). */
const MAX_TYPED_EVENTS = 20;

/** What the latest events of one name say about its properties. */
interface EventProperties {
  types: Map<string, ValueType>;
  /** Seen with more than one type (or as objects): known, but not type-checked. */
  untyped: Set<string>;
  at: number;
}
const TRAIT_SAMPLE = 500;
const SAMPLE_SIZE = 10;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Audience definitions as a whole: the workspace catalog for validation (traits and their types
 * sampled from profiles, events seen, tags, segments), live counts, and the bulk evaluator.
 */
export class AudienceService {
  private readonly catalogs = new Map<string, CachedCatalog>();
  private readonly eventProperties = new Map<string, EventProperties>();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly engine: AudienceEngine,
    /** Decorates member pages and count samples as profile lists are (their tags). */
    private readonly profiles?: ProfileService,
  ) {}

  /**
   * Validates a definition `{ version, condition }` against the workspace: every problem with its
   * path (prefixed by `path`, e.g. `definition.condition.all[0].value`), warnings for unknown traits
   * and events. Tags and segments must exist; `self` (the rule tag or segment being saved) may not
   * depend on itself through other definitions.
   */
  async validateDefinition(workspaceId: string, input: unknown, opts: { path?: string; self?: { kind: DefinitionKind; id: string } } = {}): Promise<DefinitionValidation> {
    const prefix = (p: Problem): Problem => ({ path: opts.path ? (p.path === '(root)' ? opts.path : `${opts.path}.${p.path}`) : p.path, message: p.message });
    const model = await this.engine.model(workspaceId);
    const cat = await this.cachedCatalog(workspaceId);
    // Property types of the events the definition filters or measures on, from their latest occurrences.
    const typed = new Map<string, EventProperties>();
    for (const name of eventsNamedIn(input).filter((e) => cat.events.includes(e) && !PAGE_EVENTS.has(e)).slice(0, MAX_TYPED_EVENTS)) {
      typed.set(name, await this.propertiesOf(workspaceId, name));
    }
    const catalog: ConditionCatalog = {
      traits: cat.traits,
      events: new Map(cat.events.map((e) => [e, typed.has(e) ? { properties: typed.get(e)!.types } : {}])),
      tags: { known: new Set([...model.tagById.keys(), ...model.tagByName.keys()]), closed: true },
      segments: { known: new Set(model.segmentById.keys()), closed: true },
    };
    const v = validateCondition(input, catalog);
    const warnings = v.warnings.filter((w) => !isUntypedTraitWarning(w, cat.untyped) && !isUntypedPropertyWarning(w, typed)).map(prefix);
    // Cycles with the other problems (every problem at once): read from the definition as sent when it is not valid.
    const condition = v.ok ? v.value.condition : (input as { condition?: unknown } | null)?.condition;
    const cycles = opts.self ? model.cycleProblems(opts.self, condition, 'condition') : [];
    if (!v.ok || cycles.length) return { ok: false, problems: [...(v.ok ? [] : v.problems), ...cycles].map(prefix), warnings };
    return { ok: true, definition: v.value, warnings };
  }

  /** What validation knows of the workspace: traits with types, events seen, tags, segments. */
  async catalog(workspaceId: string): Promise<{ traits: { name: string; type: ValueType | null }[]; events: string[]; tags: { id: string; name: string }[]; segments: { id: string; name: string }[] }> {
    const [cat, model] = await Promise.all([this.cachedCatalog(workspaceId), this.engine.model(workspaceId)]);
    const traits = [...[...cat.traits].map(([name, type]) => ({ name, type })), ...[...cat.untyped].map((name) => ({ name, type: null }))].sort((a, b) => a.name.localeCompare(b.name));
    return {
      traits,
      events: cat.events,
      tags: [...model.tagById.values()].map((t) => ({ id: t.id, name: t.name })),
      segments: [...model.segmentById.values()].map((s) => ({ id: s.id, name: s.name })),
    };
  }

  /**
   * Counts the profiles matching a definition without saving anything. Definitions made only of
   * tags, segments, lifecycle and RFM are answered from the roaring bitmaps; others by the bulk
   * evaluator, reading only the candidates the planner allows (`auto`; see `CandidatePlanner`).
   *
   * @example await audiences.count(ws, { version: 1, condition: { all: [{ tag: 'VIP', has: true }, { lifecycle: 'at_risk' }] } })
   */
  async count(workspaceId: string, definition: unknown, opts: { method?: CountMethod; path?: string } = {}): Promise<AudienceCount> {
    const v = await this.validateDefinition(workspaceId, definition, { path: opts.path ?? 'definition' });
    if (!v.ok) throw invalid('the definition is not valid', v.problems, v.warnings);
    const condition = v.definition.condition;
    const method = opts.method ?? 'auto';
    const model = await this.engine.model(workspaceId);
    if (method !== 'bulk') {
      if (AudienceBitmaps.canEvaluate(condition)) {
        const bitmaps = await this.engine.index.bitmaps(workspaceId);
        const hits = bitmaps.evaluate(condition, model.resolveTag);
        const ids = await this.engine.store.idsOfNums(workspaceId, hits.toArray(SAMPLE_SIZE));
        return { count: hits.size, sample: await this.summaries(workspaceId, ids), method: 'bitmap', warnings: v.warnings };
      }
      if (method === 'bitmap') {
        throw new AppError('INVALID_INPUT', 'this definition uses traits or behaviour, which the bitmap index cannot answer; use method "auto" or "bulk"', { problems: [{ path: 'method', message: 'bitmap needs a definition of tags, segments, lifecycle and RFM only' }] });
      }
    }
    const candidates = method === 'auto' ? ((await this.engine.candidates(workspaceId, condition, model))?.set ?? null) : null;
    const result = await this.evaluateAll(workspaceId, condition, { candidates, sampleSize: SAMPLE_SIZE });
    return { count: result.count, sample: await this.summaries(workspaceId, result.sampleIds), method: 'bulk', warnings: v.warnings };
  }

  /**
   * The bulk evaluator: streams the workspace's canonical profiles in pages (traits, computed traits,
   * the tags and segments the condition refers to, layers if it uses them and — one query per page —
   * only the events it needs, within its widest window) and evaluates the condition in memory. With
   * `candidates`, reads only those.
   */
  async evaluateAll(
    workspaceId: string,
    condition: ConditionNode,
    opts: { now?: Date; candidates?: Bitmap | null; sampleSize?: number; pageSize?: number } = {},
  ): Promise<{ count: number; sampleIds: string[]; nums: number[] }> {
    const now = opts.now ?? this.deps.clock();
    const model = await this.engine.model(workspaceId);
    const needs: PageNeeds = pageNeedsOf(model, [condition], now);
    // Events only for profiles whose result the rest of the condition leaves open.
    needs.eventsFor = (row) => evaluateWithoutEvents(condition, { now, timeZone: model.timeZone, profile: toEvaluationProfile(model, row) }) === null;
    // Rows whose traits (and segments) already rule them out get no tag, layer or event read — when the condition has
    // both: something that can rule a row out early, and tags or layers to skip.
    if (screensBeforeTags(conditionDependencies(condition))) {
      needs.screen = (row) => evaluateWithoutEvents(condition, { now, timeZone: model.timeZone, profile: toEvaluationProfile(model, row) }, { tagsAndLayersUnknown: true }) !== false;
    }
    const pageSize = opts.pageSize ?? 1000;
    const sampleSize = opts.sampleSize ?? SAMPLE_SIZE;
    const nums: number[] = [];
    const sampleIds: string[] = [];
    const visit = (rows: readonly EvaluationRow[]): void => {
      for (const row of rows) {
        if (!evaluateCondition(condition, { now, timeZone: model.timeZone, profile: toEvaluationProfile(model, row), events: row.events })) continue;
        nums.push(row.num);
        if (sampleIds.length < sampleSize) sampleIds.push(row.id);
      }
    };
    if (opts.candidates) {
      const all = opts.candidates.toArray();
      for (let i = 0; i < all.length; i += pageSize) {
        await yieldToEventLoop();
        visit(await this.engine.store.evaluationPage(workspaceId, { nums: all.slice(i, i + pageSize) }, needs));
      }
    } else {
      let after = 0;
      for (;;) {
        await yieldToEventLoop();
        const rows = await this.engine.store.evaluationPage(workspaceId, { afterNum: after, limit: pageSize }, needs);
        visit(rows);
        if (rows.length < pageSize) break;
        after = rows[rows.length - 1]!.num;
      }
    }
    return { count: nums.length, sampleIds, nums };
  }

  /** Profile summaries (as in profile lists) for these ids, in the given order. */
  async summaries(workspaceId: string, ids: readonly string[]): Promise<ProfileSummary[]> {
    if (ids.length === 0) return [];
    const [profiles, identities] = await Promise.all([this.deps.store.profilesByIds(ids), this.deps.store.identitiesOfProfiles(ids)]);
    const byProfile = new Map<string, { type: string; value: string }[]>();
    for (const i of identities) {
      const list = byProfile.get(i.profileId) ?? [];
      list.push({ type: i.type, value: i.value });
      byProfile.set(i.profileId, list);
    }
    const byId = new Map(profiles.filter((p) => p.workspaceId === workspaceId).map((p) => [p.id, p]));
    const out: ProfileSummary[] = [];
    for (const id of ids) {
      const p = byId.get(id);
      if (p) out.push({ id: p.id, traits: p.traits, computed: p.computed, identities: byProfile.get(p.id) ?? [], createdAt: p.createdAt, updatedAt: p.updatedAt });
    }
    return this.profiles ? this.profiles.decorateSummaries(workspaceId, out) : out;
  }

  /** The types of an event's properties, from its latest occurrences (cached like the catalog). */
  private async propertiesOf(workspaceId: string, event: string): Promise<EventProperties> {
    const key = `${workspaceId}\u0000${event}`;
    const hit = this.eventProperties.get(key);
    if (hit && Date.now() - hit.at <= CATALOG_TTL_MS) return hit;
    if (this.eventProperties.size > 10_000) this.eventProperties.clear();
    const found: EventProperties = { ...typesOf(await this.engine.store.sampleEventProperties(workspaceId, event, EVENT_SAMPLE)), at: Date.now() };
    this.eventProperties.set(key, found);
    return found;
  }

  private async cachedCatalog(workspaceId: string): Promise<CachedCatalog> {
    const hit = this.catalogs.get(workspaceId);
    if (hit && Date.now() - hit.at <= CATALOG_TTL_MS) return hit;
    const [samples, events] = await Promise.all([this.engine.store.sampleTraits(workspaceId, TRAIT_SAMPLE), this.engine.store.eventNames(workspaceId)]);
    const { types: traits, untyped } = typesOf(samples);
    const cat: CachedCatalog = { traits, untyped, events, at: Date.now() };
    this.catalogs.set(workspaceId, cat);
    return cat;
  }
}

const PAGE_EVENTS = new Set(['Page Viewed', 'Screen Viewed']);

/** Event names a definition (as sent, valid or not) refers to, in `event` conditions and sequence steps. */
function eventsNamedIn(input: unknown): string[] {
  const out = new Set<string>();
  const visit = (n: unknown, depth: number): void => {
    if (depth > 40 || typeof n !== 'object' || n === null) return;
    if (Array.isArray(n)) return n.forEach((c) => visit(c, depth + 1));
    const o = n as Record<string, unknown>;
    if (typeof o.event === 'string') out.add(o.event);
    for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) visit(v, depth + 1);
  };
  visit(input, 0);
  return [...out];
}

/** Types seen per property path (nested objects to three levels), as traits are typed. */
function typesOf(samples: readonly Record<string, unknown>[]): { types: Map<string, ValueType>; untyped: Set<string> } {
  const seen = new Map<string, Set<ValueType | 'object'>>();
  const note = (path: string, value: unknown, depth: number): void => {
    const type = valueType(value);
    if (type === null) return;
    let set = seen.get(path);
    if (!set) seen.set(path, (set = new Set()));
    set.add(type);
    if (type === 'object' && depth < 3) for (const [k, v] of Object.entries(value as Record<string, unknown>)) note(`${path}.${k}`, v, depth + 1);
  };
  for (const sample of samples) for (const [k, v] of Object.entries(sample)) note(k, v, 1);
  const types = new Map<string, ValueType>();
  const untyped = new Set<string>();
  for (const [name, set] of seen) {
    const [only] = set;
    if (set.size === 1 && only !== undefined && only !== 'object') types.set(name, only);
    else untyped.add(name);
  }
  return { types, untyped };
}

function valueType(v: unknown): ValueType | 'object' | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return ISO_DATE.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T'))) ? 'date' : 'string';
  if (typeof v === 'object') return 'object';
  return null;
}

function isUntypedPropertyWarning(w: Problem, typed: ReadonlyMap<string, EventProperties>): boolean {
  const m = /^property "(.+)" has not been seen on "(.+)" yet/.exec(w.message);
  return m !== null && (typed.get(m[2]!)?.untyped.has(m[1]!) ?? false);
}

function isUntypedTraitWarning(w: Problem, untyped: ReadonlySet<string>): boolean {
  const m = /^trait "(.+)" has not been seen in this workspace yet/.exec(w.message);
  return m !== null && untyped.has(m[1]!);
}
