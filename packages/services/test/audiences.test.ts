import { describe, expect, it } from 'vitest';
import type { ConditionNode, WorkspaceRecord } from '@siyu/core';
import { AudienceStore, openStore, SqlStore } from '@siyu/storage';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { createServices, silentLogger } from '@siyu/services';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

const DAY = 86_400_000;

/** One step of a scenario: data arrives, time passes, or membership is checked. */
type Step =
  | { identify: string; traits: Record<string, unknown> }
  | { track: string; event: string; properties?: Record<string, unknown>; daysAgo?: number }
  | { page: string; daysAgo?: number }
  | { tag: string; user: string }
  | { untag: string; user: string }
  | { advanceDays: number }
  | { expect: Record<string, boolean> };

interface Scenario {
  name: string;
  /** Manual tags to create first. */
  tags?: string[];
  /** Helper segments created first (by name), for segment-in-segment conditions. */
  segments?: Record<string, ConditionNode>;
  /** The condition under test; `ref(name)` is the id of a helper segment. */
  condition: (ref: (name: string) => string) => ConditionNode;
  steps: Step[];
}

const order = (user: string, properties: Record<string, unknown> = {}, daysAgo?: number): Step => ({ track: user, event: 'Order Completed', properties: { total: 100, ...properties }, ...(daysAgo !== undefined ? { daysAgo } : {}) });

const SCENARIOS: Scenario[] = [
  {
    name: 'trait equals',
    condition: () => ({ trait: 'city', op: 'eq', value: '上海' }),
    steps: [
      { identify: 'a', traits: { city: '上海' } },
      { identify: 'b', traits: { city: '北京' } },
      { expect: { a: true, b: false } },
      { identify: 'a', traits: { city: '杭州' } },
      { identify: 'b', traits: { city: '上海' } },
      { expect: { a: false, b: true } },
    ],
  },
  {
    name: 'computed trait (total spent in fen)',
    condition: () => ({ computed: 'total_spent', op: 'gte', value: 50000 }),
    steps: [order('a', { total: 300 }), { expect: { a: false } }, order('a', { total: 300 }), { expect: { a: true } }],
  },
  {
    name: 'tag',
    tags: ['VIP'],
    condition: () => ({ tag: 'VIP', has: true }),
    steps: [{ identify: 'a', traits: {} }, { identify: 'b', traits: {} }, { expect: { a: false, b: false } }, { tag: 'VIP', user: 'a' }, { expect: { a: true, b: false } }, { untag: 'VIP', user: 'a' }, { expect: { a: false } }],
  },
  {
    name: 'behaviour count with where and a rolling window expires without new events',
    condition: () => ({ event: 'Order Completed', where: [{ property: 'category', op: 'eq', value: 'shoes' }], op: 'gte', value: 2, window: { last_days: 30 } }),
    steps: [
      order('a', { category: 'shoes' }, 10),
      order('a', { category: 'bags' }),
      order('b', { category: 'shoes' }, 5),
      order('b', { category: 'shoes' }, 1),
      { expect: { a: false, b: true } },
      order('a', { category: 'shoes' }),
      { expect: { a: true, b: true } },
      { advanceDays: 24 },
      { expect: { a: false, b: true } },
      { advanceDays: 1 },
      { expect: { a: false, b: false } },
    ],
  },
  {
    name: 'bought in the last 30 days: a purchase 31 days ago leaves with no new event',
    condition: () => ({ event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } }),
    steps: [order('a'), order('b', {}, 29), { expect: { a: true, b: true } }, { advanceDays: 2 }, { expect: { a: true, b: false } }, { advanceDays: 29 }, { expect: { a: false, b: false } }],
  },
  {
    name: 'behaviour sum of a property in a window',
    condition: () => ({ event: 'Order Completed', measure: { sum: 'revenue' }, op: 'gte', value: 100, window: { last_days: 7 } }),
    steps: [
      order('a', { revenue: 60.5 }, 3),
      { expect: { a: false } },
      order('a', { revenue: 39.5 }),
      { expect: { a: true } },
      { advanceDays: 4.5 },
      { expect: { a: false } },
    ],
  },
  {
    name: 'did not do (count = 0 in a window) comes back when the event leaves the window',
    condition: () => ({ all: [{ event: 'Product Viewed', op: 'gte', value: 1 }, { event: 'Order Completed', op: 'eq', value: 0, window: { last_days: 7 } }] }),
    steps: [
      { track: 'a', event: 'Product Viewed' },
      { expect: { a: true } },
      order('a'),
      { expect: { a: false } },
      { advanceDays: 8 },
      { expect: { a: true } },
    ],
  },
  {
    name: 'page views count as "Page Viewed"',
    condition: () => ({ event: 'Page Viewed', op: 'gte', value: 2, window: { last_days: 1 } }),
    steps: [{ page: 'a' }, { expect: { a: false } }, { page: 'a' }, { expect: { a: true } }, { advanceDays: 1.5 }, { expect: { a: false } }],
  },
  {
    name: 'sequence in order within days',
    condition: () => ({ sequence: ['Product Viewed', 'Order Completed'], within_days: 1 }),
    steps: [
      order('a', {}, 3),
      { track: 'a', event: 'Product Viewed', daysAgo: 2 },
      { track: 'b', event: 'Product Viewed', daysAgo: 2 },
      order('b', {}, 0.5),
      { expect: { a: false, b: false } },
      order('a', {}, 1.5),
      { track: 'b', event: 'Product Viewed', daysAgo: 1 },
      { expect: { a: true, b: true } },
    ],
  },
  {
    name: 'segment in segment',
    segments: { vips: { trait: 'vip', op: 'eq', value: true } },
    condition: (ref) => ({ all: [{ segment: ref('vips'), in: true }, { computed: 'order_count', op: 'gte', value: 1 }] }),
    steps: [
      { identify: 'a', traits: { vip: true } },
      { identify: 'b', traits: { vip: false } },
      order('b'),
      { expect: { a: false, b: false } },
      order('a'),
      { identify: 'b', traits: { vip: true } },
      { expect: { a: true, b: true } },
      { identify: 'a', traits: { vip: false } },
      { expect: { a: false, b: true } },
    ],
  },
  {
    name: 'not in a segment, relative to everyone',
    segments: { shanghai: { trait: 'city', op: 'eq', value: '上海' } },
    condition: (ref) => ({ not: { segment: ref('shanghai'), in: true } }),
    steps: [{ identify: 'a', traits: { city: '上海' } }, { identify: 'b', traits: {} }, { expect: { a: false, b: true } }, { identify: 'a', traits: { city: '北京' } }, { expect: { a: true, b: true } }],
  },
  {
    name: 'lifecycle stage from the layers service',
    condition: () => ({ lifecycle: 'new' }),
    steps: [{ identify: 'a', traits: {} }, order('b'), { expect: { a: false, b: true } }],
  },
];

