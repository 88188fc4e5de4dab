import { conditionDependencies, ConditionDefinition, type ConditionDependencies, type ConditionNode, type Problem } from '@siyu/core';
import type { EventNeeds, PageNeeds, SegmentRecord, TagRecord } from '@siyu/storage';

const DAY_MS = 86_400_000;

/** A rule tag or a segment: something whose membership is derived from a condition. */
export type DefinitionKind = 'tag' | 'segment';

export interface CompiledDefinition {
  kind: DefinitionKind;
  id: string;
  name: string;
  condition: ConditionNode;
  deps: ConditionDependencies;
}

/** A reference to a tag or segment inside a condition, with its JSON path. */
export interface ConditionRef {
  kind: DefinitionKind;
  ref: string;
  path: string;
}

/** Every tag and segment reference in a condition, with paths like `condition.all[1].tag`. */
export function conditionRefs(node: ConditionNode | unknown, path = 'condition'): ConditionRef[] {
  const out: ConditionRef[] = [];
  // Defensive about shape: it also reads definitions that failed validation, so that a cycle is reported
  // with their other problems.
  const visit = (n: unknown, p: string): void => {
    if (typeof n !== 'object' || n === null || Array.isArray(n)) return;
    const o = n as Record<string, unknown>;
    if ('all' in o || 'any' in o) {
      const key = 'all' in o ? 'all' : 'any';
      const list = o[key];
      if (Array.isArray(list)) list.forEach((c, i) => visit(c, `${p}.${key}[${i}]`));
    } else if ('not' in o) visit(o.not, `${p}.not`);
    else if (typeof o.tag === 'string') out.push({ kind: 'tag', ref: o.tag, path: `${p}.tag` });
    else if (typeof o.segment === 'string') out.push({ kind: 'segment', ref: o.segment, path: `${p}.segment` });
  };
  visit(node, path);
  return out;
}

/** How far back behaviour and sequence conditions look: all time, or the widest window. */
interface Lookback {
  ever: boolean;
  maxLastDays: number;
  earliestBetweenMs: number | null;
}

function lookbackOf(nodes: readonly ConditionNode[]): Lookback {
  const lb: Lookback = { ever: false, maxLastDays: 0, earliestBetweenMs: null };
  const visit = (n: ConditionNode): void => {
    if ('all' in n) n.all.forEach(visit);
    else if ('any' in n) n.any.forEach(visit);
    else if ('not' in n) visit(n.not);
    else if ('event' in n || 'sequence' in n) {
      const w = n.window ?? 'ever';
      if (w === 'ever') lb.ever = true;
      else if ('last_days' in w) lb.maxLastDays = Math.max(lb.maxLastDays, w.last_days);
      else {
        const from = Date.parse(w.between[0]);
        // An offset-less date is read in the workspace zone: at most 14 h from UTC, covered below.
        if (Number.isNaN(from)) lb.ever = true;
        else lb.earliestBetweenMs = lb.earliestBetweenMs === null ? from : Math.min(lb.earliestBetweenMs, from);
      }
    }
  };
  nodes.forEach(visit);
  return lb;
}

/**
 * The events a set of conditions reads at `now`: names from their dependencies, and a lower bound on
 * the timestamp text. The bound is a date two days before the widest window starts, so timestamps
 * stored with any UTC offset (they sort by their own local date) are never cut off; the evaluator
 * applies the exact window.
 */
export function eventNeedsOf(nodes: readonly ConditionNode[], now: Date): EventNeeds | null {
  const names = new Set<string>();
  const properties = new Set<string>();
  for (const n of nodes) {
    const deps = conditionDependencies(n);
    for (const e of deps.events) names.add(e);
    for (const e of deps.eventProperties) properties.add(e);
  }
  if (names.size === 0) return null;
  const lb = lookbackOf(nodes);
  if (lb.ever) return { names: [...names].sort(), properties: [...properties].sort(), since: null };
  let from = now.getTime() - lb.maxLastDays * DAY_MS;
  if (lb.earliestBetweenMs !== null) from = Math.min(from, lb.earliestBetweenMs);
  return { names: [...names].sort(), properties: [...properties].sort(), since: new Date(from - 2 * DAY_MS).toISOString().slice(0, 10) };
}

