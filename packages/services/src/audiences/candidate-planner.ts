import { requiredEvent, type ConditionNode, type EventWindow } from '@siyu/core';
import { newBitmap, type AudienceBitmaps, type AudienceStore, type Bitmap } from '@siyu/storage';
import { yieldToEventLoop } from './yield.ts';

const DAY_MS = 86_400_000;
/** Events per candidate query, roughly: one time slice of events_name_num_idx (~2–5 ms on SQLite). */
const SLICE_EVENTS = 20_000;
const MIN_SLICE_MS = 60_000;
const MAX_SLICE_MS = 366 * DAY_MS;
/**
 * When the bitmap-only parts of an `all` leave at most this many profiles, event lookups are skipped:
 * evaluating a few pages of profiles costs less than reading every event of a name in a window.
 */
const SMALL_ENOUGH = 5_000;
/** "Page Viewed" / "Screen Viewed" also match page and screen calls, whose rows carry the page name: no index range finds them. */
const CALL_EVENTS: ReadonlySet<string> = new Set(['Page Viewed', 'Screen Viewed']);

/** Profiles that can match a condition: a superset of the matches, or exactly them when `exact`. */
export interface CandidateSet {
  set: Bitmap;
  exact: boolean;
}

export interface CandidatePlannerOptions {
  store: AudienceStore;
  workspaceId: string;
  /** The workspace's bitmaps (tags, segments, layers and every canonical profile). */
  bitmaps: AudienceBitmaps;
  resolveTag: (ref: string) => string | undefined;
  now: Date;
}

/**
 * Plans which profiles a bulk evaluation must read. For a condition it computes a superset of the
 * canonical profiles that can match, or null ("unknown": read everyone):
 *
 * - tags, segments, lifecycle, RFM and RFM segments: exact, from the bitmaps;
 * - a behaviour condition that cannot hold without at least one event of its name in its window
 *   (see `requiredEvent` in core: `count ≥ 1`, `sum > 0`, any avg/min/max…) and a sequence (its first
 *   step): the profiles with such an event, from one index range per page — a superset, since
 *   property filters and the measure are left to the evaluator; "did not do" is unknown;
 * - traits and computed traits: unknown;
 * - `all`: the known children intersected (unknown only if none is known); `any`: the union, unknown
 *   if any child is; `not`: the complement when the child is exact, else unknown.
 *
 * The result is exact only when every part is. Event sets are read once per (name, window).
 */
export class CandidatePlanner {
  private readonly eventSets = new Map<string, Promise<Bitmap>>();

  constructor(private readonly opts: CandidatePlannerOptions) {}

  /** A superset of the canonical profiles that can match `node` (a new bitmap the caller owns), or null. */
  async plan(node: ConditionNode): Promise<CandidateSet | null> {
    const r = await this.visit(node, true);
    if (!r) return null;
    return { set: r.owned ? r.set : r.set.clone(), exact: r.exact };
  }

  private async visit(node: ConditionNode, withEvents: boolean): Promise<(CandidateSet & { owned: boolean }) | null> {
    const { bitmaps } = this.opts;
    if ('all' in node) {
      const parts = await Promise.all(node.all.map((c) => this.visit(c, false)));
      let acc: Bitmap | null = null;
      let exact = true;
      const intersect = (set: Bitmap): void => {
        acc = acc === null ? set.clone() : acc.andInPlace(set);
      };
      for (const p of parts) {
        if (p) intersect(p.set);
        if (!p?.exact) exact = false;
      }
      // Children that only event lookups narrow, when what is known so far is still large.
      if (withEvents && (acc === null || (acc as Bitmap).size > SMALL_ENOUGH)) {
        for (let i = 0; i < node.all.length; i++) {
          if (parts[i]?.exact || !mayNarrowByEvents(node.all[i]!)) continue;
          const p = await this.visit(node.all[i]!, true);
          if (p) intersect(p.set);
          if ((acc as Bitmap | null)?.isEmpty) break;
        }
      }
      return acc === null ? null : { set: acc, exact, owned: true };
    }
    if ('any' in node) {
      const parts: CandidateSet[] = [];
      for (const c of node.any) {
        const p = await this.visit(c, withEvents);
        if (!p) return null;
        parts.push(p);
      }
      const set = newBitmap();
      for (const p of parts) set.orInPlace(p.set);
      return { set, exact: parts.every((p) => p.exact), owned: true };
    }
    if ('not' in node) {
      // Bitmaps read without the canonical profiles (see AudienceBitmaps.allKnown): no complement to take.
      if (bitmaps.allKnown === false) return null;
      const p = await this.visit(node.not, withEvents);
      if (!p?.exact) return null;
      return { set: bitmaps.all.clone().andNotInPlace(p.set), exact: true, owned: true };
    }
    const leaf = bitmaps.leaf(node, this.opts.resolveTag);
    if (leaf) return { set: leaf, exact: true, owned: true };
    if (!withEvents || !('event' in node || 'sequence' in node)) return null;
    const req = requiredEvent(node);
    if (!req || CALL_EVENTS.has(req.event)) return null;
    return { set: await this.eventSet(req.event, req.window), exact: false, owned: false };
  }

