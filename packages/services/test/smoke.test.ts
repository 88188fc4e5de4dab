import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';

describe.each(TEST_BACKENDS)('ingest → profile on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
  });
  afterAll(async () => t.close());

  it('an identify and a track with a shared phone land on one profile', async () => {
    const { workspace } = await t.workspace();
    await t.services.ingest.ingest(workspace, 'identify', { userId: 'u1', traits: { phone: '13800138000' } }, 10);
    await t.services.ingest.ingest(workspace, 'track', { anonymousId: 'a1', event: 'Order Completed', properties: { total: 12.5 }, context: { traits: { phone: '+86 138 0013 8000' } } }, 10);
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'a1');
    expect(p.identities.map((i) => i.type).sort()).toEqual(['anonymous_id', 'phone', 'user_id']);
    expect(p.computed.total_spent).toBe(1250);
  });
});
