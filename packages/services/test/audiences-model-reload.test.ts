import { describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

/**
 * The worker thread keeps a workspace's definitions for a second only, so the model a batch's evaluation is
 * planned with (which definitions each profile's change can affect) is often not the one it is evaluated with.
 * An audit found profiles then evaluated against no definition at all under load: 1,419 of 2,982 buyers missing
 * from a segment, for good. Here the model is loaded again on every use (max age below zero).
 */
describe.each(TEST_BACKENDS)('definitions loaded again between planning and evaluating, on $name', (backend) => {
  let t!: TestSiyu;
  isolatedSiyu(backend, { audiences: { modelMaxAgeMs: -1 } }, (made) => (t = made));

  it('every change is still evaluated against the definitions it can affect', async () => {
    const { workspace: ws } = await t.workspace('reload');
    const buyers = await t.services.segments.create(ws.id, { name: '复购', definition: { version: 1, condition: { computed: 'order_count', op: 'gte', value: 2 } } });
    const planA = await t.services.segments.create(ws.id, { name: 'A', definition: { version: 1, condition: { trait: 'plan', op: 'eq', value: 'a' } } });
    // First the people (new profiles are evaluated against everything), then what changes them (evaluated
    // against the definitions each change can affect).
    for (let i = 0; i < 20; i++) await t.services.ingest.ingest(ws, 'identify', { userId: `u${i}`, traits: { plan: 'b' } }, 10);
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
    for (let i = 0; i < 20; i++) {
      if (i % 2) await t.services.ingest.ingest(ws, 'identify', { userId: `u${i}`, traits: { plan: 'a' } }, 10);
      for (let k = 0; k < 2; k++) await t.services.ingest.ingest(ws, 'track', { userId: `u${i}`, event: 'Order Completed', properties: { total: 10 } }, 10);
    }
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
    const members = async (id: string) => (await t.services.segments.members(ws.id, id, { limit: 100 })).data.length;
    expect(await members(buyers.id)).toBe(20);
    expect(await members(planA.id)).toBe(10);
  });
});