/**
 * What a bulk pass over `conditions` must read of each profile besides traits and events: the tag ids
 * they refer to (names resolved), the segments, and layers only if lifecycle or RFM is used. `self`
 * (the definition being computed) is read too, to tell entries from exits.
 */
export function pageNeedsOf(model: WorkspaceModel, conditions: readonly ConditionNode[], now: Date, self?: { kind: DefinitionKind; id: string }): PageNeeds {
  const tags = new Set<string>();
  const segments = new Set<string>();
  const traitKeys = new Set<string>();
  const computedKeys = new Set<string>();
  let layers = false;
  for (const c of conditions) {
    const deps = conditionDependencies(c);
    // A path is read as a key of its own or through its first segment (see readPath in core).
    for (const path of deps.traits) traitKeys.add(path).add(path.split('.')[0]!);
    for (const path of deps.computed) computedKeys.add(path).add(path.split('.')[0]!);
    for (const ref of deps.tags) {
      const id = model.resolveTag(ref);
      if (id !== undefined) tags.add(id);
    }
    for (const id of deps.segments) segments.add(id);
    layers ||= deps.usesLifecycle || deps.usesRfm;
  }
  if (self?.kind === 'tag') tags.add(self.id);
  if (self?.kind === 'segment') segments.add(self.id);
  return { events: eventNeedsOf(conditions, now), tags: [...tags], segments: [...segments], layers, traitKeys: [...traitKeys], computedKeys: [...computedKeys] };
}

const keyOf = (kind: DefinitionKind, id: string): string => `${kind}:${id}`;

/**
 * A workspace's tags and segments, compiled for evaluation: rule tags and segments in dependency
 * order (a definition comes after every rule tag and segment it refers to), tag names resolved to
 * ids, and who refers to whom.
 */
export class WorkspaceModel {
  readonly tagById = new Map<string, TagRecord>();
  readonly tagByName = new Map<string, TagRecord>();
  readonly segmentById = new Map<string, SegmentRecord>();
  /** Rule tags and segments, each after what it depends on. */
  readonly ordered: CompiledDefinition[];
  readonly needsLayers: boolean;
  private readonly byKey = new Map<string, CompiledDefinition>();

  constructor(
    readonly workspaceId: string,
    readonly timeZone: string,
    tags: readonly TagRecord[],
    segments: readonly SegmentRecord[],
    readonly loadedAt: number,
  ) {
    for (const t of tags) {
      this.tagById.set(t.id, t);
      this.tagByName.set(t.name, t);
    }
    for (const s of segments) this.segmentById.set(s.id, s);
    const defs: CompiledDefinition[] = [];
    for (const t of tags) {
      const condition = t.kind === 'rule' ? parseStored(t.definition) : null;
      if (condition) defs.push({ kind: 'tag', id: t.id, name: t.name, condition, deps: conditionDependencies(condition) });
    }
    for (const s of segments) {
      const condition = parseStored(s.definition);
      if (condition) defs.push({ kind: 'segment', id: s.id, name: s.name, condition, deps: conditionDependencies(condition) });
    }
    for (const d of defs) this.byKey.set(keyOf(d.kind, d.id), d);
    this.ordered = this.topologicalOrder(defs);
    this.needsLayers = defs.some((d) => d.deps.usesLifecycle || d.deps.usesRfm);
    const top = (path: string) => path.split('.')[0]!;
    for (const d of defs) {
      for (const e of d.deps.events) this.eventsUsed.add(e);
      for (const t of d.deps.traits) this.traitsUsed.add(top(t));
      for (const c of d.deps.computed) this.computedUsed.add(top(c));
    }
  }

  private readonly eventsUsed = new Set<string>();
  private readonly traitsUsed = new Set<string>();
  private readonly computedUsed = new Set<string>();

