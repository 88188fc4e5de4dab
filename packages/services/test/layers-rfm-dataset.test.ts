import { isolatedTestBackend as privateDatabase } from '@siyu/storage/testing';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RFM_SEGMENTS, rfmMatrix, type RfmCustomer, type WorkspaceRecord } from '@siyu/core';
import { createServices, newId, silentLogger, type Services } from '@siyu/services';
import { testClock } from '@siyu/services/testing';
import { openTestStore, TEST_BACKENDS } from '@siyu/storage/testing';
import type { OpenedStore } from '@siyu/storage';

/** 4,906 orders of 995 customers, 2001-10-29 … 2006-12-30 (rsquaredacademy/rfm, MIT; see LICENSE-rfm.txt). */
// shared/ sits beside the project root (a fresh clone in CI has it there too).
const DATASET = join(import.meta.dirname, '../../../../shared/datasets/rfm/rfm_data_orders.csv');
const NOW = '2007-01-01T00:00:00.000Z';

interface CsvOrder {
  customer: string;
  timestamp: string;
  /** Yuan, whole numbers in this file. */
  revenue: number;
}

function readOrders(): CsvOrder[] {
  const [header, ...lines] = readFileSync(DATASET, 'utf8').trim().split(/\r?\n/);
  expect(header).toBe('"customer_id","order_date","revenue","first_name","last_name","email"');
  return lines.map((line) => {
    const [customer, date, revenue] = line.split(',').map((f) => f.replace(/^"|"$/g, ''));
    return { customer: customer!, timestamp: `${date}T00:00:00.000Z`, revenue: Number(revenue) };
  });
}

/** The same customers as core sees them, straight from the file (fen). */
function csvCustomers(orders: readonly CsvOrder[]): RfmCustomer[] {
  const by = new Map<string, RfmCustomer>();
  for (const o of orders) {
    const c = by.get(o.customer) ?? { id: o.customer, lastOrderAt: null, orderCount: 0, totalSpent: 0 };
    if (c.lastOrderAt === null || o.timestamp > c.lastOrderAt) c.lastOrderAt = o.timestamp;
    c.orderCount += 1;
    c.totalSpent += o.revenue * 100;
    by.set(o.customer, c);
  }
  return [...by.values()];
}


const HAVE_DATASET = existsSync(DATASET);
if (!HAVE_DATASET) console.warn(`skipping the rfm dataset test: ${DATASET} is absent (shared/ belongs beside the project root)`);

