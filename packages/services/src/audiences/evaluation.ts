import { evaluateCondition, nextChangeAt, type ConditionDependencies, type EvaluationContext, type EvaluationProfile } from '@siyu/core';
import type { EvaluationRow } from '@siyu/storage';
import type { CompiledDefinition, WorkspaceModel } from './definitions.ts';

/** A profile row as the condition evaluator sees it: tags by id and name, segments by id, layers. */
export function toEvaluationProfile(model: WorkspaceModel, row: EvaluationRow): EvaluationProfile & { tags: Set<string>; segments: Set<string> } {
  const tags = new Set<string>();
  for (const t of row.tags) {
    tags.add(t.tagId);
    const tag = model.tagById.get(t.tagId);
    if (tag) tags.add(tag.name);
  }
  return {
    id: row.id,
    traits: row.traits,
    computed: row.computed,
    tags,
    segments: new Set(row.segments),
    lifecycle: row.layers?.lifecycle ?? null,
    rfm: row.layers?.rfm ?? null,
  };
}

/** A membership that evaluation found out of date. */
export interface DerivedChange {
  def: CompiledDefinition;
  profileId: string;
  num: number;
  action: 'entered' | 'exited';
}

/**
 * Evaluates a profile against the workspace's rule tags and segments in dependency order (all, or
 * only `only`), so a segment that refers to a rule tag sees the tag's new state. Returns the
 * memberships that changed and the earliest instant at which any time-dependent result changes.
 */
export function evaluateRow(model: WorkspaceModel, row: EvaluationRow, now: Date, only?: ReadonlySet<CompiledDefinition>): { changes: DerivedChange[]; nextAt: number | null } {
  const profile = toEvaluationProfile(model, row);
  const heldTags = new Set(row.tags.map((t) => t.tagId));
  const ctx: EvaluationContext = { now, timeZone: model.timeZone, profile, events: row.events };
  const changes: DerivedChange[] = [];
  let nextAt: number | null = null;
  // An event timestamped ahead of now (the API takes up to 5 minutes of clock skew) counts from its timestamp on,
  // even in an `ever` window: behaviour definitions are then re-checked at that instant, like time-dependent ones.
  // Stored timestamps are ISO-8601 in UTC (ingestion writes them so), which compare as strings; only a string
  // after now is parsed to be sure (a parse per event was ~0.3 µs, for every event of every evaluated row).
  const nowIso = now.toISOString();
  const nowMs = now.getTime();
  const futureEvents = row.events.some((e) => e.timestamp > nowIso && Date.parse(e.timestamp) > nowMs);
  for (const def of model.ordered) {
    if (only && !only.has(def)) continue;
    const match = evaluateCondition(def.condition, ctx);
    const had = def.kind === 'tag' ? heldTags.has(def.id) : profile.segments.has(def.id);
    if (match !== had) {
      changes.push({ def, profileId: row.id, num: row.num, action: match ? 'entered' : 'exited' });
      if (def.kind === 'segment') {
        if (match) profile.segments.add(def.id);
        else profile.segments.delete(def.id);
      } else {
        if (match) {
          heldTags.add(def.id);
          profile.tags.add(def.id);
          profile.tags.add(def.name);
        } else {
          heldTags.delete(def.id);
          profile.tags.delete(def.id);
          profile.tags.delete(def.name);
        }
      }
    }
    if (def.deps.timeDependent || (futureEvents && def.deps.events.length > 0)) {
      const at = nextChangeAt(def.condition, ctx);
      if (at && (nextAt === null || at.getTime() < nextAt)) nextAt = at.getTime();
    }
  }
  return { changes, nextAt };
}

/**
 * Whether a bulk pass gains by screening rows on their traits and segments before reading their tags and layers
 * (`PageNeeds.screen`): the condition has something that can decide a row early, and tags or layers to skip.
 */
export function screensBeforeTags(deps: ConditionDependencies): boolean {
  return (deps.traits.length > 0 || deps.computed.length > 0 || deps.segments.length > 0) && (deps.tags.length > 0 || deps.usesLifecycle || deps.usesRfm);
}
