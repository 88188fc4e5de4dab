import { describe, expect, it } from 'vitest';
import type { ConditionNode } from '@siyu/core';
import { AudienceBitmaps, newBitmap, type AudienceStore } from '@siyu/storage';
import { CandidatePlanner, textRange } from '../src/audiences/candidate-planner.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-06-30T12:00:00.000Z');

/** The planner's two event reads over an in-memory list, with the store's text-order semantics; counts every event handed out. */
function eventStore(events: readonly { timestamp: string; num: number }[]) {
  const reads: { since: string | null; before: string | null; n: number }[] = [];
  const store = {
    async eventTimeBounds(_ws: string, _event: string) {
      if (events.length === 0) return null;
      const sorted = events.map((e) => e.timestamp).sort();
      return { first: sorted[0]!, last: sorted[sorted.length - 1]! };
    },
    async eventProfileNums(_ws: string, _event: string, range: { since: string | null; before: string | null }) {
      const nums = events.filter((e) => (range.since === null || e.timestamp >= range.since) && (range.before === null || e.timestamp < range.before)).map((e) => e.num);
      reads.push({ ...range, n: nums.length });
      return Uint32Array.from(nums);
    },
  };
  return { store: store as unknown as AudienceStore, reads };
}

function planner(store: AudienceStore, all: number[]) {
  const bitmaps = { all: newBitmap(all), allKnown: true, leaf: () => null } as unknown as AudienceBitmaps;
  return new CandidatePlanner({ store, workspaceId: 'ws', bitmaps, resolveTag: () => undefined, now: NOW });
}

const bought = (window: unknown): ConditionNode => ({ event: 'Order Completed', op: 'gte', value: 1, window }) as ConditionNode;

