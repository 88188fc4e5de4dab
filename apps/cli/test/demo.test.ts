import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoWorkspace, generateDemoHistory, type DemoSummary } from '../src/demo.ts';

type Msg = Record<string, unknown> & { context?: { externalIds?: { type: string; id: string; appId?: string }[]; traits?: Record<string, unknown> }; traits?: Record<string, unknown> };

describe('demo history', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');

  it('is the same for the same seed, and different for another', () => {
    const a = generateDemoHistory({ customers: 50, seed: 3, now });
    expect(generateDemoHistory({ customers: 50, seed: 3, now }).messages).toEqual(a.messages);
    expect(generateDemoHistory({ customers: 50, seed: 4, now }).messages).not.toEqual(a.messages);
  });

  it('covers the last ~180 days and never the future', () => {
    const { messages } = generateDemoHistory({ customers: 300, seed: 1, now });
    const times = messages.map((m) => Date.parse(m.timestamp as string));
    expect(Math.max(...times)).toBeLessThanOrEqual(now.getTime());
    expect(Math.min(...times)).toBeGreaterThanOrEqual(now.getTime() - 181 * 86_400_000);
    expect(Math.min(...times)).toBeLessThan(now.getTime() - 120 * 86_400_000);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(messages.length);
  });
});

describe.each(TEST_BACKENDS)('siyu demo on $name', (backend) => {
  let t: TestSiyu;
  let summary: DemoSummary;
  const seed = 11;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    summary = await createDemoWorkspace(t, { customers: 200, seed });
  });
  afterAll(async () => t.close());

  it('fills a new workspace through ingestion, and identity resolution folds identifiers into fewer profiles', async () => {
    expect(summary.workspace.name).toContain('茶饮');
    expect(await t.services.workspaces.authenticate('write', summary.writeKey)).toMatchObject({ id: summary.workspace.id });
    expect(summary.rejected).toBe(0);
    expect(summary.accepted).toBe(summary.messagesSent);
    expect(summary.profiles).toBeGreaterThan(0);
    expect(summary.profiles).toBeLessThan(summary.identifiersSent);
    expect(summary.mergesVia.phone).toBeGreaterThanOrEqual(1);
    expect(summary.mergesVia.wechat_unionid).toBeGreaterThanOrEqual(1);
    expect(summary.conflicts).toBeGreaterThanOrEqual(1);
    // Every message stored once (beside them, the starter audiences' Tag Added / Segment Entered events).
    const stored = await t.services.deps.store.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', summary.workspace.id).where('message_id', 'like', `demo-${seed}-%`).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(summary.messagesSent);
  });

  it('starts with rule tags and segments that are computed, and a history with lapsed customers as well as active ones', async () => {
    const names = summary.audiences.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['高价值客户', '近 30 天下单客户', '待唤醒会员', '下月生日会员']));
    const segments = await t.services.segments.list(summary.workspace.id);
    const recent = segments.data.find((s) => s.name === '近 30 天下单客户')!;
    expect(recent.count).toBeGreaterThan(0);
    expect(summary.audiences.find((a) => a.name === '近 30 天下单客户')!.count).toBe(recent.count);
    expect(summary.audiences.find((a) => a.name === '高价值客户')!.count).toBeGreaterThan(0);
    // Buyers whose last order is long past, not everyone active until today.
    const lifecycle = await t.services.layers.lifecycle(summary.workspace.id);
    const stage = (s: string) => lifecycle.stages.find((x: { stage: string }) => x.stage === s)?.customers ?? 0;
    expect(stage('silent') + stage('at_risk') + stage('churned')).toBeGreaterThan(0);
  });

  it('merges the mini program and the store through a shared phone', async () => {
    const { messages } = generateDemoHistory({ customers: 200, seed, now: t.clock() });
    const storePhones = new Set((messages as Msg[]).filter((m) => m.type === 'identify' && m.traits?.member_no).map((m) => m.traits!.phone));
    const miniProgram = (messages as Msg[]).find((m) => m.type === 'identify' && m.userId && !m.traits?.member_no && storePhones.has(m.traits?.phone));
    expect(miniProgram).toBeDefined();
    const p = await t.services.profiles.lookup(summary.workspace.id, 'user_id', miniProgram!.userId as string);
    const types = new Set(p.identities.map((i) => i.type));
    expect(types.has('member_no')).toBe(true);
    expect(p.identities.filter((i) => i.type === 'phone')).toHaveLength(1);
    expect(p.computed.event_counts['Order Completed']).toBeGreaterThanOrEqual(1);
  });

  it('ties the official account and mini-program openids through the unionid', async () => {
    const { messages } = generateDemoHistory({ customers: 200, seed, now: t.clock() });
    const follow = (messages as Msg[]).find((m) => m.event === 'Followed Official Account')!;
    const unionid = follow.context!.externalIds!.find((e) => e.type === 'wechat_unionid')!.id;
    const mp = (messages as Msg[]).filter((m) => m.context?.externalIds?.some((e) => e.appId === 'wx_demo_mp') && m.context.externalIds.some((e) => e.id === unionid));
    expect(mp.length).toBeGreaterThan(0);
    const p = await t.services.profiles.lookup(summary.workspace.id, 'wechat_unionid', unionid);
    const openids = p.identities.filter((i) => i.type === 'wechat_openid').map((i) => i.value.split(':')[0]);
    expect(openids.sort()).toEqual(['wx_demo_mp', 'wx_demo_oa']);
  });

  it('keeps two members who shared a device apart and records the conflict', async () => {
    const conflicts = await t.services.profiles.conflicts(summary.workspace.id, { limit: 100 });
    const shared = conflicts.data.find((c) => c.identifierType === 'anonymous_id' && c.otherProfileId !== null);
    expect(shared).toBeDefined();
    const [a, b] = await Promise.all([t.services.profiles.get(summary.workspace.id, shared!.profileId), t.services.profiles.get(summary.workspace.id, shared!.otherProfileId!)]);
    expect(a.id).not.toBe(b.id);
    const userIds = (p: typeof a) => p.identities.filter((i) => i.type === 'user_id').map((i) => i.value);
    expect(userIds(a)).toHaveLength(1);
    expect(userIds(b)).toHaveLength(1);
    expect(userIds(a)).not.toEqual(userIds(b));
    // The device stays with the member who used it first.
    expect(b.identities.some((i) => i.type === 'anonymous_id' && i.value === shared!.identifierValue)).toBe(true);
  });
});
