import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProfileState, type EventRow, type ProfileRow } from '@siyu/core';
import { AudienceBitmaps, AudienceStore, openStore, type OpenedStore } from '../src/index.ts';
import { openTestStore, TEST_BACKENDS } from '../src/testing.ts';

const T0 = '2026-02-01T00:00:00.000Z';

describe.each(TEST_BACKENDS)('AudienceStore on $name', (backend) => {
  let opened: OpenedStore;
  let store: AudienceStore;
  beforeAll(async () => {
    opened = await openTestStore(backend);
    store = new AudienceStore(opened.store);
  });
  afterAll(async () => opened.close());

  const ws = () => `ws_${randomUUID()}`;

  function profile(workspaceId: string, id: string, traits: Record<string, unknown> = {}): ProfileRow {
    return { id, workspaceId, mergedInto: null, createdAt: T0, updatedAt: T0, ...emptyProfileState(), traits };
  }

  function event(workspaceId: string, profileId: string, type: EventRow['type'], name: string | null, timestamp: string, properties: Record<string, unknown> = {}): EventRow {
    const id = randomUUID();
    return { id, workspaceId, profileId, originProfileId: profileId, messageId: id, type, event: name, traits: {}, properties, context: {}, timestamp, receivedAt: timestamp };
  }

  async function seed(workspaceId: string, n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, (_, i) => `prof_${workspaceId.slice(3)}_${i}`);
    await opened.store.upsertProfiles(ids.map((id, i) => profile(workspaceId, id, { i })));
    return ids;
  }

  it('versions: evaluation rows and profileVersions agree until the profile or its layers are written', async () => {
    const w = ws();
    const [a, b] = await seed(w, 2);
    await opened.store.db.insertInto('profile_layers').values({ profile_id: b!, workspace_id: w, lifecycle: 'active', rfm_r: 5, rfm_f: 4, rfm_m: 3, rfm_segment: 'Champions', lifecycle_changes_at: null, updated_at: T0 }).execute();
    for (const layers of [true, false]) {
      const rows = await store.evaluationPage(w, { ids: [a!, b!] }, { events: null, layers, versions: true });
      const now = await store.profileVersions(w, [a!, b!, 'prof_missing'], layers);
      expect(new Map(rows.map((r) => [r.id, r.version]))).toEqual(now);
    }
    const before = await store.profileVersions(w, [a!, b!], true);
    await opened.store.db.updateTable('profile_layers').set({ lifecycle: 'silent', updated_at: '2026-02-02T00:00:00.000Z' }).where('profile_id', '=', b!).execute();
    await opened.store.upsertProfiles([{ ...profile(w, a!, { i: 9 }), updatedAt: '2026-02-02T00:00:00.000Z' }]);
    const after = await store.profileVersions(w, [a!, b!], true);
    expect(after.get(a!)).not.toBe(before.get(a!));
    expect(after.get(b!)).not.toBe(before.get(b!));
    // Without layers, only the profile row counts.
    expect((await store.profileVersions(w, [b!], false)).get(b!)).toBe(`${T0}|`);
    await opened.store.setMergedInto(w, b!, a!, '2026-02-03T00:00:00.000Z');
    expect([...(await store.profileVersions(w, [a!, b!], true)).keys()]).toEqual([a]);
  });

  it('a page whose profiles hold hundreds of thousands of events is read whole (no call-stack overflow)', { timeout: 60_000 }, async () => {
    const w = ws();
    const [a, b] = await seed(w, 2);
    // Written by one statement each (a loop of inserts would take the test's time): 2 × 70,000 events of one name,
    // past what a spread of one array into push() can take on the main thread (~125,000).
    for (const p of [a!, b!]) {
      await sql`
        with recursive n(i) as (select 1 union all select i + 1 from n where i < 70000)
        insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num)
        select ${p} || '_' || i, ${w}, ${p}, ${p}, ${p} || '_m' || i, 'track', 'Viewed', '{}', '{}', '{}', ${T0}, ${T0}, (select num from profiles where id = ${p})
        from n`.execute(opened.store.db);
    }
    const rows = await store.evaluationPage(w, { ids: [a!, b!] }, { events: { names: ['Viewed'], properties: [], since: null } });
    expect(rows.map((r) => r.events.length)).toEqual([70_000, 70_000]);
  });

  it.runIf(backend.name === 'sqlite')('dataVersion moves when another connection commits, the read token for any commit', async () => {
    const w = ws();
    const other = await openStore({ sqliteFile: opened.location, migrate: false });
    try {
      const v0 = opened.store.dataVersion();
      const t0 = opened.store.readToken();
      expect(v0).toBeTypeOf('number');
      await opened.store.transaction((tx) => tx.upsertProfiles([profile(w, `prof_${w.slice(3)}_own`)]));
      expect(opened.store.dataVersion()).toBe(v0);
      // The read token moves with this connection's own transactions as well.
      const t1 = opened.store.readToken();
      expect(t1).not.toBe(t0);
      await other.store.upsertProfiles([profile(w, `prof_${w.slice(3)}_other`)]);
      expect(opened.store.dataVersion()).not.toBe(v0);
      expect(opened.store.readToken()).not.toBe(t1);
    } finally {
      await other.close();
    }
  });

  it('membership writes bump the epoch once committed; rolled back, not at all', async () => {
    const w = ws();
    const [a] = await seed(w, 1);
    const epoch = opened.store.membershipEpoch;
    const tagId = `tag_${randomUUID()}`;
    const e0 = epoch.read();
    await opened.store.transaction(async (tx) => {
      await new AudienceStore(tx).insertProfileTags(w, [{ tagId, profileId: a!, source: 'manual', actor: 'x', appliedAt: T0, expiresAt: null }]);
      await new AudienceStore(tx).insertSegmentMembers(w, `seg_${randomUUID()}`, [a!], T0);
      expect(epoch.read()).toBe(e0);
    });
    expect(epoch.read()).toBe(e0 + 1);
    await expect(
      opened.store.transaction(async (tx) => {
        await new AudienceStore(tx).deleteProfileTags(w, tagId, [a!]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(epoch.read()).toBe(e0 + 1);
    // Outside a transaction: at once; a write that changed nothing does not count.
    await store.deleteProfileTags(w, tagId, [a!]);
    expect(epoch.read()).toBe(e0 + 2);
    await store.deleteProfileTags(w, tagId, [a!]);
    expect(epoch.read()).toBe(e0 + 2);
  });

  it('the memberships counter (SQLite) counts committed membership writes of any connection; absent on PostgreSQL', async () => {
    const w = ws();
    const [a] = await seed(w, 1);
    const tagId = `tag_${randomUUID()}`;
    const v0 = await opened.store.membershipVersion();
    if (backend.name !== 'sqlite') {
      expect(v0).toBeUndefined();
      return;
    }
    expect(v0).toBeTypeOf('number');
    await opened.store.transaction(async (tx) => {
      await new AudienceStore(tx).insertProfileTags(w, [{ tagId, profileId: a!, source: 'manual', actor: 'x', appliedAt: T0, expiresAt: null }]);
      await new AudienceStore(tx).insertSegmentMembers(w, `seg_${randomUUID()}`, [a!], T0);
    });
    expect(await opened.store.membershipVersion()).toBe(v0! + 1);
    await expect(
      opened.store.transaction(async (tx) => {
        await new AudienceStore(tx).deleteProfileTags(w, tagId, [a!]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await opened.store.membershipVersion()).toBe(v0! + 1);
    // Another process's write (a connection with an epoch of its own), outside a transaction: counted at once.
    const other = await openStore({ sqliteFile: opened.location, migrate: false });
    try {
      const epoch = opened.store.membershipEpoch.read();
      await new AudienceStore(other.store).deleteProfileTags(w, tagId, [a!]);
      expect(await opened.store.membershipVersion()).toBe(v0! + 2);
      expect(opened.store.membershipEpoch.read()).toBe(epoch);
      // A transaction that wrote no membership leaves it.
      await other.store.transaction((tx) => tx.upsertProfiles([profile(w, `prof_${w.slice(3)}_x`)]));
      expect(await opened.store.membershipVersion()).toBe(v0! + 2);
      // A row gone missing comes back with the next membership write (a check comparing "none" with "none" would never move).
      await opened.store.db.deleteFrom('sync_counters').where('name', '=', 'memberships').execute();
      expect(await opened.store.membershipVersion()).toBeUndefined();
      await store.insertProfileTags(w, [{ tagId, profileId: a!, source: 'manual', actor: 'x', appliedAt: T0, expiresAt: null }]);
      expect(await opened.store.membershipVersion()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('reads evaluation pages with tags, segments, layers and only the needed events', async () => {
    const w = ws();
    const [a, b, c] = await seed(w, 3);
    const tagId = `tag_${randomUUID()}`;
    const segId = `seg_${randomUUID()}`;
    await store.insertProfileTags(w, [{ tagId, profileId: a!, source: 'manual', actor: 'x', appliedAt: T0, expiresAt: null }]);
    await store.insertSegmentMembers(w, segId, [b!], T0);
    await opened.store.db.insertInto('profile_layers').values({ profile_id: c!, workspace_id: w, lifecycle: 'active', rfm_r: 5, rfm_f: 4, rfm_m: 3, rfm_segment: 'Champions', lifecycle_changes_at: null, updated_at: T0 }).execute();
    await opened.store.applyChanges({
      consumedSeqs: [],
      profiles: [],
      identities: [],
      merges: [],
      conflicts: [],
      events: [
        event(w, a!, 'track', 'Order Completed', '2026-01-30T00:00:00.000Z', { total: 5 }),
        event(w, a!, 'track', 'Order Completed', '2025-12-01T00:00:00.000Z'),
        event(w, a!, 'track', 'Other', '2026-01-30T00:00:00.000Z'),
        event(w, a!, 'page', 'Home', '2026-01-31T00:00:00.000+08:00'),
        event(w, b!, 'screen', 'Main', '2026-01-31T00:00:00.000Z'),
      ],
    });
    const rows = await store.evaluationPage(w, { afterNum: 0, limit: 10 }, { events: { names: ['Order Completed', 'Page Viewed'], properties: ['Order Completed'], since: '2026-01-15' } });
    expect(rows.map((r) => r.id)).toEqual([a, b, c]);
    const [ra, rb, rc] = rows;
    expect(ra!.tags).toEqual([{ tagId, source: 'manual', expiresAt: null }]);
    expect(ra!.traits).toEqual({ i: 0 });
    expect(ra!.events.map((e) => e.event).sort()).toEqual(['Order Completed', 'Page Viewed']);
    expect(ra!.events.find((e) => e.event === 'Order Completed')!.properties).toEqual({ total: 5 });
    expect(rb!.segments).toEqual([segId]);
    expect(rb!.events).toEqual([]);
    expect(rc!.layers).toEqual({ lifecycle: 'active', rfm: { r: 5, f: 4, m: 3, segment: 'Champions' } });
    expect(ra!.events.find((e) => e.event === 'Page Viewed')!).toMatchObject({ type: 'page', timestamp: '2026-01-31T00:00:00.000+08:00', properties: {} });
    const all = await store.evaluationPage(w, { ids: [a!] }, { events: { names: ['Order Completed'], properties: [], since: null } });
    expect(all[0]!.events).toHaveLength(2);
    // Names whose properties no condition reads come without them (from the index alone).
    expect(all[0]!.events.map((e) => e.properties)).toEqual([{}, {}]);
    // Keyset pages by number, and by explicit numbers.
    const page2 = await store.evaluationPage(w, { afterNum: ra!.num, limit: 1 }, { events: null });
    expect(page2.map((r) => r.id)).toEqual([b]);
    expect((await store.evaluationPage(w, { nums: [rc!.num, ra!.num] }, { events: null })).map((r) => r.id)).toEqual([a, c]);
    // A screen sees each row with its traits and segments, before its tags, layers and events are read; the rows it
    // rejects are left out and the rest are read whole.
    const seen: { id: string; tags: number; segments: string[]; layers: unknown; events: number }[] = [];
    const screenedPage = await store.evaluationPage(w, { afterNum: 0, limit: 10 }, {
      events: { names: ['Order Completed'], properties: [], since: null },
      screen: (row) => {
        seen.push({ id: row.id, tags: row.tags.length, segments: [...row.segments], layers: row.layers, events: row.events.length });
        return row.id !== a;
      },
    });
    expect(seen).toEqual([
      { id: a, tags: 0, segments: [], layers: null, events: 0 },
      { id: b, tags: 0, segments: [segId], layers: null, events: 0 },
      { id: c, tags: 0, segments: [], layers: null, events: 0 },
    ]);
    expect(screenedPage.map((r) => r.id)).toEqual([b, c]);
    expect(screenedPage[1]!.layers).toEqual({ lifecycle: 'active', rfm: { r: 5, f: 4, m: 3, segment: 'Champions' } });
    // A merged-away profile is never read.
    const screenedBefore = await store.evaluationPage(w, { afterNum: 0, limit: 10 }, { events: null });
    await opened.store.setMergedInto(w, b!, a!, T0);
    expect((await store.evaluationPage(w, { afterNum: 0, limit: 10 }, { events: null })).map((r) => r.id)).toEqual([a, c]);
    // Rows read before the merge, completed afterwards (a recompute's screen, then its transaction):
    // the merged-away profile is dropped, the others get their events.
    const completed = await store.completeRows(w, screenedBefore, { events: { names: ['Order Completed'], properties: [], since: null } });
    expect(completed.map((r) => r.id)).toEqual([a, c]);
    expect(completed[0]!.events.map((e) => e.timestamp).sort()).toEqual(['2025-12-01T00:00:00.000Z', '2026-01-30T00:00:00.000Z']);
    expect(completed[1]!.events).toEqual([]);
    expect(await store.idsOfNums(w, [rc!.num, rb!.num, ra!.num])).toEqual([a, c]);
    await store.insertTag({ id: tagId, workspaceId: w, groupId: null, name: 't', kind: 'manual', definition: null, description: null, defaultTtlDays: null, createdAt: T0, updatedAt: T0 });
    await store.insertSegment({ id: segId, workspaceId: w, name: 's', description: null, definition: { version: 1, condition: { tag: tagId, has: true } }, version: 1, createdAt: T0, updatedAt: T0, computedAt: null });
    expect([...(await store.memberNumPage(ws(), 'tag', tagId, 0, 10)).nums]).toEqual([]); // another workspace's tag
    // The bitmap loader reads memberships by number (merged-away ones included; it intersects with the canonical profiles).
    expect([...(await store.memberNumPage(w, 'tag', tagId, 0, 10)).nums]).toEqual([ra!.num]);
    expect([...(await store.memberNumPage(w, 'segment', segId, 0, 10)).nums]).toEqual([rb!.num]);
    expect([...(await store.memberNumPage(w, 'tag', tagId, ra!.num, 10)).nums]).toEqual([]);
    const layers = await store.layerCellPage(w, '', 10);
    expect(layers.cells.map((c) => ({ cell: c.cell, nums: [...c.nums] }))).toEqual([{ cell: { lifecycle: 'active', rfm: { r: 5, f: 4, m: 3, segment: 'Champions' } }, nums: [rc!.num] }]);
    expect(layers).toMatchObject({ rows: 1, last: c });
    expect(await store.profileNumPage(w, 0, 10)).toEqual([ra!.num, rc!.num]);
    // Event candidates: profiles with a track event of the name in a half-open text range of timestamps, one per event.
    const nums = async (...args: Parameters<AudienceStore['eventProfileNums']>) => [...(await store.eventProfileNums(...args))];
    expect(await nums(w, 'Order Completed', { since: '2026-01-15', before: null })).toEqual([ra!.num]);
    expect(await nums(w, 'Order Completed', { since: null, before: '2026-01-01' })).toEqual([ra!.num]);
    expect(await nums(w, 'Order Completed', { since: '2026-01-31', before: null })).toEqual([]);
    expect(await nums(w, 'Order Completed', { since: null, before: null })).toEqual([ra!.num, ra!.num]);
    // Bounds are inclusive below and exclusive above, so consecutive ranges read each event once.
    expect(await nums(w, 'Order Completed', { since: '2025-12-01T00:00:00.000Z', before: '2026-01-30T00:00:00.000Z' })).toEqual([ra!.num]);
    expect(await nums(w, 'Order Completed', { since: '2026-01-30T00:00:00.000Z', before: '2026-01-30T00:00:00.001Z' })).toEqual([ra!.num]);
    expect(await store.eventTimeBounds(w, 'Order Completed')).toEqual({ first: '2025-12-01T00:00:00.000Z', last: '2026-01-30T00:00:00.000Z' });
    expect(await store.eventTimeBounds(w, 'Home')).toBeNull();
    expect(await store.eventTimeBounds(ws(), 'Order Completed')).toBeNull(); // another workspace
    expect(await nums(w, 'Home', { since: null, before: null })).toEqual([]);
    expect(await store.eventNames(w)).toEqual(['Order Completed', 'Other', 'Page Viewed', 'Screen Viewed']);
  });

  it('reads only the named trait and computed keys when asked, keeping values, nulls and absent keys apart', async () => {
    const w = ws();
    const id = `prof_${w.slice(3)}_keys`;
    const traits = { city: '上海', age: 31, vip: false, note: null, address: { city: '杭州', zip: '310000' }, 'a.b': [1, 'x'], 城市: '北京', '$odd': 1 };
    const p = profile(w, id, traits);
    p.computed = { ...p.computed, total_spent: 12_300, event_counts: { 'Product Viewed': 4 } };
    await opened.store.upsertProfiles([p]);
    const page = (traitKeys?: string[], computedKeys?: string[]) =>
      store.evaluationPage(w, { ids: [id] }, { events: null, ...(traitKeys ? { traitKeys } : {}), ...(computedKeys ? { computedKeys } : {}) }).then((r) => r[0]!);
    const part = await page(['city', 'age', 'vip', 'note', 'address', 'a.b', '城市', 'missing'], ['total_spent', 'event_counts', 'nope']);
    // Each value as stored (strings, numbers, booleans, null, objects, arrays); absent keys stay absent.
    expect(part.traits).toEqual({ city: '上海', age: 31, vip: false, note: null, address: { city: '杭州', zip: '310000' }, 'a.b': [1, 'x'], 城市: '北京' });
    expect(Object.hasOwn(part.traits, 'missing')).toBe(false);
    expect(part.computed).toEqual({ total_spent: 12_300, event_counts: { 'Product Viewed': 4 } });
    // No keys: nothing decoded; no list: the whole objects; a key SQLite would take for a path: the whole object.
    expect((await page([], [])).traits).toEqual({});
    expect((await page()).traits).toEqual(traits);
    expect((await page(['$odd'])).traits).toEqual(traits);
  });

  it('memberships written before their profile has a number get it when numbers are ensured', async () => {
    const w = ws();
    const tagId = `tag_${randomUUID()}`;
    const segId = `seg_${randomUUID()}`;
    await store.insertTag({ id: tagId, workspaceId: w, groupId: null, name: 't', kind: 'manual', definition: null, description: null, defaultTtlDays: null, createdAt: T0, updatedAt: T0 });
    await store.insertSegment({ id: segId, workspaceId: w, name: 's', description: null, definition: { version: 1, condition: { tag: tagId, has: true } }, version: 1, createdAt: T0, updatedAt: T0, computedAt: null });
    const id = `prof_${w.slice(3)}_late`;
    await store.insertProfileTags(w, [{ tagId, profileId: id, source: 'import', actor: 'x', appliedAt: T0, expiresAt: null }]);
    await store.insertSegmentMembers(w, segId, [id], T0);
    const ordered = () => store.eventProfileNums(w, 'Order Completed', { since: null, before: null }).then((r) => [...r]);
    await opened.store.applyChanges({ consumedSeqs: [], profiles: [], identities: [], merges: [], conflicts: [], events: [event(w, id, 'track', 'Order Completed', T0)] });
    expect([...(await store.memberNumPage(w, 'tag', tagId, 0, 10)).nums]).toEqual([]);
    expect(await ordered()).toEqual([]);
    await opened.store.upsertProfiles([profile(w, id)]);
    await store.ensureNums(w, 1);
    const [num] = (await store.profileNums(w, [id])).map((n) => n.num);
    expect([...(await store.memberNumPage(w, 'tag', tagId, 0, 10)).nums]).toEqual([num]);
    expect([...(await store.memberNumPage(w, 'segment', segId, 0, 10)).nums]).toEqual([num]);
    expect(await ordered()).toEqual([num]);
    // Pages of one: the lowest number first, `last` continues.
    const other = `prof_${w.slice(3)}_other`;
    await opened.store.upsertProfiles([profile(w, other)]);
    await store.insertProfileTags(w, [{ tagId, profileId: other, source: 'import', actor: 'x', appliedAt: T0, expiresAt: null }]);
    const [otherNum] = (await store.profileNums(w, [other])).map((n) => n.num);
    const p1 = await store.memberNumPage(w, 'tag', tagId, 0, 1);
    expect({ nums: [...p1.nums], last: p1.last }).toEqual({ nums: [num], last: num });
    const p2 = await store.memberNumPage(w, 'tag', tagId, p1.last!, 1);
    expect({ nums: [...p2.nums], last: p2.last }).toEqual({ nums: [otherNum], last: otherNum });
    expect(await store.memberNumPage(w, 'tag', tagId, p2.last!, 1)).toEqual({ nums: new Uint32Array(0), last: null });
  });

  it('claims due re-evaluations with a lease; advancing keeps the earlier time', async () => {
    const w = ws();
    await store.setDue(w, [
      { profileId: 'p1', dueAt: '2026-02-01T00:00:00.000Z' },
      { profileId: 'p2', dueAt: '2026-02-03T00:00:00.000Z' },
      { profileId: 'p3', dueAt: '2026-02-01T12:00:00.000Z' },
    ]);
    await store.advanceDue(w, [
      { profileId: 'p2', dueAt: '2026-02-01T06:00:00.000Z' },
      { profileId: 'p3', dueAt: '2026-02-05T00:00:00.000Z' },
    ]);
    expect(Object.fromEntries(await store.dueOf(w, ['p1', 'p2', 'p3']))).toEqual({ p1: '2026-02-01T00:00:00.000Z', p2: '2026-02-01T06:00:00.000Z', p3: '2026-02-01T12:00:00.000Z' });
    // Scoped to this test's workspace: other tests share the table on PostgreSQL.
    const mine = async (now: string) => store.claimDue(now, '2099-01-01T00:00:00.000Z', 100, { workspaceId: w });
    const first = await mine('2026-02-01T07:00:00.000Z');
    expect(first.map((d) => d.profileId).sort()).toEqual(['p1', 'p2']);
    expect(await mine('2026-02-01T07:00:00.000Z')).toEqual([]);
    expect((await store.dueOf(w, ['p1'])).get('p1')).toBe('2099-01-01T00:00:00.000Z');
    await store.setDue(w, [{ profileId: 'p1', dueAt: null }]);
    expect((await store.dueOf(w, ['p1'])).has('p1')).toBe(false);
  });

  it('removes expired applications only, and pages history newest first', async () => {
    const w = ws();
    const tag = `tag_${randomUUID()}`;
    const [p1, p2, p3] = [1, 2, 3].map((i) => `prof_${randomUUID()}_${i}`) as [string, string, string];
    await store.insertProfileTags(w, [
      { tagId: tag, profileId: p1, source: 'api', actor: 'x', appliedAt: T0, expiresAt: '2026-02-02T00:00:00.000Z' },
      { tagId: tag, profileId: p2, source: 'api', actor: 'x', appliedAt: T0, expiresAt: '2026-03-01T00:00:00.000Z' },
      { tagId: tag, profileId: p3, source: 'api', actor: 'x', appliedAt: T0, expiresAt: null },
    ]);
    const expired = await store.expiredTagApplications('2026-02-10T00:00:00.000Z', 100, { workspaceId: w });
    expect(expired).toEqual([{ workspaceId: w, tagId: tag, profileId: p1 }]);
    expect(await store.deleteProfileTags(w, tag, [p1, p2, p3], { expiredBy: '2026-02-10T00:00:00.000Z' })).toEqual([p1]);
    expect((await store.allTagMemberIds(w, tag)).sort()).toEqual([p2, p3].sort());

    await store.insertHistory(
      ['a', 'b', 'c'].map((x, i) => ({ id: `mbh_${w}_${x}`, workspaceId: w, kind: 'segment' as const, refId: 'seg', profileId: `p${i}`, action: 'entered' as const, reason: 'event', at: `2026-02-0${i + 1}T00:00:00.000Z` })),
    );
    const first = await store.history(w, 'seg', { limit: 2 });
    expect(first.data.map((h) => h.id)).toEqual([`mbh_${w}_c`, `mbh_${w}_b`]);
    const second = await store.history(w, 'seg', { limit: 2, cursor: first.nextCursor! });
    expect(second).toEqual({ data: [expect.objectContaining({ id: `mbh_${w}_a` })], nextCursor: null });
  });

  it('membership writes keep every value as given: quotes, commas, braces, backslashes, Chinese, nulls, numbers', async () => {
    const w = ws();
    const [a, b] = await seed(w, 2);
    const odd = ['"quoted", {braced}', 'back\\slash \\" NULL', '会员,上海'];
    const tag = `tag_${randomUUID()}`;
    await store.insertProfileTags(w, [
      { tagId: tag, profileId: a!, source: 'api', actor: odd[0]!, appliedAt: T0, expiresAt: null },
      { tagId: tag, profileId: b!, source: 'import', actor: odd[1]!, appliedAt: T0, expiresAt: '2026-03-01T00:00:00.000Z' },
      // Already applied: kept as it was.
      { tagId: tag, profileId: a!, source: 'rule', actor: 'other', appliedAt: '2026-02-09T00:00:00.000Z', expiresAt: null },
    ]);
    const tags = await opened.store.db.selectFrom('profile_tags').select(['profile_id', 'source', 'actor', 'applied_at', 'expires_at', 'profile_num']).where('tag_id', '=', tag).orderBy('profile_id').execute();
    const nums = new Map((await opened.store.db.selectFrom('profiles').select(['id', 'num']).where('workspace_id', '=', w).execute()).map((r) => [r.id, r.num == null ? null : Number(r.num)]));
    expect(nums.get(a!)).toEqual(expect.any(Number));
    expect(tags.map((t) => ({ ...t, profile_num: t.profile_num == null ? null : Number(t.profile_num) }))).toEqual([
      { profile_id: a, source: 'api', actor: odd[0], applied_at: T0, expires_at: null, profile_num: nums.get(a!) },
      { profile_id: b, source: 'import', actor: odd[1], applied_at: T0, expires_at: '2026-03-01T00:00:00.000Z', profile_num: nums.get(b!) },
    ]);

    const seg = `seg_${randomUUID()}`;
    // A profile with no row yet gets no number.
    await store.insertSegmentMembers(w, seg, [a!, 'prof_unknown'], T0);
    await store.insertSegmentMembers(w, seg, [a!, b!], '2026-02-09T00:00:00.000Z', new Map([[b!, 777]]));
    const members = await opened.store.db.selectFrom('segment_members').select(['profile_id', 'workspace_id', 'entered_at', 'profile_num']).where('segment_id', '=', seg).orderBy('profile_id').execute();
    expect(members.map((m) => ({ ...m, profile_num: m.profile_num == null ? null : Number(m.profile_num) }))).toEqual([
      { profile_id: a, workspace_id: w, entered_at: T0, profile_num: nums.get(a!) },
      { profile_id: b, workspace_id: w, entered_at: '2026-02-09T00:00:00.000Z', profile_num: 777 },
      { profile_id: 'prof_unknown', workspace_id: w, entered_at: T0, profile_num: null },
    ]);

    await store.insertHistory([
      { id: `mbh_${w}_1`, workspaceId: w, kind: 'tag', refId: tag, profileId: a!, action: 'entered', reason: odd[2]!, at: T0, actor: odd[1]! },
      { id: `mbh_${w}_2`, workspaceId: w, kind: 'tag', refId: tag, profileId: b!, action: 'exited', reason: 'expired', at: T0 },
    ]);
    const history = await store.history(w, tag, { limit: 10 });
    expect(history.data.map((h) => [h.id, h.profileId, h.action, h.reason, h.actor ?? null])).toEqual([
      [`mbh_${w}_2`, b, 'exited', 'expired', null],
      [`mbh_${w}_1`, a, 'entered', odd[2], odd[1]],
    ]);
    await store.insertHistory([]);
    await store.insertProfileTags(w, []);
    await store.insertSegmentMembers(w, seg, [], T0);
  });

  it('a bitmap-only condition is set algebra over the loaded memberships', async () => {
    const b = new AudienceBitmaps();
    b.all.addMany([1, 2, 3, 4, 5]);
    b.tag('t1').addMany([1, 2, 3]);
    b.tag('t2').addMany([2, 3, 9]);
    b.setLayers(3, { lifecycle: 'active', rfm: { r: 5, f: 5, m: 5, segment: 'Champions' } });
    b.setLayers(4, { lifecycle: 'active', rfm: null });
    const resolve = (ref: string) => (ref === 'Red' ? 't1' : ref);
    expect(b.evaluate({ all: [{ tag: 'Red', has: true }, { tag: 't2', has: true }] }, resolve).toArray()).toEqual([2, 3]);
    expect(b.evaluate({ not: { tag: 't2', has: true } }, resolve).toArray()).toEqual([1, 4, 5]);
    expect(b.evaluate({ any: [{ lifecycle: 'active' }, { rfm: { r: [5] } }] }, resolve).toArray()).toEqual([3, 4]);
    b.setLayers(3, null);
    expect(b.evaluate({ rfm_segment: 'Champions' }, resolve).toArray()).toEqual([]);
    b.removeProfile(2);
    expect(b.evaluate({ tag: 't1', has: true }, resolve).toArray()).toEqual([1, 3]);
    expect(AudienceBitmaps.canEvaluate({ all: [{ tag: 'x', has: true }, { trait: 'a', op: 'exists' }] })).toBe(false);
    expect(b.leaf({ tag: 't2', has: true }, resolve)!.toArray()).toEqual([3]);
    expect(b.leaf({ tag: 't2', has: false }, resolve)!.toArray()).toEqual([1, 4, 5]);
    expect(b.leaf({ all: [{ tag: 't2', has: true }] }, resolve)).toBeNull();
    expect(b.leaf({ trait: 'a', op: 'exists' }, resolve)).toBeNull();
  });

  it('bulk layer loading matches per-profile updates', async () => {
    const bulk = new AudienceBitmaps();
    const one = new AudienceBitmaps();
    const champion = { lifecycle: 'active', rfm: { r: 5, f: 4, m: 5, segment: 'Champions' } };
    const prospect = { lifecycle: 'prospect', rfm: null };
    bulk.all.addMany([1, 2, 3]);
    one.all.addMany([1, 2, 3]);
    bulk.addLayers(Uint32Array.from([1, 3, 7]), champion);
    bulk.addLayers([2, 8], prospect);
    bulk.restrictLayersTo(bulk.all);
    one.setLayers(1, champion);
    one.setLayers(3, champion);
    one.setLayers(2, prospect);
    const dump = (b: AudienceBitmaps) => [b.lifecycle, b.rfmSegments, b.rfmScores.r, b.rfmScores.f, b.rfmScores.m].map((m) => [...m].map(([k, v]) => [k, v.toArray()]).sort());
    expect(dump(bulk)).toEqual(dump(one));
  });
});
