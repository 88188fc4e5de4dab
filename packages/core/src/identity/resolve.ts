import { identifierKey, type Identifier } from './extract.ts';
import type { IdentityRules } from './rules.ts';

/** Read access to the identity graph as it stands (the processor keeps it in memory per batch). */
export interface IdentityGraph {
  /** The canonical profile holding this identifier, if any. */
  profileOf(type: string, value: string): string | undefined;
  /** All identifiers the profile holds now. */
  identitiesOf(profileId: string): readonly Identifier[];
}

export interface PlannedMerge {
  winnerId: string;
  loserId: string;
  /** The identifier of the message that linked the two profiles. */
  via: Identifier;
  reason: string;
}

export interface IdentityConflict {
  type: string;
  value: string;
  /** Profile the message was attached to. */
  profileId: string;
  /** The other profile that was NOT merged (null when an identifier was simply not attached). */
  otherProfileId: string | null;
  reason: string;
}

export interface Resolution {
  /** The profile the message belongs to. */
  profileId: string;
  /** True when a new profile was started (its id is `createdId`). */
  created: boolean;
  /** The new profile's id, when one was started; it may since have been merged into `profileId`. */
  createdId: string | null;
  /** Identifiers to attach to `profileId` (not yet held by anyone). */
  attach: Identifier[];
  /** Profiles to merge into `profileId`, in order. */
  merges: PlannedMerge[];
  /** Links refused by the workspace's rules, to be recorded for review. */
  conflicts: IdentityConflict[];
}

/**
 * Deterministic ID-mapping for one message.
 *
 * The message belongs to the profile reached through its highest-priority identifier. Every other
 * profile the message reaches is merged into it unless the merged person would hold more values of
 * a type than the type's `maxPerProfile` (e.g. two different user_ids on one shared device): such a
 * link is refused and returned as a conflict. An unknown identifier of higher priority that the
 * reached profile cannot take (a new user_id where the profile already has another) means the
 * message is a different person: a new profile is created for it.
 *
 * In a merge the survivor is the profile holding the higher-priority identifier (a customer's
 * user_id profile is not absorbed into an anonymous email profile), so the survivor's id stays stable.
 *
 * `explicit`: identifiers the sender links on purpose — an alias call's userId and previousId. The limits
 * guard against links inferred from shared data (a device, a phone); an alias states that the two ids are
 * one person (Segment: a user whose id changed), so links through these are made whatever the limits.
 */