  /**
   * Whether any definition can change with this change of a profile. Tag and segment references
   * need no check of their own: rule tags and segments change only through what their own
   * conditions use (checked here), manual tags through their own re-evaluation, layers through theirs.
   */
  affectedBy(change: { whole: boolean; events: ReadonlySet<string>; traits: ReadonlySet<string>; computed: ReadonlySet<string> }): boolean {
    // Membership events (`Segment Entered`…) are written by the engine itself, without a processor batch: a
    // definition using them is evaluated again once they are committed (AudienceEngine.followMembershipEvents),
    // and, as here, at any change of the profile.
    if (change.whole || ENGINE_EVENTS.some((e) => this.eventsUsed.has(e))) return true;
    for (const e of change.events) if (this.eventsUsed.has(e)) return true;
    for (const t of change.traits) if (this.traitsUsed.has(t)) return true;
    for (const c of change.computed) if (this.computedUsed.has(c)) return true;
    return false;
  }

  /**
   * The definitions this change of a profile can change, in evaluation order, or null for all of
   * them: those whose own conditions use a changed event, trait or computed trait, and every
   * definition that refers (directly or through others) to one of those, since its membership may
   * move with theirs. The rest keep their result: nothing they read has changed, and what the clock
   * changes is scheduled already.
   */
  affectedDefinitions(change: { whole: boolean; events: ReadonlySet<string>; traits: ReadonlySet<string>; computed: ReadonlySet<string> }): CompiledDefinition[] | null {
    if (change.whole || ENGINE_EVENTS.some((e) => this.eventsUsed.has(e))) return null;
    return this.reading(change);
  }

  /** Whether a definition reads membership events (`Segment Entered`, `Tag Added`…). */
  get usesMembershipEvents(): boolean {
    return ENGINE_EVENTS.some((e) => this.eventsUsed.has(e));
  }

  /**
   * The definitions that read the membership events just written for a profile (`names`), with their dependants,
   * in evaluation order (null: all). The engine evaluates them again once those events are committed: the
   * evaluation that wrote them read the profile's events before they existed.
   */
  readingMembershipEvents(names: ReadonlySet<string>): CompiledDefinition[] | null {
    return this.reading({ events: names, traits: new Set(), computed: new Set() });
  }

  private reading(change: { events: ReadonlySet<string>; traits: ReadonlySet<string>; computed: ReadonlySet<string> }): CompiledDefinition[] | null {
    const top = (path: string) => path.split('.')[0]!;
    const hit = new Set<string>();
    const out: CompiledDefinition[] = [];
    // `ordered` lists what a definition refers to before it: one pass finds the dependants too.
    for (const d of this.ordered) {
      const direct =
        d.deps.events.some((e) => change.events.has(e)) || d.deps.traits.some((t) => change.traits.has(top(t))) || d.deps.computed.some((c) => change.computed.has(top(c)));
      if (direct || this.edgesOfDefinition(d).some((k) => hit.has(k))) {
        hit.add(keyOf(d.kind, d.id));
        out.push(d);
      }
    }
    return out.length === this.ordered.length ? null : out;
  }

  /** The tag id a reference (id or name) names, if the tag exists. */
  resolveTag = (ref: string): string | undefined => this.tagById.get(ref)?.id ?? this.tagByName.get(ref)?.id;

  definition(kind: DefinitionKind, id: string): CompiledDefinition | undefined {
    return this.byKey.get(keyOf(kind, id));
  }

  /** Definitions that refer to this tag (by id or name) or segment directly. */
  dependantsOf(kind: DefinitionKind, id: string): CompiledDefinition[] {
    return this.ordered.filter((d) => (kind === 'tag' ? d.deps.tags.some((r) => this.resolveTag(r) === id) : d.deps.segments.includes(id)));
  }

  /** Definitions that refer to a tag by this exact name (renaming the tag would break them). */
  referencesByName(name: string): CompiledDefinition[] {
    return this.ordered.filter((d) => d.deps.tags.includes(name));
  }

