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
    for (let i = 0; i < PEOPLE; i++) await t.services.ingest.ingest(ws, 'identify', { userId: `p${i}`, traits: { i } }, 10);
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