/**
 * Every backend, and SQLite once more with incremental reads outside the write lock, as the audience
 * thread of `siyu start` runs them when it has a thread of its own (SIYU_WORKER_THREADS=2).
 */
const VARIANTS = [
  ...TEST_BACKENDS.map((backend) => ({ backend, name: backend.name, readOutsideLock: false })),
  { backend: { name: 'sqlite' as const }, name: 'sqlite, reading outside the write lock', readOutsideLock: true },
];

describe.each(VARIANTS)('audience scenarios on $name', ({ backend, readOutsideLock }) => {
  let t!: TestSiyu;
  isolatedSiyu(backend, readOutsideLock ? { audiences: { readOutsideLock } } : {}, (made) => (t = made));

  async function settle(): Promise<void> {
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
  }

  async function profileOf(ws: WorkspaceRecord, user: string): Promise<string> {
    return (await t.services.profiles.lookup(ws.id, 'user_id', user)).id;
  }

  async function memberUsers(wsId: string, segmentId: string): Promise<Set<string>> {
    const out = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await t.services.segments.members(wsId, segmentId, { limit: 500, cursor });
      for (const p of page.data) out.add(p.identities.find((i) => i.type === 'user_id')?.value ?? p.id);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  }

  it.each(SCENARIOS)('$name', async (sc) => {
    const { workspace: ws } = await t.workspace(`scenario ${sc.name}`);
    const tagIds = new Map<string, string>();
    for (const name of sc.tags ?? []) tagIds.set(name, (await t.services.tags.create(ws.id, { name })).id);
    const helpers = new Map<string, string>();
    for (const [name, condition] of Object.entries(sc.segments ?? {})) {
      helpers.set(name, (await t.services.segments.create(ws.id, { name, definition: { version: 1, condition } })).id);
    }
    const ref = (name: string) => helpers.get(name) ?? name;
    const definition = { version: 1, condition: sc.condition(ref) };
    const segment = await t.services.segments.create(ws.id, { name: 'under test', definition });
    const users = new Set<string>();

    for (const [i, step] of sc.steps.entries()) {
      const now = t.clock().getTime();
      if ('identify' in step) {
        users.add(step.identify);
        await t.services.ingest.ingest(ws, 'identify', { userId: step.identify, traits: step.traits }, 10);
      } else if ('track' in step) {
        users.add(step.track);
        const timestamp = new Date(now - (step.daysAgo ?? 0) * DAY).toISOString();
        await t.services.ingest.ingest(ws, 'track', { userId: step.track, event: step.event, properties: step.properties ?? {}, timestamp }, 10);
      } else if ('page' in step) {
        users.add(step.page);
        await t.services.ingest.ingest(ws, 'page', { userId: step.page, name: 'Home', timestamp: new Date(now - (step.daysAgo ?? 0) * DAY).toISOString() }, 10);
      } else if ('tag' in step) {
        await settle();
        await t.services.tags.applyToProfile(ws.id, await profileOf(ws, step.user), { tagId: tagIds.get(step.tag) }, 'test');
      } else if ('untag' in step) {
        await t.services.tags.removeFromProfile(ws.id, await profileOf(ws, step.user), tagIds.get(step.untag)!, 'test');
      } else if ('advanceDays' in step) {
        await settle();
        t.clock.advance(step.advanceDays * DAY);
        await t.services.audienceEngine.runDue(t.clock());
      } else {
        await settle();
        const members = await memberUsers(ws.id, segment.id);
        for (const [user, expected] of Object.entries(step.expect)) expect(members.has(user), `step ${i}: ${user} in "${sc.name}"`).toBe(expected);
        expect((await t.services.segments.get(ws.id, segment.id)).count, `step ${i}: count`).toBe(members.size);
      }
    }

    // The incremental result equals a bulk computation of the same definition at the end.
    await settle();
    const incremental = await memberUsers(ws.id, segment.id);
    const bulk = await t.services.segments.create(ws.id, { name: 'bulk twin', definition });
    expect(await memberUsers(ws.id, bulk.id)).toEqual(incremental);
    const counted = await t.services.audiences.count(ws.id, definition);
    expect(counted.count).toBe(incremental.size);
  });

  /**
   * Evaluates `pid` once, with `write` run right after the engine's page read outside the lock and before
   * its write transaction (another thread's or process's commit landing in between); checks the read hook
   * was used.
   */
  async function evaluateWithWriteBetween(pid: string, workspaceId: string, write: () => Promise<unknown>): Promise<void> {
    const engineStore = t.services.audienceEngine.store;
    const read = engineStore.evaluationPage.bind(engineStore);
    engineStore.evaluationPage = async (...args) => {
      const rows = await read(...args);
      engineStore.evaluationPage = read;
      await write();
      return rows;
    };
    await t.services.audienceEngine.profilesChanged(workspaceId, [pid], 'event');
    expect(engineStore.evaluationPage).toBe(read);
  }

  it.runIf(readOutsideLock)('a page read outside the lock is read again when its profile was written before the lock was taken', async () => {
    const { workspace: ws } = await t.workspace('stale profile');
    const segment = await t.services.segments.create(ws.id, { name: 'in 上海', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    await t.services.ingest.ingest(ws, 'identify', { userId: 'r1', traits: { city: '北京' } }, 10);
    await settle();
    const pid = await profileOf(ws, 'r1');
    // The processor of another thread commits a change it has not announced yet (here: written directly,
    // so no announcement ever comes).
    const other = await openStore({ sqliteFile: t.location, migrate: false });
    await evaluateWithWriteBetween(pid, ws.id, () =>
      other.store.db.updateTable('profiles').set({ traits: JSON.stringify({ city: '上海' }), updated_at: new Date(t.clock().getTime() + 1).toISOString() }).where('id', '=', pid).execute(),
    );
    await other.close();
    expect([...(await memberUsers(ws.id, segment.id))]).toEqual(['r1']);
  });

  /** A workspace with a manual tag VIP, a segment of its holders and a profile r… without it. */
  async function vipSetup(name: string, userId: string) {
    const { workspace: ws } = await t.workspace(name);
    const vip = await t.services.tags.create(ws.id, { name: 'VIP' });
    const segment = await t.services.segments.create(ws.id, { name: 'VIPs', definition: { version: 1, condition: { tag: 'VIP', has: true } } });
    await t.services.ingest.ingest(ws, 'identify', { userId, traits: { city: '北京' } }, 10);
    await settle();
    const pid = await profileOf(ws, userId);
    const application = { tagId: vip.id, profileId: pid, source: 'manual', actor: 'test', appliedAt: t.clock().toISOString(), expiresAt: null };
    return { ws, segment, pid, application };
  }

  it.runIf(readOutsideLock)('a page read outside the lock is read again when memberships were written before the lock was taken', async () => {
    const { ws, segment, pid, application } = await vipSetup('stale tags', 'r2');
    // Another thread applies the tag (written directly: its own evaluation is not run here). It shares
    // the epoch, as the threads of a process share it through the writer lock's buffer.
    const other = await openStore({ sqliteFile: t.location, migrate: false });
    const shared = new SqlStore(other.store.db, 'sqlite', false, undefined, undefined, undefined, undefined, t.services.deps.store.membershipEpoch);
    await evaluateWithWriteBetween(pid, ws.id, () => new AudienceStore(shared).insertProfileTags(ws.id, [application]));
    await other.close();
    expect([...(await memberUsers(ws.id, segment.id))]).toEqual(['r2']);
  });

  it.runIf(readOutsideLock)('a page read outside the lock is read again when another process wrote memberships before the lock was taken', async () => {
    const { ws, segment, pid, application } = await vipSetup('stale tags, other process', 'r3');
    // Another process (an import beside the server) applies the tag: its store has an epoch of its own,
    // so only the database tells. Written directly: its own evaluation is not run here.
    const other = await openStore({ sqliteFile: t.location, migrate: false });
    await evaluateWithWriteBetween(pid, ws.id, () => other.store.transaction((tx) => new AudienceStore(tx).insertProfileTags(ws.id, [application])));
    await other.close();
    expect([...(await memberUsers(ws.id, segment.id))]).toEqual(['r3']);
  });

  it('an event timestamped a little ahead of the clock enters an `ever` segment when its time comes, with no new event', async () => {
    const { workspace: ws } = await t.workspace('future event');
    const segment = await t.services.segments.create(ws.id, { name: '送过礼', definition: { version: 1, condition: { event: 'Gift Sent', op: 'gte', value: 1 } } });
    const ahead = new Date(t.clock().getTime() + 60_000).toISOString();
    await t.services.ingest.ingest(ws, 'track', { userId: 'f1', event: 'Gift Sent', timestamp: ahead }, 10);
    await settle();
    expect([...(await memberUsers(ws.id, segment.id))]).toEqual([]);
    t.clock.advance(61_000);
    await t.services.audienceEngine.runDue(t.clock());
    expect([...(await memberUsers(ws.id, segment.id))]).toEqual(['f1']);
  });

  it('a segment on another segment’s membership events follows them at once, not at the next event', async () => {
    const { workspace: ws } = await t.workspace('membership events');
    const shanghai = await t.services.segments.create(ws.id, { name: '上海', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    const everIn = await t.services.segments.create(ws.id, {
      name: '进过上海分群',
      definition: { version: 1, condition: { event: 'Segment Entered', where: [{ property: 'segment_id', op: 'eq', value: shanghai.id }], op: 'gte', value: 1 } },
    });
    // And one more step along the chain: entering the second segment is read by a third.
    const chain = await t.services.segments.create(ws.id, {
      name: '链',
      definition: { version: 1, condition: { event: 'Segment Entered', where: [{ property: 'segment_id', op: 'eq', value: everIn.id }], op: 'gte', value: 1 } },
    });
    await t.services.ingest.ingest(ws, 'identify', { userId: 'm1', traits: { city: '上海' } }, 10);
    await settle();
    expect([...(await memberUsers(ws.id, shanghai.id))]).toEqual(['m1']);
    expect([...(await memberUsers(ws.id, everIn.id))]).toEqual(['m1']);
    expect([...(await memberUsers(ws.id, chain.id))]).toEqual(['m1']);
    // Leaving 上海 does not undo having entered it.
    await t.services.ingest.ingest(ws, 'identify', { userId: 'm1', traits: { city: '北京' } }, 10);
    await settle();
    expect([...(await memberUsers(ws.id, shanghai.id))]).toEqual([]);
    expect([...(await memberUsers(ws.id, everIn.id))]).toEqual(['m1']);
  });

  it('entering and leaving write history rows and Segment Entered / Exited events', async () => {
    const { workspace: ws } = await t.workspace('events');
    const segment = await t.services.segments.create(ws.id, { name: '近30天购买', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    await t.services.ingest.ingest(ws, 'track', { userId: 'h1', event: 'Order Completed', properties: { total: 10 } }, 10);
    await settle();
    const pid = await profileOf(ws, 'h1');
    t.clock.advance(31 * DAY);
    await t.services.audienceEngine.runDue(t.clock());

    const history = await t.services.segments.history(ws.id, segment.id, { limit: 10 });
    expect(history.data.map((h) => [h.profileId, h.action, h.reason])).toEqual([
      [pid, 'exited', 'schedule'],
      [pid, 'entered', 'event'],
    ]);
    const events = (await t.services.profiles.events(ws.id, pid, { limit: 50 })).data.filter((e) => e.event?.startsWith('Segment '));
    expect(events.map((e) => [e.event, e.properties])).toEqual([
      ['Segment Exited', { segment_id: segment.id, segment_name: '近30天购买' }],
      ['Segment Entered', { segment_id: segment.id, segment_name: '近30天购买' }],
    ]);
    // Membership events are stored, not re-processed: the person's computed traits ignore them.
    const p = await t.services.profiles.get(ws.id, pid);
    expect(p.computed.event_count).toBe(1);
    // They carry the person's number, so segments on them find their candidates like any event.
    const store = new AudienceStore(t.services.deps.store);
    const num = (await store.profileNums(ws.id, [pid]))[0]!.num;
    for (const name of ['Segment Entered', 'Segment Exited']) {
      expect([...await store.eventProfileNums(ws.id, name, { since: null, before: null })]).toEqual([num]);
    }
  });

  it('changes no definition uses are skipped, and memberships stay exactly what a full recompute gives', async () => {
    const { workspace: ws } = await t.workspace('skips');
    const city = await t.services.segments.create(ws.id, { name: 'in 上海', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    const viewers = await t.services.segments.create(ws.id, { name: 'viewed twice', definition: { version: 1, condition: { event: 'Product Viewed', op: 'gte', value: 2, window: 'ever' } } });
    const spenders = await t.services.segments.create(ws.id, { name: 'spent', definition: { version: 1, condition: { computed: 'total_spent', op: 'gte', value: 1000 } } });
    const send = async (batch: unknown[]) => {
      await t.services.ingest.ingest(ws, 'batch', { batch }, 500);
      await settle();
    };
    const expectMembers = async (expected: Record<string, string[]>) => {
      const got: Record<string, string[]> = {};
      for (const [name, seg] of Object.entries({ city, viewers, spenders })) got[name] = [...(await memberUsers(ws.id, seg.id))].sort();
      expect(got).toEqual(expected);
      // A full recompute from scratch agrees with what the incremental path kept.
      for (const [name, seg] of Object.entries({ city, viewers, spenders })) {
        expect((await t.services.audiences.count(ws.id, seg.definition, { method: 'bulk' })).count, name).toBe(expected[name]!.length);
      }
    };
    await send([{ type: 'identify', userId: 'k1', traits: { city: '上海' } }, { type: 'identify', userId: 'k2', traits: { city: '北京' } }]);
    await expectMembers({ city: ['k1'], viewers: [], spenders: [] });
    // Page views: nothing above uses them (nor the counts they move) — skipped, memberships unchanged.
    await send([1, 2, 3].map((n) => ({ type: 'page', userId: 'k1', name: `p${n}` })));
    await expectMembers({ city: ['k1'], viewers: [], spenders: [] });
    await send([{ type: 'track', userId: 'k2', event: 'Product Viewed' }, { type: 'track', userId: 'k2', event: 'Product Viewed' }, { type: 'track', userId: 'k1', event: 'Order Completed', properties: { order_id: 'o', total: 20 } }]);
    await expectMembers({ city: ['k1'], viewers: ['k2'], spenders: ['k1'] });
    await send([{ type: 'identify', userId: 'k1', traits: { city: '北京' } }, { type: 'identify', userId: 'k2', traits: { city: '上海' } }]);
    await expectMembers({ city: ['k2'], viewers: ['k2'], spenders: ['k1'] });
  });

  it('a change is evaluated against the definitions it can affect and their dependants; other schedules stand', async () => {
    const { workspace: ws } = await t.workspace('affected only');
    const recent = await t.services.segments.create(ws.id, { name: 'bought in 30 days', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    const browsingBuyers = await t.services.segments.create(ws.id, {
      name: 'recent buyers who browse',
      definition: { version: 1, condition: { all: [{ segment: recent.id, in: true }, { event: 'Product Viewed', op: 'gte', value: 1, window: 'ever' }] } },
    });
    const shanghai = await t.services.segments.create(ws.id, { name: 'in 上海', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    const viaShanghai = await t.services.segments.create(ws.id, { name: 'in the 上海 segment', definition: { version: 1, condition: { segment: shanghai.id, in: true } } });
    const send = async (batch: unknown[]) => {
      await t.services.ingest.ingest(ws, 'batch', { batch }, 500);
      await settle();
    };
    const members = async () => {
      const out: Record<string, string[]> = {};
      for (const [name, seg] of Object.entries({ recent, browsingBuyers, shanghai, viaShanghai })) out[name] = [...(await memberUsers(ws.id, seg.id))].sort();
      return out;
    };
    await send([{ type: 'track', userId: 'm1', event: 'Order Completed', properties: { order_id: 'o1', total: 30 } }]);
    expect(await members()).toEqual({ recent: ['m1'], browsingBuyers: [], shanghai: [], viaShanghai: [] });

    // Ten days on, a product view: only the segment using it is evaluated (and enters); the 30-day
    // window's schedule from the order still stands.
    t.clock.advance(10 * DAY);
    await send([{ type: 'track', userId: 'm1', event: 'Product Viewed', properties: { sku: 'a' } }]);
    expect(await members()).toEqual({ recent: ['m1'], browsingBuyers: ['m1'], shanghai: [], viaShanghai: [] });

    // A trait change reaches the segment using the trait and the segment built on that segment.
    await send([{ type: 'identify', userId: 'm1', traits: { city: '上海' } }]);
    expect(await members()).toEqual({ recent: ['m1'], browsingBuyers: ['m1'], shanghai: ['m1'], viaShanghai: ['m1'] });

    // 31 days after the order, with no new event, the window closes and the dependant follows.
    t.clock.advance(21 * DAY);
    await t.services.audienceEngine.runDue(t.clock());
    expect(await members()).toEqual({ recent: [], browsingBuyers: [], shanghai: ['m1'], viaShanghai: ['m1'] });
    for (const [name, seg] of Object.entries({ recent, browsingBuyers, shanghai, viaShanghai })) {
      expect((await t.services.audiences.count(ws.id, seg.definition, { method: 'bulk' })).count, name).toBe(name.includes('hanghai') ? 1 : 0);
    }
  });

  it('a segment on membership events does not loop: one entry per change', async () => {
    const { workspace: ws } = await t.workspace('no loop');
    const buyers = await t.services.segments.create(ws.id, { name: 'buyers', definition: { version: 1, condition: { computed: 'order_count', op: 'gte', value: 1 } } });
    const entered = await t.services.segments.create(ws.id, { name: 'entered something', definition: { version: 1, condition: { event: 'Segment Entered', op: 'gte', value: 1 } } });
    await t.services.ingest.ingest(ws, 'track', { userId: 'l1', event: 'Order Completed', properties: { total: 1 } }, 10);
    await settle();
    await t.services.ingest.ingest(ws, 'identify', { userId: 'l1', traits: { seen: true } }, 10);
    await settle();
    const pid = await profileOf(ws, 'l1');
    expect((await t.services.segments.history(ws.id, buyers.id, { limit: 10 })).data).toHaveLength(1);
    expect((await t.services.segments.history(ws.id, entered.id, { limit: 10 })).data.map((h) => h.profileId)).toEqual([pid]);
    const events = (await t.services.profiles.events(ws.id, pid, { limit: 50 })).data.filter((e) => e.event === 'Segment Entered');
    expect(events).toHaveLength(2);
  });

  it('redefining a segment diffs old and new membership with history and events', async () => {
    const { workspace: ws } = await t.workspace('redefine');
    for (const [u, city] of [['r1', '上海'], ['r2', '北京'], ['r3', '上海']] as const) await t.services.ingest.ingest(ws, 'identify', { userId: u, traits: { city } }, 10);
    await settle();
    const s = await t.services.segments.create(ws.id, { name: 'city', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    expect(s.count).toBe(2);
    const updated = await t.services.segments.update(ws.id, s.id, { definition: { version: 1, condition: { trait: 'city', op: 'in', value: ['北京', '杭州'] } } });
    expect(updated.version).toBe(2);
    expect(updated.count).toBe(1);
    const history = await t.services.segments.history(ws.id, s.id, { limit: 10 });
    const r2 = await profileOf(ws, 'r2');
    expect(history.data.filter((h) => h.reason === 'redefined').map((h) => [h.action, h.profileId === r2]).sort()).toEqual([
      ['entered', true],
      ['exited', false],
      ['exited', false],
    ]);
    const r1Events = (await t.services.profiles.events(ws.id, await profileOf(ws, 'r1'), { limit: 10 })).data.map((e) => e.event).filter((e) => e?.startsWith('Segment'));
    expect(r1Events).toEqual(['Segment Exited', 'Segment Entered']);
  });

  it('a recompute that reads only candidates still finds the exits of members outside them', async () => {
    const { workspace: ws } = await t.workspace('candidate exits');
    await t.services.tags.create(ws.id, { name: 'VIP' });
    for (const u of ['x1', 'x2', 'x3']) await t.services.ingest.ingest(ws, 'track', { userId: u, event: 'Order Completed', properties: { total: 1 } }, 10);
    await t.services.ingest.ingest(ws, 'track', { userId: 'x4', event: 'Product Viewed' }, 10);
    await settle();
    await t.services.tags.applyToProfile(ws.id, await profileOf(ws, 'x3'), { tagName: 'VIP' }, 'test');
    await t.services.tags.applyToProfile(ws.id, await profileOf(ws, 'x4'), { tagName: 'VIP' }, 'test');
    const s = await t.services.segments.create(ws.id, { name: 'buyers', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1 } } });
    expect(await memberUsers(ws.id, s.id)).toEqual(new Set(['x1', 'x2', 'x3']));
    // The new definition's candidates (the VIP holders x3 and x4) leave out the members x1 and x2.
    const condition: ConditionNode = { all: [{ tag: 'VIP', has: true }, { event: 'Product Viewed', op: 'gte', value: 1, window: { last_days: 30 } }] };
    expect((await t.services.audienceEngine.candidates(ws.id, condition))?.set.size).toBe(2);
    await t.services.segments.update(ws.id, s.id, { definition: { version: 1, condition } });
    expect(await memberUsers(ws.id, s.id)).toEqual(new Set(['x4']));
    const history = await t.services.segments.history(ws.id, s.id, { limit: 20 });
    expect(history.data.filter((h) => h.reason === 'redefined').map((h) => h.action).sort()).toEqual(['entered', 'exited', 'exited', 'exited']);
  });

  it('warm() loads the index of every workspace with definitions up front, as a start does', async () => {
    const { workspace: ws } = await t.workspace('warm start');
    await t.services.ingest.ingest(ws, 'identify', { userId: 'warm-1', traits: { city: '上海' } }, 10);
    await settle();
    const s = await t.services.segments.create(ws.id, { name: '上海', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    // A second set of services on the same store, as after a restart: nothing loaded until used.
    const restarted = createServices({ ...t.services.deps, log: silentLogger });
    expect(restarted.audienceEngine.index.isLoaded(ws.id)).toBe(false);
    await restarted.audienceEngine.warm();
    expect(restarted.audienceEngine.index.isLoaded(ws.id)).toBe(true);
    expect((await restarted.audienceEngine.index.bitmaps(ws.id)).segments.get(s.id)?.size).toBe(1);
  });

  it('members found by a candidate recompute leave their window on schedule', async () => {
    const { workspace: ws } = await t.workspace('candidate schedule');
    await t.services.ingest.ingest(ws, 'track', { userId: 'w1', event: 'Order Completed', properties: { total: 1 }, timestamp: new Date(t.clock().getTime() - 29 * DAY).toISOString() }, 10);
    await t.services.ingest.ingest(ws, 'track', { userId: 'w2', event: 'Order Completed', properties: { total: 1 }, timestamp: new Date(t.clock().getTime() - 40 * DAY).toISOString() }, 10);
    await t.services.ingest.ingest(ws, 'identify', { userId: 'w3', traits: {} }, 10);
    await settle();
    const s = await t.services.segments.create(ws.id, { name: 'recent buyers', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    expect(await memberUsers(ws.id, s.id)).toEqual(new Set(['w1']));
    t.clock.advance(2 * DAY);
    await t.services.audienceEngine.runDue(t.clock());
    expect(await memberUsers(ws.id, s.id)).toEqual(new Set());
    expect((await t.services.segments.history(ws.id, s.id, { limit: 10 })).data.map((h) => [h.action, h.reason])).toEqual([
      ['exited', 'schedule'],
      ['entered', 'computed'],
    ]);
  });

  it('rule tags are kept current and segments can use them', async () => {
    const { workspace: ws } = await t.workspace('rule tags');
    const big = await t.services.tags.create(ws.id, { name: '高消费', kind: 'rule', definition: { version: 1, condition: { computed: 'total_spent', op: 'gte', value: 100000 } } });
    const seg = await t.services.segments.create(ws.id, { name: 'big spenders in 上海', definition: { version: 1, condition: { all: [{ tag: '高消费', has: true }, { trait: 'city', op: 'eq', value: '上海' }] } } });
    await t.services.ingest.ingest(ws, 'identify', { userId: 'k1', traits: { city: '上海' } }, 10);
    await t.services.ingest.ingest(ws, 'track', { userId: 'k1', event: 'Order Completed', properties: { total: 1500 } }, 10);
    await t.services.ingest.ingest(ws, 'track', { userId: 'k2', event: 'Order Completed', properties: { total: 1500 } }, 10);
    await settle();
    const k1 = await t.services.profiles.lookup(ws.id, 'user_id', 'k1');
    expect(k1.tags).toEqual([expect.objectContaining({ id: big.id, name: '高消费', source: 'rule', expiresAt: null })]);
    expect((await t.services.tags.get(ws.id, big.id)).count).toBe(2);
    expect((await t.services.segments.get(ws.id, seg.id)).count).toBe(1);
    // A rule tag cannot be applied by hand.
    await expect(t.services.tags.applyToProfile(ws.id, k1.id, { tagId: big.id }, 'test')).rejects.toMatchObject({ code: 'CONFLICT' });
    // Redefining the rule moves people, and the segment follows.
    await t.services.tags.update(ws.id, big.id, { definition: { version: 1, condition: { computed: 'total_spent', op: 'gte', value: 200000 } } });
    await settle();
    expect((await t.services.tags.get(ws.id, big.id)).count).toBe(0);
    expect((await t.services.segments.get(ws.id, seg.id)).count).toBe(0);
    const history = await t.services.tags.history(ws.id, big.id, { limit: 10 });
    expect(history.data.filter((h) => h.action === 'exited')).toHaveLength(2);
  });

  it('a merge moves manual tags to the survivor and the survivor is re-evaluated', async () => {
    const { workspace: ws } = await t.workspace('merge');
    const vip = await t.services.tags.create(ws.id, { name: 'VIP' });
    const seg = await t.services.segments.create(ws.id, { name: 'vips', definition: { version: 1, condition: { tag: 'VIP', has: true } } });
    await t.services.ingest.ingest(ws, 'track', { anonymousId: 'anon-m', event: 'Product Viewed' }, 10);
    await settle();
    const anon = await t.services.profiles.lookup(ws.id, 'anonymous_id', 'anon-m');
    await t.services.tags.applyToProfile(ws.id, anon.id, { tagId: vip.id }, 'staff:1');
    await t.services.ingest.ingest(ws, 'identify', { userId: 'merged-user', traits: { name: 'M' } }, 10);
    await settle();
    await t.services.ingest.ingest(ws, 'identify', { userId: 'merged-user', anonymousId: 'anon-m' }, 10);
    await settle();
    const survivor = await t.services.profiles.lookup(ws.id, 'user_id', 'merged-user');
    expect(survivor.tags.map((x) => x.name)).toEqual(['VIP']);
    const members = await t.services.segments.members(ws.id, seg.id, { limit: 10 });
    expect(members.data.map((m) => m.id)).toEqual([survivor.id]);
    expect((await t.services.segments.get(ws.id, seg.id)).count).toBe(1);
    expect((await t.services.tags.get(ws.id, vip.id)).count).toBe(1);
  });

  it('lifecycle and RFM conditions read profile layers', async () => {
    const { workspace: ws } = await t.workspace('layers direct');
    for (const u of ['x1', 'x2', 'x3']) await t.services.ingest.ingest(ws, 'identify', { userId: u }, 10);
    await settle();
    const ids = await Promise.all(['x1', 'x2', 'x3'].map((u) => profileOf(ws, u)));
    const seg = await t.services.segments.create(ws.id, { name: 'champions at risk', definition: { version: 1, condition: { any: [{ rfm_segment: 'Champions' }, { all: [{ lifecycle: ['at_risk', 'silent'] }, { rfm: { r: [1, 2] } }] }] } } });
    const db = t.services.deps.store.db;
    const row = (id: string, lifecycle: string, rfm: [number, number, number, string] | null) => ({
      profile_id: id,
      workspace_id: ws.id,
      lifecycle,
      rfm_r: rfm?.[0] ?? null,
      rfm_f: rfm?.[1] ?? null,
      rfm_m: rfm?.[2] ?? null,
      rfm_segment: rfm?.[3] ?? null,
      lifecycle_changes_at: null,
      updated_at: t.clock().toISOString(),
    });
    await db.deleteFrom('profile_layers').where('profile_id', 'in', ids).execute();
    await db
      .insertInto('profile_layers')
      .values([row(ids[0]!, 'active', [5, 5, 5, 'Champions']), row(ids[1]!, 'at_risk', [1, 3, 3, 'At Risk']), row(ids[2]!, 'at_risk', [3, 3, 3, 'Need Attention'])])
      .execute();
    await t.services.audienceEngine.layersChanged(ws.id, ids);
    const members = await t.services.segments.members(ws.id, seg.id, { limit: 10 });
    expect(members.data.map((m) => m.id).sort()).toEqual([ids[0], ids[1]].sort());
    const count = await t.services.audiences.count(ws.id, { version: 1, condition: { all: [{ lifecycle: 'at_risk' }, { not: { rfm: { r: [1] } } }] } });
    expect(count).toMatchObject({ count: 1, method: 'bitmap' });
    expect(count.sample.map((s) => s.id)).toEqual([ids[2]]);
  });
});
