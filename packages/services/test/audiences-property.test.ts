import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LIFECYCLE_STAGES, RFM_SEGMENTS, type ConditionNode, type WorkspaceRecord } from '@siyu/core';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { isolatedBackend } from './audiences-harness.ts';

/** A small deterministic PRNG, so the population is the same on every run and backend. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PEOPLE = 60;
const DAY = 86_400_000;
const TAGS = ['红', '绿', '蓝'];

describe.each(TEST_BACKENDS)('bitmap and bulk evaluation agree on $name', (backend) => {
  let t: TestSiyu;
  let drop: () => Promise<void>;
  let ws: WorkspaceRecord;
  const tagRefs: string[] = [];
  const segmentIds: string[] = [];

  beforeAll(async () => {
    const isolated = await isolatedBackend(backend);
    drop = isolated.drop;
    t = await createTestSiyu(isolated.backend);
    ws = (await t.workspace('property')).workspace;
    const rand = prng(20260101);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < PEOPLE; i++) await t.services.ingest.ingest(ws, 'identify', { userId: `p${i}`, traits: { i, city: pick(['上海', '杭州', '北京']) } }, 10);
    // Behaviour over the last 60 days (some people have none): orders with revenue, views, page calls.
    const now = t.clock().getTime();
    for (let i = 0; i < PEOPLE; i++) {
      const n = Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const event = pick(['Order Completed', 'Product Viewed', 'Product Viewed']);
        const timestamp = new Date(now - Math.floor(rand() * 60 * DAY)).toISOString();
        await t.services.ingest.ingest(ws, 'track', { userId: `p${i}`, event, properties: event === 'Order Completed' ? { revenue: Math.floor(rand() * 300) } : { sku: pick(['a', 'b']) }, timestamp }, 10);
      }
      if (rand() < 0.2) await t.services.ingest.ingest(ws, 'page', { userId: `p${i}`, name: 'Home', timestamp: new Date(now - Math.floor(rand() * 20 * DAY)).toISOString() }, 10);
    }
    // One anonymous visitor merged into p0 later: merged-away profiles must count nowhere.
    await t.services.ingest.ingest(ws, 'track', { anonymousId: 'anon-x', event: 'Product Viewed' }, 10);
    await t.drain();
    await t.services.audienceEngine.settled();
    for (const name of TAGS) {
      const tag = await t.services.tags.create(ws.id, { name });
      tagRefs.push(tag.id, name);
      const holders = Array.from({ length: PEOPLE }, (_, i) => i).filter(() => rand() < 0.4);
      await t.services.tags.applyBulk(ws.id, tag.id, { json: { type: 'user_id', values: holders.map((i) => `p${i}`) } }, 'test');
    }
    const anon = await t.services.profiles.lookup(ws.id, 'anonymous_id', 'anon-x');
    await t.services.tags.applyToProfile(ws.id, anon.id, { tagName: '红' }, 'test');
    await t.services.ingest.ingest(ws, 'identify', { userId: 'p0', anonymousId: 'anon-x' }, 10);
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();

    // Layers written directly (some people have none, some have no RFM cell).
    const ids = await Promise.all(Array.from({ length: PEOPLE }, async (_, i) => (await t.services.profiles.lookup(ws.id, 'user_id', `p${i}`)).id));
    const db = t.services.deps.store.db;
    await db.deleteFrom('profile_layers').where('workspace_id', '=', ws.id).execute();
    const rows = ids
      .filter(() => rand() < 0.85)
      .map((id) => {
        const scored = rand() < 0.8;
        return {
          profile_id: id,
          workspace_id: ws.id,
          lifecycle: pick(LIFECYCLE_STAGES),
          rfm_r: scored ? 1 + Math.floor(rand() * 5) : null,
          rfm_f: scored ? 1 + Math.floor(rand() * 5) : null,
          rfm_m: scored ? 1 + Math.floor(rand() * 5) : null,
          rfm_segment: scored ? pick(RFM_SEGMENTS) : null,
          lifecycle_changes_at: null,
          updated_at: t.clock().toISOString(),
        };
      });
    await db.insertInto('profile_layers').values(rows).execute();
    await t.services.audienceEngine.layersChanged(ws.id, ids);

    const s1 = await t.services.segments.create(ws.id, { name: 'red or green', definition: { version: 1, condition: { any: [{ tag: '红', has: true }, { tag: '绿', has: true }] } } });
    const s2 = await t.services.segments.create(ws.id, { name: 'active not blue', definition: { version: 1, condition: { all: [{ lifecycle: ['active', 'new'] }, { not: { tag: '蓝', has: true } }] } } });
    segmentIds.push(s1.id, s2.id);
  });
  afterAll(async () => {
    await t.close();
    await drop();
  });

  const scores = fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 });
  const leaf = (): fc.Arbitrary<ConditionNode> =>
    fc.oneof(
      fc.record({ tag: fc.constantFrom(...tagRefs), has: fc.boolean() }),
      fc.record({ segment: fc.constantFrom(...segmentIds), in: fc.boolean() }),
      fc.oneof(fc.constantFrom(...LIFECYCLE_STAGES), fc.uniqueArray(fc.constantFrom(...LIFECYCLE_STAGES), { minLength: 1, maxLength: 3 })).map((lifecycle) => ({ lifecycle })),
      fc
        .record({ r: scores, f: scores, m: scores }, { requiredKeys: [] })
        .filter((x) => Object.keys(x).length > 0)
        .map((rfm) => ({ rfm })),
      fc.oneof(fc.constantFrom(...RFM_SEGMENTS), fc.uniqueArray(fc.constantFrom(...RFM_SEGMENTS), { minLength: 1, maxLength: 3 })).map((rfm_segment) => ({ rfm_segment })),
    ) as fc.Arbitrary<ConditionNode>;
  const condition = (): fc.Arbitrary<ConditionNode> =>
    fc.letrec<{ node: ConditionNode }>((tie) => ({
      node: fc.oneof(
        { maxDepth: 4, depthIdentifier: 'condition' },
        leaf(),
        fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
        fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
        tie('node').map((not) => ({ not })),
      ),
    })).node;

  it('random definitions over tags, segments, lifecycle and RFM count the same both ways, with the same sample', async () => {
    await fc.assert(
      fc.asyncProperty(condition(), async (node) => {
        const definition = { version: 1, condition: node };
        const bitmap = await t.services.audiences.count(ws.id, definition, { method: 'bitmap' });
        const bulk = await t.services.audiences.count(ws.id, definition, { method: 'bulk' });
        expect(bitmap.method).toBe('bitmap');
        expect(bulk.method).toBe('bulk');
        expect(bitmap.count).toBe(bulk.count);
        expect(bitmap.sample.map((p) => p.id)).toEqual(bulk.sample.map((p) => p.id));
        expect(bitmap.count).toBeLessThanOrEqual(PEOPLE);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  const behaviourLeaf = (): fc.Arbitrary<ConditionNode> => {
    const now = () => t.clock().getTime();
    const window = fc.oneof(
      fc.constant(undefined),
      fc.constant('ever' as const),
      fc.constantFrom(7, 30).map((last_days) => ({ last_days })),
      fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 40 })).map(([from, len]) => ({
        between: [new Date(now() - from * DAY).toISOString().slice(0, 10), new Date(now() - (from - len) * DAY).toISOString()] as [string, string],
      })),
    );
    const measure = fc.constantFrom(undefined, 'count' as const, { sum: 'revenue' }, { avg: 'revenue' }, { min: 'revenue' }, { max: 'revenue' });
    const drop = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
    return fc.oneof(
      fc
        .record({
          event: fc.constantFrom('Order Completed', 'Product Viewed', 'Page Viewed', 'Never Seen'),
          op: fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte'),
          value: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constantFrom(100, 250)),
          measure,
          window,
          where: fc.constantFrom(undefined, [{ property: 'sku', op: 'eq', value: 'a' }]),
        })
        .map(drop),
      fc.record({ event: fc.constantFrom('Order Completed', 'Product Viewed'), op: fc.constant('between'), value: fc.constantFrom([0, 1], [1, 2], [2, 9]), window }).map(drop),
      fc
        .record({ sequence: fc.constantFrom(['Product Viewed', 'Order Completed'], ['Order Completed', 'Product Viewed'], ['Never Seen', 'Order Completed']), within_days: fc.constantFrom(undefined, 3, 30), window })
        .map(drop),
      fc.record({ trait: fc.constant('city'), op: fc.constantFrom('eq', 'neq'), value: fc.constantFrom('上海', '北京') }),
      fc.record({ computed: fc.constantFrom('order_count', 'total_spent'), op: fc.constantFrom('gte', 'lt'), value: fc.constantFrom(0, 1, 100) }),
    ) as fc.Arbitrary<ConditionNode>;
  };
  const mixedCondition = (): fc.Arbitrary<ConditionNode> =>
    fc.letrec<{ node: ConditionNode }>((tie) => ({
      node: fc.oneof(
        { maxDepth: 2, depthIdentifier: 'mixed' },
        { arbitrary: behaviourLeaf(), weight: 3 },
        { arbitrary: leaf(), weight: 1 },
        { arbitrary: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })), weight: 2 },
        { arbitrary: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })), weight: 1 },
        { arbitrary: tie('node').map((not) => ({ not })), weight: 1 },
      ),
    })).node;

  it('the candidate planner gives a superset of the matches of any definition, and exactly them when it says so', async () => {
    let narrowed = 0;
    await fc.assert(
      fc.asyncProperty(mixedCondition(), async (node) => {
        const full = await t.services.audiences.evaluateAll(ws.id, node, { candidates: null });
        const planned = await t.services.audienceEngine.candidates(ws.id, node);
        if (planned === null) return;
        narrowed++;
        const set = new Set(planned.set.toArray());
        expect(full.nums.filter((n) => !set.has(n))).toEqual([]);
        if (planned.exact) expect(planned.set.toArray()).toEqual(full.nums);
        const auto = await t.services.audiences.count(ws.id, { version: 1, condition: node });
        expect(auto.count).toBe(full.count);
      }),
      { numRuns: 150, seed: 23 },
    );
    expect(narrowed).toBeGreaterThan(50);
  });

  it('a rebuilt index holds what the memberships and layers of canonical profiles say', async () => {
    t.services.audienceEngine.index.invalidate(ws.id);
    const b = await t.services.audienceEngine.index.bitmaps(ws.id);
    const db = t.services.deps.store.db;
    const canonical = await db.selectFrom('profiles').select(['id', 'num']).where('workspace_id', '=', ws.id).where('merged_into', 'is', null).execute();
    const numOf = new Map(canonical.map((p) => [p.id, Number(p.num)]));
    const sorted = (xs: Iterable<number>) => [...xs].sort((x, y) => x - y);
    expect(b.all.toArray()).toEqual(sorted(numOf.values()));
    const group = (rows: { key: string; profileId: string }[]) => {
      const out = new Map<string, number[]>();
      for (const r of rows) {
        const n = numOf.get(r.profileId);
        if (n === undefined) continue;
        out.set(r.key, sorted([...(out.get(r.key) ?? []), n]));
      }
      return out;
    };
    const asMap = (m: Map<string | number, { toArray(): number[] }>) => new Map([...m].filter(([, v]) => v.toArray().length > 0).map(([k, v]) => [String(k), v.toArray()]));
    const tags = await db.selectFrom('profile_tags').select(['tag_id as key', 'profile_id as profileId']).where('workspace_id', '=', ws.id).execute();
    expect(asMap(b.tags)).toEqual(group(tags));
    const segments = await db.selectFrom('segment_members').select(['segment_id as key', 'profile_id as profileId']).where('workspace_id', '=', ws.id).execute();
    expect(asMap(b.segments)).toEqual(group(segments));
    const layers = await db.selectFrom('profile_layers').selectAll().where('workspace_id', '=', ws.id).execute();
    expect(asMap(b.lifecycle)).toEqual(group(layers.map((l) => ({ key: l.lifecycle, profileId: l.profile_id }))));
    expect(asMap(b.rfmSegments)).toEqual(group(layers.filter((l) => l.rfm_segment && l.rfm_r != null).map((l) => ({ key: l.rfm_segment!, profileId: l.profile_id }))));
    expect(asMap(b.rfmScores.r)).toEqual(group(layers.filter((l) => l.rfm_segment && l.rfm_r != null).map((l) => ({ key: String(l.rfm_r), profileId: l.profile_id }))));
    expect(b.tags.size).toBeGreaterThan(0);
    expect(b.lifecycle.size).toBeGreaterThan(0);
  });

  it('mixed definitions use the bitmap part to narrow the bulk read and agree with a full read', async () => {
    await fc.assert(
      fc.asyncProperty(condition(), fc.integer({ min: 0, max: PEOPLE }), async (node, threshold) => {
        const definition = { version: 1, condition: { all: [node, { trait: 'i', op: 'lt', value: threshold }] } };
        const auto = await t.services.audiences.count(ws.id, definition);
        const full = await t.services.audiences.count(ws.id, definition, { method: 'bulk' });
        expect(auto.method).toBe('bulk');
        expect(auto.count).toBe(full.count);
      }),
      { numRuns: 25, seed: 11 },
    );
  });
});
