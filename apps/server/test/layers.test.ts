import { isolatedTestBackend as privateDatabase } from '@siyu/storage/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleReport, RfmReport } from '@siyu/services';
import { testClock } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';
import { api, createServerHarness, send, type ErrorBody, type ServerHarness } from './harness.ts';

const NOW = '2026-03-01T08:00:00.000Z';
const daysAgo = (d: number) => new Date(Date.parse(NOW) - d * 86_400_000).toISOString();


interface Shop {
  workspaceId: string;
  writeKey: string;
  adminToken: string;
}

describe.each(TEST_BACKENDS)('layers API on $name', (backend) => {
  let h: ServerHarness;
  let drop: () => Promise<void>;
  let a: Shop;
  let b: Shop;

  async function settle(): Promise<void> {
    await h.t.drain();
    await h.t.services.layers.settled();
  }

  async function shop(name: string): Promise<Shop> {
    const { workspace, writeKey, adminToken } = await h.t.workspace(name);
    return { workspaceId: workspace.id, writeKey, adminToken };
  }

  async function orders(s: Shop, list: Array<[userId: string, days: number, yuan: number]>): Promise<void> {
    const batch = list.map(([userId, days, total]) => ({ type: 'track', userId, event: 'Order Completed', properties: { total }, timestamp: daysAgo(days) }));
    const r = await send(h.app, '/v1/batch', { batch }, { writeKey: s.writeKey });
    expect(r.status).toBe(200);
  }

  beforeAll(async () => {
    const db = await privateDatabase(backend);
    drop = db.drop;
    h = await createServerHarness(db.backend, { clock: testClock(NOW) });
    a = await shop('layers-a');
    b = await shop('layers-b');
    // Shop A: three buyers and a visitor. Shop B: one big buyer.
    await orders(a, [
      ['a1', 3, 100],
      ['a1', 10, 100],
      ['a2', 40, 50],
      ['a3', 200, 20],
    ]);
    await send(h.app, '/v1/identify', { userId: 'a4', traits: { name: '访客' } }, { writeKey: a.writeKey });
    await orders(b, [['b1', 1, 9_999]]);
    await settle();
  });
  afterAll(async () => {
    await h.t.services.layers.settled();
    await h.t.services.audienceEngine.settled();
    await h.close();
    await drop();
  });

  it('GET /api/v1/layers/rfm: the R × F matrix and segments of the token’s workspace only', async () => {
    const ra = await api<RfmReport>(h.app, a.adminToken, 'GET', '/api/v1/layers/rfm');
    expect(ra.status).toBe(200);
    expect(ra.body.cells).toHaveLength(25);
    expect(ra.body.segments).toHaveLength(11);
    expect([ra.body.customers, ra.body.revenue]).toEqual([3, 20_000 + 5_000 + 2_000]);
    expect(ra.body.cells.reduce((n, c) => n + c.customers, 0)).toBe(3);
    expect(ra.body.computedAt).toBe(NOW);
    // By hand (3 buyers, score = 1 + ⌊5 × buyers worse / 3⌋, the best value 5): a1 R5 F5 M5, a2 R2 F1 M2, a3 R1 F1 M1.
    expect(ra.body.cells.filter((c) => c.customers > 0)).toEqual([
      { r: 5, f: 5, customers: 1, revenue: 20_000 },
      { r: 2, f: 1, customers: 1, revenue: 5_000 },
      { r: 1, f: 1, customers: 1, revenue: 2_000 },
    ]);
    expect(ra.body.segments.filter((s) => s.customers > 0)).toEqual([
      { segment: 'Champions', customers: 1, revenue: 20_000, share: 0.3333 },
      { segment: 'Hibernating', customers: 1, revenue: 5_000, share: 0.3333 },
      { segment: 'Lost', customers: 1, revenue: 2_000, share: 0.3333 },
    ]);

    const rb = await api<RfmReport>(h.app, b.adminToken, 'GET', '/api/v1/layers/rfm');
    expect([rb.body.customers, rb.body.revenue]).toEqual([1, 999_900]);
    expect(rb.body.cells.filter((c) => c.customers > 0)).toEqual([{ r: 1, f: 1, customers: 1, revenue: 999_900 }]);
  });

  it('GET /api/v1/layers/lifecycle: every stage in order, per workspace', async () => {
    const ra = await api<LifecycleReport>(h.app, a.adminToken, 'GET', '/api/v1/layers/lifecycle');
    expect(ra.status).toBe(200);
    // a1: 2 orders 7 days apart, last 3 days ago → active; a2: one order 40 days ago → active (past 30 new days);
    // a3: one order 200 days ago → at_risk (180 ≤ 200 < 360); a4: no order → prospect.
    expect(ra.body).toEqual({
      stages: [
        { stage: 'prospect', customers: 1, share: 0.25 },
        { stage: 'new', customers: 0, share: 0 },
        { stage: 'active', customers: 2, share: 0.5 },
        { stage: 'silent', customers: 0, share: 0 },
        { stage: 'at_risk', customers: 1, share: 0.25 },
        { stage: 'churned', customers: 0, share: 0 },
      ],
      total: 4,
    });
    const rb = await api<LifecycleReport>(h.app, b.adminToken, 'GET', '/api/v1/layers/lifecycle');
    expect(rb.body.total).toBe(1);
    expect(rb.body.stages.find((s) => s.stage === 'new')?.customers).toBe(1);
  });

  it('GET/PUT /api/v1/layers/settings: defaults, validation with paths, and settings that stay in their workspace', async () => {
    const defaults = await api<{ rfm: { thresholds: unknown }; lifecycle: Record<string, number> }>(h.app, a.adminToken, 'GET', '/api/v1/layers/settings');
    expect(defaults.status).toBe(200);
    expect(defaults.body.rfm).toEqual({ thresholds: null });
    expect(defaults.body.lifecycle).toMatchObject({ newDays: 30, singleOrderIntervalDays: 60, atRiskMultiple: 6 });

    const bad = await api<ErrorBody>(h.app, a.adminToken, 'PUT', '/api/v1/layers/settings', { rfm: { thresholds: { f: [5, 3, 2, 1] } }, lifecycle: { minIntervalDays: 0, maxIntervalDays: 'long' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
    expect(bad.body.error.details?.problems?.map((p) => p.path).sort()).toEqual(['lifecycle.maxIntervalDays', 'lifecycle.minIntervalDays', 'rfm.thresholds.f']);

    const put = await api<{ rfm: { thresholds: unknown } }>(h.app, b.adminToken, 'PUT', '/api/v1/layers/settings', { rfm: { thresholds: { m: [100, 1_000, 10_000, 100_000] } } });
    expect(put.status).toBe(200);
    expect(put.body.rfm.thresholds).toEqual({ m: [100, 1_000, 10_000, 100_000] });
    await h.t.services.layers.settled();
    const rb = await api<RfmReport>(h.app, b.adminToken, 'GET', '/api/v1/layers/rfm');
    expect(rb.body.thresholds?.m).toEqual({ cuts: [100, 1_000, 10_000, 100_000], source: 'fixed' });
    // b1, the only buyer: R1 F1 by quintiles of one (was Lost), M5 by the fixed cuts (999900 fen) → R1 × FM 3: At Risk.
    expect(rb.body.segments.filter((s) => s.customers > 0).map((s) => s.segment)).toEqual(['At Risk']);
    const ga = await api<{ rfm: { thresholds: unknown } }>(h.app, a.adminToken, 'GET', '/api/v1/layers/settings');
    expect(ga.body.rfm.thresholds).toBeNull();
  });

  it('POST /api/v1/layers/rfm/recompute answers with the recomputed matrix of the workspace', async () => {
    h.t.clock.set(new Date(Date.parse(NOW) + 86_400_000).toISOString());
    const r = await api<RfmReport>(h.app, a.adminToken, 'POST', '/api/v1/layers/rfm/recompute');
    expect(r.status).toBe(200);
    expect([r.body.customers, r.body.revenue, r.body.computedAt]).toEqual([3, 27_000, h.t.clock().toISOString()]);
    expect(r.body.cells).toEqual((await api<RfmReport>(h.app, a.adminToken, 'GET', '/api/v1/layers/rfm')).body.cells);
    const rb = await api<RfmReport>(h.app, b.adminToken, 'GET', '/api/v1/layers/rfm');
    expect(rb.body.computedAt).not.toBe(r.body.computedAt);
  });

  it('needs the admin token, and is described in the OpenAPI document', async () => {
    expect((await api(h.app, null, 'GET', '/api/v1/layers/rfm')).status).toBe(401);
    expect((await api(h.app, 'sat_nope', 'PUT', '/api/v1/layers/settings', {})).status).toBe(401);
    const doc = await h.app.request('/api/openapi.json');
    const paths = ((await doc.json()) as { paths: Record<string, Record<string, unknown>> }).paths;
    expect(Object.keys(paths['/api/v1/layers/settings'] ?? {}).sort()).toEqual(['get', 'put']);
    expect(paths['/api/v1/layers/rfm']).toHaveProperty('get');
    expect(paths['/api/v1/layers/rfm/recompute']).toHaveProperty('post');
    expect(paths['/api/v1/layers/lifecycle']).toHaveProperty('get');
  });
});
