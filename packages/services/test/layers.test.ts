import { isolatedTestBackend as privateDatabase } from '@siyu/storage/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, type LifecycleStage, type WorkspaceRecord } from '@siyu/core';
import type { ProfileLayers } from '@siyu/services';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { LayerStore } from '@siyu/storage';
import { TEST_BACKENDS } from '@siyu/storage/testing';

const DAY = 86_400_000;
const T0 = '2026-01-01T00:00:00.000Z';
const at = (base: string, days: number) => new Date(Date.parse(base) + days * DAY).toISOString();


interface Order {
  /** Days relative to the scenario's "now" (negative: in the past). */
  day: number;
  /** Yuan. */
  total: number;
}

describe.each(TEST_BACKENDS)('layering on $name', (backend) => {
  let t: TestSiyu;
  let drop: () => Promise<void>;
  const changes: Array<{ workspaceId: string; ids: string[] }> = [];

  beforeAll(async () => {
    const db = await privateDatabase(backend);
    drop = db.drop;
    t = await createTestSiyu(db.backend);
    t.services.layers.onLayersChanged((workspaceId, ids) => changes.push({ workspaceId, ids: [...ids] }));
  });
  afterAll(async () => {
    // The audience engine follows layer changes: let both finish before the database goes away.
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
    await t.close();
    await drop();
  });

  /** Runs the processor and the layer updates it triggers to completion. */
  async function settle(): Promise<void> {
    await t.drain();
    await t.services.layers.settled();
  }

  async function order(ws: WorkspaceRecord, userId: string, timestamp: string, total: number): Promise<void> {
    await t.services.ingest.ingest(ws, 'track', { userId, event: 'Order Completed', properties: { total }, timestamp }, 100);
  }

  async function profileId(ws: WorkspaceRecord, userId: string): Promise<string> {
    return (await t.services.profiles.lookup(ws.id, 'user_id', userId)).id;
  }

  async function layersOf(ws: WorkspaceRecord, userId: string): Promise<ProfileLayers | undefined> {
    const id = await profileId(ws, userId);
    return (await t.services.layers.getLayers(ws.id, [id])).get(id);
  }

  function changedIn(ws: WorkspaceRecord, since: number): Set<string> {
    return new Set(changes.slice(since).filter((c) => c.workspaceId === ws.id).flatMap((c) => c.ids));
  }

  describe('order events in → layers expected (a small workspace is scored by exact quintiles at once)', () => {
    const NOW = '2026-02-01T00:00:00.000Z';
    const every = (n: number, gapDays: number, lastDay: number, total: number): Order[] => Array.from({ length: n }, (_, i) => ({ day: lastDay - (n - 1 - i) * gapDays, total }));
    // Quintiles over the six buyers, by hand: score = 1 + ⌊5 × (buyers strictly worse) / 6⌋.
    // R (days): a 1, g 5, b 10, c 30, d 120, e 365 → 5, 4, 3, 2, 1, 1.
    // F: a 10, b 5, c 2, d 2, e 1, g 1 → 5, 4, 2, 2, 1, 1.   M (fen): a 100000 … g 2000 → 5, 4, 3, 2, 1, 1.
    // Lifecycle: interval = span / (orders − 1) clamped to [7, 180] (one order: 60), active < 1.5×, silent < 3×, at_risk < 6×.
    const rows: Array<{ user: string; orders: Order[]; lifecycle: LifecycleStage; rfm: ProfileLayers['rfm'] }> = [
      { user: 'a', orders: every(10, 3, -1, 100), lifecycle: 'active', rfm: { r: 5, f: 5, m: 5, segment: 'Champions' } }, // interval 3 → 7: 1 day < 10.5
      { user: 'b', orders: every(5, 10, -10, 100), lifecycle: 'active', rfm: { r: 3, f: 4, m: 4, segment: 'Loyal Customers' } }, // 10 < 15
      { user: 'c', orders: every(2, 30, -30, 100), lifecycle: 'active', rfm: { r: 2, f: 2, m: 3, segment: 'At Risk' } }, // 30 < 45
      { user: 'd', orders: every(2, 30, -120, 40), lifecycle: 'at_risk', rfm: { r: 1, f: 2, m: 2, segment: 'At Risk' } }, // 90 ≤ 120 < 180
      { user: 'e', orders: [{ day: -365, total: 30 }], lifecycle: 'churned', rfm: { r: 1, f: 1, m: 1, segment: 'Lost' } }, // 365 ≥ 360
      { user: 'g', orders: [{ day: -5, total: 20 }], lifecycle: 'new', rfm: { r: 4, f: 1, m: 1, segment: 'New Customers' } }, // first order < 30 days ago
      { user: 'p', orders: [], lifecycle: 'prospect', rfm: null },
    ];
    let ws: WorkspaceRecord;

    beforeAll(async () => {
      t.clock.set(NOW);
      ws = (await t.workspace('layers-scenario')).workspace;
      for (const row of rows) {
        await t.services.ingest.ingest(ws, 'identify', { userId: row.user, traits: { name: row.user }, timestamp: at(NOW, -400) }, 100);
        for (const o of row.orders) await order(ws, row.user, at(NOW, o.day), o.total);
      }
      await settle();
    });

    it.each(rows)('$user → $lifecycle, $rfm.segment', async ({ user, lifecycle, rfm }) => {
      expect(await layersOf(ws, user)).toEqual({ lifecycle, rfm });
    });

    it('the lifecycle distribution counts every profile once, in stage order', async () => {
      expect(await t.services.layers.lifecycle(ws.id)).toEqual({
        stages: [
          { stage: 'prospect', customers: 1, share: 0.1429 },
          { stage: 'new', customers: 1, share: 0.1429 },
          { stage: 'active', customers: 3, share: 0.4286 },
          { stage: 'silent', customers: 0, share: 0 },
          { stage: 'at_risk', customers: 1, share: 0.1429 },
          { stage: 'churned', customers: 1, share: 0.1429 },
        ],
        total: 7,
      });
    });

    it('the RFM matrix totals the buyers and their spend (fen)', async () => {
      const report = await t.services.layers.rfm(ws.id);
      expect(report.cells).toHaveLength(25);
      expect(report.customers).toBe(6);
      expect(report.revenue).toBe(100_000 + 50_000 + 20_000 + 8_000 + 3_000 + 2_000);
      expect(report.cells.filter((c) => c.customers > 0)).toEqual([
        { r: 5, f: 5, customers: 1, revenue: 100_000 },
        { r: 4, f: 1, customers: 1, revenue: 2_000 },
        { r: 3, f: 4, customers: 1, revenue: 50_000 },
        { r: 2, f: 2, customers: 1, revenue: 20_000 },
        { r: 1, f: 1, customers: 1, revenue: 3_000 },
        { r: 1, f: 2, customers: 1, revenue: 8_000 },
      ]);
      expect(report.segments.find((s) => s.segment === 'At Risk')).toEqual({ segment: 'At Risk', customers: 2, revenue: 28_000, share: 0.3333 });
      expect(report.segments).toHaveLength(11);
      expect(report.computedAt).toBe(NOW);
      expect(report.thresholds?.r).toEqual({ cuts: [1, 5, 10, 30], source: 'quintiles' });
    });

    it('a new order re-scores the buyer at once and moves its cell', async () => {
      const before = changes.length;
      const e = await profileId(ws, 'e');
      await order(ws, 'e', NOW, 600);
      await settle();
      // e now: 2 orders a year apart (interval clamped to 180 days), the last today → active. Quintiles again:
      // R 0 days, the most recent → 5; F 2 orders, 1 buyer below → 1 + ⌊5/6⌋ = 1; M 63000 fen, 4 below → 4.
      expect(await layersOf(ws, 'e')).toEqual({ lifecycle: 'active', rfm: { r: 5, f: 1, m: 4, segment: 'Potential Loyalist' } });
      expect(changedIn(ws, before).has(e)).toBe(true);
      const report = await t.services.layers.rfm(ws.id);
      expect(report.cells.find((c) => c.r === 5 && c.f === 1)).toEqual({ r: 5, f: 1, customers: 1, revenue: 63_000 });
      expect(report.revenue).toBe(183_000 + 60_000);
    });
  });

  describe('lifecycle moves with time, no new order (runDue)', () => {
    it('a one-order customer: new → active → silent → at_risk → churned', async () => {
      t.clock.set(T0);
      const { workspace: ws } = await t.workspace('layers-lifecycle');
      await order(ws, 'solo', T0, 99);
      await settle();
      const id = await profileId(ws, 'solo');
      // One order: new for 30 days; then the default 60-day interval: active < 90, silent < 180, at_risk < 360.
      const timeline: Array<[days: number, stage: LifecycleStage]> = [
        [0, 'new'],
        [29.9, 'new'],
        [30, 'active'],
        [89.9, 'active'],
        [90, 'silent'],
        [179, 'silent'],
        [180, 'at_risk'],
        [359.9, 'at_risk'],
        [360, 'churned'],
        [800, 'churned'],
      ];
      let previous: LifecycleStage | undefined;
      for (const [days, stage] of timeline) {
        t.clock.set(at(T0, days));
        const before = changes.length;
        await t.services.layers.runDue();
        expect((await t.services.layers.getLayers(ws.id, [id])).get(id)?.lifecycle, `day ${days}`).toBe(stage);
        // The audience engine hears of the change exactly when the stage moves.
        expect(changedIn(ws, before).has(id), `change notified on day ${days}`).toBe(previous !== undefined && previous !== stage);
        previous = stage;
      }
      expect((await t.services.layers.lifecycle(ws.id)).stages.find((s) => s.stage === 'churned')?.customers).toBe(1);
    });

    it('a fast and a slow repeat buyer are judged by their own rhythm at the same days since their last order', async () => {
      const last = '2026-06-01T00:00:00.000Z';
      t.clock.set(last);
      const { workspace: ws } = await t.workspace('layers-rhythm');
      for (const d of [-28, -21, -14, -7, 0]) await order(ws, 'weekly', at(last, d), 50); // every 7 days
      for (const d of [-120, -60, 0]) await order(ws, 'bimonthly', at(last, d), 50); // every 60 days
      await settle();
      const table: Array<[days: number, weekly: LifecycleStage, bimonthly: LifecycleStage]> = [
        [5, 'active', 'active'],
        [11, 'silent', 'active'], // weekly: ≥ 1.5 × 7
        [20, 'silent', 'active'],
        [30, 'at_risk', 'active'], // weekly: ≥ 3 × 7
        [45, 'churned', 'active'], // weekly: ≥ 6 × 7
        [100, 'churned', 'silent'], // bimonthly: ≥ 1.5 × 60
        [200, 'churned', 'at_risk'], // bimonthly: ≥ 3 × 60
        [360, 'churned', 'churned'], // bimonthly: ≥ 6 × 60
      ];
      for (const [days, weekly, bimonthly] of table) {
        t.clock.set(at(last, days));
        await t.services.layers.runDue();
        expect([(await layersOf(ws, 'weekly'))?.lifecycle, (await layersOf(ws, 'bimonthly'))?.lifecycle], `day ${days}`).toEqual([weekly, bimonthly]);
      }
    });
  });

  describe('settings', () => {
    it('defaults when unset', async () => {
      const { workspace: ws } = await t.workspace('layers-defaults');
      expect(await t.services.layers.getSettings(ws.id)).toEqual({
        rfm: { thresholds: null },
        lifecycle: { newDays: 30, minIntervalDays: 7, maxIntervalDays: 180, singleOrderIntervalDays: 60, activeMultiple: 1.5, silentMultiple: 3, atRiskMultiple: 6 },
      });
    });

    it('invalid settings are refused with every problem and its path, and nothing is stored', async () => {
      const { workspace: ws } = await t.workspace('layers-invalid');
      const err = await t.services.layers
        .putSettings(ws.id, {
          rfm: { thresholds: { r: [30, 7, 90, 180], f: [1, 2, 3], m: [1, 2, 3, 'x'] } },
          lifecycle: { newDays: -1, activeMultiple: 'often' },
          colour: 'red',
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('INVALID_INPUT');
      const paths = ((err as AppError).details?.['problems'] as Array<{ path: string }>).map((p) => p.path).sort();
      expect(paths).toEqual(['(root)', 'lifecycle.activeMultiple', 'lifecycle.newDays', 'rfm.thresholds.f', 'rfm.thresholds.m[3]', 'rfm.thresholds.r'].sort());
      const cross = await t.services.layers.putSettings(ws.id, { lifecycle: { activeMultiple: 4, silentMultiple: 3 } }).catch((e: unknown) => e);
      expect(((cross as AppError).details?.['problems'] as Array<{ path: string }>).map((p) => p.path)).toEqual(['lifecycle.silentMultiple']);
      expect((await t.services.layers.getSettings(ws.id)).lifecycle.activeMultiple).toBe(1.5);
    });

    it('fixed RFM thresholds and lifecycle thresholds re-layer the workspace; new orders are scored against them', async () => {
      const NOW = '2026-03-01T00:00:00.000Z';
      t.clock.set(NOW);
      const { workspace: ws } = await t.workspace('layers-fixed');
      await order(ws, 'x', at(NOW, -40), 300);
      await settle();
      expect((await layersOf(ws, 'x'))?.lifecycle).toBe('active'); // one order 40 days ago: past the 30 new days
      const saved = await t.services.layers.putSettings(ws.id, {
        rfm: { thresholds: { r: [7, 30, 90, 180], f: [2, 3, 5, 10], m: [5_000, 10_000, 30_000, 80_000] } },
        lifecycle: { newDays: 45 },
      });
      expect(saved.lifecycle).toMatchObject({ newDays: 45, activeMultiple: 1.5 });
      await t.services.layers.settled();
      // 40 days ≤ 90 → R3; 1 order → F1; 30000 fen ≥ 30000 → M4 (R3 × FM 2.5: Need Attention); within 45 new days.
      expect(await layersOf(ws, 'x')).toEqual({ lifecycle: 'new', rfm: { r: 3, f: 1, m: 4, segment: 'Need Attention' } });
      await order(ws, 'y', NOW, 1_000);
      await settle();
      expect(await layersOf(ws, 'y')).toEqual({ lifecycle: 'new', rfm: { r: 5, f: 1, m: 5, segment: 'Loyal Customers' } }); // R5 × FM 3
      expect((await t.services.layers.rfm(ws.id)).thresholds).toEqual({
        r: { cuts: [7, 30, 90, 180], source: 'fixed' },
        f: { cuts: [2, 3, 5, 10], source: 'fixed' },
        m: { cuts: [5_000, 10_000, 30_000, 80_000], source: 'fixed' },
      });
    });
  });

  describe('merged profiles', () => {
    it('the merged-away profile loses its layers and the survivor is re-scored with both histories', async () => {
      const NOW = '2026-04-01T00:00:00.000Z';
      t.clock.set(NOW);
      const { workspace: ws } = await t.workspace('layers-merge');
      await t.services.ingest.ingest(ws, 'track', { anonymousId: 'anon-1', event: 'Order Completed', properties: { total: 80 }, timestamp: at(NOW, -50) }, 100);
      await order(ws, 'member-1', at(NOW, -20), 120);
      await order(ws, 'someone-else', at(NOW, -2), 10);
      await settle();
      const anon = (await t.services.profiles.lookup(ws.id, 'anonymous_id', 'anon-1')).id;
      const member = await profileId(ws, 'member-1');
      expect(anon).not.toBe(member);
      expect((await t.services.layers.rfm(ws.id)).customers).toBe(3);

      const before = changes.length;
      await t.services.ingest.ingest(ws, 'identify', { userId: 'member-1', anonymousId: 'anon-1', timestamp: NOW }, 100);
      await settle();
      const survivor = await profileId(ws, 'member-1');
      const loser = survivor === member ? anon : member;
      const store = new LayerStore(t.services.deps.store);
      expect(await store.layersOf(ws.id, [loser])).toEqual([]);
      const layers = await t.services.layers.getLayers(ws.id, [survivor, loser]);
      expect([...layers.keys()]).toEqual([survivor]);
      // Two orders 30 days apart, the last 20 days ago: interval 30 → active (< 45 days).
      expect(layers.get(survivor)?.lifecycle).toBe('active');
      expect(layers.get(survivor)?.rfm?.f).toBe(5); // 2 orders vs 1: the best value scores 5
      expect(changedIn(ws, before)).toContain(loser);
      const report = await t.services.layers.rfm(ws.id);
      expect([report.customers, report.revenue]).toEqual([2, 8_000 + 12_000 + 1_000]);
      expect((await t.services.layers.lifecycle(ws.id)).total).toBe(2);

      // Undoing the merge (outside the processor): refreshProfiles layers both people again.
      const mergeId = (await t.services.profiles.get(ws.id, survivor)).merges.find((m) => m.loserId === loser)!.id;
      await t.services.profiles.unmerge(ws.id, survivor, mergeId, 'test');
      await t.services.layers.refreshProfiles(ws.id, [survivor, loser]);
      const split = await t.services.layers.getLayers(ws.id, [survivor, loser]);
      expect([split.get(survivor)?.rfm?.f, split.get(loser)?.rfm?.f, split.get(loser)?.lifecycle]).toEqual([1, 1, 'active']);
      expect((await t.services.layers.lifecycle(ws.id)).total).toBe(3);
    });

    it('an erased person disappears from layers at once: the row is erased with the person', async () => {
      const NOW = '2026-04-10T00:00:00.000Z';
      t.clock.set(NOW);
      const { workspace: ws } = await t.workspace('layers-erase');
      await order(ws, 'gone', at(NOW, -5), 30);
      await order(ws, 'stays', at(NOW, -9), 40);
      await settle();
      const gone = await profileId(ws, 'gone');
      await t.services.profiles.erase(ws.id, gone, 'test');
      expect((await t.services.layers.getLayers(ws.id, [gone])).size).toBe(0);
      expect([(await t.services.layers.rfm(ws.id)).customers, (await t.services.layers.lifecycle(ws.id)).total]).toEqual([1, 1]);
      expect(await new LayerStore(t.services.deps.store).layersOf(ws.id, [gone])).toEqual([]);
      await t.services.layers.recomputeAll(ws.id);
      expect([(await t.services.layers.rfm(ws.id)).customers, (await t.services.layers.lifecycle(ws.id)).total]).toEqual([1, 1]);
    });
  });

  describe('recomputes', () => {
    it('the daily recompute runs once a day per workspace, and after a settings change', async () => {
      const NOW = '2026-05-01T00:00:00.000Z';
      t.clock.set(NOW);
      const { workspace: ws } = await t.workspace('layers-daily');
      await order(ws, 'd1', at(NOW, -3), 10);
      await settle();
      expect((await t.services.layers.rfm(ws.id)).computedAt).toBe(NOW);
      expect(await t.services.layers.recomputeDue(new Date(at(NOW, 0.5)))).not.toContain(ws.id);
      expect(await t.services.layers.recomputeDue(new Date(at(NOW, 1)))).toContain(ws.id);
      expect((await t.services.layers.rfm(ws.id)).computedAt).toBe(at(NOW, 1));
      t.clock.set(at(NOW, 1.05));
      await t.services.layers.putSettings(ws.id, { lifecycle: { newDays: 10 } });
      await t.services.layers.settled();
      expect((await t.services.layers.rfm(ws.id)).computedAt).toBe(at(NOW, 1.05));
      expect(await t.services.layers.recomputeDue(new Date(at(NOW, 1.1)))).not.toContain(ws.id);
    });
  });
});