export function resolveIdentifiers(
  identifiers: readonly Identifier[],
  rules: IdentityRules,
  graph: IdentityGraph,
  newProfileId: () => string,
  explicit: readonly Identifier[] = [],
): Resolution {
  // Most traffic: a returning customer, every identifier already held by one profile. The steps below would adopt
  // it and find nothing to attach, merge or refuse; answered without them (no sort, maps or closures per message).
  let only: string | undefined;
  for (const id of identifiers) {
    const owner = graph.profileOf(id.type, id.value);
    if (owner === undefined || (only !== undefined && owner !== only)) {
      only = undefined;
      break;
    }
    only = owner;
  }
  if (only !== undefined) return { profileId: only, created: false, createdId: null, attach: [], merges: [], conflicts: [] };

  const isExplicit = (id: Identifier) => explicit.some((e) => e.type === id.type && e.value === id.value);
  const sorted = [...identifiers].sort((a, b) => priorityOf(rules, b.type) - priorityOf(rules, a.type));
  const conflicts: IdentityConflict[] = [];
  const merges: PlannedMerge[] = [];
  const attach: Identifier[] = [];
  const pending: Identifier[] = [];
  let primary: string | null = null;
  let created = false;
  let createdId: string | null = null;
  // The identifier through which the message reached its profile, for merge reasons.
  let primaryVia: Identifier | null = null;
  // Identifiers the primary will hold after this message: what it has plus what we plan to attach/merge.
  let held = new Map<string, Set<string>>();

  const adopt = (profileId: string, isNew: boolean) => {
    primary = profileId;
    created = isNew;
    if (isNew) createdId = profileId;
    held = isNew ? new Map() : groupByType(graph.identitiesOf(profileId));
  };
  // The first of `extra` that would take the primary past its type's limit (null: all fit). Counts
  // what `held` has plus the new values of `extra`, without copying `held` (this runs per identifier).
  const fits = (extra: readonly Identifier[]): Identifier | null => {
    let gained: Map<string, Set<string>> | undefined;
    for (const id of extra) {
      const max = rules.get(id.type)?.maxPerProfile ?? null;
      if (max === null) continue;
      const have = held.get(id.type);
      if (!have?.has(id.value)) {
        gained ??= new Map();
        let values = gained.get(id.type);
        if (!values) gained.set(id.type, (values = new Set()));
        values.add(id.value);
      }
      if ((have?.size ?? 0) + (gained?.get(id.type)?.size ?? 0) > max) return id;
    }
    return null;
  };
  const hold = (ids: readonly Identifier[]) => {
    for (const id of ids) {
      const set = held.get(id.type) ?? new Set<string>();
      set.add(id.value);
      held.set(id.type, set);
    }
  };
  const attachOrRefuse = (id: Identifier) => {
    const over = isExplicit(id) ? null : fits([id]);
    if (over) {
      const max = rules.get(id.type)?.maxPerProfile;
      conflicts.push({
        type: id.type,
        value: id.value,
        profileId: primary!,
        otherProfileId: null,
        reason: `limit: a profile holds at most ${max} ${id.type}; profile already has ${[...(held.get(id.type) ?? [])].join(', ')}`,
      });
      return;
    }
    attach.push(id);
    hold([id]);
  };

  const seenProfiles = new Set<string>();
  for (const id of sorted) {
    const owner = graph.profileOf(id.type, id.value);
    if (owner === undefined) {
      if (primary === null) pending.push(id);
      else attachOrRefuse(id);
      continue;
    }
    if (owner === primary || seenProfiles.has(owner)) continue;
    seenProfiles.add(owner);
    if (primary === null) {
      // Does the profile reached here accept the higher-priority new identifiers seen so far?
      held = groupByType(graph.identitiesOf(owner));
      const over = fits(isExplicit(id) ? pending.filter((p) => !isExplicit(p)) : pending);
      if (!over) {
        adopt(owner, false);
        primaryVia = id;
        for (const p of pending) attachOrRefuse(p);
        continue;
      }
      // It does not: the message is another person, whose identifiers start a new profile.
      adopt(newProfileId(), true);
      primaryVia = pending[0] ?? null;
      for (const p of pending) attachOrRefuse(p);
    }
    const theirs = graph.identitiesOf(owner);
    const over = isExplicit(id) ? null : fits(theirs);
    if (over) {
      const max = rules.get(over.type)?.maxPerProfile;
      conflicts.push({
        type: id.type,
        value: id.value,
        profileId: primary!,
        otherProfileId: owner,
        reason: `not merged: ${id.type} ${id.value} links to a profile with ${over.type} ${over.value}, and a person holds at most ${max} ${over.type}`,
      });
      continue;
    }
    const reason = primaryVia && (primaryVia.type !== id.type || primaryVia.value !== id.value)
      ? `one message carried ${primaryVia.type} ${primaryVia.value} and ${id.type} ${id.value}, held by the two profiles`
      : `shared ${id.type} ${id.value}`;
    if (topPriority(rules, theirs) > topPriorityOf(rules, held)) {
      merges.push({ winnerId: owner, loserId: primary!, via: id, reason });
      primary = owner;
      primaryVia = id;
    } else {
      merges.push({ winnerId: primary!, loserId: owner, via: id, reason });
    }
    hold(theirs);
  }
  if (primary === null) {
    adopt(newProfileId(), true);
    for (const p of pending) attachOrRefuse(p);
  }
  return { profileId: primary!, created, createdId, attach, merges, conflicts };
}

/**
 * The identifier an alias call's previousId stands for: an existing user_id if one matches,
 * else an anonymous_id (Segment's alias links an old id to the new userId).
 */
export function aliasIdentifier(previousId: string, graph: IdentityGraph): Identifier {
  if (graph.profileOf('user_id', previousId) !== undefined) return { type: 'user_id', value: previousId };
  return { type: 'anonymous_id', value: previousId };
}

function topPriority(rules: IdentityRules, ids: readonly Identifier[]): number {
  let max = -1;
  for (const id of ids) max = Math.max(max, priorityOf(rules, id.type));
  return max;
}

function topPriorityOf(rules: IdentityRules, held: ReadonlyMap<string, ReadonlySet<string>>): number {
  let max = -1;
  for (const [type, values] of held) if (values.size) max = Math.max(max, priorityOf(rules, type));
  return max;
}

function priorityOf(rules: IdentityRules, type: string): number {
  return rules.get(type)?.priority ?? 0;
}

function groupByType(ids: readonly Identifier[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const id of ids) {
    const set = out.get(id.type) ?? new Set<string>();
    set.add(id.value);
    out.set(id.type, set);
  }
  return out;
}

export { identifierKey };
