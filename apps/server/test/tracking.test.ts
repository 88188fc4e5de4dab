import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import type { ProfileView } from '@siyu/services';
import { testClock } from '@siyu/services/testing';
import { allEvents, allProfiles, api, createServerHarness, lookup, send, uniq, type ErrorBody, type EventView, type ServerHarness } from './harness.ts';

/** The harness clock: every message is "received" at this instant. */
const NOW = '2026-03-01T08:00:00.000Z';
const at = (offsetMs: number) => new Date(Date.parse(NOW) + offsetMs).toISOString();

interface KindCase {
  kind: string;
  /** Messages sent (through /v1/batch) before the one under test. */
  before?: (id: string) => object[];
  body: (id: string) => object;
  accepted: number;
  /** Identifier that finds the profile afterwards. */
  find: (id: string) => [type: string, value: string];
  check: (profile: ProfileView, events: EventView[], id: string) => void;
}

const KIND_CASES: KindCase[] = [
  {
    kind: 'identify',
    body: (id) => ({ userId: `u-${id}`, traits: { name: '李雷', email: ' LiLei@Example.COM ', phone: '138 0013 8000', city: '上海' }, messageId: `m-${id}` }),
    accepted: 1,
    find: (id) => ['user_id', `u-${id}`],
    check: (p, events, id) => {
      expect(p.traits).toMatchObject({ name: '李雷', city: '上海', email: 'lilei@example.com', phone: '+8613800138000' });
      expect(p.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual(['email=lilei@example.com', 'phone=+8613800138000', `user_id=u-${id}`]);
      expect(events).toMatchObject([{ type: 'identify', messageId: `m-${id}` }]);
    },
  },
  {
    kind: 'track',
    body: (id) => ({ anonymousId: `a-${id}`, event: 'Order Completed', properties: { order_id: 'o1', total: 12.5, currency: 'CNY' }, timestamp: at(-60_000) }),
    accepted: 1,
    find: (id) => ['anonymous_id', `a-${id}`],
    check: (p, events) => {
      expect(p.computed).toMatchObject({ order_count: 1, total_spent: 1250, event_count: 1 });
      expect(events).toMatchObject([{ type: 'track', event: 'Order Completed', properties: { order_id: 'o1', total: 12.5 }, timestamp: at(-60_000) }]);
    },
  },
  {
    kind: 'page',
    body: (id) => ({ anonymousId: `a-${id}`, name: 'Home', category: 'Landing', properties: { url: 'https://shop.example.cn/' } }),
    accepted: 1,
    find: (id) => ['anonymous_id', `a-${id}`],
    check: (p, events) => {
      expect(p.computed.event_counts).toEqual({ 'Page Viewed': 1 });
      expect(events).toMatchObject([{ type: 'page', event: 'Home', properties: { url: 'https://shop.example.cn/', category: 'Landing' } }]);
    },
  },
  {
    kind: 'screen',
    body: (id) => ({ userId: `u-${id}`, name: 'Cart', properties: { items: 2 } }),
    accepted: 1,
    find: (id) => ['user_id', `u-${id}`],
    check: (p, events) => {
      expect(p.computed.event_counts).toEqual({ 'Screen Viewed': 1 });
      expect(events).toMatchObject([{ type: 'screen', event: 'Cart', properties: { items: 2 } }]);
    },
  },
  {
    kind: 'group',
    body: (id) => ({ userId: `u-${id}`, groupId: 'g-acme', traits: { name: 'ACME 有限公司', employees: 40 } }),
    accepted: 1,
    find: (id) => ['user_id', `u-${id}`],
    check: (p, events) => {
      // Group traits describe the group, not the person.
      expect(p.traits).toEqual({});
      expect(events).toMatchObject([{ type: 'group', properties: { name: 'ACME 有限公司', employees: 40 } }]);
    },
  },
  {
    kind: 'alias',
    before: (id) => [{ type: 'page', anonymousId: `a-${id}`, name: 'Landing' }],
    body: (id) => ({ previousId: `a-${id}`, userId: `u-${id}` }),
    accepted: 1,
    find: (id) => ['user_id', `u-${id}`],
    check: (p, events, id) => {
      expect(p.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual([`anonymous_id=a-${id}`, `user_id=u-${id}`]);
      expect(events.map((e) => e.type).sort()).toEqual(['alias', 'page']);
    },
  },
  {
    kind: 'batch',
    body: (id) => ({
      batch: [
        { type: 'identify', userId: `u-${id}`, traits: { plan: 'gold' } },
        { type: 'track', userId: `u-${id}`, event: 'Product Viewed', properties: { sku: 'SKU-1' } },
        { type: 'page', userId: `u-${id}`, name: 'PDP' },
      ],
    }),
    accepted: 3,
    find: (id) => ['user_id', `u-${id}`],
    check: (p, events) => {
      expect(p.traits).toEqual({ plan: 'gold' });
      expect(events.map((e) => e.type).sort()).toEqual(['identify', 'page', 'track']);
    },
  },
];

describe.each(TEST_BACKENDS)('Segment HTTP Tracking API on $name', (backend) => {
  let h: ServerHarness;
  beforeAll(async () => {
    h = await createServerHarness(backend, { clock: testClock(NOW) });
  });
  afterAll(async () => h.close());

  async function stored(adminToken: string): Promise<number> {
    await h.t.drain();
    return (await allProfiles(h.app, adminToken)).length;
  }

  describe('every endpoint takes the Segment shapes', () => {
    it.each(KIND_CASES)('/v1/$kind answers 200 and stores the message', async (c) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      if (c.before) expect((await send(h.app, '/v1/batch', { batch: c.before(id) }, { writeKey })).status).toBe(200);
      const r = await send(h.app, `/v1/${c.kind}`, c.body(id), { writeKey });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ success: true, accepted: c.accepted, duplicates: 0 });
      await h.t.drain();
      const [type, value] = c.find(id);
      const profile = await lookup(h.app, adminToken, type, value);
      expect(profile, `${type}=${value} should find a profile`).toBeDefined();
      c.check(profile!, await allEvents(h.app, adminToken, profile!.id), id);
    });

    it('/v1/import works like /v1/batch', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const r = await send(h.app, '/v1/import', { batch: [{ type: 'identify', userId: `u-${id}`, traits: { city: '杭州' } }, { type: 'track', userId: `u-${id}`, event: 'Signed Up' }] }, { writeKey });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ success: true, accepted: 2, duplicates: 0 });
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'user_id', `u-${id}`);
      expect(p?.traits).toEqual({ city: '杭州' });
      expect((await allEvents(h.app, adminToken, p!.id)).map((e) => e.type).sort()).toEqual(['identify', 'track']);
    });

    it('a message whose type contradicts the endpoint is refused, naming type', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', { type: 'identify', userId: 'u1', event: 'X' }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.details?.problems?.map((p) => p.path)).toEqual(['type']);
      expect(await stored(adminToken)).toBe(0);
    });

    it('unknown /v1 routes answer 404 with the error shape', async () => {
      const { writeKey } = await h.t.workspace();
      for (const [method, path] of [['POST', '/v1/foo'], ['GET', '/v1/track'], ['POST', '/v1/batch/extra']] as const) {
        const res = await h.app.request(path, { method, headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` }, ...(method === 'POST' ? { body: '{}' } : {}) });
        expect(res.status, `${method} ${path}`).toBe(404);
        const body = (await res.json()) as ErrorBody;
        expect(body.error.code).toBe('NOT_FOUND');
        expect(body.error.message).toContain(path);
      }
    });
  });

  describe('authentication', () => {
    it('takes the write key from the body when there is no Authorization header (single message and batch)', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const one = await send(h.app, '/v1/track', { writeKey, anonymousId: `a-${id}`, event: 'Clicked' }, { writeKey: null });
      expect(one.status, one.text).toBe(200);
      const batch = await send(h.app, '/v1/batch', { writeKey, batch: [{ type: 'track', anonymousId: `a-${id}`, event: 'Clicked Again' }] }, { writeKey: null });
      expect(batch.status, batch.text).toBe(200);
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'anonymous_id', `a-${id}`);
      expect(p?.computed.event_counts).toEqual({ Clicked: 1, 'Clicked Again': 1 });
    });

    it('does not keep the write key sent in the body with the stored message', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      await send(h.app, '/v1/identify', { writeKey, userId: 'secretive', traits: { city: '成都' }, context: { ip: '198.51.100.1' } }, { writeKey: null });
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'user_id', 'secretive');
      const exported = await api(h.app, adminToken, 'GET', `/api/v1/profiles/${p!.id}/export`);
      expect(exported.status).toBe(200);
      expect(exported.text).toContain('成都');
      expect(exported.text).not.toContain(writeKey);
    });

    it('answers 401 with the error shape when no write key is sent', async () => {
      const { adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', { anonymousId: 'a1', event: 'X' }, { writeKey: null });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHENTICATED');
      expect(r.body.error.message).toMatch(/write key/);
      expect(r.body.error.details).toEqual({ header: 'Authorization' });
      expect(await stored(adminToken)).toBe(0);
    });

    it.each([
      ['an unknown write key', () => 'wk_not-a-real-key'],
      ['an admin token used as a write key', (adminToken: string) => adminToken],
    ])('answers 401 for %s, by Basic auth or in the body', async (_name, key) => {
      const { adminToken } = await h.t.workspace();
      const bad = key(adminToken);
      const basic = await send<ErrorBody>(h.app, '/v1/track', { anonymousId: 'a1', event: 'X' }, { writeKey: bad });
      expect(basic.status).toBe(401);
      expect(basic.body.error.code).toBe('UNAUTHENTICATED');
      const inBody = await send<ErrorBody>(h.app, '/v1/batch', { writeKey: bad, batch: [{ type: 'track', anonymousId: 'a1', event: 'X' }] }, { writeKey: null });
      expect(inBody.status).toBe(401);
      expect(inBody.body.error.code).toBe('UNAUTHENTICATED');
      expect(await stored(adminToken)).toBe(0);
    });
  });

  describe('body encodings', () => {
    it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['']])('reads JSON whatever the Content-Type says ("%s")', async (contentType) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const r = await send(h.app, '/v1/track', JSON.stringify({ anonymousId: `a-${id}`, event: 'Typed' }), { writeKey, headers: { 'content-type': contentType } });
      expect(r.status, r.text).toBe(200);
      await h.t.drain();
      expect((await lookup(h.app, adminToken, 'anonymous_id', `a-${id}`))?.computed.event_counts).toEqual({ Typed: 1 });
    });

    it.each([
      ['with Content-Encoding: gzip', { 'content-encoding': 'gzip', 'content-type': 'application/json' }],
      ['without Content-Encoding (gzip magic bytes)', { 'content-type': 'application/json' }],
      ['with a form content type, as RudderStack sends it', { 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' }],
    ])('reads gzip bodies %s', async (_name, headers) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const gz = gzipSync(JSON.stringify({ batch: [{ type: 'identify', userId: `u-${id}`, traits: { city: '深圳' } }, { type: 'track', userId: `u-${id}`, event: 'Zipped' }] }));
      const r = await send(h.app, '/v1/batch', gz, { writeKey, headers });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ success: true, accepted: 2, duplicates: 0 });
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'user_id', `u-${id}`);
      expect(p?.traits).toEqual({ city: '深圳' });
      expect(p?.computed.event_counts).toEqual({ Zipped: 1 });
    });

    it('refuses a gzip body that inflates far beyond the batch limit (a zip bomb) with 400', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const json = JSON.stringify({ batch: [{ type: 'track', anonymousId: 'bomb', event: 'X' }] });
      const bomb = gzipSync(json.slice(0, -1) + ' '.repeat(8 * 1024 * 1024) + '}');
      expect(bomb.length).toBeLessThan(100 * 1024);
      const r = await send<ErrorBody>(h.app, '/v1/batch', bomb, { writeKey, headers: { 'content-encoding': 'gzip' } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_INPUT');
      expect(r.body.error.details?.limit).toBe('batch');
      expect(await stored(adminToken)).toBe(0);
    });

    it('answers 400 when the body claims gzip but is not', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', { anonymousId: 'a1', event: 'X' }, { writeKey, headers: { 'content-encoding': 'gzip' } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_INPUT');
      expect(r.body.error.message).toMatch(/gzip/);
      expect(await stored(adminToken)).toBe(0);
    });

    it.each([
      ['malformed JSON', '{"anonymousId": "a1", "event": '],
      ['an empty body', ''],
      ['a JSON array', '[{"anonymousId":"a1","event":"X"}]'],
      ['a JSON string', '"hello"'],
    ])('answers 400 INVALID_INPUT for %s', async (_name, raw) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', raw, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_INPUT');
      expect(r.body.error.message.length).toBeGreaterThan(10);
      // The whole shape, details included: the problem is the body itself.
      expect(r.body.error.details).toMatchObject({ problems: [{ path: '(body)', message: expect.any(String) }] });
      expect(await stored(adminToken)).toBe(0);
    });
  });

  describe('size limits', () => {
    const filler = (bytes: number) => 'x'.repeat(bytes);

    it('accepts a single message just under 32 KB', async () => {
      const { writeKey } = await h.t.workspace();
      const r = await send(h.app, '/v1/track', { anonymousId: 'a1', event: 'Big', properties: { blob: filler(31 * 1024) } }, { writeKey });
      expect(r.status, r.text).toBe(200);
    });

    it.each([
      ['plain', false],
      ['gzip-compressed (the limit is on the decoded size)', true],
    ])('answers 400 naming the 32 KB limit for a 33 KB message (%s)', async (_name, zipped) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const json = JSON.stringify({ anonymousId: 'a1', event: 'Huge', properties: { blob: filler(33 * 1024) } });
      const r = await send<ErrorBody>(h.app, '/v1/track', zipped ? gzipSync(json) : json, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_INPUT');
      expect(r.body.error.message).toContain('32 KB');
      expect(r.body.error.details).toMatchObject({ limit: 'message', maxBytes: 32 * 1024 });
      expect(await stored(adminToken)).toBe(0);
    });

    it('answers 400 naming the 500 KB batch limit for a larger batch', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const batch = Array.from({ length: 21 }, (_, i) => ({ type: 'track', anonymousId: `a${i}`, event: 'Filler', properties: { blob: filler(25 * 1024) } }));
      const r = await send<ErrorBody>(h.app, '/v1/batch', { batch }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('500 KB');
      expect(r.body.error.details).toMatchObject({ limit: 'batch', maxBytes: 500 * 1024 });
      expect(await stored(adminToken)).toBe(0);
    });

    it('answers 400 naming batch[i] when one message of a batch is over 32 KB, and stores none of it', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const batch = [
        { type: 'track', anonymousId: 'ok-0', event: 'Fine' },
        { type: 'track', anonymousId: 'ok-1', event: 'Fine' },
        { type: 'track', anonymousId: 'big', event: 'Huge', properties: { blob: filler(33 * 1024) } },
      ];
      const r = await send<ErrorBody>(h.app, '/v1/batch', { batch }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.details?.problems).toHaveLength(1);
      expect(r.body.error.details?.problems?.[0]?.path).toBe('batch[2]');
      expect(r.body.error.details?.problems?.[0]?.message).toContain('32 KB');
      expect(await stored(adminToken)).toBe(0);
    });
  });

  describe('validation', () => {
    it.each([
      ['traits is a string', { userId: 'u1', traits: 'x' }, ['traits']],
      ['userId is an object', { userId: {}, traits: {} }, ['userId']],
      ['both at once', { userId: {}, traits: 'x' }, ['traits', 'userId']],
      ['timestamp is not a date', { userId: 'u1', timestamp: 'yesterday' }, ['timestamp']],
      ['neither userId nor anonymousId', { traits: { name: 'x' } }, ['userId']],
    ])('answers 400 with details.problems[].path when %s', async (_name, body, paths) => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/identify', body, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_INPUT');
      expect(r.body.error.details?.problems?.map((p) => p.path).sort()).toEqual(paths);
      expect(await stored(adminToken)).toBe(0);
    });

    it('answers 400 naming traits.phone and the value for an invalid phone', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/identify', { userId: 'u1', traits: { phone: '12345' } }, { writeKey });
      expect(r.status).toBe(400);
      const problem = r.body.error.details?.problems?.find((p) => p.path === 'traits.phone');
      expect(problem?.message).toContain('12345');
      expect(r.body.error.message).toContain('traits.phone');
      expect(r.body.error.message).toContain('12345');
      expect(await stored(adminToken)).toBe(0);
    });

    it('names context.traits.phone (the field actually sent) for an invalid phone in a track call', async () => {
      const { writeKey } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', { anonymousId: 'a1', event: 'X', context: { traits: { phone: '12345' } } }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.details?.problems?.map((p) => p.path)).toEqual(['context.traits.phone']);
    });

    it('answers 400 for a timestamp in the future', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const r = await send<ErrorBody>(h.app, '/v1/track', { anonymousId: 'a1', event: 'X', timestamp: at(86_400_000) }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.details?.problems?.map((p) => p.path)).toEqual(['timestamp']);
      expect(r.body.error.message).toMatch(/future/);
      expect(await stored(adminToken)).toBe(0);
    });

    it('accepts a client whose clock runs a day fast when it sends sentAt, and corrects the time', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const day = 86_400_000;
      // Happened 30 s before sending, by a clock that is one day ahead.
      const r = await send(h.app, '/v1/track', { anonymousId: 'skewed', event: 'X', timestamp: at(day - 30_000), sentAt: at(day) }, { writeKey });
      expect(r.status, r.text).toBe(200);
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'anonymous_id', 'skewed');
      expect((await allEvents(h.app, adminToken, p!.id))[0]?.timestamp).toBe(at(-30_000));
    });

    it('in a batch, names batch[i].… for every problem and stores nothing from that batch', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const batch = [
        { type: 'identify', userId: 'good-user', traits: { city: '上海' } },
        { type: 'track', userId: 'good-user' },
        { type: 'identify', userId: 'bad-phone', traits: { phone: '999' } },
        { userId: 'no-type' },
        { type: 'track', anonymousId: 'future', event: 'X', timestamp: at(86_400_000) },
      ];
      const r = await send<ErrorBody>(h.app, '/v1/batch', { batch }, { writeKey });
      expect(r.status).toBe(400);
      expect(r.body.error.details?.problems?.map((p) => p.path).sort()).toEqual(['batch[1].event', 'batch[2].traits.phone', 'batch[3].type', 'batch[4].timestamp']);
      expect(r.body.error.message).toMatch(/nothing in this request was stored/);
      await h.t.drain();
      expect(await lookup(h.app, adminToken, 'user_id', 'good-user')).toBeUndefined();
      expect(await allProfiles(h.app, adminToken)).toEqual([]);
      const stats = await api<{ events: number }>(h.app, adminToken, 'GET', '/api/v1/stats');
      expect(stats.body.events).toBe(0);
    });
  });

  describe('batches', () => {
    it('dedupes on messageId: the same batch posted again reports duplicates and stores nothing more', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const batch = {
        batch: [
          { type: 'identify', userId: `u-${id}`, messageId: `${id}-1`, traits: { phone: '13912345678' } },
          { type: 'track', userId: `u-${id}`, messageId: `${id}-2`, event: 'Order Completed', properties: { total: 100 } },
          { type: 'page', userId: `u-${id}`, messageId: `${id}-3`, name: 'Thanks' },
        ],
      };
      expect((await send(h.app, '/v1/batch', batch, { writeKey })).body).toEqual({ success: true, accepted: 3, duplicates: 0 });
      // Again before processing (still in the inbox) …
      expect((await send(h.app, '/v1/batch', batch, { writeKey })).body).toEqual({ success: true, accepted: 0, duplicates: 3 });
      await h.t.drain();
      const p = await lookup(h.app, adminToken, 'user_id', `u-${id}`);
      const before = { computed: p!.computed, events: (await allEvents(h.app, adminToken, p!.id)).length };
      expect(before.events).toBe(3);
      // … and after processing.
      expect((await send(h.app, '/v1/batch', batch, { writeKey })).body).toEqual({ success: true, accepted: 0, duplicates: 3 });
      // A single-message endpoint dedupes on the same ids.
      expect((await send(h.app, '/v1/track', batch.batch[1], { writeKey })).body).toEqual({ success: true, accepted: 0, duplicates: 1 });
      await h.t.drain();
      const after = await lookup(h.app, adminToken, 'user_id', `u-${id}`);
      expect(after!.computed).toEqual(before.computed);
      expect(after!.computed.total_spent).toBe(10000);
      expect(await allEvents(h.app, adminToken, p!.id)).toHaveLength(3);
    });

    it('stores a messageId repeated inside one batch once', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const m = { type: 'track', anonymousId: 'twice', messageId: `dup-${uniq()}`, event: 'Once' };
      expect((await send(h.app, '/v1/batch', { batch: [m, m] }, { writeKey })).body).toEqual({ success: true, accepted: 1, duplicates: 1 });
      await h.t.drain();
      expect((await lookup(h.app, adminToken, 'anonymous_id', 'twice'))?.computed.event_count).toBe(1);
    });

    it('dedupes per workspace: the same messageId in two workspaces is stored in both', async () => {
      const a = await h.t.workspace();
      const b = await h.t.workspace();
      const m = { type: 'track', anonymousId: 'shared', messageId: `x-${uniq()}`, event: 'Both' };
      expect((await send(h.app, '/v1/batch', { batch: [m] }, { writeKey: a.writeKey })).body).toMatchObject({ accepted: 1 });
      expect((await send(h.app, '/v1/batch', { batch: [m] }, { writeKey: b.writeKey })).body).toMatchObject({ accepted: 1 });
      await h.t.drain();
      expect((await lookup(h.app, a.adminToken, 'anonymous_id', 'shared'))?.computed.event_count).toBe(1);
      expect((await lookup(h.app, b.adminToken, 'anonymous_id', 'shared'))?.computed.event_count).toBe(1);
    });

    it('applies batch-level context and sentAt to every message (a message’s own context wins)', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const hour = 3_600_000;
      const body = {
        // The client's clock is one hour fast: its events happened 10 s and 20 s before it sent the batch.
        sentAt: at(hour),
        context: { locale: 'zh-CN', ip: '203.0.113.7', traits: { phone: '13700001111' } },
        batch: [
          { type: 'track', anonymousId: 'ctx-1', event: 'A', timestamp: at(hour - 10_000) },
          { type: 'track', anonymousId: 'ctx-2', event: 'B', timestamp: at(hour - 20_000), context: { locale: 'en-US' } },
        ],
      };
      const r = await send(h.app, '/v1/batch', body, { writeKey });
      expect(r.status, r.text).toBe(200);
      await h.t.drain();
      // The batch context carried the same phone on both messages: one person.
      const p = await lookup(h.app, adminToken, 'phone', '13700001111');
      expect(p?.identities.map((i) => i.value).sort()).toEqual(['+8613700001111', 'ctx-1', 'ctx-2']);
      const events = await allEvents(h.app, adminToken, p!.id);
      const byName = Object.fromEntries(events.map((e) => [e.event, e]));
      expect(byName.A?.context).toMatchObject({ locale: 'zh-CN', ip: '203.0.113.7' });
      expect(byName.B?.context).toMatchObject({ locale: 'en-US', ip: '203.0.113.7' });
      expect(byName.A?.timestamp).toBe(at(-10_000));
      expect(byName.B?.timestamp).toBe(at(-20_000));
    });

    it('stores every message of a batch of 4,000 small messages', async () => {
      const { writeKey, adminToken } = await h.t.workspace();
      const id = uniq();
      const batch = Array.from({ length: 4000 }, (_, i) => ({ type: 'track', anonymousId: `${id}-${i % 400}`, messageId: `${id}-m${i}`, event: 'Tap' }));
      const r = await send(h.app, '/v1/batch', { batch }, { writeKey });
      expect(r.status, r.text.slice(0, 300)).toBe(200);
      expect(r.body).toEqual({ success: true, accepted: 4000, duplicates: 0 });
      expect((await send(h.app, '/v1/batch', { batch }, { writeKey })).body).toEqual({ success: true, accepted: 0, duplicates: 4000 });
      await h.t.drain();
      const stats = await api<{ events: number; profiles: number }>(h.app, adminToken, 'GET', '/api/v1/stats');
      expect(stats.body).toMatchObject({ events: 4000, profiles: 400 });
    });

    it('rejects a batch that is not an array or is empty', async () => {
      const { writeKey } = await h.t.workspace();
      for (const body of [{ batch: {} }, { batch: [] }, { messages: [] }]) {
        const r = await send<ErrorBody>(h.app, '/v1/batch', body, { writeKey });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.details?.problems?.[0]?.path).toBe('batch');
      }
    });
  });
});
