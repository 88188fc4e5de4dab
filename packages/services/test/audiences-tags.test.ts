import { describe, expect, it } from 'vitest';
import type { AppError, WorkspaceRecord } from '@siyu/core';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { TestSiyu } from '@siyu/services/testing';
import { isolatedSiyu } from './audiences-harness.ts';

const DAY = 86_400_000;

describe.each(TEST_BACKENDS)('tags on $name', (backend) => {
  let t!: TestSiyu;
  isolatedSiyu(backend, undefined, (made) => (t = made));

  async function settle(): Promise<void> {
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
  }

  /** A workspace with people identified by phone (p0…) and one by email. */
  async function people(name: string, n = 3): Promise<{ ws: WorkspaceRecord; phones: string[]; ids: string[] }> {
    const { workspace: ws } = await t.workspace(name);
    const phones = Array.from({ length: n }, (_, i) => `1380013800${i}`);
    for (const [i, phone] of phones.entries()) await t.services.ingest.ingest(ws, 'identify', { userId: `user-${i}`, traits: { phone, email: `p${i}@example.com` } }, 10);
    await settle();
    const ids = await Promise.all(phones.map(async (_, i) => (await t.services.profiles.lookup(ws.id, 'user_id', `user-${i}`)).id));
    return { ws, phones, ids };
  }

  const errorOf = async (p: Promise<unknown>): Promise<AppError> => {
    try {
      await p;
    } catch (e) {
      return e as AppError;
    }
    throw new Error('expected an error');
  };

  it('groups and tags: create, list with counts, profile responses carry tags with who/when/source', async () => {
    const { ws, ids } = await people('basics', 2);
    const group = await t.services.tags.createGroup(ws.id, { name: '兴趣偏好' });
    const tag = await t.services.tags.create(ws.id, { name: '咖啡爱好者', groupId: group.id });
    expect(tag).toMatchObject({ kind: 'manual', groupId: group.id, count: 0, definition: null });
    const applied = await t.services.tags.applyToProfile(ws.id, ids[0]!, { tagName: '咖啡爱好者' }, 'staff:wang');
    expect(applied).toMatchObject({ applied: true, tag: { id: tag.id, name: '咖啡爱好者', source: 'manual', appliedBy: 'staff:wang', appliedAt: t.clock().toISOString(), expiresAt: null } });
    const again = await t.services.tags.applyToProfile(ws.id, ids[0]!, { tagId: tag.id }, 'staff:wang');
    expect(again.applied).toBe(false);
    const view = await t.services.profiles.get(ws.id, ids[0]!);
    expect(view.tags).toEqual([{ id: tag.id, name: '咖啡爱好者', source: 'manual', appliedBy: 'staff:wang', appliedAt: t.clock().toISOString(), expiresAt: null }]);
    expect((await t.services.tags.list(ws.id, { groupId: group.id })).data.map((x) => [x.name, x.count])).toEqual([['咖啡爱好者', 1]]);
    expect((await t.services.tags.listGroups(ws.id)).data.map((g) => g.name)).toEqual(['兴趣偏好']);
    // Lists, segment members and count samples carry each person's tags too.
    const listed = await t.services.profiles.list(ws.id, { limit: 10 });
    expect(Object.fromEntries(listed.data.map((p) => [p.id, p.tags?.map((x) => x.name)]))).toEqual({ [ids[0]!]: ['咖啡爱好者'], [ids[1]!]: [] });
    const fans = await t.services.segments.create(ws.id, { name: '咖啡客', definition: { version: 1, condition: { tag: '咖啡爱好者', has: true } } });
    expect((await t.services.segments.members(ws.id, fans.id, { limit: 10 })).data.map((p) => [p.id, p.tags?.map((x) => x.appliedBy)])).toEqual([[ids[0], ['staff:wang']]]);
    const counted = await t.services.audiences.count(ws.id, { version: 1, condition: { tag: '咖啡爱好者', has: true } });
    expect(counted.sample.map((p) => p.tags?.map((x) => x.name))).toEqual([['咖啡爱好者']]);
    await t.services.segments.delete(ws.id, fans.id);
    // A history reads as people: each row carries the person's current name.
    await t.services.ingest.ingest(ws, 'identify', { userId: 'user-0', traits: { name: '王小明' } }, 10);
    await settle();
    const history = await t.services.tags.history(ws.id, tag.id, { limit: 10 });
    expect(history.data).toEqual([expect.objectContaining({ profileId: ids[0], action: 'entered', reason: 'manual', actor: 'staff:wang', profileName: '王小明' })]);
    // Who removed it is kept too.
    await t.services.tags.removeFromProfile(ws.id, ids[0]!, tag.id, 'staff:li');
    const after = await t.services.tags.history(ws.id, tag.id, { limit: 10 });
    expect(after.data.map((h) => [h.action, h.reason, h.actor])).toEqual([['exited', 'manual', 'staff:li'], ['entered', 'manual', 'staff:wang']]);
    await t.services.tags.applyToProfile(ws.id, ids[0]!, { tagId: tag.id }, 'staff:wang');
    const events = (await t.services.profiles.events(ws.id, ids[0]!, { limit: 10 })).data.filter((e) => e.event === 'Tag Added');
    expect(events.map((e) => e.properties)).toEqual([
      { tag_id: tag.id, tag_name: '咖啡爱好者', source: 'manual' },
      { tag_id: tag.id, tag_name: '咖啡爱好者', source: 'manual' },
    ]);
    await expect(t.services.tags.create(ws.id, { name: '咖啡爱好者' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(t.services.tags.applyToProfile(ws.id, ids[0]!, { tagName: 'nope' }, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('bulk apply and remove by identifiers, normalising like ingestion and reporting the unmatched', async () => {
    const { ws, phones, ids } = await people('bulk');
    const tag = await t.services.tags.create(ws.id, { name: '活动报名' });
    const result = await t.services.tags.applyBulk(
      ws.id,
      tag.id,
      { json: { identifiers: [{ type: 'phone', value: `+86 ${phones[0]}` }, { type: 'email', value: 'P1@Example.com' }, { type: 'phone', value: '13900000000' }, { type: 'phone', value: '12' }, { type: 'fax', value: 'x' }] } },
      'api:test',
    );
    expect(result).toMatchObject({ requested: 5, matched: 2, applied: 2, alreadyTagged: 0, notFound: 1, invalid: 2 });
    expect(result.unmatched).toEqual([
      expect.objectContaining({ type: 'phone', value: '12', reason: 'invalid' }),
      expect.objectContaining({ type: 'fax', value: 'x', reason: 'invalid' }),
      { type: 'phone', value: '13900000000', reason: 'not_found' },
    ]);
    const byValues = await t.services.tags.applyBulk(ws.id, tag.id, { json: { type: 'phone', values: phones } }, 'api:test');
    expect(byValues).toMatchObject({ matched: 3, applied: 1, alreadyTagged: 2, notFound: 0 });
    expect((await t.services.profiles.get(ws.id, ids[2]!)).tags[0]).toMatchObject({ source: 'api' });
    expect((await t.services.tags.get(ws.id, tag.id)).count).toBe(3);

    const removed = await t.services.tags.removeBulk(ws.id, tag.id, { json: { identifiers: [{ type: 'user_id', value: 'user-0' }, { type: 'user_id', value: 'nobody' }] } }, 'api:test');
    expect(removed).toMatchObject({ matched: 1, removed: 1, notTagged: 0, notFound: 1, unmatched: [{ type: 'user_id', value: 'nobody', reason: 'not_found' }] });
    expect((await t.services.tags.get(ws.id, tag.id)).count).toBe(2);
    const history = await t.services.tags.history(ws.id, tag.id, { limit: 10, profileId: ids[0] });
    expect(history.data.map((h) => [h.action, h.reason])).toEqual([
      ['exited', 'api'],
      ['entered', 'api'],
    ]);
    await expect(t.services.tags.applyBulk(ws.id, tag.id, { json: { values: ['x'] } }, 'x')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('bulk apply from CSV: a type,value header or a column named after an identifier type; imported tags record source import', async () => {
    const { ws, phones, ids } = await people('csv');
    const tag = await t.services.tags.create(ws.id, { name: '线下导入', kind: 'imported' });
    const csv1 = `type,value\r\nphone,${phones[0]}\r\nemail,"p1@example.com"\r\nphone,13900000001\r\n`;
    const r1 = await t.services.tags.applyBulk(ws.id, tag.id, { csv: csv1 }, 'api:test');
    expect(r1).toMatchObject({ requested: 3, applied: 2, notFound: 1, unmatched: [{ type: 'phone', value: '13900000001', reason: 'not_found' }] });
    const csv2 = `\uFEFFphone,name\n${phones[2]},张三\n\n${phones[0]},李四\n`;
    const r2 = await t.services.tags.applyBulk(ws.id, tag.id, { csv: csv2, expiresAt: new Date(t.clock().getTime() + 7 * DAY).toISOString() }, 'api:test');
    expect(r2).toMatchObject({ requested: 2, applied: 1, alreadyTagged: 1 });
    const p2 = await t.services.profiles.get(ws.id, ids[2]!);
    expect(p2.tags[0]).toMatchObject({ name: '线下导入', source: 'import', expiresAt: new Date(t.clock().getTime() + 7 * DAY).toISOString() });
    const bad = await errorOf(t.services.tags.applyBulk(ws.id, tag.id, { csv: 'name,city\n张三,上海\n' }, 'x'));
    expect(bad.code).toBe('INVALID_INPUT');
    expect(bad.message).toMatch(/type,value/);
    const removed = await t.services.tags.removeBulk(ws.id, tag.id, { csv: `user_id\nuser-0\nuser-1\n` }, 'x');
    expect(removed).toMatchObject({ removed: 2 });
    // A spreadsheet exported in China: 姓名,手机号 (with the phone written as people write it).
    const zh = await t.services.tags.applyBulk(ws.id, tag.id, { csv: `姓名,手机号\n张三,${phones[1]!.replace(/^(\d{3})(\d{4})/, '$1 $2 ')}\n` }, 'x');
    expect(zh).toMatchObject({ requested: 1, applied: 1 });
  });

  it('expiring applications are removed by the scheduler and recorded; default TTL per tag', async () => {
    const { ws, ids } = await people('expiry', 2);
    const trial = await t.services.tags.create(ws.id, { name: '试用会员', defaultTtlDays: 7 });
    const promo = await t.services.tags.create(ws.id, { name: '促销' });
    const seg = await t.services.segments.create(ws.id, { name: 'trial members', definition: { version: 1, condition: { tag: trial.id, has: true } } });
    await t.services.tags.applyToProfile(ws.id, ids[0]!, { tagId: trial.id }, 'staff');
    await t.services.tags.applyToProfile(ws.id, ids[1]!, { tagId: promo.id, expiresAt: new Date(t.clock().getTime() + 2 * DAY).toISOString() }, 'staff');
    expect((await t.services.profiles.get(ws.id, ids[0]!)).tags[0]).toMatchObject({ expiresAt: new Date(t.clock().getTime() + 7 * DAY).toISOString() });
    expect((await t.services.segments.get(ws.id, seg.id)).count).toBe(1);
    await expect(t.services.tags.applyToProfile(ws.id, ids[1]!, { tagId: promo.id, expiresAt: '2000-01-01T00:00:00Z' }, 'staff')).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    t.clock.advance(3 * DAY);
    expect((await t.services.audienceEngine.runDue(t.clock())).expiredTags).toBeGreaterThanOrEqual(1);
    expect((await t.services.profiles.get(ws.id, ids[1]!)).tags).toEqual([]);
    expect((await t.services.profiles.get(ws.id, ids[0]!)).tags).toHaveLength(1);
    t.clock.advance(5 * DAY);
    await t.services.audienceEngine.runDue(t.clock());
    expect((await t.services.profiles.get(ws.id, ids[0]!)).tags).toEqual([]);
    expect((await t.services.tags.history(ws.id, trial.id, { limit: 5 })).data[0]).toMatchObject({ profileId: ids[0], action: 'exited', reason: 'expired' });
    expect((await t.services.segments.get(ws.id, seg.id)).count).toBe(0);
    expect((await t.services.segments.history(ws.id, seg.id, { limit: 5 })).data[0]).toMatchObject({ action: 'exited', reason: 'expired' });
    const removedEvents = (await t.services.profiles.events(ws.id, ids[0]!, { limit: 20 })).data.filter((e) => e.event === 'Tag Removed');
    expect(removedEvents.map((e) => e.properties)).toEqual([{ tag_id: trial.id, tag_name: '试用会员', source: null }]);
  });

  it('deleting a tag or segment that definitions use is refused with the dependants; renaming a tag used by name too', async () => {
    const { ws } = await people('dependants', 1);
    const vip = await t.services.tags.create(ws.id, { name: 'VIP' });
    const s1 = await t.services.segments.create(ws.id, { name: 'vips', definition: { version: 1, condition: { tag: 'VIP', has: true } } });
    const rule = await t.services.tags.create(ws.id, { name: 'in vips', kind: 'rule', definition: { version: 1, condition: { segment: s1.id, in: true } } });
    const tagErr = await errorOf(t.services.tags.delete(ws.id, vip.id));
    expect(tagErr.code).toBe('CONFLICT');
    expect(tagErr.details).toEqual({ dependants: [{ kind: 'segment', id: s1.id, name: 'vips' }] });
    const segErr = await errorOf(t.services.segments.delete(ws.id, s1.id));
    expect(segErr.code).toBe('CONFLICT');
    expect(segErr.details).toEqual({ dependants: [{ kind: 'tag', id: rule.id, name: 'in vips' }] });
    await expect(t.services.tags.update(ws.id, vip.id, { name: 'V.I.P.' })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Remove the dependants, then deletion goes through.
    await t.services.tags.delete(ws.id, rule.id);
    await t.services.segments.delete(ws.id, s1.id);
    await t.services.tags.delete(ws.id, vip.id);
    await expect(t.services.tags.get(ws.id, vip.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.segments.get(ws.id, s1.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('event property filters and measures are checked against the types the event’s latest occurrences carry', async () => {
    const { ws } = await people('property types', 1);
    await t.services.ingest.ingest(ws, 'track', { userId: 'p', event: 'Order Completed', properties: { total: 99.5, category: '咖啡', mixed: 1, shipping: { city: '上海' } } }, 10);
    await t.services.ingest.ingest(ws, 'track', { userId: 'p', event: 'Order Completed', properties: { total: 20, category: '茶', mixed: 'x' } }, 10);
    await t.drain();
    const definition = (condition: unknown) => ({ name: `s${Math.random()}`, definition: { version: 1, condition } });
    const err = await errorOf(
      t.services.segments.create(ws.id, definition({ event: 'Order Completed', where: [{ property: 'category', op: 'gt', value: 3 }], measure: { sum: 'category' }, op: 'gte', value: 1 })),
    );
    expect((err.details as { problems: { path: string }[] }).problems.map((p) => p.path).sort()).toEqual(['definition.condition.measure.sum', 'definition.condition.where[0].op']);
    // Right types pass; a property never seen is a warning (it may come later); one seen with two types is not checked.
    const ok = await t.services.segments.create(
      ws.id,
      definition({ event: 'Order Completed', where: [{ property: 'shipping.city', op: 'eq', value: '上海' }, { property: 'coupon', op: 'exists' }, { property: 'mixed', op: 'gt', value: 0 }], measure: { sum: 'total' }, op: 'gte', value: 50 }),
    );
    expect(ok.warnings.map((w) => w.path)).toEqual(['definition.condition.where[1].property']);
  });

  it('definitions are validated against the workspace with every problem and its path; cycles through rule tags are refused', async () => {
    const { ws } = await people('validation', 1);
    await t.services.ingest.ingest(ws, 'identify', { userId: 'v', traits: { age: 30, city: '上海' } }, 10);
    await settle();
    const err = await errorOf(
      t.services.segments.create(ws.id, {
        name: '',
        definition: { version: 1, condition: { all: [{ trait: 'age', op: 'gt', value: 'old' }, { tag: 'missing', has: true }, { event: 'Order Completed', op: 'gte' }] } },
      }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    const problems = (err.details as { problems: { path: string }[] }).problems.map((p) => p.path);
    expect(problems).toEqual(expect.arrayContaining(['name', 'definition.condition.all[0].value', 'definition.condition.all[1].tag', 'definition.condition.all[2].value']));
    // Unknown traits and events are warnings, returned with the saved segment.
    const ok = await t.services.segments.create(ws.id, { name: 'warned', definition: { version: 1, condition: { any: [{ trait: 'favourite_colour', op: 'eq', value: 'red' }, { event: 'Never Seen', op: 'gte', value: 1 }] } } });
    expect(ok.warnings.map((w) => w.path)).toEqual(['definition.condition.any[0].trait', 'definition.condition.any[1].event']);
    // A cycle: segment A → rule tag T → segment A.
    const a = await t.services.segments.create(ws.id, { name: 'A', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    const tag = await t.services.tags.create(ws.id, { name: 'T', kind: 'rule', definition: { version: 1, condition: { segment: a.id, in: true } } });
    const cycle = await errorOf(t.services.segments.update(ws.id, a.id, { definition: { version: 1, condition: { tag: tag.id, has: true } } }));
    expect(cycle.code).toBe('INVALID_INPUT');
    expect((cycle.details as { problems: { path: string; message: string }[] }).problems).toEqual([{ path: 'definition.condition.tag', message: expect.stringMatching(/depends back on this segment/) }]);
    const self = await errorOf(t.services.segments.update(ws.id, a.id, { definition: { version: 1, condition: { segment: a.id, in: false } } }));
    expect((self.details as { problems: { message: string }[] }).problems[0]!.message).toMatch(/cannot refer to itself/);
    // The cycle is reported with the definition's other problems, not only when it is the only one.
    const both = await errorOf(t.services.segments.update(ws.id, a.id, { definition: { version: 1, condition: { all: [{ trait: 'city', op: 'gt', value: 1 }, { tag: tag.id, has: true }] } } }));
    expect((both.details as { problems: { path: string }[] }).problems.map((p) => p.path)).toEqual(['definition.condition.all[0].op', 'definition.condition.all[1].tag']);
    // So is a tag group that does not exist, beside other problems of the tag.
    const tagProblems = await errorOf(t.services.tags.create(ws.id, { name: '', kind: 'weird', groupId: 'tgrp_nope' }));
    expect((tagProblems.details as { problems: { path: string }[] }).problems.map((p) => p.path).sort()).toEqual(['groupId', 'kind', 'name']);
    await expect(t.services.tags.create(ws.id, { name: 'R', kind: 'rule' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(t.services.tags.create(ws.id, { name: 'M', definition: { version: 1, condition: { lifecycle: 'new' } } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('workspaces are isolated: another workspace cannot see, apply, count or delete', async () => {
    const a = await people('iso-a', 1);
    const { workspace: b } = await t.workspace('iso-b');
    const tag = await t.services.tags.create(a.ws.id, { name: 'secret' });
    const seg = await t.services.segments.create(a.ws.id, { name: 'secret seg', definition: { version: 1, condition: { tag: 'secret', has: false } } });
    await expect(t.services.tags.get(b.id, tag.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.tags.delete(b.id, tag.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.tags.applyToProfile(b.id, a.ids[0]!, { tagId: tag.id }, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.segments.members(b.id, seg.id, { limit: 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.services.audiences.count(b.id, { version: 1, condition: { segment: seg.id, in: true } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await t.services.audiences.count(b.id, { version: 1, condition: { computed: 'event_count', op: 'gte', value: 0 } })).count).toBe(0);
    expect((await t.services.tags.list(b.id)).data).toEqual([]);
    expect((await t.services.segments.get(a.ws.id, seg.id)).count).toBe(1);
  });
});
