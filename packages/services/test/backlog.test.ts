import { describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

/**
 * What the processor loop keeps pace with: the profiles each batch queues for the audience engine and the
 * layer service, counted until the work that takes them has run.
 */
describe.each(TEST_BACKENDS)('derived-work backlog on $name', (backend) => {
  let t!: TestSiyu;
  isolatedSiyu(backend, undefined, (made) => (t = made));

  it('counts the profiles a batch queued until the engine and the layer service have run them', async () => {
    const { workspace: ws } = await t.workspace('backlog');
    await t.services.segments.create(ws.id, { name: 'buyers', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: 'ever' } } });
    expect(t.services.audienceEngine.backlog()).toBe(0);
    expect(t.services.layers.backlog()).toBe(0);
    // Registered after both services: called right after they queued the batch.
    const seen: { audiences: number; layers: number }[] = [];
    t.services.processor.onProfilesChanged(() => seen.push({ audiences: t.services.audienceEngine.backlog(), layers: t.services.layers.backlog() }));
    await t.services.ingest.ingest(ws, 'batch', { batch: [
      { type: 'track', userId: 'b1', event: 'Order Completed', properties: { total: 10 } },
      { type: 'track', userId: 'b2', event: 'Order Completed', properties: { total: 20 } },
      { type: 'page', userId: 'b3', name: '首页' },
    ] }, 100);
    expect((await t.services.processor.processBatch(1000)).messages).toBe(3);
    // Three profiles for each: all three are new (a new profile gets its first stage).
    expect(seen).toEqual([{ audiences: 3, layers: 3 }]);
    await t.services.layers.caughtUp();
    expect(t.services.layers.backlog()).toBe(0);
    // The layer writes queued the profiles whose stage moved for the engine; caught up, nothing is left.
    for (let i = 0; i < 5 && t.services.audienceEngine.backlog() > 0; i++) await t.services.audienceEngine.caughtUp();
    expect(t.services.audienceEngine.backlog()).toBe(0);
    const segment = (await t.services.segments.list(ws.id)).data[0]!;
    expect((await t.services.segments.get(ws.id, segment.id)).count).toBe(2);
  });
});