describe('candidate planner: event sets read in time slices', () => {
  // Timestamps as clients send them: UTC, east and west offsets (whose UTC instant sorts before or after the text), bare seconds.
  const formats = [
    (ms: number) => new Date(ms).toISOString(),
    (ms: number) => `${new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`,
    (ms: number) => `${new Date(ms - 10 * 3_600_000).toISOString().slice(0, 19)}-10:00`,
    (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`,
  ];

  it('reads every event of the range exactly once, in slices that adapt to the density', async () => {
    // 60k events: a dense burst on one day (slices shrink), sparse years before it (slices grow), and some after now.
    const events: { timestamp: string; num: number }[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 60_000; i++) {
      const ms = i < 45_000 ? NOW.getTime() - 400 * DAY + rand() * DAY : i < 58_000 ? NOW.getTime() - 900 * DAY + rand() * 890 * DAY : NOW.getTime() + rand() * 5 * DAY;
      events.push({ timestamp: formats[i % formats.length]!(ms), num: 1 + (i % 50_000) });
    }
    const all = Array.from({ length: 50_000 }, (_, i) => i + 1);
    for (const window of ['ever', { last_days: 30 }, { last_days: 400 }, { between: ['2025-01-01', '2026-06-25'] }, { between: ['2030-01-01', '2030-02-01'] }]) {
      const { store, reads } = eventStore(events);
      const plan = await planner(store, all).plan(bought(window));
      const range = textRange(window as never, NOW);
      const expected = events.filter((e) => (range.since === null || e.timestamp >= range.since) && (range.before === null || e.timestamp < range.before));
      // Each event in the range is handed out once: the slices neither overlap nor leave gaps.
      expect(reads.reduce((s, r) => s + r.n, 0), JSON.stringify(window)).toBe(expected.length);
      expect(plan!.exact).toBe(false);
      expect([...plan!.set].sort((a, b) => a - b)).toEqual([...new Set(expected.map((e) => e.num))].sort((a, b) => a - b));
      // Slices follow each other: each starts where the one before ended.
      for (let i = 1; i < reads.length; i++) expect(reads[i]!.since).toBe(reads[i - 1]!.before);
      if (window === 'ever') {
        // The sparse years took few reads (slices widen); after a read of more than 40k events the next slice is narrower.
        expect(reads.length).toBeLessThan(60);
        const width = (r: { since: string | null; before: string | null }) => Date.parse(r.before!.slice(0, 19) + 'Z') - Date.parse(r.since!.slice(0, 19) + 'Z');
        const big = reads.findIndex((r) => r.n > 40_000);
        expect(big).toBeGreaterThan(0);
        expect(width(reads[big + 1]!)).toBeLessThan(width(reads[big]!));
        expect(reads[reads.length - 1]!.before).toBeNull(); // open at the end: events stored meanwhile are read too
      }
    }
  });

  it('an event never stored gives no candidates without reading a slice', async () => {
    const { store, reads } = eventStore([]);
    const plan = await planner(store, [1, 2, 3]).plan(bought('ever'));
    expect(plan!.set.size).toBe(0);
    expect(reads).toEqual([]);
  });

  it('keeps only canonical profiles (numbers merged away or erased drop out)', async () => {
    const { store } = eventStore([
      { timestamp: '2026-06-29T00:00:00.000Z', num: 1 },
      { timestamp: '2026-06-29T01:00:00.000Z', num: 2 },
      { timestamp: '2026-06-29T02:00:00.000Z', num: 9 },
    ]);
    const plan = await planner(store, [1, 2, 3]).plan(bought({ last_days: 7 }));
    expect([...plan!.set]).toEqual([1, 2]);
  });
});

describe('candidate planner: bitmaps read without the canonical profiles (a recompute on PostgreSQL that takes no complement)', () => {
  /** Tag t1 held by 1, 2 and 9 (9 merged away since: it is not canonical, but its row is still there). */
  function partial(): AudienceBitmaps {
    const b = new AudienceBitmaps();
    b.allKnown = false;
    b.tag('t1').addMany([1, 2, 9]);
    return b;
  }
  const plan = (node: ConditionNode, events: { timestamp: string; num: number }[] = []) =>
    new CandidatePlanner({ store: eventStore(events).store, workspaceId: 'ws', bitmaps: partial(), resolveTag: (r) => r, now: NOW }).plan(node);

  it('gives memberships as stored — a superset the evaluation narrows to canonical profiles', async () => {
    expect([...(await plan({ tag: 't1', has: true }))!.set]).toEqual([1, 2, 9]);
    // An event set is not narrowed by the (empty) list of canonical profiles either.
    const r = await plan(bought('ever'), [{ timestamp: '2026-06-01T00:00:00.000Z', num: 9 }, { timestamp: '2026-06-01T00:00:00.000Z', num: 3 }]);
    expect([...r!.set]).toEqual([3, 9]);
  });

  it('takes no complement: unknown rather than a wrong (empty) set', async () => {
    expect(await plan({ not: { tag: 't1', has: true } })).toBeNull();
    expect(await plan({ tag: 't1', has: false })).toBeNull();
    // Inside "all" an unknown part only narrows less.
    expect([...(await plan({ all: [{ tag: 't1', has: true }, { tag: 't1', has: false }] }))!.set]).toEqual([1, 2, 9]);
    expect(() => partial().evaluate({ tag: 't1', has: false }, (r) => r)).toThrow(/complement/);
  });

  it('knows which conditions take a complement', () => {
    expect(AudienceBitmaps.usesComplement({ all: [{ tag: 'a', has: true }, { lifecycle: 'new' }, bought('ever')] })).toBe(false);
    expect(AudienceBitmaps.usesComplement({ any: [{ tag: 'a', has: true }, { segment: 's', in: false }] })).toBe(true);
    expect(AudienceBitmaps.usesComplement({ all: [{ not: { lifecycle: 'new' } }] })).toBe(true);
    expect(AudienceBitmaps.usesComplement({ tag: 'a', has: false })).toBe(true);
  });
});
