import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';

describe.each(TEST_BACKENDS)('workspace stats on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  it('counts people, merges, conflicts and events of the last 30 days', async () => {
    const { workspace } = await t.workspace();
    const batch = [
      { type: 'track', anonymousId: 'a1', event: 'Product Viewed', timestamp: '2026-02-20T03:00:00Z' },
      { type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { phone: '13800138000' }, timestamp: '2026-02-20T04:00:00Z' },
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 5 }, timestamp: '2026-02-21T04:00:00Z' },
      { type: 'identify', userId: 'u2', anonymousId: 'a1', timestamp: '2026-02-21T05:00:00Z' },
      { type: 'track', userId: 'u2', event: 'Product Viewed', timestamp: '2026-01-05T05:00:00Z' },
    ];
    await t.services.ingest.ingest(workspace, 'batch', { batch }, 1000);
    await t.drain();
    const stats = await t.services.profiles.stats(workspace.id);
    expect(stats).toMatchObject({
      profiles: 2,
      mergedProfiles: 0,
      events: 5,
      openConflicts: 1,
      eventsPerDay: [
        { day: '2026-02-20', count: 2 },
        { day: '2026-02-21', count: 2 },
      ],
      eventsByName: [
        { event: 'Product Viewed', count: 2 },
        { event: 'Order Completed', count: 1 },
      ],
      identitiesByType: [
        { type: 'anonymous_id', count: 1 },
        { type: 'phone', count: 1 },
        { type: 'user_id', count: 2 },
      ],
    });
  });

  // Regression guard for a fixed bug: DESIGN.md says calendar logic and windows by day use the workspace time zone (default
  // Asia/Shanghai), but SqlStore.stats (storage/src/store.ts, `substr(timestamp, 1, 10)`) buckets events
  // by their UTC date and ProfileService.stats passes no time zone. An order at 04:00 Beijing time on
  // Feb 28 (20:00 UTC on Feb 27) shows up on the dashboard under Feb 27.
  it('events per day follow the workspace’s calendar day (Asia/Shanghai)', async () => {
    const { workspace } = await t.workspace();
    expect(workspace.timeZone).toBe('Asia/Shanghai');
    await t.services.ingest.ingest(workspace, 'track', { userId: 'u1', event: 'Order Completed', timestamp: '2026-02-28T04:00:00+08:00' }, 100);
    await t.drain();
    expect((await t.services.profiles.stats(workspace.id)).eventsPerDay).toEqual([{ day: '2026-02-28', count: 1 }]);
  });
});
