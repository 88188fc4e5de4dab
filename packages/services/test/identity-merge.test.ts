import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, type WorkspaceRecord } from '@siyu/core';
import { createServices, silentLogger, type IngestKind } from '@siyu/services';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { AudienceStore } from '@siyu/storage';
import { TEST_BACKENDS } from '@siyu/storage/testing';

type Step = [kind: IngestKind, body: Record<string, unknown>];

interface ScenarioRow {
  name: string;
  steps: Step[];
  /** Every profile of the workspace afterwards: its identities and how many events it holds. */
  profiles: { ids: string[]; events: number }[];
  merges: number;
  /** Identifier types of the refused links recorded for review. */
  conflicts: string[];
}

const PHONE = '+8613800138000';

const SCENARIOS: ScenarioRow[] = [
  {
    name: 'a visitor merged into the customer by a message of the same batch: the visitor’s next event lands on the customer',
    steps: [
      ['track', { anonymousId: 'a1', event: 'Product Viewed' }],
      ['identify', { userId: 'u1', traits: { city: '上海' } }],
      ['identify', { userId: 'u1', anonymousId: 'a1' }],
      ['track', { anonymousId: 'a1', event: 'Cart Viewed' }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'user_id=u1'], events: 4 }],
    merges: 1,
    conflicts: [],
  },
  {
    name: 'identify and track share a phone written two ways: one person',
    steps: [
      ['identify', { userId: 'u1', traits: { phone: '13800138000' } }],
      ['track', { anonymousId: 'a1', event: 'Product Viewed', context: { traits: { phone: '+86 138-0013-8000' } } }],
    ],
    profiles: [{ ids: [`anonymous_id=a1`, `phone=${PHONE}`, 'user_id=u1'], events: 2 }],
    merges: 0,
    conflicts: [],
  },
  {
    name: 'an anonymous visitor and a customer merged later through a shared phone',
    steps: [
      ['track', { anonymousId: 'a1', event: 'Product Viewed' }],
      ['identify', { userId: 'u1', traits: { phone: '13800138000' } }],
      ['track', { anonymousId: 'a1', event: 'Cart Viewed', context: { traits: { phone: '138 0013 8000' } } }],
    ],
    profiles: [{ ids: [`anonymous_id=a1`, `phone=${PHONE}`, 'user_id=u1'], events: 3 }],
    merges: 1,
    conflicts: [],
  },
  {
    name: 'email matches case-insensitively',
    steps: [
      ['identify', { userId: 'u1', traits: { email: 'Li.Lei@Example.com' } }],
      ['track', { anonymousId: 'a1', event: 'Email Opened' }],
      ['identify', { anonymousId: 'a1', traits: { email: 'li.lei@EXAMPLE.COM ' } }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'email=li.lei@example.com', 'user_id=u1'], events: 3 }],
    merges: 1,
    conflicts: [],
  },
  {
    name: 'one message reaching three profiles merges them all',
    steps: [
      ['track', { anonymousId: 'a1', event: 'Product Viewed' }],
      ['identify', { anonymousId: 'a2', traits: { email: 'x@y.cn' } }],
      ['identify', { userId: 'u1' }],
      ['identify', { userId: 'u1', anonymousId: 'a1', traits: { email: 'x@y.cn' } }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'anonymous_id=a2', 'email=x@y.cn', 'user_id=u1'], events: 4 }],
    merges: 2,
    conflicts: [],
  },
  {
    name: 'two customers on one shared device are not fused; device events with a userId go to that user',
    steps: [
      ['identify', { userId: 'u1', context: { device: { id: 'pad-1' } } }],
      ['identify', { userId: 'u2', context: { device: { id: 'pad-1' } } }],
      ['track', { userId: 'u2', event: 'Order Completed', properties: { total: 10 }, context: { device: { id: 'pad-1' } } }],
    ],
    profiles: [
      { ids: ['device_id=pad-1', 'user_id=u1'], events: 1 },
      { ids: ['user_id=u2'], events: 2 },
    ],
    merges: 0,
    // The second device message repeats the same refused link: recorded once, not per message.
    conflicts: ['device_id'],
  },
  {
    name: 'two customers logging in on one browser (shared anonymousId) are not fused',
    steps: [
      ['identify', { userId: 'u1', anonymousId: 'a1', traits: { name: '李雷' } }],
      ['identify', { userId: 'u2', anonymousId: 'a1', traits: { name: '韩梅梅' } }],
    ],
    profiles: [
      { ids: ['anonymous_id=a1', 'user_id=u1'], events: 1 },
      { ids: ['user_id=u2'], events: 1 },
    ],
    merges: 0,
    conflicts: ['anonymous_id'],
  },
  {
    name: 'a second member number is refused and recorded',
    steps: [
      ['identify', { userId: 'u1', traits: { member_no: 'M1' } }],
      ['identify', { userId: 'u1', traits: { member_no: 'M2' } }],
    ],
    profiles: [{ ids: ['member_no=M1', 'user_id=u1'], events: 2 }],
    merges: 0,
    conflicts: ['member_no'],
  },
  {
    name: 'two members sharing a phone (family) are not merged',
    steps: [
      ['identify', { userId: 'u1', traits: { member_no: 'M1', phone: '13800138000' } }],
      ['identify', { anonymousId: 'a2', traits: { member_no: 'M2', phone: '13800138000' } }],
    ],
    profiles: [
      { ids: ['anonymous_id=a2', 'member_no=M2'], events: 1 },
      { ids: ['member_no=M1', `phone=${PHONE}`, 'user_id=u1'], events: 1 },
    ],
    merges: 0,
    conflicts: ['phone'],
  },
  {
    name: 'alias links an anonymousId to an existing userId',
    steps: [
      ['page', { anonymousId: 'a1', name: 'Home' }],
      ['identify', { userId: 'u1', traits: { name: '李雷' } }],
      ['alias', { previousId: 'a1', userId: 'u1' }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'user_id=u1'], events: 3 }],
    merges: 1,
    conflicts: [],
  },
  {
    name: 'alias gives an anonymous visitor their new userId',
    steps: [
      ['page', { anonymousId: 'a1', name: 'Home' }],
      ['alias', { previousId: 'a1', userId: 'u1' }],
      ['track', { userId: 'u1', event: 'Signed Up' }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'user_id=u1'], events: 3 }],
    merges: 0,
    conflicts: [],
  },
  {
    name: 'alias from a customer’s old userId to a new one: one person holding both, past the one-user_id limit',
    steps: [
      ['identify', { userId: 'old-uid', traits: { email: 'old@x.com' } }],
      ['alias', { previousId: 'old-uid', userId: 'new-uid' }],
      ['track', { userId: 'new-uid', event: 'Signed In' }],
    ],
    profiles: [{ ids: ['email=old@x.com', 'user_id=new-uid', 'user_id=old-uid'], events: 3 }],
    merges: 0,
    conflicts: [],
  },
  {
    name: 'alias joins two customers’ profiles the limit kept apart when only a device linked them',
    steps: [
      ['identify', { userId: 'u1', context: { device: { id: 'shared-ipad' } } }],
      ['identify', { userId: 'u2', context: { device: { id: 'shared-ipad' } } }],
      ['alias', { previousId: 'u1', userId: 'u2' }],
    ],
    profiles: [{ ids: ['device_id=shared-ipad', 'user_id=u1', 'user_id=u2'], events: 3 }],
    merges: 1,
    // The device's link, refused before the alias, stays on the review list.
    conflicts: ['device_id'],
  },
  {
    name: 'the same openid in two official accounts is two people',
    steps: [
      ['identify', { anonymousId: 'a1', context: { externalIds: [{ type: 'wechat_openid', id: 'oX', appId: 'wxA' }] } }],
      ['identify', { anonymousId: 'a2', context: { externalIds: [{ type: 'wechat_openid', id: 'oX', appId: 'wxB' }] } }],
    ],
    profiles: [
      { ids: ['anonymous_id=a1', 'wechat_openid=wxA:oX'], events: 1 },
      { ids: ['anonymous_id=a2', 'wechat_openid=wxB:oX'], events: 1 },
    ],
    merges: 0,
    conflicts: [],
  },
  {
    name: 'a unionid ties openids of two official accounts together',
    steps: [
      ['identify', { anonymousId: 'a1', traits: { unionid: 'U1' }, context: { externalIds: [{ type: 'wechat_openid', id: 'oX', appId: 'wxA' }] } }],
      ['identify', { anonymousId: 'a2', context: { externalIds: [{ type: 'wechat_openid', id: 'oY', appId: 'wxB' }] } }],
      ['identify', { anonymousId: 'a2', traits: { unionId: 'U1' } }],
    ],
    profiles: [{ ids: ['anonymous_id=a1', 'anonymous_id=a2', 'wechat_openid=wxA:oX', 'wechat_openid=wxB:oY', 'wechat_unionid=U1'], events: 3 }],
    merges: 1,
    conflicts: [],
  },
];