  /** Canonical profiles with a track event `event` in (a widened) `window`. */
  private eventSet(event: string, window: EventWindow): Promise<Bitmap> {
    const key = JSON.stringify([event, window]);
    let hit = this.eventSets.get(key);
    if (!hit) {
      hit = this.readEventSet(event, window);
      this.eventSets.set(key, hit);
    }
    return hit;
  }

  /**
   * Reads the window as consecutive time slices of events_name_num_idx, one aggregate query each: a
   * slice starts a day wide and halves or doubles to hold roughly {@link SLICE_EVENTS} events. The
   * slices partition the text range (each boundary sorts after the one before), so every stored event
   * is read once; with no upper bound the last slice is open and also takes events stored meanwhile.
   */
  private async readEventSet(event: string, window: EventWindow): Promise<Bitmap> {
    const { store, workspaceId, bitmaps } = this.opts;
    const range = textRange(window, this.opts.now);
    const set = newBitmap();
    let since = range.since;
    let last: string | null = null;
    if (since === null || range.before === null) {
      const bounds = await store.eventTimeBounds(workspaceId, event);
      if (!bounds) return set;
      since ??= bounds.first;
      last = bounds.last;
    }
    let width = DAY_MS;
    for (;;) {
      // better-sqlite3 is synchronous: yield between slices so HTTP and the processor keep running.
      await yieldToEventLoop();
      const next = sliceEnd(since, width);
      // The final slice reaches the range's end, or nothing stored lies past it (then it is left open).
      const final = next === null || (range.before !== null ? next >= range.before : last! < next);
      const nums = await store.eventProfileNums(workspaceId, event, { since, before: final ? range.before : next });
      set.addMany(nums);
      if (final) break;
      since = next;
      if (nums.length > 2 * SLICE_EVENTS) width = Math.max(MIN_SLICE_MS, width / 2);
      else if (nums.length < SLICE_EVENTS / 2) width = Math.min(MAX_SLICE_MS, width * 2);
    }
    return bitmaps.allKnown === false ? set : set.andInPlace(bitmaps.all);
  }
}

/**
 * The slice boundary `width` after the text timestamp `since`, as ISO text that sorts after it: counted
 * from its date and time as written (a stored timestamp may carry any UTC offset, and its UTC instant
 * can sort before its own text). Null when `since` is no timestamp (one slice then takes the rest).
 */
function sliceEnd(since: string, width: number): string | null {
  const ms = Date.parse(since.length >= 19 ? `${since.slice(0, 19)}Z` : since);
  if (Number.isNaN(ms)) return null;
  const next = new Date(ms + width).toISOString();
  return next > since ? next : null;
}

/** Whether a node can be narrowed by event lookups (it contains a behaviour or sequence condition). */
function mayNarrowByEvents(node: ConditionNode): boolean {
  if ('all' in node) return node.all.some(mayNarrowByEvents);
  if ('any' in node) return node.any.some(mayNarrowByEvents);
  if ('not' in node) return false; // a complement needs an exact child, which events never give
  return 'event' in node || 'sequence' in node;
}

/**
 * ISO-text bounds on `events.timestamp` covering a window, widened by two days on each side: stored
 * timestamps sort by their own local date (any UTC offset, ≤ 14 h) and offset-less `between` bounds are
 * read in the workspace zone, so the widened range never cuts off an event the evaluator would count.
 * Events after `now` stay in (they are not in the window yet, but the bound would only save a little).
 */
export function textRange(window: EventWindow, now: Date): { since: string | null; before: string | null } {
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  if (window === 'ever') return { since: null, before: null };
  if ('last_days' in window) return { since: day(now.getTime() - (window.last_days + 2) * DAY_MS), before: null };
  const from = Date.parse(window.between[0]);
  const to = Date.parse(window.between[1]);
  // `before` is a bare date: "2024-02-03" sorts before every timestamp of that day, so `<` keeps days up to the one before.
  return { since: Number.isNaN(from) ? null : day(from - 2 * DAY_MS), before: Number.isNaN(to) ? null : day(to + 3 * DAY_MS) };
}
