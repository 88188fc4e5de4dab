import type { ConditionNode } from './condition-schema.ts';
import { normalizeStep } from './condition-schema.ts';
import { isTimeDependent } from './match-comparison.ts';

/** What a condition reads. Lists are sorted and without duplicates. */
export interface ConditionDependencies {
  /** Trait names/paths (`city`, `address.city`). */
  traits: string[];
  /** Computed trait names as written (`total_spent`, `event_counts.Product Viewed`). */
  computed: string[];
  /** Event names used by behaviour and sequence conditions. */
  events: string[];
  /**
   * The subset of `events` whose properties are read (a `where` filter, or a sum/avg/min/max measure);
   * for the others name and timestamp are enough, which storage can answer from an index alone.
   */
  eventProperties: string[];
  /** Tag references as written (ids `tag_…` or names). */
  tags: string[];
  /** Segment ids. */
  segments: string[];
  usesLifecycle: boolean;
  /** The lifecycle stages named (`{ "lifecycle": ["new", "active"] }`), sorted. */
  lifecycleStages: string[];
  usesRfm: boolean;
  /** True when the result can change with the clock alone (windows, `within_last`, anniversaries). */
  timeDependent: boolean;
}

/**
 * Everything a condition depends on: refuse deleting a tag or segment another definition uses, and
 * find which definitions an incoming event or trait change can affect.
 *
 * @example conditionDependencies({ all: [{ tag: '高意向', has: true }, { segment: 'seg_1', in: false }] }).tags // ['高意向']
 */
export function conditionDependencies(node: ConditionNode): ConditionDependencies {
  const traits = new Set<string>();
  const computed = new Set<string>();
  const events = new Set<string>();
  const eventProperties = new Set<string>();
  const tags = new Set<string>();
  const segments = new Set<string>();
  let usesLifecycle = false;
  const lifecycleStages = new Set<string>();
  let usesRfm = false;
  let timeDependent = false;

  const visit = (n: ConditionNode): void => {
    if ('all' in n) n.all.forEach(visit);
    else if ('any' in n) n.any.forEach(visit);
    else if ('not' in n) visit(n.not);
    else if ('trait' in n) {
      traits.add(n.trait);
      timeDependent ||= isTimeDependent(n.op);
    } else if ('computed' in n) {
      computed.add(n.computed);
      timeDependent ||= isTimeDependent(n.op);
    } else if ('tag' in n) tags.add(n.tag);
    else if ('event' in n) {
      events.add(n.event);
      if ((n.where ?? []).length > 0 || (n.measure !== undefined && n.measure !== 'count')) eventProperties.add(n.event);
      const window = n.window ?? 'ever';
      timeDependent ||= window !== 'ever' && 'last_days' in window;
      timeDependent ||= (n.where ?? []).some((f) => isTimeDependent(f.op));
    } else if ('sequence' in n) {
      const steps = n.sequence.map(normalizeStep);
      for (const s of steps) {
        events.add(s.event);
        if (s.where.length > 0) eventProperties.add(s.event);
      }
      const window = n.window ?? 'ever';
      timeDependent ||= window !== 'ever' && 'last_days' in window;
      timeDependent ||= steps.some((s) => s.where.some((f) => isTimeDependent(f.op)));
    } else if ('segment' in n) segments.add(n.segment);
    else if ('lifecycle' in n) {
      usesLifecycle = true;
      for (const stage of Array.isArray(n.lifecycle) ? n.lifecycle : [n.lifecycle]) lifecycleStages.add(stage);
    }
    else usesRfm = true;
  };
  visit(node);

  const sorted = (s: Set<string>): string[] => [...s].sort();
  return {
    traits: sorted(traits),
    computed: sorted(computed),
    events: sorted(events),
    eventProperties: sorted(eventProperties),
    tags: sorted(tags),
    segments: sorted(segments),
    usesLifecycle,
    lifecycleStages: sorted(lifecycleStages),
    usesRfm,
    timeDependent,
  };
}