describe.each(TEST_BACKENDS)('identity resolution through the services on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-03-01T00:00:00.000Z');
  });
  afterAll(async () => t.close());

  async function send(ws: WorkspaceRecord, kind: IngestKind, body: Record<string, unknown>) {
    t.clock.advance(1000);
    return t.services.ingest.ingest(ws, kind, body, JSON.stringify(body).length);
  }

  async function allProfiles(ws: WorkspaceRecord) {
    const page = await t.services.profiles.list(ws.id, { limit: 100 });
    const out = [];
    for (const p of page.data) {
      const events = await t.services.profiles.events(ws.id, p.id, { limit: 1000 });
      out.push({ ids: p.identities.map((i) => `${i.type}=${i.value}`).sort(), events: events.data.length });
    }
    return out.sort((a, b) => a.ids.join().localeCompare(b.ids.join()));
  }

  async function check(ws: WorkspaceRecord, row: ScenarioRow) {
    expect(await allProfiles(ws)).toEqual(row.profiles);
    // Every event carries its profile's bitmap number, whether the processor knew it (a profile read from
    // storage) or the insert looked it up (one made in the batch), merges and all.
    const nums = await t.services.deps.store.db
      .selectFrom('events')
      .innerJoin('profiles', 'profiles.id', 'events.profile_id')
      .select(['events.profile_num as eventNum', 'profiles.num as profileNum'])
      .where('events.workspace_id', '=', ws.id)
      .execute();
    expect(nums.length).toBeGreaterThan(0);
    for (const n of nums) expect(n.eventNum === null ? null : Number(n.eventNum)).toBe(Number(n.profileNum));
    const stats = await t.services.profiles.stats(ws.id);
    expect(stats.mergedProfiles).toBe(row.merges);
    const conflicts = await t.services.profiles.conflicts(ws.id, { limit: 100 });
    expect(conflicts.data.map((c) => c.identifierType).sort()).toEqual(row.conflicts);
  }

  describe.each(SCENARIOS)('$name', (row) => {
    it('processed message by message', async () => {
      const { workspace } = await t.workspace();
      for (const [kind, body] of row.steps) {
        await send(workspace, kind, body);
        await t.drain();
      }
      await check(workspace, row);
    });

    it('processed as one batch', async () => {
      const { workspace } = await t.workspace();
      for (const [kind, body] of row.steps) await send(workspace, kind, body);
      await t.drain();
      await check(workspace, row);
    });

    // The first messages' profiles exist before the batch: it links or reaches stored profiles.
    it.each(row.steps.slice(1).map((_, i) => i + 1))('the first %i processed first, the rest as one batch', async (k) => {
      const { workspace } = await t.workspace();
      for (const [kind, body] of row.steps.slice(0, k)) {
        await send(workspace, kind, body);
        await t.drain();
      }
      for (const [kind, body] of row.steps.slice(k)) await send(workspace, kind, body);
      await t.drain();
      await check(workspace, row);
    });
  });

  it('a merge keeps the profile reached through the higher-priority id; the other id still finds it', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'track', { anonymousId: 'a1', event: 'Product Viewed', properties: { sku: 'S1' } });
    await send(workspace, 'identify', { userId: 'u1', traits: { name: '李雷' } });
    await t.drain();
    const visitor = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'a1');
    const customer = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(visitor.id).not.toBe(customer.id);

    await send(workspace, 'alias', { previousId: 'a1', userId: 'u1', messageId: 'alias-1' });
    await t.drain();

    const survivor = await t.services.profiles.get(workspace.id, customer.id);
    expect(survivor.merges).toEqual([
      expect.objectContaining({ winnerId: customer.id, loserId: visitor.id, reason: 'one message carried user_id u1 and anonymous_id a1, held by the two profiles', messageId: 'alias-1', actor: 'identity-resolution', undoneAt: null }),
    ]);
    // The id that was merged away answers with the survivor.
    expect((await t.services.profiles.get(workspace.id, visitor.id)).id).toBe(customer.id);
    expect((await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'a1')).id).toBe(customer.id);
    // The survivor's timeline holds the visitor's events too, also when asked through the old id.
    const events = await t.services.profiles.events(workspace.id, visitor.id, { limit: 10 });
    expect(events.data.map((e) => e.event ?? e.type).sort()).toEqual(['Product Viewed', 'alias', 'identify']);
    expect(survivor.traits.name).toBe('李雷');
    expect(survivor.computed.event_counts).toEqual({ 'Product Viewed': 1 });
    const list = await t.services.profiles.list(workspace.id, { limit: 10 });
    expect(list.data.map((p) => p.id)).toEqual([customer.id]);
  });

  it('a refused merge is listed for review with both profiles and the reason', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', anonymousId: 'shared-browser', messageId: 'm-u1' });
    await send(workspace, 'identify', { userId: 'u2', anonymousId: 'shared-browser', messageId: 'm-u2' });
    await t.drain();
    const u1 = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    const u2 = await t.services.profiles.lookup(workspace.id, 'user_id', 'u2');
    const conflicts = await t.services.profiles.conflicts(workspace.id, { limit: 10 });
    expect(conflicts.data).toEqual([
      expect.objectContaining({
        messageId: 'm-u2',
        profileId: u2.id,
        otherProfileId: u1.id,
        identifierType: 'anonymous_id',
        identifierValue: 'shared-browser',
        reason: expect.stringMatching(/anonymous_id shared-browser .*user_id u1.* at most 1 user_id/),
      }),
    ]);
    // Later anonymous activity on that browser stays with the first customer, never with both.
    await send(workspace, 'track', { anonymousId: 'shared-browser', event: 'Product Viewed' });
    await t.drain();
    expect((await t.services.profiles.get(workspace.id, u1.id)).computed.event_count).toBe(1);
    expect((await t.services.profiles.get(workspace.id, u2.id)).computed.event_count).toBe(0);
  });

  it('merge chain A←B←C: every old id finds A; unmerging B brings back B with C’s identities and events', async () => {
    const { workspace } = await t.workspace();
    // C: an anonymous visitor who orders once.
    await send(workspace, 'track', { anonymousId: 'anon-c', event: 'Order Completed', properties: { total: 30 }, timestamp: '2026-01-01T00:00:00Z' });
    // B: a newsletter subscriber.
    await send(workspace, 'identify', { anonymousId: 'anon-b', traits: { email: 'b@x.cn', city: '北京' }, timestamp: '2026-01-02T00:00:00Z' });
    await t.drain();
    const c = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'anon-c');
    const b = await t.services.profiles.lookup(workspace.id, 'email', 'b@x.cn');
    // C ← B through the email.
    await send(workspace, 'track', { anonymousId: 'anon-c', event: 'Email Clicked', context: { traits: { email: 'b@x.cn' } }, timestamp: '2026-01-03T00:00:00Z' });
    // A: a registered customer.
    await send(workspace, 'identify', { userId: 'u1', traits: { phone: '13800138000', city: '上海' }, timestamp: '2026-01-04T00:00:00Z' });
    await send(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 100 }, timestamp: '2026-01-05T00:00:00Z' });
    await t.drain();
    const a = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect((await t.services.profiles.get(workspace.id, c.id)).id).toBe(b.id);
    // B ← A through the email, in a message of A.
    await send(workspace, 'identify', { userId: 'u1', traits: { email: 'b@x.cn' }, timestamp: '2026-01-06T00:00:00Z' });
    await t.drain();

    for (const old of [b.id, c.id]) expect((await t.services.profiles.get(workspace.id, old)).id).toBe(a.id);
    const merged = await t.services.profiles.get(workspace.id, a.id);
    expect(merged.identities.map((i) => i.type).sort()).toEqual(['anonymous_id', 'anonymous_id', 'email', 'phone', 'user_id']);
    expect(merged.computed).toMatchObject({ order_count: 2, total_spent: 13000, event_count: 3 });
    expect(merged.traits.city).toBe('上海');
    const mergeOfB = merged.merges.find((m) => m.loserId === b.id)!;
    expect(mergeOfB.winnerId).toBe(a.id);
    // Events carry the number of the profile they are on (audience candidates are read by it): both orders are A's now.
    const audiences = new AudienceStore(t.services.deps.store);
    const numOf = async (id: string) => (await audiences.profileNums(workspace.id, [id]))[0]!.num;
    const orderers = async () => [...await audiences.eventProfileNums(workspace.id, 'Order Completed', { since: null, before: null })].sort();
    expect(await orderers()).toEqual([await numOf(a.id), await numOf(a.id)]);

    const res = await t.services.profiles.unmerge(workspace.id, a.id, mergeOfB.id, 'admin@test');
    expect(res).toEqual({ profileId: a.id, restoredProfileId: b.id });

    const restored = await t.services.profiles.get(workspace.id, b.id);
    expect(restored.id).toBe(b.id);
    expect(restored.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual(['anonymous_id=anon-b', 'anonymous_id=anon-c', 'email=b@x.cn']);
    expect(restored.traits).toMatchObject({ email: 'b@x.cn', city: '北京' });
    expect(restored.computed).toMatchObject({ order_count: 1, total_spent: 3000, event_count: 2, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-03T00:00:00.000Z' });
    // C stays inside B.
    expect((await t.services.profiles.get(workspace.id, c.id)).id).toBe(b.id);
    // C's order went back with B: it carries B's number again.
    expect(await orderers()).toEqual([await numOf(a.id), await numOf(b.id)].sort());

    const rest = await t.services.profiles.get(workspace.id, a.id);
    expect(rest.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual([`phone=${PHONE}`, 'user_id=u1']);
    expect(rest.computed).toMatchObject({ order_count: 1, total_spent: 10000, event_count: 1, first_seen: '2026-01-04T00:00:00.000Z' });
    expect(rest.traits.city).toBe('上海');
    const aEvents = await t.services.profiles.events(workspace.id, a.id, { limit: 10 });
    const bEvents = await t.services.profiles.events(workspace.id, b.id, { limit: 10 });
    expect(aEvents.data.map((e) => e.timestamp)).toEqual(['2026-01-06T00:00:00.000Z', '2026-01-05T00:00:00.000Z', '2026-01-04T00:00:00.000Z']);
    expect(bEvents.data.map((e) => e.timestamp)).toEqual(['2026-01-03T00:00:00.000Z', '2026-01-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect((await t.services.profiles.lookup(workspace.id, 'email', 'b@x.cn')).id).toBe(b.id);
    expect((await t.services.profiles.list(workspace.id, { limit: 10 })).data.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('a merge can be undone after its winner was itself merged away', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'page', { anonymousId: 'anon-b', name: 'Home' });
    await send(workspace, 'identify', { userId: 'u1', traits: { city: '上海' } });
    await send(workspace, 'identify', { anonymousId: 'anon-z', traits: { member_no: 'M1' } });
    await t.drain();
    const b = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'anon-b');
    const a = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    const z = await t.services.profiles.lookup(workspace.id, 'member_no', 'M1');
    await send(workspace, 'alias', { previousId: 'anon-b', userId: 'u1' });
    await t.drain();
    const mergeAB = (await t.services.profiles.get(workspace.id, a.id)).merges[0]!;
    expect(mergeAB).toMatchObject({ winnerId: a.id, loserId: b.id });
    // The member number reaches Z, anon-b reaches A (which holds B). A holds a user_id, the
    // higher-priority identifier, so Z is merged into A and the customer's profile id stays A.
    await send(workspace, 'track', { anonymousId: 'anon-b', event: 'Store Visited', context: { traits: { member_no: 'M1' } } });
    await t.drain();
    expect((await t.services.profiles.get(workspace.id, b.id)).id).toBe(a.id);
    expect((await t.services.profiles.get(workspace.id, z.id)).id).toBe(a.id);

    await t.services.profiles.unmerge(workspace.id, a.id, mergeAB.id, 'admin@test');
    const restored = await t.services.profiles.get(workspace.id, b.id);
    expect(restored.id).toBe(b.id);
    expect(restored.identities.map((i) => `${i.type}=${i.value}`)).toEqual(['anonymous_id=anon-b']);
    expect(restored.computed.event_counts).toEqual({ 'Page Viewed': 1 });
    const rest = await t.services.profiles.get(workspace.id, z.id);
    expect(rest.id).toBe(a.id);
    expect(rest.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual(['anonymous_id=anon-z', 'member_no=M1', 'user_id=u1']);
    expect(rest.traits).toMatchObject({ city: '上海', member_no: 'M1' });
    expect(rest.computed.event_counts).toEqual({ 'Store Visited': 1 });
    expect((await t.services.profiles.events(workspace.id, a.id, { limit: 10 })).data).toHaveLength(4);
  });

  // Regression guard for a fixed bug: profiles.service.ts `view()` lists only `mergesOf(p.workspaceId, [p.id])`, the merges the surviving
  // profile itself took part in. After A←B←C the merge of C into B is on no profile view (get(B) and
  // get(C) both answer with A), so there is no way through the API to find its id and split C off.
  it('the survivor’s merge history lists every merge that built it, so each can be undone', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'page', { anonymousId: 'anon-c' });
    await send(workspace, 'identify', { anonymousId: 'anon-b', traits: { email: 'b@x.cn' } });
    await t.drain();
    const c = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'anon-c');
    await send(workspace, 'page', { anonymousId: 'anon-c', context: { traits: { email: 'b@x.cn' } } });
    await send(workspace, 'identify', { userId: 'u1' });
    await t.drain();
    await send(workspace, 'identify', { userId: 'u1', traits: { email: 'b@x.cn' } });
    await t.drain();
    const a = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(a.merges.map((m) => m.loserId)).toContain(c.id);
  });

  it('unmerge splits identities and events back and rebuilds both profiles from their events', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { anonymousId: 'a1', traits: { city: '北京', gender: 'm' }, timestamp: '2026-01-01T00:00:00Z' });
    await send(workspace, 'track', { anonymousId: 'a1', event: 'Order Completed', properties: { total: 100 }, timestamp: '2026-01-02T00:00:00Z' });
    await send(workspace, 'identify', { userId: 'u1', traits: { city: '上海', phone: '13800138000' }, timestamp: '2026-01-03T00:00:00Z' });
    await send(workspace, 'track', { userId: 'u1', event: 'Order Completed', properties: { total: 50 }, timestamp: '2026-01-04T00:00:00Z' });
    await t.drain();
    const visitor = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'a1');
    const customer = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    await send(workspace, 'alias', { previousId: 'a1', userId: 'u1', timestamp: '2026-01-05T00:00:00Z' });
    await t.drain();

    const merged = await t.services.profiles.get(workspace.id, customer.id);
    expect(merged.traits).toMatchObject({ city: '上海', gender: 'm', phone: PHONE });
    expect(merged.computed).toMatchObject({ order_count: 2, total_spent: 15000, avg_order_value: 7500, first_seen: '2026-01-01T00:00:00.000Z' });

    await t.services.profiles.unmerge(workspace.id, customer.id, merged.merges[0]!.id, 'admin@test');

    const a = await t.services.profiles.get(workspace.id, visitor.id);
    const u = await t.services.profiles.get(workspace.id, customer.id);
    expect(a.identities.map((i) => `${i.type}=${i.value}`)).toEqual(['anonymous_id=a1']);
    expect(u.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual([`phone=${PHONE}`, 'user_id=u1']);
    expect(a.traits).toEqual({ city: '北京', gender: 'm' });
    expect(u.traits).toEqual({ city: '上海', phone: PHONE });
    expect(a.computed).toMatchObject({ order_count: 1, total_spent: 10000, avg_order_value: 10000, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-02T00:00:00.000Z' });
    expect(u.computed).toMatchObject({ order_count: 1, total_spent: 5000, avg_order_value: 5000, first_seen: '2026-01-03T00:00:00.000Z' });
    expect((await t.services.profiles.events(workspace.id, a.id, { limit: 10 })).data).toHaveLength(2);
    expect((await t.services.profiles.events(workspace.id, u.id, { limit: 10 })).data).toHaveLength(3);
    expect(u.merges[0]!.undoneAt).not.toBeNull();
    expect((await t.services.profiles.stats(workspace.id)).mergedProfiles).toBe(0);

    // Undoing it twice is a conflict, not a silent no-op.
    const again = await t.services.profiles.unmerge(workspace.id, customer.id, u.merges[0]!.id, 'admin@test').catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AppError);
    expect(again).toMatchObject({ code: 'CONFLICT' });
    expect((again as AppError).message).toMatch(/already undone/);
  });

  it.each<[string, (ids: { profileId: string; mergeId: string }) => [string, unknown], string]>([
    ['an unknown merge id', ({ profileId }) => [profileId, 'mrg_nope'], 'NOT_FOUND'],
    ['no merge id', ({ profileId }) => [profileId, undefined], 'INVALID_INPUT'],
    ['an unknown profile', ({ mergeId }) => ['prof_nope', mergeId], 'NOT_FOUND'],
  ])('unmerge with %s is refused', async (_name, args, code) => {
    const { workspace } = await t.workspace();
    await send(workspace, 'page', { anonymousId: 'a1' });
    await send(workspace, 'identify', { userId: 'u1' });
    await t.drain();
    await send(workspace, 'alias', { previousId: 'a1', userId: 'u1' });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    const [profileId, mergeId] = args({ profileId: p.id, mergeId: p.merges[0]!.id });
    await expect(t.services.profiles.unmerge(workspace.id, profileId, mergeId, 'admin@test')).rejects.toMatchObject({ code });
    expect((await t.services.profiles.get(workspace.id, p.id)).identities).toHaveLength(2);
  });

  it('unmerge through another person’s profile is refused and changes nothing', async () => {
    const { workspace } = await t.workspace();
    for (const [anon, user] of [['a1', 'u1'], ['a2', 'u2']]) {
      await send(workspace, 'page', { anonymousId: anon });
      await send(workspace, 'identify', { userId: user });
      await t.drain();
      await send(workspace, 'alias', { previousId: anon, userId: user });
    }
    await t.drain();
    const p1 = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    const p2 = await t.services.profiles.lookup(workspace.id, 'user_id', 'u2');
    await expect(t.services.profiles.unmerge(workspace.id, p2.id, p1.merges[0]!.id, 'admin@test')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await t.services.profiles.get(workspace.id, p1.id)).identities).toHaveLength(2);
    expect((await t.services.profiles.get(workspace.id, p1.id)).merges[0]!.undoneAt).toBeNull();
  });

  it('a custom identifier type added to the workspace is accepted in context.externalIds and merges', async () => {
    const { workspace } = await t.workspace();
    const body = { userId: 'u1', context: { externalIds: [{ type: 'crm_id', id: 'C-1' }] } };
    const refused = await t.services.ingest.ingest(workspace, 'identify', body, 100).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'INVALID_INPUT', details: { problems: [expect.objectContaining({ path: 'context.externalIds[0].type' })] } });

    await expect(t.services.workspaces.putIdentityType(workspace.id, { type: 'CRM-ID', priority: 95, maxPerProfile: 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await t.services.workspaces.putIdentityType(workspace.id, { type: 'crm_id', priority: 95, maxPerProfile: 1 });

    await send(workspace, 'identify', body);
    await send(workspace, 'track', { anonymousId: 'a1', event: 'Store Visited', context: { externalIds: [{ type: 'crm_id', id: 'C-1' }] } });
    await send(workspace, 'identify', { userId: 'u1', context: { externalIds: [{ type: 'crm_id', id: 'C-2' }] } });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'crm_id', 'C-1');
    expect(p.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual(['anonymous_id=a1', 'crm_id=C-1', 'user_id=u1']);
    const conflicts = await t.services.profiles.conflicts(workspace.id, { limit: 10 });
    expect(conflicts.data.map((c) => `${c.identifierType}=${c.identifierValue}`)).toEqual(['crm_id=C-2']);
  });

  it('raising a built-in limit lets a person hold several member numbers', async () => {
    const { workspace } = await t.workspace();
    await t.services.workspaces.putIdentityType(workspace.id, { type: 'member_no', priority: 90, maxPerProfile: 3 });
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M1' } });
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M2' } });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'member_no', 'M2');
    expect(p.identities.filter((i) => i.type === 'member_no').map((i) => i.value).sort()).toEqual(['M1', 'M2']);
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data).toEqual([]);
  });

  it('a refused link is reviewed: merged anyway (an ordinary, undoable merge) or dismissed, and leaves the open list', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', context: { device: { id: 'ipad' } } });
    await send(workspace, 'track', { userId: 'u2', event: 'Viewed', context: { device: { id: 'ipad' } } });
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M1' } });
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M2' } });
    await t.drain();
    const open = await t.services.profiles.conflicts(workspace.id, { limit: 10 });
    const byType = new Map(open.data.map((c) => [c.identifierType, c]));
    expect([...byType.keys()].sort()).toEqual(['device_id', 'member_no']);
    expect((await t.services.profiles.stats(workspace.id)).openConflicts).toBe(2);

    // Merge anyway: u2's profile goes into u1's, with its events; the merge is logged with the operator.
    const device = byType.get('device_id')!;
    const merged = await t.services.processor.resolveConflict(workspace.id, device.id, { action: 'merge' }, 'admin:ops');
    expect(merged.conflict).toMatchObject({ resolution: 'merged', resolvedBy: 'admin:ops' });
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
    const u1 = await t.services.profiles.lookup(workspace.id, 'user_id', 'u2');
    expect(u1.identities.filter((i) => i.type === 'user_id').map((i) => i.value).sort()).toEqual(['u1', 'u2']);
    expect(u1.merges[0]).toMatchObject({ actor: 'admin:ops', reason: 'conflict reviewed: device_id ipad' });
    expect((await t.services.profiles.events(workspace.id, u1.id, { limit: 10 })).data.map((e) => e.event ?? e.type).sort()).toEqual(['Viewed', 'identify', 'identify', 'identify']);
    // The refused member number is attached by its review (no one holds it).
    const member = byType.get('member_no')!;
    const attached = await t.services.processor.resolveConflict(workspace.id, member.id, { action: 'merge' }, 'admin:ops');
    expect(attached).toMatchObject({ attached: true, merge: null });
    expect((await t.services.profiles.lookup(workspace.id, 'member_no', 'M2')).id).toBe(u1.id);
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data).toEqual([]);
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10, status: 'resolved' })).data.map((c) => c.resolution).sort()).toEqual(['merged', 'merged']);
    expect((await t.services.profiles.stats(workspace.id)).openConflicts).toBe(0);
    // A review happens once; the merge it made can be undone like any other.
    await expect(t.services.processor.resolveConflict(workspace.id, device.id, { action: 'dismiss' }, 'admin:ops')).rejects.toMatchObject({ code: 'CONFLICT' });
    await t.services.profiles.unmerge(workspace.id, u1.id, merged.merge!.id, 'admin:ops');
    expect((await t.services.profiles.lookup(workspace.id, 'user_id', 'u2')).id).not.toBe((await t.services.profiles.lookup(workspace.id, 'user_id', 'u1')).id);

    // Dismiss: kept apart, off the open list. Bad bodies are refused with what to send.
    await send(workspace, 'identify', { userId: 'u3', context: { device: { id: 'kiosk' } } });
    await send(workspace, 'identify', { userId: 'u4', context: { device: { id: 'kiosk' } } });
    await t.drain();
    const [kiosk] = (await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data;
    await expect(t.services.processor.resolveConflict(workspace.id, kiosk!.id, { action: 'fuse' }, 'x')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(t.services.processor.resolveConflict(workspace.id, 'conf_nope', { action: 'dismiss' }, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await t.services.processor.resolveConflict(workspace.id, kiosk!.id, { action: 'dismiss' }, 'admin:ops');
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data).toEqual([]);
    expect((await t.services.profiles.lookup(workspace.id, 'user_id', 'u3')).id).not.toBe((await t.services.profiles.lookup(workspace.id, 'user_id', 'u4')).id);
  });

  it('the same refused link is one conflict to review, across batches and processors, and a dismissed one is not raised again', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', context: { device: { id: 'family-ipad' } } });
    await t.drain();
    // u2 keeps using the device: in one batch, in later ones, and through another processor (a restarted worker,
    // another process), which has no memory of what this one recorded.
    for (let i = 0; i < 3; i++) await send(workspace, 'track', { userId: 'u2', event: 'Viewed', context: { device: { id: 'family-ipad' } } });
    await t.drain();
    await send(workspace, 'track', { userId: 'u2', event: 'Viewed', context: { device: { id: 'family-ipad' } } });
    await t.drain();
    const other = createServices({ ...t.services.deps, log: silentLogger });
    await send(workspace, 'track', { userId: 'u2', event: 'Viewed', context: { device: { id: 'family-ipad' } } });
    while ((await other.processor.processBatch(100)).messages > 0);
    const open = (await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data;
    expect(open.map((c) => `${c.identifierType}=${c.identifierValue}`)).toEqual(['device_id=family-ipad']);
    expect((await t.services.profiles.stats(workspace.id)).openConflicts).toBe(1);

    // Dismissed: the operator said they are two people; u2's next visits on the device raise nothing new.
    await t.services.processor.resolveConflict(workspace.id, open[0]!.id, { action: 'dismiss' }, 'admin:ops');
    await send(workspace, 'track', { userId: 'u2', event: 'Viewed', context: { device: { id: 'family-ipad' } } });
    await t.drain();
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data).toEqual([]);
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10, status: 'all' })).data.map((c) => c.resolution)).toEqual(['dismissed']);
    // Another person on the device is another link to review.
    await send(workspace, 'track', { userId: 'u3', event: 'Viewed', context: { device: { id: 'family-ipad' } } });
    await t.drain();
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data).toHaveLength(1);
  });

  it('a refused second member number is not written as the profile’s trait either', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M001', name: '张婷' } });
    await send(workspace, 'identify', { userId: 'u1', traits: { member_no: 'M002', city: '上海' } });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.identities.filter((i) => i.type === 'member_no').map((i) => i.value)).toEqual(['M001']);
    expect(p.traits).toMatchObject({ member_no: 'M001', name: '张婷', city: '上海' });
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data.map((c) => [c.identifierType, c.identifierValue])).toEqual([['member_no', 'M002']]);
  });

  it('a limit changed on another thread applies to the next batch, not after a cache expires', async () => {
    const { workspace } = await t.workspace();
    // The processor in a worker thread (or another process) has services of its own, whose rules were read already.
    const worker = createServices({ ...t.services.deps, log: silentLogger });
    await worker.workspaces.identityRules(workspace.id);
    await t.services.workspaces.putIdentityType(workspace.id, { type: 'phone', priority: 70, maxPerProfile: 1 });
    await send(workspace, 'identify', { userId: 'u1', traits: { phone: '13500000001' } });
    await send(workspace, 'identify', { userId: 'u1', traits: { phone: '13500000002' } });
    while ((await worker.processor.processBatch(100)).messages > 0);
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.identities.filter((i) => i.type === 'phone').map((i) => i.value)).toEqual(['+8613500000001']);
    expect((await t.services.profiles.conflicts(workspace.id, { limit: 10 })).data.map((c) => c.identifierType)).toEqual(['phone']);
  });

  // Regression guard for a fixed bug: the processor merges profiles with mergeProfileStates (core/src/profile/computed.ts), which takes
  // first-touch traits wholesale from the profile first seen earlier instead of per trait. The visitor
  // was first seen on Jan 1 without a campaign and came from Douyin on Jan 10; the customer came from
  // WeChat on Jan 5, so the person's first source channel is WeChat — but the merged profile says Douyin.
  it('after a merge the first source channel is the earliest one across both profiles', async () => {
    const { workspace } = await t.workspace();
    await send(workspace, 'page', { anonymousId: 'a1', timestamp: '2026-01-01T00:00:00Z' });
    await send(workspace, 'page', { anonymousId: 'a1', timestamp: '2026-01-10T00:00:00Z', context: { campaign: { source: 'douyin' } } });
    await send(workspace, 'identify', { userId: 'u1', timestamp: '2026-01-05T00:00:00Z', context: { campaign: { source: 'wechat' } } });
    await t.drain();
    await send(workspace, 'alias', { previousId: 'a1', userId: 'u1', timestamp: '2026-01-11T00:00:00Z' });
    await t.drain();
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(p.firstTouch.first_source_channel).toBe('wechat');
  });
});
