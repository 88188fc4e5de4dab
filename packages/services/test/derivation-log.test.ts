import { describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { createServices, newId, silentLogger, type Services } from '@siyu/services';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

/**
 * The derivation log: the processor records with each batch which profiles the audience engine and the
 * layer service still have to update, and they remove the rows once their work has committed. Their
 * queues are in memory, so a crash (or SIGKILL) between a batch's commit and that work left memberships
 * and layers stale until the profile's next event; the rows a crash leaves are now taken at the next start.
 */
describe.each(TEST_BACKENDS)('derivation log on $name', (backend) => {
  let t!: TestSiyu;
  // This instance's engine never follows its processor: every batch's evaluation is "cut off".
  isolatedSiyu(backend, { audiences: { follow: false } }, (made) => (t = made));

  /** What a restarted process would build on the same database: a fresh engine and layer service. */
  function restarted(): Services {
    return createServices({ store: t.services.deps.store, clock: t.clock, newId, log: silentLogger });
  }

  async function logRows(workspaceId: string, consumer: 'audiences' | 'layers'): Promise<string[]> {
    const rows = await t.services.deps.store.db
      .selectFrom('derivation_log as d')
      .innerJoin('profiles as p', 'p.id', 'd.profile_id')
      .select('d.profile_id')
      .where('p.workspace_id', '=', workspaceId)
      .where('d.consumer', '=', consumer === 'audiences' ? 1 : 2)
      .orderBy('d.seq')
      .execute();
    return rows.map((r) => r.profile_id);
  }

  async function storedLifecycle(profileId: string): Promise<string | null> {
    const row = await t.services.deps.store.db.selectFrom('profile_layers').select('lifecycle').where('profile_id', '=', profileId).executeTakeFirst();
    return row?.lifecycle ?? null;
  }

  async function profileOf(ws: WorkspaceRecord, user: string): Promise<string> {
    return (await t.services.profiles.lookup(ws.id, 'user_id', user)).id;
  }

  async function members(services: Services, wsId: string, segmentId: string): Promise<string[]> {
    return (await services.segments.members(wsId, segmentId, { limit: 100 })).data.map((p) => p.id).sort();
  }

  it('a batch whose evaluation was cut off is evaluated by the next start, and its rows go', async () => {
    const { workspace: ws } = await t.workspace('cut off');
    const segment = await t.services.segments.create(ws.id, { name: '近30天下单', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } } } });
    await t.services.ingest.ingest(ws, 'batch', { batch: [{ type: 'track', userId: 'c1', event: 'Order Completed', properties: { total: 88 } }, { type: 'page', userId: 'c2', name: '首页' }] }, 100);
    await t.drain();
    await t.services.layers.settled();
    const c1 = await profileOf(ws, 'c1');
    const c2 = await profileOf(ws, 'c2');
    // Committed, never evaluated: c1 is not a member, and the log holds both profiles for the engine.
    expect(await members(t.services, ws.id, segment.id)).toEqual([]);
    // Each profile twice: from the batch, and from the layer write that gave the new profile its stage.
    expect((await logRows(ws.id, 'audiences')).sort()).toEqual([c1, c1, c2, c2].sort());
    // The layer service followed the batch: its row (c1's order statistics changed) is gone already.
    expect(await logRows(ws.id, 'layers')).toEqual([]);

    const next = restarted();
    expect(await next.audienceEngine.recover()).toBe(4);
    expect(await members(next, ws.id, segment.id)).toEqual([c1]);
    expect((await next.segments.get(ws.id, segment.id)).count).toBe(1);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
    // Nothing left: a second pass has nothing to do.
    expect(await next.audienceEngine.recover()).toBe(0);
  });

  it('an engine that follows its processor leaves no rows behind', async () => {
    const { workspace: ws } = await t.workspace('followed');
    const live = restarted();
    const segment = await live.segments.create(ws.id, { name: 'buyers', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: 'ever' } } });
    await live.ingest.ingest(ws, 'batch', { batch: ['f1', 'f2', 'f3'].map((userId) => ({ type: 'track', userId, event: 'Order Completed', properties: { total: 10 } })) }, 100);
    for (;;) if ((await live.processor.processBatch(1000)).messages === 0) break;
    await live.layers.settled();
    await live.audienceEngine.settled();
    expect((await members(live, ws.id, segment.id)).length).toBe(3);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
    expect(await logRows(ws.id, 'layers')).toEqual([]);
  });

  it('a layer update cut off is redone from current statistics', async () => {
    const { workspace: ws } = await t.workspace('layers cut off');
    await t.services.ingest.ingest(ws, 'track', { userId: 'l1', event: 'Order Completed', properties: { total: 120 } }, 100);
    await t.drain();
    await t.services.layers.settled();
    const l1 = await profileOf(ws, 'l1');
    expect(await storedLifecycle(l1)).toBe('new');
    // As if the process died after the batch committed and before its layer update: no row, a log row.
    await t.services.deps.store.db.deleteFrom('profile_layers').where('profile_id', '=', l1).execute();
    await t.services.deps.store.transaction((tx) => tx.logDerivations('layers', [l1]).then(() => undefined));
    expect(await storedLifecycle(l1)).toBeNull();

    const next = restarted();
    expect(await next.layers.recover()).toBe(1);
    expect(await storedLifecycle(l1)).toBe('new');
    expect(await logRows(ws.id, 'layers')).toEqual([]);
  });

  it('a periodic pass takes rows only up to the bound it is given', async () => {
    const { workspace: ws } = await t.workspace('bounded');
    await t.services.ingest.ingest(ws, 'identify', { userId: 'g1', traits: { city: '上海' } }, 100);
    await t.drain();
    await t.services.layers.settled();
    const next = restarted();
    const bound = await next.audienceEngine.lastLogged();
    await t.services.ingest.ingest(ws, 'identify', { userId: 'g2', traits: { city: '上海' } }, 100);
    await t.drain();
    await t.services.layers.settled();
    const [g1, g2] = [await profileOf(ws, 'g1'), await profileOf(ws, 'g2')];
    // Each from the batch and from its first layer write.
    expect(await logRows(ws.id, 'audiences')).toEqual([g1, g1, g2, g2]);
    // (Earlier tests' rows, logged before the bound, are taken with g1's.)
    await next.audienceEngine.recover({ upTo: bound });
    expect(await logRows(ws.id, 'audiences')).toEqual([g2, g2]);
    expect(await next.audienceEngine.recover()).toBe(2);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
  });

  it('an erased profile’s rows go without work', async () => {
    const { workspace: ws } = await t.workspace('erased');
    await t.services.ingest.ingest(ws, 'track', { userId: 'e1', event: 'Order Completed', properties: { total: 5 } }, 100);
    await t.drain();
    // This instance's layer work for the batch (a layer write logs a row for the engine) is done before the
    // erasure and the restart, as a process that stopped would have it: otherwise it may commit after recover().
    await t.services.layers.settled();
    const e1 = await profileOf(ws, 'e1');
    await t.services.profiles.erase(ws.id, e1, 'test');
    await t.services.layers.settled();
    const next = restarted();
    await next.audienceEngine.recover();
    await next.layers.recover();
    const left = await t.services.deps.store.db.selectFrom('derivation_log').select('seq').where('profile_id', '=', e1).execute();
    expect(left).toEqual([]);
  });

  it('a batch of two workspaces gives its log ranges with the last workspace only', async () => {
    const { workspace: a } = await t.workspace('two a');
    const { workspace: b } = await t.workspace('two b');
    const calls: { ws: string; log: unknown }[] = [];
    t.services.processor.onProfilesChanged((ws, _touched, _merged, _stats, _changes, log) => calls.push({ ws, log }));
    await t.services.ingest.ingest(a, 'identify', { userId: 'w1', traits: {} }, 100);
    await t.services.ingest.ingest(b, 'track', { userId: 'w2', event: 'Order Completed', properties: { total: 1 } }, 100);
    await t.drain();
    const mine = calls.filter((c) => c.ws === a.id || c.ws === b.id);
    expect(mine.map((c) => c.ws)).toEqual([a.id, b.id]);
    expect(mine[0]!.log).toBeUndefined();
    expect(mine[1]!.log).toEqual({ audiences: expect.any(Array), layers: expect.any(Array) });
  });

  it('a layer change records work for the engine too: its evaluation survives a crash after the batch’s', async () => {
    const { workspace: ws } = await t.workspace('layer driven');
    const segment = await t.services.segments.create(ws.id, { name: '新客', definition: { version: 1, condition: { lifecycle: 'new' } } });
    await t.services.ingest.ingest(ws, 'track', { userId: 'n1', event: 'Order Completed', properties: { total: 30 } }, 100);
    await t.drain();
    await t.services.layers.settled();
    const n1 = await profileOf(ws, 'n1');
    // One row from the batch, one from the layer write that made n1 `new`.
    expect(await logRows(ws.id, 'audiences')).toEqual([n1, n1]);
    const next = restarted();
    await next.audienceEngine.recover();
    expect(await members(next, ws.id, segment.id)).toEqual([n1]);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
  });

  it('an unmerge records both profiles for the engine and the layers, in its own transaction', async () => {
    const { workspace: ws } = await t.workspace('unmerged');
    const segment = await t.services.segments.create(ws.id, { name: '买过', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: 'ever' } } });
    // A customer, an anonymous visitor who ordered, then a login linking the two: the visitor merges in.
    await t.services.ingest.ingest(ws, 'identify', { userId: 'u1', traits: {} }, 100);
    await t.services.ingest.ingest(ws, 'track', { anonymousId: 'dev-u', event: 'Order Completed', properties: { total: 9 } }, 100);
    await t.drain();
    await t.services.ingest.ingest(ws, 'identify', { userId: 'u1', anonymousId: 'dev-u', traits: {} }, 100);
    await t.drain();
    await t.services.layers.settled();
    const survivor = await profileOf(ws, 'u1');
    const next = restarted();
    await next.audienceEngine.recover();
    await next.layers.settled();
    expect(await members(next, ws.id, segment.id)).toEqual([survivor]);
    const view = await t.services.profiles.get(ws.id, survivor);
    const mergeId = (view as unknown as { merges: { id: string }[] }).merges[0]!.id;
    const { restoredProfileId } = await t.services.profiles.unmerge(ws.id, survivor, mergeId, 'test');
    await t.services.layers.settled();
    // This instance's engine does not follow: the unmerge's evaluation is "cut off", its rows wait — one per
    // profile from the unmerge, one per profile from the layer writes it caused (both stages moved).
    expect((await logRows(ws.id, 'audiences')).sort()).toEqual([survivor, survivor, restoredProfileId, restoredProfileId].sort());
    await next.audienceEngine.recover();
    // The order was the anonymous visitor's: back with it, and out of the survivor.
    expect(await members(next, ws.id, segment.id)).toEqual([restoredProfileId]);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
  });

  it('a profile merged away before recovery hands its memberships to the survivor', async () => {
    const { workspace: ws } = await t.workspace('merged');
    const vip = await t.services.tags.create(ws.id, { name: 'VIP' });
    await t.services.ingest.ingest(ws, 'identify', { anonymousId: 'dev-m', traits: {} }, 100);
    await t.drain();
    const anon = (await t.services.profiles.lookup(ws.id, 'anonymous_id', 'dev-m')).id;
    await t.services.tags.applyToProfile(ws.id, anon, { tagId: vip.id }, 'test');
    // The identify that merges the anonymous profile into a new customer's; its evaluation is cut off.
    await t.services.ingest.ingest(ws, 'identify', { userId: 'm1', anonymousId: 'dev-m', traits: { phone: '13800138000' } }, 100);
    await t.drain();
    await t.services.layers.settled();
    const survivor = await profileOf(ws, 'm1');
    expect(await logRows(ws.id, 'audiences')).toContain(anon);

    const next = restarted();
    await next.audienceEngine.recover();
    const tagged = await t.services.deps.store.db.selectFrom('profile_tags').select('profile_id').where('tag_id', '=', vip.id).execute();
    expect(tagged.map((r) => r.profile_id)).toEqual([survivor]);
    expect(await logRows(ws.id, 'audiences')).toEqual([]);
  });
});