describe.skipIf(!HAVE_DATASET).each(TEST_BACKENDS)('RFM on the rfm_data_orders dataset on $name', (backend) => {
  // A skipped describe still runs its body to collect tests: read the file only when it is there.
  const orders = HAVE_DATASET ? readOrders() : [];
  const customers = csvCustomers(orders);
  const clock = testClock(NOW);
  let opened: OpenedStore;
  let drop: () => Promise<void>;
  let services: Services;
  let ws: WorkspaceRecord;
  const changes: Array<Set<string>> = [];

  async function settle(): Promise<void> {
    while ((await services.processor.processBatch(1000)).messages > 0);
    await services.layers.settled();
  }

  beforeAll(async () => {
    const db = await privateDatabase(backend);
    drop = db.drop;
    opened = await openTestStore(db.backend);
    // exactBelow 0: this workspace is treated as large, so new orders are scored against the cut points
    // cached by the last full recompute rather than by recomputing everyone.
    services = createServices({ store: opened.store, clock, newId, log: silentLogger }, { layers: { exactBelow: 0 } });
    services.layers.onLayersChanged((workspaceId, ids) => {
      if (workspaceId === ws.id) changes.push(new Set(ids));
    });
    ws = (await services.workspaces.create({ name: 'rfm-dataset' })).workspace;
    for (let i = 0; i < orders.length; i += 400) {
      const batch = orders.slice(i, i + 400).map((o, j) => ({
        type: 'track',
        messageId: `rfm-${i + j}`,
        userId: o.customer,
        event: 'Order Completed',
        properties: { revenue: o.revenue, currency: 'CNY' },
        timestamp: o.timestamp,
      }));
      await services.ingest.ingest(ws, 'batch', { batch }, JSON.stringify(batch).length);
    }
    await settle();
  });
  afterAll(async () => {
    await services.layers.settled();
    await services.audienceEngine.settled();
    await opened.close();
    await drop();
  });

  it('the file holds 4,906 orders of 995 customers', () => {
    expect([orders.length, customers.length]).toEqual([4906, 995]);
  });

  it('before the first full recompute a large workspace has lifecycle stages but no RFM cells yet', async () => {
    const lifecycle = await services.layers.lifecycle(ws.id);
    expect(lifecycle.total).toBe(995);
    expect(lifecycle.stages.find((s) => s.stage === 'prospect')?.customers).toBe(0);
    const report = await services.layers.rfm(ws.id);
    expect([report.customers, report.thresholds, report.computedAt]).toEqual([0, null, null]);
  });

  it('the full recompute scores all 995 customers exactly as core does from the file', async () => {
    const report = await services.layers.recomputeAll(ws.id);
    const revenueFen = orders.reduce((sum, o) => sum + o.revenue * 100, 0);
    expect(revenueFen).toBe(46_415_800);
    expect(report.customers).toBe(995);
    expect(report.revenue).toBe(revenueFen);
    expect(report.cells.reduce((n, c) => n + c.customers, 0)).toBe(995);
    expect(report.cells.reduce((n, c) => n + c.revenue, 0)).toBe(revenueFen);
    expect(report.segments.reduce((n, s) => n + s.customers, 0)).toBe(995);
    expect(report.computedAt).toBe(NOW);

    const expected = rfmMatrix(customers, { now: new Date(NOW) });
    expect(report.cells).toEqual(expected.cells);
    expect(report.segments.map(({ share: _s, ...s }) => s)).toEqual(expected.segments);
    // Every one of the 11 named segments is populated by this dataset.
    expect(report.segments.map((s) => s.segment)).toEqual([...RFM_SEGMENTS]);
    for (const s of report.segments) expect(s.customers, s.segment).toBeGreaterThan(0);
    expect(Object.fromEntries(report.segments.map((s) => [s.segment, s.customers]))).toEqual({
      Champions: 164,
      'Loyal Customers': 177,
      'Potential Loyalist': 105,
      'New Customers': 38,
      Promising: 22,
      'Need Attention': 46,
      'About To Sleep': 45,
      'At Risk': 211,
      "Can't Lose Them": 26,
      Hibernating: 50,
      Lost: 111,
    });
    expect(report.segments.reduce((n, s) => n + s.share, 0)).toBeCloseTo(1, 3);
    expect((await services.layers.lifecycle(ws.id)).total).toBe(995);
  });

  it('a new order moves one customer’s cell, scored against the cached cut points without recomputing everyone', async () => {
    // The customer whose last order is the oldest: R1.
    const oldest = [...customers].sort((a, b) => (a.lastOrderAt! < b.lastOrderAt! ? -1 : a.lastOrderAt! > b.lastOrderAt! ? 1 : a.id < b.id ? -1 : 1))[0]!;
    const profile = await services.profiles.lookup(ws.id, 'user_id', oldest.id);
    const before = (await services.layers.getLayers(ws.id, [profile.id])).get(profile.id)!;
    expect(before.rfm?.r).toBe(1);
    const { thresholds } = await services.layers.rfm(ws.id);
    const cuts = thresholds!;

    const since = changes.length;
    clock.set('2007-01-02T00:00:00.000Z');
    await services.ingest.ingest(ws, 'track', { userId: oldest.id, event: 'Order Completed', properties: { revenue: 250 }, timestamp: '2007-01-02T00:00:00.000Z' }, 100);
    await settle();

    const orderCount = oldest.orderCount + 1;
    const spent = oldest.totalSpent + 25_000;
    const higher = (c: Array<number | null>, v: number) => 1 + c.filter((x) => x !== null && x <= v).length;
    const after = (await services.layers.getLayers(ws.id, [profile.id])).get(profile.id)!;
    expect(after.rfm).toMatchObject({ r: 5, f: higher(cuts.f.cuts, orderCount), m: higher(cuts.m.cuts, spent) });
    expect([after.rfm!.r, after.rfm!.f]).not.toEqual([before.rfm!.r, before.rfm!.f]);
    expect(after.lifecycle).toBe('active');
    // Only this customer changed: the others keep their scores until the next full recompute.
    expect(changes.slice(since)).toEqual([new Set([profile.id])]);
    const report = await services.layers.rfm(ws.id);
    expect([report.customers, report.revenue, report.computedAt]).toEqual([995, 46_415_800 + 25_000, NOW]);
    expect(report.cells.find((c) => c.r === after.rfm!.r && c.f === after.rfm!.f)!.customers).toBeGreaterThan(0);
  });

  it('the daily recompute runs once the last one is a day old', async () => {
    expect(await services.layers.recomputeDue(new Date('2007-01-01T23:00:00.000Z'))).not.toContain(ws.id);
    expect(await services.layers.recomputeDue(new Date('2007-01-02T00:00:00.000Z'))).toContain(ws.id);
    const report = await services.layers.rfm(ws.id);
    expect([report.customers, report.computedAt]).toEqual([995, '2007-01-02T00:00:00.000Z']);
  });
});
