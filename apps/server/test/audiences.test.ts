import { isolatedTestBackend as isolatedBackend } from '@siyu/storage/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { testClock } from '@siyu/services/testing';
import type { ProfileSummary, ProfileView } from '@siyu/services';
import { api, createServerHarness, type ErrorBody, type Page, type ServerHarness } from './harness.ts';

const NOW = '2026-03-01T08:00:00.000Z';


interface SegmentBody {
  id: string;
  name: string;
  count: number;
  version: number;
  definition: unknown;
  warnings?: { path: string; message: string }[];
}

interface CountBody {
  count: number;
  sample: ProfileSummary[];
  method: 'bitmap' | 'bulk';
  warnings: { path: string; message: string }[];
}

describe.each(TEST_BACKENDS)('audiences API on $name', (backend) => {
  let h: ServerHarness;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const isolated = await isolatedBackend(backend);
    drop = isolated.drop;
    h = await createServerHarness(isolated.backend, { clock: testClock(NOW) });
  });
  afterAll(async () => {
    await h.close();
    await drop();
  });

  async function settle(): Promise<void> {
    await h.t.drain();
    await h.t.services.layers.settled();
    await h.t.services.audienceEngine.settled();
  }

  /** A workspace with `n` people: user ids u0…, phones, names, some orders. */
  async function seeded(label: string, n = 5) {
    const { workspace, adminToken } = await h.t.workspace(label);
    const phones: string[] = [];
    for (let i = 0; i < n; i++) {
      const phone = `1390013900${i}`;
      phones.push(phone);
      const name = i === 1 ? 'Zhang, "Big" San' : i === 2 ? '=HYPERLINK("http://x")' : `User ${i}`;
      await h.t.services.ingest.ingest(workspace, 'identify', { userId: `u${i}`, traits: { name, phone, city: i % 2 ? '上海' : '北京' } }, 10);
      if (i % 2) await h.t.services.ingest.ingest(workspace, 'track', { userId: `u${i}`, event: 'Order Completed', properties: { total: 10 * i } }, 10);
    }
    await settle();
    return { workspace, token: adminToken, phones };
  }

  it('validation errors answer 400 with every problem and its path; warnings come back in 2xx bodies', async () => {
    const { token } = await seeded('validation', 2);
    const bad = await api<ErrorBody>(h.app, token, 'POST', '/api/v1/segments', {
      name: 'bad',
      definition: { version: 2, condition: { all: [{ trait: 'city', op: 'gt', value: 1 }, { event: 'Order Completed', op: 'gte', value: '3' }, { lifecycle: 'sleepy' }] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
    expect(bad.body.error.details!.problems!.map((p) => p.path)).toEqual([
      'definition.version',
      'definition.condition.all[0].op',
      'definition.condition.all[1].value',
      'definition.condition.all[2].lifecycle',
    ]);
    const missing = await api<ErrorBody>(h.app, token, 'POST', '/api/v1/segments', { description: 'no name' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details!.problems!.map((p) => p.path).sort()).toEqual(['definition', 'name']);
    const warned = await api<SegmentBody>(h.app, token, 'POST', '/api/v1/segments', { name: 'warned', definition: { version: 1, condition: { trait: 'shoe_size', op: 'exists' } } });
    expect(warned.status).toBe(201);
    expect(warned.body.warnings).toEqual([{ path: 'definition.condition.trait', message: expect.stringContaining('shoe_size') }]);
    const notJson = await h.app.request('/api/v1/segments', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('counts a definition live without saving: bitmap for tags/segments/layers, bulk otherwise', async () => {
    const { workspace, token } = await seeded('count');
    const vip = await api<{ id: string }>(h.app, token, 'POST', '/api/v1/tags', { name: 'VIP' });
    const lapsed = await api<{ id: string }>(h.app, token, 'POST', '/api/v1/tags', { name: '流失' });
    const apply = await api<{ applied: number }>(h.app, token, 'POST', `/api/v1/tags/${vip.body.id}/apply`, { type: 'user_id', values: ['u0', 'u1', 'u2'] });
    expect(apply.body.applied).toBe(3);
    await api(h.app, token, 'POST', `/api/v1/tags/${lapsed.body.id}/apply`, { type: 'user_id', values: ['u2', 'u3'] });

    const bitmap = await api<CountBody>(h.app, token, 'POST', '/api/v1/audiences/count', { definition: { version: 1, condition: { all: [{ tag: 'VIP', has: true }, { not: { tag: lapsed.body.id, has: true } }] } } });
    expect(bitmap.status).toBe(200);
    expect(bitmap.body).toMatchObject({ count: 2, method: 'bitmap', warnings: [] });
    expect(bitmap.body.sample.map((p) => p.identities.find((i) => i.type === 'user_id')?.value).sort()).toEqual(['u0', 'u1']);

    const bulk = await api<CountBody>(h.app, token, 'POST', '/api/v1/audiences/count', {
      definition: { version: 1, condition: { all: [{ tag: 'VIP', has: true }, { event: 'Order Completed', op: 'gte', value: 1 }, { trait: 'favourite', op: 'exists' }] } },
    });
    expect(bulk.body).toMatchObject({ count: 0, method: 'bulk' });
    expect(bulk.body.warnings.map((w) => w.path)).toEqual(['definition.condition.all[2].trait']);
    const buyers = await api<CountBody>(h.app, token, 'POST', '/api/v1/audiences/count', { definition: { version: 1, condition: { all: [{ tag: 'VIP', has: true }, { event: 'Order Completed', op: 'gte', value: 1 }] } } });
    expect(buyers.body).toMatchObject({ count: 1, method: 'bulk' });
    expect(buyers.body.sample[0]!.traits.name).toBe('Zhang, "Big" San');

    const invalid = await api<ErrorBody>(h.app, token, 'POST', '/api/v1/audiences/count', { definition: { version: 1, condition: { any: [] } } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details!.problems![0]!.path).toBe('definition.condition.any');
    expect((await api<ErrorBody>(h.app, token, 'POST', '/api/v1/audiences/count', {})).status).toBe(400);
    // Nothing was saved.
    expect((await api<{ data: unknown[] }>(h.app, token, 'GET', '/api/v1/segments')).body.data).toEqual([]);
    const catalog = await api<{ traits: { name: string; type: string | null }[]; events: string[] }>(h.app, token, 'GET', '/api/v1/audiences/catalog');
    expect(catalog.body.traits).toEqual(expect.arrayContaining([{ name: 'city', type: 'string' }]));
    expect(catalog.body.events).toEqual(expect.arrayContaining(['Order Completed', 'Tag Added']));
    void workspace;
  });

  it('segments: create, get with count, members paged, history, PUT recomputes, CSV export streams', async () => {
    const { workspace, token } = await seeded('segments', 5);
    const created = await api<SegmentBody>(h.app, token, 'POST', '/api/v1/segments', { name: '上海客户', definition: { version: 1, condition: { trait: 'city', op: 'eq', value: '上海' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ count: 2, version: 1 });
    const all = await api<SegmentBody>(h.app, token, 'PUT', `/api/v1/segments/${created.body.id}`, { definition: { version: 1, condition: { trait: 'city', op: 'in', value: ['上海', '北京'] } } });
    expect(all.body).toMatchObject({ count: 5, version: 2 });
    const got = await api<SegmentBody>(h.app, token, 'GET', `/api/v1/segments/${created.body.id}`);
    expect(got.body).toMatchObject({ name: '上海客户', count: 5, definition: { version: 1, condition: { trait: 'city', op: 'in', value: ['上海', '北京'] } } });

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page: { status: number; body: Page<ProfileSummary> } = await api<Page<ProfileSummary>>(h.app, token, 'GET', `/api/v1/segments/${created.body.id}/members?limit=2${q}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((p) => p.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort()).toEqual(seen);

    const history = await api<Page<{ action: string; reason: string }>>(h.app, token, 'GET', `/api/v1/segments/${created.body.id}/history?limit=50`);
    expect(history.body.data.filter((x) => x.reason === 'redefined').map((x) => x.action)).toEqual(['entered', 'entered', 'entered']);

    const res = await h.app.request(`/api/v1/segments/${created.body.id}/export?fields=id,traits.name,traits.phone,computed.total_spent,identities.user_id`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // A UTF-8 byte-order mark first, so Excel reads the Chinese right.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,traits.name,traits.phone,computed.total_spent,identities.user_id');
    expect(lines).toHaveLength(6);
    const u1 = await h.t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(lines).toContain(`${u1.id},"Zhang, ""Big"" San",+8613900139001,1000,u1`);
    // A cell a spreadsheet would run as a formula is defused; phone numbers are not touched.
    const u2 = await h.t.services.profiles.lookup(workspace.id, 'user_id', 'u2');
    expect(lines).toContain(`${u2.id},"'=HYPERLINK(""http://x"")",+8613900139002,0,u2`);
    const badFields = await api<ErrorBody>(h.app, token, 'GET', `/api/v1/segments/${created.body.id}/export?fields=id,password`);
    expect(badFields.status).toBe(400);
    expect(badFields.body.error.details!.problems).toEqual([{ path: 'fields[1]', message: expect.stringContaining('password') }]);
    expect((await api(h.app, token, 'GET', '/api/v1/segments/seg_nope')).status).toBe(404);
  });

  it('tags over HTTP: one person, bulk JSON and CSV, profile responses, delete refused while used', async () => {
    const { workspace, token, phones } = await seeded('tags', 3);
    const group = await api<{ id: string }>(h.app, token, 'POST', '/api/v1/tag-groups', { name: '来源' });
    expect(group.status).toBe(201);
    const tag = await api<{ id: string; kind: string }>(h.app, token, 'POST', '/api/v1/tags', { name: '门店', groupId: group.body.id, kind: 'imported', defaultTtlDays: 30 });
    expect(tag.status).toBe(201);
    const u0 = await h.t.services.profiles.lookup(workspace.id, 'user_id', 'u0');

    const one = await api<{ applied: boolean; tag: { expiresAt: string } }>(h.app, token, 'POST', `/api/v1/profiles/${u0.id}/tags`, { tagId: tag.body.id, expiresAt: '2026-04-01T00:00:00Z' });
    expect(one.status).toBe(201);
    expect(one.body.tag.expiresAt).toBe('2026-04-01T00:00:00.000Z');
    const profile = await api<ProfileView>(h.app, token, 'GET', `/api/v1/profiles/${u0.id}`);
    expect(profile.body.tags).toEqual([{ id: tag.body.id, name: '门店', source: 'manual', appliedBy: expect.stringMatching(/^admin:/), appliedAt: NOW, expiresAt: '2026-04-01T00:00:00.000Z' }]);
    const badApply = await api<ErrorBody>(h.app, token, 'POST', `/api/v1/profiles/${u0.id}/tags`, { tagId: tag.body.id, tagName: '门店' });
    expect(badApply.status).toBe(400);

    const csv = await h.app.request(`/api/v1/tags/${tag.body.id}/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: `phone\n${phones[1]}\n${phones[2]}\n13700000000\n`,
    });
    expect(csv.status).toBe(200);
    expect(await csv.json()).toMatchObject({ requested: 3, applied: 2, notFound: 1, unmatched: [{ type: 'phone', value: '13700000000', reason: 'not_found' }] });
    const u1 = await h.t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(u1.tags[0]).toMatchObject({ source: 'import', expiresAt: new Date(Date.parse(NOW) + 30 * 86_400_000).toISOString() });

    const removed = await api<{ removed: number; notFound: number }>(h.app, token, 'POST', `/api/v1/tags/${tag.body.id}/remove`, { identifiers: [{ type: 'phone', value: phones[1] }, { type: 'email', value: 'nobody@example.com' }] });
    expect(removed.body).toMatchObject({ removed: 1, notFound: 1 });
    const del = await api<{ removed: boolean }>(h.app, token, 'DELETE', `/api/v1/profiles/${u0.id}/tags/${tag.body.id}`);
    expect(del.body.removed).toBe(true);
    const listed = await api<{ data: { id: string; count: number }[] }>(h.app, token, 'GET', `/api/v1/tags?groupId=${group.body.id}`);
    expect(listed.body.data).toEqual([expect.objectContaining({ id: tag.body.id, count: 1 })]);
    const history = await api<Page<{ action: string; reason: string }>>(h.app, token, 'GET', `/api/v1/tags/${tag.body.id}/history`);
    expect(history.body.data.map((x) => `${x.action}:${x.reason}`)).toEqual(['exited:manual', 'exited:api', 'entered:import', 'entered:import', 'entered:manual']);

    const seg = await api<SegmentBody>(h.app, token, 'POST', '/api/v1/segments', { name: 'store visitors', definition: { version: 1, condition: { tag: tag.body.id, has: true } } });
    const conflict = await api<ErrorBody>(h.app, token, 'DELETE', `/api/v1/tags/${tag.body.id}`);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('CONFLICT');
    expect(conflict.body.error.details).toEqual({ dependants: [{ kind: 'segment', id: seg.body.id, name: 'store visitors' }] });
    expect((await api(h.app, token, 'DELETE', `/api/v1/segments/${seg.body.id}`)).status).toBe(200);
    expect((await api(h.app, token, 'DELETE', `/api/v1/tags/${tag.body.id}`)).status).toBe(200);
    expect((await api(h.app, token, 'GET', `/api/v1/tags/${tag.body.id}`)).status).toBe(404);
  });

  it('tag groups over HTTP: renamed, described, deleted once empty (refused with their tags before)', async () => {
    const { token } = await seeded('tag groups', 1);
    const group = await api<{ id: string }>(h.app, token, 'POST', '/api/v1/tag-groups', { name: '渠道' });
    await api(h.app, token, 'POST', '/api/v1/tag-groups', { name: '兴趣' });
    const renamed = await api<{ name: string; description: string | null }>(h.app, token, 'PUT', `/api/v1/tag-groups/${group.body.id}`, { name: '来源渠道', description: '客户从哪里来' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: group.body.id, name: '来源渠道', description: '客户从哪里来' });
    const taken = await api<ErrorBody>(h.app, token, 'PUT', `/api/v1/tag-groups/${group.body.id}`, { name: '兴趣' });
    expect(taken.status).toBe(409);
    const bad = await api<ErrorBody>(h.app, token, 'PUT', `/api/v1/tag-groups/${group.body.id}`, { name: '', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details!.problems!.map((p) => p.path).sort()).toEqual(['(root)', 'name']);
    const tag = await api<{ id: string }>(h.app, token, 'POST', '/api/v1/tags', { name: '小红书', groupId: group.body.id });
    const refused = await api<ErrorBody>(h.app, token, 'DELETE', `/api/v1/tag-groups/${group.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toEqual({ tags: [{ id: tag.body.id, name: '小红书' }] });
    expect((await api(h.app, token, 'PUT', `/api/v1/tags/${tag.body.id}`, { groupId: null })).status).toBe(200);
    expect((await api(h.app, token, 'DELETE', `/api/v1/tag-groups/${group.body.id}`)).status).toBe(200);
    expect((await api<{ data: { name: string }[] }>(h.app, token, 'GET', '/api/v1/tag-groups')).body.data.map((g) => g.name)).toEqual(['兴趣']);
    expect((await api(h.app, token, 'DELETE', `/api/v1/tag-groups/${group.body.id}`)).status).toBe(404);
  });

  it('workspace isolation: B cannot see, change or count A’s tags and segments', async () => {
    const a = await seeded('iso-a', 2);
    const b = await seeded('iso-b', 1);
    const tag = await api<{ id: string }>(h.app, a.token, 'POST', '/api/v1/tags', { name: 'A only' });
    const seg = await api<SegmentBody>(h.app, a.token, 'POST', '/api/v1/segments', { name: 'A seg', definition: { version: 1, condition: { tag: 'A only', has: false } } });
    const aProfile = await h.t.services.profiles.lookup(a.workspace.id, 'user_id', 'u0');
    expect((await api(h.app, b.token, 'GET', `/api/v1/tags/${tag.body.id}`)).status).toBe(404);
    expect((await api(h.app, b.token, 'PUT', `/api/v1/tags/${tag.body.id}`, { name: 'stolen' })).status).toBe(404);
    const group = await api<{ id: string }>(h.app, a.token, 'POST', '/api/v1/tag-groups', { name: 'A group' });
    expect((await api(h.app, b.token, 'PUT', `/api/v1/tag-groups/${group.body.id}`, { name: 'stolen' })).status).toBe(404);
    expect((await api(h.app, b.token, 'DELETE', `/api/v1/tag-groups/${group.body.id}`)).status).toBe(404);
    expect((await api<{ data: { name: string }[] }>(h.app, a.token, 'GET', '/api/v1/tag-groups')).body.data.map((g) => g.name)).toEqual(['A group']);
    expect((await api(h.app, b.token, 'DELETE', `/api/v1/segments/${seg.body.id}`)).status).toBe(404);
    expect((await api(h.app, b.token, 'GET', `/api/v1/segments/${seg.body.id}/members`)).status).toBe(404);
    expect((await api(h.app, b.token, 'GET', `/api/v1/segments/${seg.body.id}/export`)).status).toBe(404);
    expect((await api(h.app, b.token, 'POST', `/api/v1/tags/${tag.body.id}/apply`, { type: 'user_id', values: ['u0'] })).status).toBe(404);
    expect((await api(h.app, b.token, 'POST', `/api/v1/profiles/${aProfile.id}/tags`, { tagId: tag.body.id })).status).toBe(404);
    const count = await api<ErrorBody>(h.app, b.token, 'POST', '/api/v1/audiences/count', { definition: { version: 1, condition: { segment: seg.body.id, in: true } } });
    expect(count.status).toBe(400);
    expect((await api<{ data: unknown[] }>(h.app, b.token, 'GET', '/api/v1/segments')).body.data).toEqual([]);
    expect((await api<CountBody>(h.app, b.token, 'POST', '/api/v1/audiences/count', { definition: { version: 1, condition: { not: { tag: 'A only', has: true } } } })).status).toBe(400);
    expect((await api<SegmentBody>(h.app, a.token, 'GET', `/api/v1/segments/${seg.body.id}`)).body.count).toBe(2);
    expect((await api(h.app, null, 'GET', '/api/v1/segments')).status).toBe(401);
  });

  it('the OpenAPI document lists the audience routes', async () => {
    const doc = await api<{ paths: Record<string, object> }>(h.app, null, 'GET', '/api/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/tags', '/api/v1/tags/{id}/apply', '/api/v1/segments/{id}/export', '/api/v1/audiences/count', '/api/v1/profiles/{id}/tags']));
  });
});