  private readonly edgeCache = new Map<CompiledDefinition, string[]>();
  /** {@link edgesOf} of a stored definition, computed once. */
  private edgesOfDefinition(d: CompiledDefinition): string[] {
    let edges = this.edgeCache.get(d);
    if (!edges) this.edgeCache.set(d, (edges = this.edgesOf(d.condition)));
    return edges;
  }

  /** The definitions' references as graph keys (manual tags are leaves and are left out). */
  private edgesOf(condition: ConditionNode): string[] {
    const out: string[] = [];
    const deps = conditionDependencies(condition);
    for (const ref of deps.tags) {
      const id = this.resolveTag(ref);
      if (id !== undefined && this.tagById.get(id)?.kind === 'rule') out.push(keyOf('tag', id));
    }
    for (const id of deps.segments) out.push(keyOf('segment', id));
    return out;
  }

  /**
   * Problems for references in `condition` (the new definition of `self`) that lead back to `self`
   * through other rule tags and segments: a definition cannot depend on itself.
   */
  cycleProblems(self: { kind: DefinitionKind; id: string }, condition: ConditionNode | unknown, pathPrefix: string): Problem[] {
    const target = keyOf(self.kind, self.id);
    const problems: Problem[] = [];
    for (const r of conditionRefs(condition, pathPrefix)) {
      const start = r.kind === 'tag' ? this.resolveTag(r.ref) : r.ref;
      if (start === undefined) continue;
      const startKey = keyOf(r.kind, start);
      if (startKey === target) {
        problems.push({ path: r.path, message: `this ${self.kind} cannot refer to itself` });
        continue;
      }
      const chain = this.pathTo(startKey, target);
      if (chain) {
        const names = [target, ...chain].map((k) => this.label(k));
        problems.push({ path: r.path, message: `${this.label(startKey)} depends back on this ${self.kind} (${names.join(' → ')}); a definition cannot depend on itself, remove this reference` });
      }
    }
    return problems;
  }

  private label(key: string): string {
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const name = kind === 'tag' ? this.tagById.get(id)?.name : this.segmentById.get(id)?.name;
    return `${kind} "${name ?? id}"`;
  }

  /** Shortest chain of keys from `from` to `target` through stored definitions (both included), or null. */
  private pathTo(from: string, target: string): string[] | null {
    const previous = new Map<string, string | null>([[from, null]]);
    const queue = [from];
    while (queue.length > 0) {
      const key = queue.shift()!;
      if (key === target) {
        const chain: string[] = [];
        for (let at: string | null | undefined = key; at != null; at = previous.get(at)) chain.unshift(at);
        return chain;
      }
      const def = this.byKey.get(key);
      if (!def) continue;
      for (const next of this.edgesOf(def.condition)) {
        if (previous.has(next)) continue;
        previous.set(next, key);
        queue.push(next);
      }
    }
    return null;
  }

  private topologicalOrder(defs: CompiledDefinition[]): CompiledDefinition[] {
    const out: CompiledDefinition[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (d: CompiledDefinition): void => {
      const key = keyOf(d.kind, d.id);
      if (state.get(key)) return; // done, or a cycle (refused on save): keep going in stored order
      state.set(key, 'visiting');
      for (const dep of this.edgesOf(d.condition)) {
        const next = this.byKey.get(dep);
        if (next) visit(next);
      }
      state.set(key, 'done');
      out.push(d);
    };
    defs.forEach(visit);
    return out;
  }
}

/** A stored definition's condition, or null if it no longer parses (never evaluated then). */
function parseStored(definition: unknown): ConditionNode | null {
  const parsed = ConditionDefinition.safeParse(definition);
  return parsed.success ? parsed.data.condition : null;
}

/** Event names the audience engine writes for membership changes. */
export const MEMBERSHIP_EVENTS = {
  segment: { entered: 'Segment Entered', exited: 'Segment Exited' },
  tag: { entered: 'Tag Added', exited: 'Tag Removed' },
} as const;
const ENGINE_EVENTS: readonly string[] = [MEMBERSHIP_EVENTS.segment.entered, MEMBERSHIP_EVENTS.segment.exited, MEMBERSHIP_EVENTS.tag.entered, MEMBERSHIP_EVENTS.tag.exited];
