import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProfileState, type ProfileRow } from '@siyu/core';
import { LayerStore, type OpenedStore } from '../src/index.ts';
import { openTestStore, TEST_BACKENDS } from '../src/testing.ts';

const T0 = '2026-02-01T00:00:00.000Z';

describe.each(TEST_BACKENDS)('LayerStore reads by profile id on $name', (backend) => {
  let opened: OpenedStore;
  let store: LayerStore;
  beforeAll(async () => {
    opened = await openTestStore(backend);
    store = new LayerStore(opened.store);
  });
  afterAll(async () => opened.close());

  function profile(workspaceId: string, id: string, orders: number): ProfileRow {
    const state = emptyProfileState();
    return {
      id,
      workspaceId,
      mergedInto: null,
      createdAt: T0,
      updatedAt: T0,
      ...state,
      computed: { ...state.computed, first_seen: T0, order_count: orders, total_spent: orders * 1999, first_order_at: orders ? T0 : null, last_order_at: orders ? '2026-02-03T00:00:00.000Z' : null },
    };
  }

  it('statsOf and layersOf: any number of ids (repeats, unknown, merged-away and other workspaces’ ids among them), each canonical profile of the workspace once', async () => {
    const ws = `ws_${randomUUID()}`;
    const other = `ws_${randomUUID()}`;
    // A processor batch's worth of ids and more, asked with repeats and ids that are not (canonical) profiles of the workspace.
    const ids = Array.from({ length: 2500 }, (_, i) => `prof_${ws.slice(3, 11)}_${String(i).padStart(4, '0')}`);
    await opened.store.upsertProfiles(ids.map((id, i) => profile(ws, id, i % 4)));
    const foreign = `prof_${other.slice(3, 11)}_x`;
    await opened.store.upsertProfiles([profile(other, foreign, 2)]);
    await opened.store.setMergedInto(ws, ids[7]!, ids[8]!, T0);
    await opened.store.db
      .insertInto('profile_layers')
      .values(ids.slice(0, 3).map((id) => ({ profile_id: id, workspace_id: ws, lifecycle: 'active', rfm_r: 5, rfm_f: 1, rfm_m: 2, rfm_segment: 'Promising', lifecycle_changes_at: null, updated_at: T0 })))
      .execute();
    const asked = [...ids, ...ids.slice(0, 100), 'prof_nobody', foreign, "it's \"quoted\""];

    const stats = await store.statsOf(ws, asked);
    expect(stats).toHaveLength(ids.length - 1);
    const byId = new Map(stats.map((s) => [s.profileId, s]));
    expect(byId.has(ids[7]!)).toBe(false);
    expect(byId.has(foreign)).toBe(false);
    expect(byId.get(ids[6]!)).toEqual({ profileId: ids[6], orderCount: 2, totalSpent: 3998, firstOrderAt: T0, lastOrderAt: '2026-02-03T00:00:00.000Z', firstSeen: T0 });
    expect(byId.get(ids[4]!)).toEqual({ profileId: ids[4], orderCount: 0, totalSpent: 0, firstOrderAt: null, lastOrderAt: null, firstSeen: T0 });

    const layers = await store.layersOf(ws, asked);
    expect(layers.map((l) => l.profileId).sort()).toEqual(ids.slice(0, 3));
    expect(layers[0]).toMatchObject({ workspaceId: ws, lifecycle: 'active', rfmR: 5, rfmF: 1, rfmM: 2, rfmSegment: 'Promising' });
    expect(await store.layersOf(other, ids.slice(0, 3))).toEqual([]);
    expect(await store.statsOf(ws, [])).toEqual([]);
    expect(await store.layersOf(ws, [])).toEqual([]);
  });
});
