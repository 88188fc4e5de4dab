import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import type { IngestKind } from '@siyu/services';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';

const PHONE = '+8613800138000';

describe.each(TEST_BACKENDS)('export and erasure (PIPL / GDPR) on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  const send = (ws: WorkspaceRecord, kind: IngestKind, body: Record<string, unknown>) => t.services.ingest.ingest(ws, kind, body, 200);

  /** A customer with a merged-in anonymous history, an order and a refused member number. */
  async function customer(ws: WorkspaceRecord) {
    await send(ws, 'track', { anonymousId: 'a-old', event: 'Product Viewed', messageId: 'e1', timestamp: '2026-01-01T00:00:00Z' });
    await send(ws, 'identify', { userId: 'u1', messageId: 'e2', traits: { phone: '13800138000', email: 'Li@X.cn', city: '上海', member_no: 'M1' }, timestamp: '2026-01-02T00:00:00Z' });
    await t.drain();
    const visitor = await t.services.profiles.lookup(ws.id, 'anonymous_id', 'a-old');
    await send(ws, 'track', { userId: 'u1', anonymousId: 'a-old', event: 'Order Completed', messageId: 'e3', properties: { total: 66 }, timestamp: '2026-01-03T00:00:00Z' });
    await send(ws, 'identify', { userId: 'u1', messageId: 'e4', traits: { member_no: 'M2' }, timestamp: '2026-01-04T00:00:00Z' });
    await t.drain();
    const person = await t.services.profiles.lookup(ws.id, 'user_id', 'u1');
    return { person, visitor };
  }

  it('export returns everything held on the person, including what was merged in', async () => {
    const { workspace } = await t.workspace();
    const { person, visitor } = await customer(workspace);
    const out = await t.services.profiles.export(workspace.id, visitor.id, 'dpo@test');
    expect(out.profile).toMatchObject({
      id: person.id,
      traits: { phone: PHONE, email: 'li@x.cn', city: '上海', member_no: 'M1' },
      identities: expect.arrayContaining([
        expect.objectContaining({ type: 'user_id', value: 'u1' }),
        expect.objectContaining({ type: 'anonymous_id', value: 'a-old' }),
        expect.objectContaining({ type: 'phone', value: PHONE }),
        expect.objectContaining({ type: 'email', value: 'li@x.cn' }),
        expect.objectContaining({ type: 'member_no', value: 'M1' }),
      ]),
    });
    expect((out.profile as { identities: unknown[] }).identities).toHaveLength(5);
    expect(out.mergedProfileIds).toEqual([visitor.id]);
    expect((out.events as { messageId: string }[]).map((e) => e.messageId).sort()).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect((out.identityConflicts as { identifierType: string; identifierValue: string }[]).map((c) => `${c.identifierType}=${c.identifierValue}`)).toEqual(['member_no=M2']);
  });

  it('erase removes traits, identities and events of the person and of every profile merged into them', async () => {
    const { workspace } = await t.workspace();
    const { person, visitor } = await customer(workspace);
    await send(workspace, 'identify', { userId: 'bystander', traits: { city: '上海' } });
    await t.drain();

    expect(await t.services.profiles.erase(workspace.id, person.id, 'dpo@test')).toEqual({ deleted: true, suppressedIdentifiers: 5 });

    for (const id of [person.id, visitor.id]) await expect(t.services.profiles.get(workspace.id, id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    for (const [type, value] of [['user_id', 'u1'], ['phone', '13800138000'], ['email', 'li@x.cn'], ['anonymous_id', 'a-old'], ['member_no', 'M1']] as const) {
      await expect(t.services.profiles.lookup(workspace.id, type, value)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    const list = await t.services.profiles.list(workspace.id, { limit: 10, traits: { city: '上海' } });
    expect(list.data.map((p) => p.identities)).toEqual([[{ type: 'user_id', value: 'bystander' }]]);
    const stats = await t.services.profiles.stats(workspace.id);
    expect(stats).toMatchObject({ profiles: 1, events: 1, mergedProfiles: 0, openConflicts: 0 });
    expect(stats.identitiesByType).toEqual([{ type: 'user_id', count: 1 }]);
    // Erasing twice: the person is gone.
    await expect(t.services.profiles.erase(workspace.id, person.id, 'dpo@test')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a later message carrying the erased phone and email starts a profile without re-attaching them', async () => {
    const { workspace } = await t.workspace();
    const { person } = await customer(workspace);
    await t.services.profiles.erase(workspace.id, person.id, 'dpo@test');

    await send(workspace, 'track', { anonymousId: 'a-new', event: 'Product Viewed', context: { traits: { phone: '138 0013 8000', email: 'LI@x.cn' } } });
    await t.drain();

    const fresh = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'a-new');
    expect(fresh.id).not.toBe(person.id);
    expect(fresh.identities.map((i) => `${i.type}=${i.value}`)).toEqual(['anonymous_id=a-new']);
    await expect(t.services.profiles.lookup(workspace.id, 'phone', '13800138000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.profiles.lookup(workspace.id, 'email', 'li@x.cn')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a later message keeps none of the erased identifiers, however it spells or carries them', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', {
      userId: 'erin',
      traits: { phone: '13600002222', email: 'erin@x.com', openid: 'oErin', appId: 'wxAPP1' },
      context: { externalIds: [{ id: 'U-ERIN', type: 'wechat_unionid' }], device: { id: 'dev-erin', model: 'iPhone' } },
    });
    await t.drain();
    const person = await t.services.profiles.lookup(workspace.id, 'user_id', 'erin');
    await t.services.profiles.erase(workspace.id, person.id, 'dpo@test');

    await send(workspace, 'track', { anonymousId: 'n1', event: 'Back', context: { traits: { phone: '136 0000 2222', email: 'ERIN@x.com', city: '杭州' } } });
    await send(workspace, 'identify', { anonymousId: 'n2', traits: { openid: 'oErin', appId: 'wxAPP1', nickname: '小E' } });
    await send(workspace, 'track', {
      anonymousId: 'n3',
      event: 'Back',
      context: { externalIds: [{ id: 'U-ERIN', type: 'wechat_unionid' }, { id: 'other', type: 'member_no' }], device: { id: 'dev-erin', model: 'iPhone' } },
    });
    await t.drain();

    const stored: string[] = [];
    for (const anon of ['n1', 'n2', 'n3']) {
      const p = await t.services.profiles.lookup(workspace.id, 'anonymous_id', anon);
      stored.push(JSON.stringify(await t.services.profiles.export(workspace.id, p.id, 'dpo@test')));
    }
    const all = stored.join('\n');
    for (const gone of ['13600002222', 'erin@x.com', 'ERIN@x.com', '136 0000 2222', 'oErin', 'U-ERIN', 'dev-erin']) expect(all).not.toContain(gone);
    // What is not theirs stays.
    for (const kept of ['杭州', '小E', 'wxAPP1', 'other', 'iPhone']) expect(all).toContain(kept);
  });

  it('a message whose only identifier was erased does not bring the person back', async () => {
    const { workspace } = await t.workspace();
    const { person } = await customer(workspace);
    await t.services.profiles.erase(workspace.id, person.id, 'dpo@test');
    await send(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 1 } });
    await t.drain();
    await expect(t.services.profiles.lookup(workspace.id, 'user_id', 'u1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await t.services.profiles.stats(workspace.id)).profiles).toBe(0);
  });

  it('suppression is per workspace: the same phone elsewhere is unaffected', async () => {
    const one = (await t.workspace()).workspace;
    const two = (await t.workspace()).workspace;
    const { person } = await customer(one);
    await t.services.profiles.erase(one.id, person.id, 'dpo@test');
    await send(two, 'identify', { userId: 'u1', traits: { phone: '13800138000' } });
    await t.drain();
    const p = await t.services.profiles.lookup(two.id, 'phone', '13800138000');
    expect(p.identities.map((i) => i.type).sort()).toEqual(['phone', 'user_id']);
  });

  // Regression guard for a fixed bug: processor.service.ts drops suppressed identifiers only from `item.identifiers`; for an alias
  // call it then pushes `aliasIdentifier(msg.previousId, graph)` (the `identifiers.push(...)` line in
  // the per-message loop) without checking the suppression hashes, so an erased anonymousId sent as an
  // alias previousId is attached again to a new profile.
  it('an alias whose previousId was erased does not re-attach it', async () => {
    const { workspace } = await t.workspace();
    const { person } = await customer(workspace);
    await t.services.profiles.erase(workspace.id, person.id, 'dpo@test');
    await send(workspace, 'alias', { previousId: 'a-old', userId: 'u-new' });
    await t.drain();
    const fresh = await t.services.profiles.lookup(workspace.id, 'user_id', 'u-new');
    expect(fresh.identities.map((i) => `${i.type}=${i.value}`)).toEqual(['user_id=u-new']);
  });
});
