import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { allEvents, allProfiles, createServerHarness, lookup, uniq, uniquePhone, wallClock, type ServerHarness } from './harness.ts';

/** The calls one person makes across three devices, in the order a client library sends them. */
interface Journey {
  userId: string;
  phone: string;
  anonWeb: string;
  anonApp: string;
  anonKiosk: string;
  orderId: string;
}

/** What every SDK under test must do: send the journey and resolve once the server answered every request. */
interface SdkDriver {
  name: string;
  send(baseUrl: string, writeKey: string, j: Journey): Promise<{ failures: string[]; statuses: number[] }>;
}

const SEGMENT: SdkDriver = {
  name: '@segment/analytics-node',
  async send(baseUrl, writeKey, j) {
    const analytics = new SegmentAnalytics({ writeKey, host: baseUrl, flushAt: 2, flushInterval: 50, maxRetries: 0 });
    const failures: string[] = [];
    const statuses: number[] = [];
    analytics.on('error', (e) => failures.push(String((e as { reason?: unknown }).reason ?? e)));
    analytics.on('http_response', (r) => statuses.push(r.status));
    const done = (err?: unknown) => {
      if (err) failures.push(String(err));
    };
    analytics.page({ anonymousId: j.anonWeb, name: 'Home', category: 'Landing', properties: { url: 'https://shop.example.cn/' } }, done);
    analytics.identify({ userId: j.userId, anonymousId: j.anonWeb, traits: { phone: j.phone, name: '韩梅梅' } }, done);
    analytics.track({ anonymousId: j.anonApp, event: 'Order Completed', properties: { order_id: j.orderId, total: 88.8, currency: 'CNY' }, context: { traits: { phone: j.phone } } }, done);
    analytics.group({ userId: j.userId, groupId: 'g-acme', traits: { name: 'ACME' } }, done);
    analytics.page({ anonymousId: j.anonKiosk, name: 'Store Map' }, done);
    analytics.alias({ previousId: j.anonKiosk, userId: j.userId }, done);
    await analytics.closeAndFlush({ timeout: 20_000 });
    return { failures, statuses };
  },
};

const RUDDERSTACK: SdkDriver = {
  name: '@rudderstack/rudder-sdk-node',
  async send(baseUrl, writeKey, j) {
    const failures: string[] = [];
    // No persistence queue (that needs Redis): the in-memory queue posts gzip to `${dataPlaneUrl}/v1/batch`.
    const client = new RudderAnalytics(writeKey, { dataPlaneUrl: baseUrl, flushAt: 1, flushInterval: 50, retryCount: 0, logLevel: 'error', errorHandler: (e: unknown) => failures.push(String(e)) });
    const sent: Promise<void>[] = [];
    const call = (fn: (cb: () => void) => unknown) =>
      sent.push(
        new Promise<void>((resolve) => {
          fn(((err?: unknown) => {
            if (err) failures.push(String(err));
            resolve();
          }) as () => void);
        }),
      );
    call((cb) => client.page({ anonymousId: j.anonWeb, name: 'Home', category: 'Landing', properties: { url: 'https://shop.example.cn/' } }, cb));
    call((cb) => client.identify({ userId: j.userId, anonymousId: j.anonWeb, traits: { phone: j.phone, name: '韩梅梅' } }, cb));
    call((cb) => client.track({ anonymousId: j.anonApp, event: 'Order Completed', properties: { order_id: j.orderId, total: 88.8, currency: 'CNY' }, context: { traits: { phone: j.phone } } }, cb));
    call((cb) => client.group({ userId: j.userId, groupId: 'g-acme', traits: { name: 'ACME' } }, cb));
    call((cb) => client.page({ anonymousId: j.anonKiosk, name: 'Store Map' }, cb));
    call((cb) => client.alias({ userId: j.userId, previousId: j.anonKiosk }, cb));
    await client.flush();
    await Promise.all(sent);
    return { failures, statuses: [] };
  },
};

describe.each(TEST_BACKENDS)('real SDK clients against a listening server on $name', (backend) => {
  let h: ServerHarness;
  let server: ServerType;
  let baseUrl: string;
  beforeAll(async () => {
    // SDKs stamp messages with the real time, so the server's clock must be the real one too.
    h = await createServerHarness(backend, { clock: wallClock() });
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await h.close();
  });

  it.each([SEGMENT, RUDDERSTACK])('$name: a person seen on three devices ends up as one profile with every event', async (sdk) => {
    const { writeKey, adminToken } = await h.t.workspace(sdk.name);
    const id = uniq();
    const phone = uniquePhone();
    const j: Journey = { userId: `u-${id}`, phone, anonWeb: `web-${id}`, anonApp: `app-${id}`, anonKiosk: `kiosk-${id}`, orderId: `o-${id}` };
    const startedAt = Date.now();

    const { failures, statuses } = await sdk.send(baseUrl, writeKey, j);
    expect(failures).toEqual([]);
    expect(statuses.every((s) => s === 200)).toBe(true);
    await h.t.drain();

    const profiles = await allProfiles(h.app, adminToken);
    expect(profiles, 'every call resolves to one person').toHaveLength(1);
    const p = await lookup(h.app, adminToken, 'phone', phone);
    expect(p?.id).toBe(profiles[0]?.id);
    expect(p!.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual(
      [`anonymous_id=${j.anonApp}`, `anonymous_id=${j.anonKiosk}`, `anonymous_id=${j.anonWeb}`, `phone=+86${phone}`, `user_id=${j.userId}`].sort(),
    );
    expect(p!.traits).toMatchObject({ phone: `+86${phone}`, name: '韩梅梅' });
    expect(p!.computed).toMatchObject({ order_count: 1, total_spent: 8880, event_counts: { 'Page Viewed': 2, 'Order Completed': 1 } });

    const events = await allEvents(h.app, adminToken, p!.id);
    expect(events.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'page', 'track']);
    expect(events.find((e) => e.type === 'page' && e.event === 'Home')?.properties).toMatchObject({ url: 'https://shop.example.cn/', category: 'Landing' });
    expect(events.find((e) => e.type === 'track')?.properties).toMatchObject({ order_id: j.orderId, total: 88.8 });
    expect(events.find((e) => e.type === 'group')?.properties).toMatchObject({ name: 'ACME' });
    expect(new Set(events.map((e) => e.messageId)).size).toBe(6);

    // Skew-corrected times are real: not before the test began (minus a little clock slack), never in the future.
    const now = Date.now();
    for (const e of events) {
      const ts = Date.parse(e.timestamp);
      expect(ts, `${e.type} timestamp ${e.timestamp}`).toBeGreaterThanOrEqual(startedAt - 5_000);
      expect(ts, `${e.type} timestamp ${e.timestamp}`).toBeLessThanOrEqual(now);
      expect(ts).toBeLessThanOrEqual(Date.parse(e.receivedAt));
    }
  });

  it.each([SEGMENT, RUDDERSTACK])('$name: the client sees the failure when the write key is wrong', async (sdk) => {
    const id = uniq();
    const j: Journey = { userId: `u-${id}`, phone: uniquePhone(), anonWeb: `web-${id}`, anonApp: `app-${id}`, anonKiosk: `kiosk-${id}`, orderId: `o-${id}` };
    const { failures, statuses } = await sdk.send(baseUrl, 'wk_wrong', j);
    expect(failures.length + statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200)).toEqual([]);
  });
});
