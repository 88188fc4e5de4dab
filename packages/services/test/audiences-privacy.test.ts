import { describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

// Erasure and unmerge happen outside processor batches; tags, segments, bitmaps and layers must follow.
describe.each(TEST_BACKENDS)('audiences follow unmerge and erasure on $name', (backend) => {
  let t!: TestSiyu;
  isolatedSiyu(backend, undefined, (made) => (t = made));

  const settle = async () => {
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
  };

  it('erasing a person removes their tags, memberships, history and layers, and counts drop', async () => {
    const { workspace } = await t.workspace();
    const ws = workspace.id;
    await t.services.ingest.ingest(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 300 }, context: { traits: { phone: '13800138000' } } }, 100);
    await t.services.ingest.ingest(workspace, 'track', { userId: 'u2', event: 'Order Completed', properties: { total: 50 } }, 100);
    await settle();
    const tag = await t.services.tags.create(ws, { name: 'VIP', kind: 'manual' });
    const p1 = await t.services.profiles.lookup(ws, 'user_id', 'u1');
    await t.services.tags.applyToProfile(ws, p1.id, { tagId: tag.id }, 'staff@test');
    const seg = await t.services.segments.create(ws, { name: '高消费', definition: { version: 1, condition: { computed: 'total_spent', op: 'gte', value: 10000 } } });
    await settle();
    expect((await t.services.segments.get(ws, seg.id)).count).toBe(1);
    expect((await t.services.audiences.count(ws, { version: 1, condition: { tag: tag.id, has: true } })).count).toBe(1);

    await t.services.profiles.erase(ws, p1.id, 'admin@test');
    await settle();

    const db = t.services.deps.store.db;
    for (const table of ['profile_tags', 'segment_members', 'membership_history', 'profile_layers', 'reevaluations'] as const) {
      const rows = await db.selectFrom(table).select('profile_id').where('profile_id', '=', p1.id).execute();
      expect(rows, table).toEqual([]);
    }
    expect((await t.services.segments.get(ws, seg.id)).count).toBe(0);
    expect((await t.services.audiences.count(ws, { version: 1, condition: { tag: tag.id, has: true } })).count).toBe(0);
    expect((await t.services.layers.lifecycle(ws)).total).toBe(1);
  });

  it('after an unmerge both people are re-evaluated at once, and membership events are not counted as behaviour', async () => {
    const { workspace } = await t.workspace();
    const ws = workspace.id;
    const seg = await t.services.segments.create(ws, { name: '买过两次', definition: { version: 1, condition: { computed: 'order_count', op: 'gte', value: 2 } } });
    await t.services.ingest.ingest(workspace, 'track', { anonymousId: 'a1', event: 'Order Completed', properties: { total: 10 } }, 100);
    await t.services.ingest.ingest(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 20 } }, 100);
    await settle();
    await t.services.ingest.ingest(workspace, 'alias', { previousId: 'a1', userId: 'u1' }, 100);
    await settle();
    const merged = await t.services.profiles.lookup(ws, 'user_id', 'u1');
    expect(merged.computed.order_count).toBe(2);
    expect((await t.services.segments.get(ws, seg.id)).count).toBe(1);

    await t.services.profiles.unmerge(ws, merged.id, merged.merges[0]!.id, 'admin@test');
    await settle();
    expect((await t.services.segments.get(ws, seg.id)).count).toBe(0);
    const after = await t.services.profiles.get(ws, merged.id);
    expect(after.computed.order_count).toBe(1);
    // The Segment Entered/Exited events stay on the timeline but do not count as events.
    expect(after.computed.event_counts['Segment Entered'] ?? 0).toBe(0);
  });
});
