import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { ProfileSummary, ProfileView } from '@siyu/services';
import { testClock } from '@siyu/services/testing';
import { createApp } from '../src/index.ts';
import { allEvents, allProfiles, api, createServerHarness, lookup, send, uniq, uniquePhone, type ErrorBody, type EventView, type Page, type ServerHarness } from './harness.ts';

const NOW = '2026-03-01T08:00:00.000Z';
const at = (offsetMs: number) => new Date(Date.parse(NOW) + offsetMs).toISOString();
const enc = encodeURIComponent;

interface Conflict {
  id: string;
  messageId: string;
  profileId: string;
  otherProfileId: string | null;
  identifierType: string;
  identifierValue: string;
  reason: string;
}

/** A workspace holding one merged person (with a refused merge) and its keys. */
interface Seeded {
  workspaceId: string;
  writeKey: string;
  adminToken: string;
  userId: string;
  otherUserId: string;
  anonId: string;
  phone: string;
  phoneE164: string;
  email: string;
  city: string;
  eventName: string;
  card: string;
  winnerId: string;
  loserId: string;
  mergeId: string;
  conflictId: string;
  /** The profile the refused merge's message went to. */
  otherProfileId: string;
}

describe.each(TEST_BACKENDS)('admin API on $name', (backend) => {
  let h: ServerHarness;
  beforeAll(async () => {
    h = await createServerHarness(backend, { clock: testClock(NOW) });
  });
  afterAll(async () => h.close());

  /**
   * One person seen first anonymously, then identified (merge of the anonymous profile into the
   * user's), plus a second user on the same anonymous id (a refused merge: at most one user_id).
   */
  async function seed(tag: string, instanceAdmin = false): Promise<Seeded> {
    const { workspace, writeKey, adminToken } = await h.t.workspace(`ws-${tag}`, { instanceAdmin });
    const id = uniq();
    const phone = uniquePhone();
    const s = {
      workspaceId: workspace.id,
      writeKey,
      adminToken,
      userId: `u-${tag}-${id}`,
      otherUserId: `u2-${tag}-${id}`,
      anonId: `a-${tag}-${id}`,
      phone,
      phoneE164: `+86${phone}`,
      email: `${tag}-${id}@example.com`,
      city: `城-${tag}-${id}`,
      eventName: `Purchase ${tag} ${id}`,
      card: `CARD-${tag}-${id}`,
    };
    const type = await api(h.app, adminToken, 'POST', '/api/v1/identity/types', { type: 'crm_card', priority: 85, maxPerProfile: 1 });
    expect(type.status, type.text).toBe(201);
    const r = await send(
      h.app,
      '/v1/batch',
      {
        batch: [
          { type: 'page', anonymousId: s.anonId, name: 'Landing', timestamp: at(-5000) },
          { type: 'identify', userId: s.userId, traits: { phone: s.phone, email: s.email, city: s.city }, timestamp: at(-4000) },
          { type: 'track', userId: s.userId, event: s.eventName, properties: { total: 99 }, context: { externalIds: [{ type: 'crm_card', id: s.card }] }, timestamp: at(-3000) },
          { type: 'identify', userId: s.userId, anonymousId: s.anonId, timestamp: at(-2000) },
          { type: 'identify', userId: s.otherUserId, anonymousId: s.anonId, timestamp: at(-1000) },
        ],
      },
      { writeKey },
    );
    expect(r.status, r.text).toBe(200);
    await h.t.drain();
    const winner = await lookup(h.app, adminToken, 'user_id', s.userId);
    const other = await lookup(h.app, adminToken, 'user_id', s.otherUserId);
    const merge = winner?.merges[0];
    const conflicts = await api<Page<Conflict>>(h.app, adminToken, 'GET', '/api/v1/identity/conflicts');
    const conflict = conflicts.body.data[0];
    if (!winner || !other || !merge || !conflict) throw new Error(`seed ${tag} did not produce a merge and a conflict`);
    return { ...s, winnerId: winner.id, loserId: merge.loserId, mergeId: merge.id, conflictId: conflict.id, otherProfileId: other.id };
  }

  describe('authentication', () => {
    it.each([
      ['no Authorization header', () => null],
      ['an unknown token', () => 'sat_unknown'],
      ['the write key instead of the admin token', (s: { writeKey: string }) => s.writeKey],
    ])('answers 401 with the error shape for %s', async (_name, token) => {
      const ws = await h.t.workspace();
      for (const path of ['/api/v1/profiles', '/api/v1/me', '/api/v1/identity/conflicts', '/api/v1/workspaces', '/api/v1/profiles/prof_x']) {
        const r = await api<ErrorBody>(h.app, token(ws), 'GET', path);
        expect(r.status, path).toBe(401);
        expect(r.body.error.code).toBe('UNAUTHENTICATED');
        expect(r.body.error.message).toMatch(/admin token/);
        expect(r.body.error.details).toEqual({ header: 'Authorization' });
      }
    });

    it.each([['null'], ['[]'], ['"mergeId"'], ['{"mergeId":']])('answers 400 with the error shape for a body that is not a JSON object: %s', async (raw) => {
      const { adminToken } = await h.t.workspace();
      for (const [method, path] of [['POST', '/api/v1/profiles/prof_x/unmerge'], ['POST', '/api/v1/segments'], ['PUT', '/api/v1/layers/settings']] as const) {
        const r = await h.app.request(path, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: raw });
        const body = (await r.json()) as ErrorBody;
        expect(r.status, `${method} ${path}`).toBe(400);
        expect(body.error).toMatchObject({ code: 'INVALID_INPUT', details: { problems: [{ path: '(body)' }] } });
      }
    });

    it('answers 401 when the admin token is sent with the Basic scheme', async () => {
      const { adminToken } = await h.t.workspace();
      const res = await h.app.request('/api/v1/me', { headers: { authorization: `Basic ${Buffer.from(`${adminToken}:`).toString('base64')}` } });
      expect(res.status).toBe(401);
    });

    it('accepts the admin token with the Bearer scheme and says whose workspace it is', async () => {
      const { workspace, adminToken } = await h.t.workspace('我的工作区');
      const r = await api<{ workspace: { id: string; name: string }; instanceAdmin: boolean }>(h.app, adminToken, 'GET', '/api/v1/me');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ workspace: { id: workspace.id, name: '我的工作区' }, instanceAdmin: false });
    });
  });

  describe('GET /api/v1/profiles', () => {
    it('pages through every profile with limit and nextCursor', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const users = Array.from({ length: 5 }, (_, i) => `u${i}`);
      await send(h.app, '/v1/batch', { batch: users.map((u) => ({ type: 'identify', userId: u })) }, { writeKey });
      await h.t.drain();
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const r: Awaited<ReturnType<typeof api<Page<ProfileSummary>>>> = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?limit=2${cursor ? `&cursor=${enc(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        sizes.push(r.body.data.length);
        seen.push(...r.body.data.map((p) => p.identities.find((i) => i.type === 'user_id')!.value));
        cursor = r.body.nextCursor;
      } while (cursor && sizes.length < 10);
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen.sort()).toEqual(users);
    });

    it.each([['0'], ['501'], ['abc'], ['2.5'], ['-1'], ['']])('answers 400 for limit=%s', async (limit) => {
      const { adminToken } = await h.t.workspace();
      for (const path of ['/api/v1/profiles', '/api/v1/identity/conflicts', '/api/v1/profiles/prof_x/events']) {
        const r = await api<ErrorBody>(h.app, adminToken, 'GET', `${path}?limit=${limit}`);
        expect(r.status, path).toBe(400);
        expect(r.body.error.code).toBe('INVALID_INPUT');
        expect(r.body.error.details?.problems?.[0]?.path).toBe('limit');
      }
    });

    it('filters by a trait given URL-encoded (trait.city=上海), also while paging', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(
        h.app,
        '/v1/batch',
        {
          batch: [
            { type: 'identify', userId: 'sh1', traits: { city: '上海', age: 30 } },
            { type: 'identify', userId: 'sh2', traits: { city: '上海', age: 41 } },
            { type: 'identify', userId: 'bj1', traits: { city: '北京', age: 30 } },
            { type: 'identify', userId: 'none' },
          ],
        },
        { writeKey },
      );
      await h.t.drain();
      const ids = async (query: string) => {
        const r = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?${query}`);
        expect(r.status, r.text).toBe(200);
        return r.body.data.map((p) => p.identities.find((i) => i.type === 'user_id')?.value).sort();
      };
      expect(await ids(`trait.city=${enc('上海')}`)).toEqual(['sh1', 'sh2']);
      expect(await ids(`trait.city=${enc('北京')}`)).toEqual(['bj1']);
      expect(await ids(`trait.city=${enc('广州')}`)).toEqual([]);
      expect(await ids('trait.age=30')).toEqual(['bj1', 'sh1']);
      expect(await ids(`trait.city=${enc('上海')}&trait.age=41`)).toEqual(['sh2']);
      const first = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?trait.city=${enc('上海')}&limit=1`);
      expect(first.body.data).toHaveLength(1);
      expect(first.body.nextCursor).not.toBeNull();
      const second = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?trait.city=${enc('上海')}&limit=1&cursor=${enc(first.body.nextCursor!)}`);
      expect(second.body.data).toHaveLength(1);
      expect(second.body.data[0]?.id).not.toBe(first.body.data[0]?.id);
      expect(second.body.data[0]?.traits.city).toBe('上海');
    });

    it('filters by a boolean trait (trait.vip=true) the same on every backend', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(h.app, '/v1/batch', { batch: [{ type: 'identify', userId: 'vip', traits: { vip: true } }, { type: 'identify', userId: 'plain', traits: { vip: false } }] }, { writeKey });
      await h.t.drain();
      const r = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', '/api/v1/profiles?trait.vip=true');
      expect(r.body.data.map((p) => p.identities.find((i) => i.type === 'user_id')?.value)).toEqual(['vip']);
    });

    it('filters by an identifier, normalising the value like ingestion does', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(h.app, '/v1/batch', { batch: [{ type: 'identify', userId: 'p1', traits: { phone: '13800138000' } }, { type: 'identify', userId: 'p2', traits: { phone: '13900139000' } }] }, { writeKey });
      await h.t.drain();
      for (const value of ['13800138000', '+86 138-0013-8000']) {
        const r = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?identifierType=phone&identifierValue=${enc(value)}`);
        expect(r.status, r.text).toBe(200);
        expect(r.body.data.map((p) => p.identities.find((i) => i.type === 'user_id')?.value)).toEqual(['p1']);
      }
      for (const query of ['identifierType=phone', 'identifierValue=13800138000', 'identifierType=phone&identifierValue=12', 'identifierType=shoe_size&identifierValue=42']) {
        const r = await api<ErrorBody>(h.app, adminToken, 'GET', `/api/v1/profiles?${query}`);
        expect(r.status, query).toBe(400);
        expect(r.body.error.code).toBe('INVALID_INPUT');
      }
    });

    it('searches (?q=) by any identifier as written, a phone’s last digits, or the start of a name', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(
        h.app,
        '/v1/batch',
        {
          batch: [
            { type: 'identify', userId: 'jin', traits: { name: '金若曦', phone: '13350356537', email: 'Jin@Example.com' } },
            { type: 'identify', userId: 'wang', traits: { name: '王小明', nickname: '金子', phone: '13900139000', member_no: 'M-88' } },
            { type: 'identify', userId: 'li', traits: { name: '李_娜%', phone: '13700006537' } },
          ],
        },
        { writeKey },
      );
      await h.t.drain();
      const found = async (text: string) => {
        const r = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?q=${enc(text)}`);
        expect(r.status, r.text).toBe(200);
        return r.body.data.map((p) => p.identities.find((i) => i.type === 'user_id')?.value).sort();
      };
      expect(await found('133 5035 6537')).toEqual(['jin']);
      expect(await found('+8613350356537')).toEqual(['jin']);
      expect(await found('jin@example.COM')).toEqual(['jin']);
      expect(await found('6537')).toEqual(['jin', 'li']);
      expect(await found('金')).toEqual(['jin', 'wang']); // a name, and a nickname
      expect(await found('金若曦')).toEqual(['jin']);
      expect(await found('M-88')).toEqual(['wang']);
      expect(await found('wang')).toEqual(['wang']); // a user id
      // LIKE's wildcards are plain characters here.
      expect(await found('李_')).toEqual(['li']);
      expect(await found('_')).toEqual([]);
      expect(await found('%')).toEqual([]);
      expect(await found('nobody')).toEqual([]);
      // With a filter, both apply.
      const r = await api<Page<ProfileSummary>>(h.app, adminToken, 'GET', `/api/v1/profiles?q=${enc('金')}&trait.name=${enc('王小明')}`);
      expect(r.body.data.map((p) => p.traits.name)).toEqual(['王小明']);
    });
  });

  describe('one profile', () => {
    it('GET /profiles/{id} shows traits, identities and merges; a merged-away id answers with the survivor', async () => {
      const s = await seed('one');
      const r = await api<ProfileView>(h.app, s.adminToken, 'GET', `/api/v1/profiles/${s.winnerId}`);
      expect(r.status).toBe(200);
      expect(r.body.id).toBe(s.winnerId);
      expect(r.body.traits).toMatchObject({ city: s.city, phone: s.phoneE164, email: s.email });
      expect(r.body.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual([`anonymous_id=${s.anonId}`, `crm_card=${s.card}`, `email=${s.email}`, `phone=${s.phoneE164}`, `user_id=${s.userId}`].sort());
      expect(r.body.merges).toMatchObject([{ id: s.mergeId, winnerId: s.winnerId, loserId: s.loserId, undoneAt: null }]);
      const viaLoser = await api<ProfileView>(h.app, s.adminToken, 'GET', `/api/v1/profiles/${s.loserId}`);
      expect(viaLoser.status).toBe(200);
      expect(viaLoser.body.id).toBe(s.winnerId);
      const missing = await api<ErrorBody>(h.app, s.adminToken, 'GET', '/api/v1/profiles/prof_doesnotexist');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toMatchObject({ code: 'NOT_FOUND' });
      expect(missing.body.error.message).toContain('prof_doesnotexist');
    });

    it('GET /profiles/{id}/events lists the timeline newest first, across pages', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const times = [at(-50_000), at(-10_000), at(-40_000), at(-20_000), at(-30_000)];
      await send(h.app, '/v1/batch', { batch: times.map((timestamp, i) => ({ type: 'track', userId: 'tl', event: `E${i}`, timestamp })) }, { writeKey });
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'user_id', 'tl');
      const all = await allEvents(h.app, adminToken, p!.id);
      expect(all.map((e) => e.timestamp)).toEqual([...times].sort().reverse());
      const page1 = await api<Page<EventView>>(h.app, adminToken, 'GET', `/api/v1/profiles/${p!.id}/events?limit=2`);
      const page2 = await api<Page<EventView>>(h.app, adminToken, 'GET', `/api/v1/profiles/${p!.id}/events?limit=2&cursor=${enc(page1.body.nextCursor!)}`);
      const page3 = await api<Page<EventView>>(h.app, adminToken, 'GET', `/api/v1/profiles/${p!.id}/events?limit=2&cursor=${enc(page2.body.nextCursor!)}`);
      expect([...page1.body.data, ...page2.body.data, ...page3.body.data].map((e) => e.event)).toEqual(['E1', 'E3', 'E4', 'E2', 'E0']);
      expect(page3.body.nextCursor).toBeNull();
      expect((await api(h.app, adminToken, 'GET', '/api/v1/profiles/prof_nope/events')).status).toBe(404);
    });

    it('GET /profiles/{merged-away id}/events answers with the survivor’s whole timeline', async () => {
      const s = await seed('timeline');
      const viaLoser = await api<Page<EventView>>(h.app, s.adminToken, 'GET', `/api/v1/profiles/${s.loserId}/events`);
      expect(viaLoser.status).toBe(200);
      expect(viaLoser.body.data.map((e) => e.id)).toEqual((await allEvents(h.app, s.adminToken, s.winnerId)).map((e) => e.id));
      expect(viaLoser.body.data.map((e) => e.event)).toContain('Landing');
    });

    it('unknown admin routes answer 404 with the error shape', async () => {
      const { adminToken } = await h.t.workspace();
      for (const [method, path] of [['GET', '/api/v1/nothing-here'], ['POST', '/api/v1/profiles'], ['PUT', '/api/v1/profiles/prof_x']] as const) {
        const r = await api<ErrorBody>(h.app, adminToken, method, path);
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.body.error.code).toBe('NOT_FOUND');
      }
    });

    it('GET /profiles/lookup finds by a normalised identifier and explains bad queries', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(h.app, '/v1/identify', { userId: 'lk', traits: { phone: '13800138000', email: 'Mei@Example.com' } }, { writeKey });
      await h.t.drain();
      const found = await api<ProfileView>(h.app, adminToken, 'GET', '/api/v1/profiles/lookup?type=phone&value=13800138000');
      expect(found.status).toBe(200);
      expect(found.body.identities.map((i) => i.value)).toContain('lk');
      for (const [type, value] of [['phone', '+86 138 0013 8000'], ['email', 'MEI@example.COM'], ['user_id', ' lk ']] as const) {
        expect((await lookup(h.app, adminToken, type, value))?.id, `${type}=${value}`).toBe(found.body.id);
      }
      const bad: [string, number, string][] = [
        ['type=phone&value=12', 400, 'value'],
        ['type=shoe_size&value=42', 400, 'type'],
        ['type=phone', 400, 'value'],
        ['value=13800138000', 400, 'type'],
      ];
      for (const [query, status, path] of bad) {
        const r = await api<ErrorBody>(h.app, adminToken, 'GET', `/api/v1/profiles/lookup?${query}`);
        expect(r.status, query).toBe(status);
        expect(r.body.error.code).toBe('INVALID_INPUT');
        expect(r.body.error.details?.problems?.[0]?.path, query).toBe(path);
      }
      const invalidPhone = await api<ErrorBody>(h.app, adminToken, 'GET', '/api/v1/profiles/lookup?type=phone&value=12');
      expect(invalidPhone.body.error.message).toContain('"12"');
      const notFound = await api<ErrorBody>(h.app, adminToken, 'GET', '/api/v1/profiles/lookup?type=phone&value=13900139000');
      expect(notFound.status).toBe(404);
      expect(notFound.body.error.code).toBe('NOT_FOUND');
    });

    it('GET /profiles/{id}/export has everything held on the person', async () => {
      const s = await seed('export');
      const res = await h.app.request(`/api/v1/profiles/${s.loserId}/export`, { headers: { authorization: `Bearer ${s.adminToken}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
      const body = (await res.json()) as { profile: ProfileView; mergedProfileIds: string[]; events: EventView[]; identityConflicts: Conflict[] };
      expect(body.profile.id).toBe(s.winnerId);
      expect(body.mergedProfileIds).toEqual([s.loserId]);
      expect(body.events.map((e) => e.event ?? e.type).sort()).toEqual(['Landing', s.eventName, 'identify', 'identify'].sort());
      expect(body.identityConflicts.map((c) => c.id)).toEqual([s.conflictId]);
      expect((await api(h.app, s.adminToken, 'GET', '/api/v1/profiles/prof_nope/export')).status).toBe(404);
    });
  });

  describe('merges and conflicts', () => {
    it('POST /profiles/{id}/unmerge needs a mergeId and splits the profile back', async () => {
      const s = await seed('unmerge');
      const missing = await api<ErrorBody>(h.app, s.adminToken, 'POST', `/api/v1/profiles/${s.winnerId}/unmerge`, {});
      expect(missing.status).toBe(400);
      expect(missing.body.error.details?.problems?.[0]?.path).toBe('mergeId');
      expect((await api<ErrorBody>(h.app, s.adminToken, 'POST', `/api/v1/profiles/${s.winnerId}/unmerge`)).status).toBe(400);
      expect((await api<ErrorBody>(h.app, s.adminToken, 'POST', `/api/v1/profiles/${s.winnerId}/unmerge`, { mergeId: 'mrg_nope' })).status).toBe(404);

      const r = await api<{ profileId: string; restoredProfileId: string }>(h.app, s.adminToken, 'POST', `/api/v1/profiles/${s.winnerId}/unmerge`, { mergeId: s.mergeId });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ profileId: s.winnerId, restoredProfileId: s.loserId });

      expect((await lookup(h.app, s.adminToken, 'anonymous_id', s.anonId))?.id).toBe(s.loserId);
      const winner = await lookup(h.app, s.adminToken, 'user_id', s.userId);
      expect(winner?.id).toBe(s.winnerId);
      expect(winner?.identities.map((i) => i.type)).not.toContain('anonymous_id');
      expect(winner?.merges[0]).toMatchObject({ id: s.mergeId, undoneAt: expect.any(String) });
      const restored = await api<ProfileView>(h.app, s.adminToken, 'GET', `/api/v1/profiles/${s.loserId}`);
      expect(restored.body.id).toBe(s.loserId);
      expect(restored.body.computed.event_counts).toEqual({ 'Page Viewed': 1 });
      expect((await allEvents(h.app, s.adminToken, s.loserId)).map((e) => e.type)).toEqual(['page']);
      expect((await allEvents(h.app, s.adminToken, s.winnerId)).map((e) => e.type)).not.toContain('page');
      expect(winner?.computed.event_counts).toEqual({ [s.eventName]: 1 });
      expect((await allProfiles(h.app, s.adminToken)).map((p) => p.id)).toContain(s.loserId);

      const again = await api<ErrorBody>(h.app, s.adminToken, 'POST', `/api/v1/profiles/${s.winnerId}/unmerge`, { mergeId: s.mergeId });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
    });

    it('undoing an outer merge keeps the inner one, and the inner one can then be undone too', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(
        h.app,
        '/v1/batch',
        {
          batch: [
            { type: 'page', anonymousId: 'anon1', name: 'P', timestamp: at(-5000) },
            { type: 'identify', anonymousId: 'anon2', traits: { phone: '13811112222' }, timestamp: at(-4000) },
            // anon1 joins the phone's profile (inner merge) …
            { type: 'identify', anonymousId: 'anon1', traits: { phone: '13811112222' }, timestamp: at(-3000) },
            { type: 'track', userId: 'member', event: 'Joined', timestamp: at(-2000) },
            // … and that profile joins the member's (outer merge).
            { type: 'identify', userId: 'member', traits: { phone: '13811112222' }, timestamp: at(-1000) },
          ],
        },
        { writeKey },
      );
      await h.t.drain();
      const member = await lookup(h.app, adminToken, 'user_id', 'member');
      expect(member?.identities.map((i) => i.value).sort()).toEqual(['+8613811112222', 'anon1', 'anon2', 'member']);
      expect(member!.merges).toHaveLength(2);
      const outer = member!.merges.find((m) => m.winnerId === member!.id);
      const inner = member!.merges.find((m) => m.winnerId === outer?.loserId);
      expect(outer && inner, JSON.stringify(member!.merges)).toBeTruthy();

      const r = await api<{ profileId: string; restoredProfileId: string }>(h.app, adminToken, 'POST', `/api/v1/profiles/${member!.id}/unmerge`, { mergeId: outer!.id });
      expect(r.status, r.text).toBe(200);
      const phoneOwner = await lookup(h.app, adminToken, 'phone', '13811112222');
      expect(phoneOwner?.id).toBe(outer!.loserId);
      expect(phoneOwner?.identities.map((i) => i.value).sort()).toEqual(['+8613811112222', 'anon1', 'anon2']);
      expect((await lookup(h.app, adminToken, 'anonymous_id', 'anon1'))?.id).toBe(outer!.loserId);
      expect((await lookup(h.app, adminToken, 'user_id', 'member'))?.identities.map((i) => i.value)).toEqual(['member']);
      expect((await allEvents(h.app, adminToken, member!.id)).map((e) => e.event ?? e.type).sort()).toEqual(['Joined', 'identify']);
      expect((await allEvents(h.app, adminToken, outer!.loserId)).map((e) => e.event ?? e.type).sort()).toEqual(['P', 'identify', 'identify']);

      const r2 = await api(h.app, adminToken, 'POST', `/api/v1/profiles/${outer!.loserId}/unmerge`, { mergeId: inner!.id });
      expect(r2.status, r2.text).toBe(200);
      const anon1 = await lookup(h.app, adminToken, 'anonymous_id', 'anon1');
      expect(anon1?.id).toBe(inner!.loserId);
      expect((await allEvents(h.app, adminToken, inner!.loserId)).map((e) => e.event)).toEqual(['P']);
      expect((await allProfiles(h.app, adminToken)).length).toBe(3);
    });

    it('refuses to unmerge a merge of another profile', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(
        h.app,
        '/v1/batch',
        {
          batch: [
            { type: 'page', anonymousId: 'x-anon' },
            { type: 'identify', userId: 'x' },
            { type: 'identify', userId: 'x', anonymousId: 'x-anon' },
            { type: 'page', anonymousId: 'y-anon' },
            { type: 'identify', userId: 'y' },
            { type: 'identify', userId: 'y', anonymousId: 'y-anon' },
          ],
        },
        { writeKey },
      );
      await h.t.drain();
      const x = await lookup(h.app, adminToken, 'user_id', 'x');
      const y = await lookup(h.app, adminToken, 'user_id', 'y');
      const r = await api<ErrorBody>(h.app, adminToken, 'POST', `/api/v1/profiles/${x!.id}/unmerge`, { mergeId: y!.merges[0]!.id });
      expect(r.status).toBe(400);
      expect((await lookup(h.app, adminToken, 'anonymous_id', 'y-anon'))?.id).toBe(y!.id);
    });

    it('GET /identity/conflicts lists refused merges, newest first, with paging', async () => {
      const s = await seed('conflicts');
      // A third user on the same anonymous id is refused too.
      await send(h.app, '/v1/identify', { userId: 'third', anonymousId: s.anonId }, { writeKey: s.writeKey });
      await h.t.drain();
      const r = await api<Page<Conflict>>(h.app, s.adminToken, 'GET', '/api/v1/identity/conflicts');
      expect(r.status).toBe(200);
      expect(r.body.data).toHaveLength(2);
      expect(r.body.data[1]).toMatchObject({ id: s.conflictId, identifierType: 'anonymous_id', identifierValue: s.anonId, profileId: s.otherProfileId, otherProfileId: s.winnerId });
      expect(r.body.data[1]?.reason).toMatch(/user_id/);
      const p1 = await api<Page<Conflict>>(h.app, s.adminToken, 'GET', '/api/v1/identity/conflicts?limit=1');
      const p2 = await api<Page<Conflict>>(h.app, s.adminToken, 'GET', `/api/v1/identity/conflicts?limit=1&cursor=${enc(p1.body.nextCursor!)}`);
      expect([...p1.body.data, ...p2.body.data].map((c) => c.id)).toEqual(r.body.data.map((c) => c.id));
      expect(p2.body.nextCursor).toBeNull();
    });
  });

  describe('identifier types', () => {
    it('GET lists the built-in types by priority; POST adds a custom one that ingestion then accepts', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const list = await api<{ data: { type: string; priority: number; maxPerProfile: number | null; builtin: boolean }[] }>(h.app, adminToken, 'GET', '/api/v1/identity/types');
      expect(list.status).toBe(200);
      expect(list.body.data[0]).toEqual({ type: 'user_id', priority: 100, maxPerProfile: 1, builtin: true });
      expect(list.body.data.map((r) => r.type)).toEqual(expect.arrayContaining(['phone', 'email', 'anonymous_id', 'wechat_unionid']));
      const priorities = list.body.data.map((r) => r.priority);
      expect(priorities).toEqual([...priorities].sort((a, b) => b - a));

      const msg = { userId: 'vip1', event: 'Joined', context: { externalIds: [{ type: 'loyalty_card', id: 'LC-001' }] } };
      const before = await send<ErrorBody>(h.app, '/v1/track', msg, { writeKey });
      expect(before.status).toBe(400);
      expect(before.body.error.details?.problems?.[0]?.path).toBe('context.externalIds[0].type');

      const created = await api(h.app, adminToken, 'POST', '/api/v1/identity/types', { type: 'loyalty_card', priority: 95, maxPerProfile: 1 });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ type: 'loyalty_card', priority: 95, maxPerProfile: 1, builtin: false });
      const after = await api<{ data: { type: string }[] }>(h.app, adminToken, 'GET', '/api/v1/identity/types');
      expect(after.body.data.map((r) => r.type).slice(0, 2)).toEqual(['user_id', 'loyalty_card']);

      expect((await send(h.app, '/v1/track', msg, { writeKey })).status).toBe(200);
      await h.t.drain();
      expect((await lookup(h.app, adminToken, 'loyalty_card', 'LC-001'))?.identities.map((i) => i.value)).toContain('vip1');
    });

    it('POST changes a built-in type’s priority (it stays built-in) and rejects invalid types', async () => {
      const { adminToken } = await h.t.workspace();
      const changed = await api(h.app, adminToken, 'POST', '/api/v1/identity/types', { type: 'email', priority: 75, maxPerProfile: 2 });
      expect(changed.status).toBe(201);
      expect(changed.body).toEqual({ type: 'email', priority: 75, maxPerProfile: 2, builtin: true });
      for (const body of [{ type: 'Bad Type', priority: 1, maxPerProfile: null }, { type: 'ok_type', priority: -1, maxPerProfile: null }, { type: 'ok_type' }, 'not json']) {
        const r = await h.app.request('/api/v1/identity/types', { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: typeof body === 'string' ? body : JSON.stringify(body) });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(((await r.json()) as ErrorBody).error.code).toBe('INVALID_INPUT');
      }
    });
  });

  describe('erasure', () => {
    it('DELETE /profiles/{id} erases the person: reads and lookups answer 404, and they stay erased', async () => {
      const s = await seed('erase');
      const r = await api<{ deleted: boolean; suppressedIdentifiers: number }>(h.app, s.adminToken, 'DELETE', `/api/v1/profiles/${s.winnerId}`);
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ deleted: true, suppressedIdentifiers: 5 });
      for (const path of [`/api/v1/profiles/${s.winnerId}`, `/api/v1/profiles/${s.loserId}`, `/api/v1/profiles/${s.winnerId}/events`, `/api/v1/profiles/${s.winnerId}/export`]) {
        const g = await api<ErrorBody>(h.app, s.adminToken, 'GET', path);
        expect(g.status, path).toBe(404);
        expect(g.body.error.code).toBe('NOT_FOUND');
      }
      for (const [type, value] of [['user_id', s.userId], ['phone', s.phoneE164], ['email', s.email], ['anonymous_id', s.anonId], ['crm_card', s.card]]) {
        expect(await lookup(h.app, s.adminToken, type!, value!), `${type}=${value}`).toBeUndefined();
      }
      expect((await api(h.app, s.adminToken, 'DELETE', `/api/v1/profiles/${s.winnerId}`)).status).toBe(404);
      const conflicts = await api<Page<Conflict>>(h.app, s.adminToken, 'GET', '/api/v1/identity/conflicts');
      expect(conflicts.body.data.map((c) => c.id)).not.toContain(s.conflictId);
      const remaining = await allProfiles(h.app, s.adminToken);
      expect(remaining.map((p) => p.id)).toEqual([s.otherProfileId]);
      expect(JSON.stringify(remaining)).not.toContain(s.phone);

      // A later message carrying the erased phone is accepted, but the phone is not re-attached to anyone.
      expect((await send(h.app, '/v1/identify', { anonymousId: 'new-device', traits: { phone: s.phone } }, { writeKey: s.writeKey })).status).toBe(200);
      await h.t.drain();
      expect(await lookup(h.app, s.adminToken, 'phone', s.phoneE164)).toBeUndefined();
      expect(await lookup(h.app, s.adminToken, 'anonymous_id', 'new-device')).toBeDefined();
    });
  });

  describe('workspaces', () => {
    it('the instance admin lists and creates workspaces; the new keys work and are not instance admin', async () => {
      const admin = await h.t.workspace('instance', { instanceAdmin: true });
      const name = `新品牌 ${uniq()}`;
      const r = await api<{ workspace: { id: string; name: string; timeZone: string }; writeKey: string; adminToken: string }>(h.app, admin.adminToken, 'POST', '/api/v1/workspaces', { name, timeZone: 'Asia/Hong_Kong' });
      expect(r.status, r.text).toBe(201);
      expect(r.body.workspace).toMatchObject({ name, timeZone: 'Asia/Hong_Kong' });
      expect(r.body.writeKey).toMatch(/^wk_/);
      expect(r.body.adminToken).toMatch(/^sat_/);

      const list = await api<{ data: { id: string }[] }>(h.app, admin.adminToken, 'GET', '/api/v1/workspaces');
      expect(list.body.data.map((w) => w.id)).toEqual(expect.arrayContaining([admin.workspace.id, r.body.workspace.id]));

      const me = await api<{ workspace: { id: string }; instanceAdmin: boolean }>(h.app, r.body.adminToken, 'GET', '/api/v1/me');
      expect(me.body).toMatchObject({ workspace: { id: r.body.workspace.id }, instanceAdmin: false });
      expect((await send(h.app, '/v1/identify', { userId: 'first', traits: { city: '香港' } }, { writeKey: r.body.writeKey })).status).toBe(200);
      await h.t.drain();
      expect((await lookup(h.app, r.body.adminToken, 'user_id', 'first'))?.traits).toEqual({ city: '香港' });
      expect(await lookup(h.app, admin.adminToken, 'user_id', 'first')).toBeUndefined();

      const own = await api<{ data: { id: string }[] }>(h.app, r.body.adminToken, 'GET', '/api/v1/workspaces');
      expect(own.body.data.map((w) => w.id)).toEqual([r.body.workspace.id]);
      const forbidden = await api<ErrorBody>(h.app, r.body.adminToken, 'POST', '/api/v1/workspaces', { name: 'nested' });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');
    });

    it('answers 403 to a non-instance token and 400 to an invalid workspace', async () => {
      const plain = await h.t.workspace();
      const r = await api<ErrorBody>(h.app, plain.adminToken, 'POST', '/api/v1/workspaces', { name: 'x' });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
      const admin = await h.t.workspace('instance', { instanceAdmin: true });
      for (const body of [{ name: '' }, { name: 'x', timeZone: 'Mars/Olympus' }, {}]) {
        const bad = await api<ErrorBody>(h.app, admin.adminToken, 'POST', '/api/v1/workspaces', body);
        expect(bad.status, JSON.stringify(body)).toBe(400);
        expect(bad.body.error.details?.problems?.length).toBeGreaterThan(0);
      }
    });
  });

  describe('processing pipeline', () => {
    it('GET /api/v1/pipeline reports what waits and what failed; dead letters are listed and retried over HTTP', async () => {
      const { workspace, writeKey, adminToken } = await h.t.workspace('pipeline http');
      const r = await send(h.app, '/v1/identify', { userId: 'pipe-1', messageId: 'pipe-msg-1', traits: { city: '苏州' } }, { writeKey });
      expect(r.status, r.text).toBe(200);
      const waiting = await api<{ waiting: number; lagMs: number; oldestWaitingAt: string | null; deadLetters: number }>(h.app, adminToken, 'GET', '/api/v1/pipeline');
      expect(waiting.status).toBe(200);
      expect(waiting.body).toMatchObject({ waiting: 1, deadLetters: 0 });
      const item = (await h.t.services.deps.store.claimInbox(10_000)).find((i) => i.workspaceId === workspace.id)!;
      await h.t.services.deps.store.deadLetter(item.seq, 'disk I/O error', NOW);
      const dead = await api<Page<{ seq: number; messageId: string; error: string }>>(h.app, adminToken, 'GET', '/api/v1/pipeline/dead-letters?limit=10');
      expect(dead.status).toBe(200);
      expect(dead.body.data.map((d) => [d.messageId, d.error])).toEqual([['pipe-msg-1', 'disk I/O error']]);
      const bad = await api<ErrorBody>(h.app, adminToken, 'POST', '/api/v1/pipeline/dead-letters/retry', { seqs: ['first'] });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details?.problems).toEqual([{ path: 'seqs[0]', message: expect.stringContaining('whole number') }]);
      const retried = await api<{ retried: number }>(h.app, adminToken, 'POST', '/api/v1/pipeline/dead-letters/retry', { seqs: [dead.body.data[0]!.seq] });
      expect(retried.status, retried.text).toBe(200);
      expect(retried.body).toEqual({ retried: 1 });
      await h.t.drain();
      expect((await api(h.app, adminToken, 'GET', '/api/v1/pipeline')).body).toMatchObject({ waiting: 0, deadLetters: 0 });
      expect((await lookup(h.app, adminToken, 'user_id', 'pipe-1'))?.traits).toMatchObject({ city: '苏州' });
    });
  });

  describe('workspace isolation', () => {
    /** One admin endpoint as seen by workspace B's token, aimed at workspace A's data. Add new endpoints here. */
    interface Probe {
      name: string;
      method: 'GET' | 'POST' | 'DELETE';
      path: (a: Seeded, b: Seeded) => string;
      body?: (a: Seeded, b: Seeded) => unknown;
      /** Statuses B may get (never A's data, whatever the status). */
      intruder: number[];
      /** For non-destructive endpoints: what A's own token sees there, proving the probe aims at real data. */
      owner?: { status: number; shows: (a: Seeded) => string[] };
    }

    const PROBES: Probe[] = [
      { name: 'list profiles', method: 'GET', path: () => '/api/v1/profiles', intruder: [200], owner: { status: 200, shows: (a) => [a.winnerId, a.phoneE164] } },
      { name: 'list profiles by trait', method: 'GET', path: (a) => `/api/v1/profiles?trait.city=${enc(a.city)}`, intruder: [200], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'search profiles', method: 'GET', path: (a) => `/api/v1/profiles?q=${enc(a.phoneE164)}`, intruder: [200], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'list profiles by identifier', method: 'GET', path: (a) => `/api/v1/profiles?identifierType=phone&identifierValue=${enc(a.phoneE164)}`, intruder: [200], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'get profile', method: 'GET', path: (a) => `/api/v1/profiles/${a.winnerId}`, intruder: [404], owner: { status: 200, shows: (a) => [a.phoneE164, a.userId, a.mergeId] } },
      { name: 'get merged-away profile', method: 'GET', path: (a) => `/api/v1/profiles/${a.loserId}`, intruder: [404], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'profile events', method: 'GET', path: (a) => `/api/v1/profiles/${a.winnerId}/events`, intruder: [404], owner: { status: 200, shows: (a) => [a.eventName] } },
      { name: 'export', method: 'GET', path: (a) => `/api/v1/profiles/${a.winnerId}/export`, intruder: [404], owner: { status: 200, shows: (a) => [a.phoneE164, a.eventName] } },
      { name: 'lookup phone', method: 'GET', path: (a) => `/api/v1/profiles/lookup?type=phone&value=${enc(a.phoneE164)}`, intruder: [404], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'lookup user_id', method: 'GET', path: (a) => `/api/v1/profiles/lookup?type=user_id&value=${enc(a.userId)}`, intruder: [404], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'lookup anonymous_id', method: 'GET', path: (a) => `/api/v1/profiles/lookup?type=anonymous_id&value=${enc(a.anonId)}`, intruder: [404], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'lookup custom type', method: 'GET', path: (a) => `/api/v1/profiles/lookup?type=crm_card&value=${enc(a.card)}`, intruder: [404], owner: { status: 200, shows: (a) => [a.winnerId] } },
      { name: 'identity conflicts', method: 'GET', path: () => '/api/v1/identity/conflicts', intruder: [200], owner: { status: 200, shows: (a) => [a.conflictId, a.anonId] } },
      { name: 'review A’s conflict', method: 'POST', path: (a) => `/api/v1/identity/conflicts/${a.conflictId}/resolve`, body: () => ({ action: 'dismiss' }), intruder: [404] },
      { name: 'identity types', method: 'GET', path: () => '/api/v1/identity/types', intruder: [200], owner: { status: 200, shows: () => ['crm_card', '"priority":85'] } },
      { name: 'stats', method: 'GET', path: () => '/api/v1/stats', intruder: [200], owner: { status: 200, shows: (a) => [a.eventName] } },
      { name: 'me', method: 'GET', path: () => '/api/v1/me', intruder: [200], owner: { status: 200, shows: (a) => [a.workspaceId] } },
      { name: 'list workspaces', method: 'GET', path: () => '/api/v1/workspaces', intruder: [200], owner: { status: 200, shows: (a) => [a.workspaceId] } },
      { name: 'create workspace', method: 'POST', path: () => '/api/v1/workspaces', body: () => ({ name: 'intruder' }), intruder: [403] },
      { name: 'change A’s custom type', method: 'POST', path: () => '/api/v1/identity/types', body: () => ({ type: 'crm_card', priority: 1, maxPerProfile: null }), intruder: [201] },
      { name: 'unmerge A’s profile', method: 'POST', path: (a) => `/api/v1/profiles/${a.winnerId}/unmerge`, body: (a) => ({ mergeId: a.mergeId }), intruder: [404] },
      { name: 'unmerge A’s merge via B’s profile', method: 'POST', path: (_a, b) => `/api/v1/profiles/${b.winnerId}/unmerge`, body: (a) => ({ mergeId: a.mergeId }), intruder: [404] },
      { name: 'pipeline status', method: 'GET', path: () => '/api/v1/pipeline', intruder: [200] },
      { name: 'dead letters', method: 'GET', path: () => '/api/v1/pipeline/dead-letters', intruder: [200] },
      { name: 'retry dead letters', method: 'POST', path: () => '/api/v1/pipeline/dead-letters/retry', body: () => ({}), intruder: [200] },
      { name: 'delete A’s profile', method: 'DELETE', path: (a) => `/api/v1/profiles/${a.winnerId}`, intruder: [404] },
      { name: 'delete A’s merged-away profile', method: 'DELETE', path: (a) => `/api/v1/profiles/${a.loserId}`, intruder: [404] },
      { name: 'delete A’s other profile', method: 'DELETE', path: (a) => `/api/v1/profiles/${a.otherProfileId}`, intruder: [404] },
    ];

    let a: Seeded;
    let b: Seeded;
    let aBefore: { profile: ProfileView; events: number; conflicts: string[] };
    beforeAll(async () => {
      a = await seed('A');
      b = await seed('B');
      const profile = (await api<ProfileView>(h.app, a.adminToken, 'GET', `/api/v1/profiles/${a.winnerId}`)).body;
      const conflicts = (await api<Page<Conflict>>(h.app, a.adminToken, 'GET', '/api/v1/identity/conflicts')).body.data.map((c) => c.id);
      aBefore = { profile, events: (await allEvents(h.app, a.adminToken, a.winnerId)).length, conflicts };
    });

    /** A's data that B must never see (ids B itself put in the request are echoed in 404 messages, so they are skipped). */
    function leaks(text: string, request: string): string[] {
      const markers = [a.workspaceId, a.winnerId, a.loserId, a.otherProfileId, a.mergeId, a.conflictId, a.userId, a.otherUserId, a.anonId, a.phone, a.email, a.city, a.eventName, a.card];
      return markers.filter((m) => !request.includes(m) && text.includes(m));
    }

    it.each(PROBES.filter((p) => p.owner))('A’s own token sees A’s data at: $name', async (p) => {
      const r = await api(h.app, a.adminToken, p.method, p.path(a, b), p.body?.(a, b));
      expect(r.status, r.text).toBe(p.owner!.status);
      for (const s of p.owner!.shows(a)) expect(r.text).toContain(s);
    });

    it.each(PROBES)('B’s token never gets A’s data at: $name', async (p) => {
      const path = p.path(a, b);
      const body = p.body?.(a, b);
      const r = await api(h.app, b.adminToken, p.method, path, body);
      expect(p.intruder, `${p.method} ${path} answered ${r.status}: ${r.text}`).toContain(r.status);
      expect(leaks(r.text, decodeURIComponent(path) + JSON.stringify(body ?? ''))).toEqual([]);
    });

    it('A’s data is intact after every request of B', async () => {
      const profile = await api<ProfileView>(h.app, a.adminToken, 'GET', `/api/v1/profiles/${a.winnerId}`);
      expect(profile.status).toBe(200);
      expect(profile.body.identities).toEqual(aBefore.profile.identities);
      expect(profile.body.merges).toEqual(aBefore.profile.merges);
      expect(profile.body.traits).toEqual(aBefore.profile.traits);
      expect((await allEvents(h.app, a.adminToken, a.winnerId)).length).toBe(aBefore.events);
      expect((await api<ProfileView>(h.app, a.adminToken, 'GET', `/api/v1/profiles/${a.otherProfileId}`)).status).toBe(200);
      expect((await api<Page<Conflict>>(h.app, a.adminToken, 'GET', '/api/v1/identity/conflicts')).body.data.map((c) => c.id)).toEqual(aBefore.conflicts);
      const types = await api<{ data: { type: string; priority: number; maxPerProfile: number | null }[] }>(h.app, a.adminToken, 'GET', '/api/v1/identity/types');
      expect(types.body.data.find((t) => t.type === 'crm_card')).toMatchObject({ priority: 85, maxPerProfile: 1 });
    });

    it('A’s write key writes only into A, even naming B’s key in the body or B’s user ids', async () => {
      const bProfile = await lookup(h.app, b.adminToken, 'user_id', b.userId);
      const bEvents = (await allEvents(h.app, b.adminToken, b.winnerId)).length;
      const one = await send(h.app, '/v1/identify', { writeKey: b.writeKey, userId: b.userId, traits: { city: 'written-by-A' } }, { writeKey: a.writeKey });
      expect(one.status).toBe(200);
      const batch = await send(h.app, '/v1/batch', { writeKey: b.writeKey, batch: [{ type: 'track', userId: b.userId, event: 'Written By A' }] }, { writeKey: a.writeKey });
      expect(batch.status).toBe(200);
      await h.t.drain();
      const bAfter = await lookup(h.app, b.adminToken, 'user_id', b.userId);
      expect(bAfter?.traits).toEqual(bProfile?.traits);
      expect(await allEvents(h.app, b.adminToken, b.winnerId)).toHaveLength(bEvents);
      const inA = await lookup(h.app, a.adminToken, 'user_id', b.userId);
      expect(inA?.traits).toEqual({ city: 'written-by-A' });
      expect(inA?.computed.event_counts).toEqual({ 'Written By A': 1 });
    });

    it('an admin token is not a write key and a write key is not an admin token, across workspaces too', async () => {
      expect((await send(h.app, '/v1/track', { userId: 'x', event: 'X' }, { writeKey: b.adminToken })).status).toBe(401);
      expect((await api(h.app, a.writeKey, 'GET', '/api/v1/profiles')).status).toBe(401);
    });
  });

  describe('OpenAPI document', () => {
    /** Every admin route, as METHOD path in OpenAPI form. */
    const ADMIN_ROUTES = [
      'GET /api/v1/me',
      'GET /api/v1/stats',
      'GET /api/v1/workspaces',
      'POST /api/v1/workspaces',
      'GET /api/v1/identity/types',
      'POST /api/v1/identity/types',
      'GET /api/v1/identity/conflicts',
      'POST /api/v1/identity/conflicts/{id}/resolve',
      'GET /api/v1/profiles',
      'GET /api/v1/profiles/lookup',
      'GET /api/v1/profiles/{id}',
      'DELETE /api/v1/profiles/{id}',
      'GET /api/v1/profiles/{id}/events',
      'GET /api/v1/profiles/{id}/export',
      'POST /api/v1/profiles/{id}/unmerge',
      'GET /api/v1/pipeline',
      'GET /api/v1/pipeline/dead-letters',
      'POST /api/v1/pipeline/dead-letters/retry',
    ];
    const TRACKING_ROUTES = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'].map((k) => `POST /v1/${k}`);

    type Operation = { summary?: string; security?: Record<string, unknown>[]; parameters?: { name: string; in: string; required?: boolean }[]; responses?: Record<string, unknown> };
    type Doc = { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };

    async function doc(): Promise<Doc> {
      const res = await h.app.request('/api/openapi.json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      return (await res.json()) as Doc;
    }

    function operations(d: Doc): string[] {
      return Object.entries(d.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    }

    /** A local `$ref` ("#/a/b") resolved against the whole document, as OpenAPI tools do. */
    function resolves(d: Doc, ref: string): boolean {
      if (!ref.startsWith('#/')) return false;
      let node: unknown = d;
      for (const raw of ref.slice(2).split('/')) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        if (typeof node !== 'object' || node === null || !(key in node)) return false;
        node = (node as Record<string, unknown>)[key];
      }
      return true;
    }

    it('is an OpenAPI 3.1 document whose component references, parameters and security schemes resolve', async () => {
      const d = await doc();
      expect(d.openapi).toMatch(/^3\.1\.\d+$/);
      expect(d.info.title).toBeTruthy();
      expect(d.info.version).toBeTruthy();
      const refs = [...JSON.stringify(d).matchAll(/"\$ref":"(#\/components\/[^"]+)"/g)].map((m) => m[1]!);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(resolves(d, ref), ref).toBe(true);
      for (const [path, ops] of Object.entries(d.paths)) {
        expect(path.startsWith('/'), path).toBe(true);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        for (const [method, op] of Object.entries(ops)) {
          expect(['get', 'post', 'put', 'patch', 'delete'], `${method} ${path}`).toContain(method);
          expect(op.summary, `${method} ${path}`).toBeTruthy();
          expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
          for (const name of templated) {
            expect(op.parameters?.find((p) => p.name === name && p.in === 'path' && p.required), `${method} ${path} declares {${name}}`).toBeDefined();
          }
          for (const s of op.security ?? []) for (const scheme of Object.keys(s)) expect(d.components.securitySchemes[scheme], scheme).toBeDefined();
        }
      }
    });

    // Recursive zod schemas (segment conditions) bring "$defs"; every "$ref" must still resolve against the document.
    it('every local $ref in the document resolves', async () => {
      const d = await doc();
      const refs = [...new Set([...JSON.stringify(d).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!))];
      expect(refs.filter((r) => !resolves(d, r))).toEqual([]);
    });

    it('lists every admin and tracking route', async () => {
      const listed = operations(await doc());
      expect(listed).toEqual(expect.arrayContaining([...ADMIN_ROUTES, ...TRACKING_ROUTES]));
    });

    // Regression guard for a fixed bug: apps/server/src/openapi.ts:32-61 (the `paths` table of openApiDocument) omits POST /v1/import, which
    // apps/server/src/ingest.routes.ts:25 serves as Segment's alias of /v1/batch.
    it('lists every API route the app serves (besides health checks, the console and the document itself)', async () => {
      const listed = new Set(operations(await doc()));
      const served = h.app.routes
        .filter((r) => r.method !== 'ALL' && !r.path.includes('*') && !['/', '/healthz', '/readyz', '/api/openapi.json'].includes(r.path))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
      expect(served.filter((r) => !listed.has(r))).toEqual([]);
    });
  });

  describe('health, readiness and request logs', () => {
    it('/healthz answers 200; /readyz follows isReady (503 when not ready or when the check fails)', async () => {
      expect((await h.app.request('/healthz')).status).toBe(200);
      expect(await (await h.app.request('/healthz')).json()).toEqual({ status: 'ok' });
      expect((await h.app.request('/readyz')).status).toBe(200);
      const cases: [() => Promise<boolean>, number][] = [
        [async () => true, 200],
        [async () => false, 503],
        [async () => Promise.reject(new Error('database down')), 503],
      ];
      for (const [isReady, status] of cases) {
        const app = createApp({ services: h.t.services, isReady });
        const res = await app.request('/readyz');
        expect(res.status).toBe(status);
        expect(await res.json()).toEqual({ status: status === 200 ? 'ready' : 'not ready' });
      }
    });

    it('logs one line per request, with the request id the response carries (errors included)', async () => {
      const lines: Record<string, unknown>[] = [];
      const app = createApp({ services: h.t.services, log: { info: (o, msg) => lines.push({ ...o, msg }), error: (o, msg) => lines.push({ ...o, msg }) } });
      const { writeKey, adminToken } = await h.t.workspace();
      const responses = [
        await app.request('/healthz'),
        await app.request('/v1/track', { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` }, body: '{not json' }),
        await app.request('/api/v1/profiles', { headers: { authorization: `Bearer ${adminToken}`, 'x-request-id': 'my-request-1' } }),
        await app.request('/api/v1/profiles'),
      ];
      const requestLines = lines.filter((l) => l.msg === 'request');
      expect(requestLines).toHaveLength(4);
      responses.forEach((res, i) => {
        const id = res.headers.get('x-request-id');
        expect(id, `response ${i} carries x-request-id`).toBeTruthy();
        expect(requestLines[i]).toMatchObject({ reqId: id, status: res.status });
      });
      expect(responses.map((r) => r.status)).toEqual([200, 400, 200, 401]);
      expect(responses[2]!.headers.get('x-request-id')).toBe('my-request-1');
      expect(new Set(requestLines.map((l) => l.reqId)).size).toBe(4);
    });
  });
});
