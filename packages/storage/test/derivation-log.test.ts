import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeRanges, type OpenedStore, type SqlStore } from '@siyu/storage';
import { isolatedTestBackend, openTestStore, TEST_BACKENDS } from '@siyu/storage/testing';

describe('mergeRanges', () => {
  it('sorts, joins overlapping and adjacent ranges, keeps gaps', () => {
    expect(mergeRanges([])).toEqual([]);
    expect(mergeRanges([[5, 9], [1, 2], [3, 4], [5, 9], [12, 15], [14, 20]])).toEqual([
      [1, 9],
      [12, 20],
    ]);
  });
});

// Its own database on PostgreSQL: other test files' engines recover (and so remove) every consumer's rows.
describe.each(TEST_BACKENDS)('derivation log storage on $name', (backend) => {
  let opened: OpenedStore;
  let store: SqlStore;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const isolated = await isolatedTestBackend(backend);
    drop = isolated.drop;
    opened = await openTestStore(isolated.backend);
    store = opened.store;
  });
  afterAll(async () => {
    await opened.close();
    await drop();
  });

  const rows = (ids: string[]) => ids.map((profileId) => ({ workspaceId: 'ws_log', profileId }));
  const all = async (consumer: 'audiences' | 'layers') => (await store.derivationPage(consumer, 0, 1000)).map((r) => r.profileId);

  it('a batch’s rows take consecutive numbers; each consumer removes only its own, by range', async () => {
    const [a, l, b] = await store.transaction(async (tx) => [
      await tx.logDerivations('audiences', rows(['p1', 'p2', 'p3']), '2026-03-01T00:00:00.000Z'),
      await tx.logDerivations('layers', rows(['p2']), '2026-03-01T00:00:00.000Z'),
      await tx.logDerivations('audiences', [], '2026-03-01T00:00:00.000Z'),
    ]);
    expect(b).toBeNull();
    expect(a![1] - a![0]).toBe(2);
    expect(l![0]).toBe(a![1] + 1);
    expect(await all('audiences')).toEqual(['p1', 'p2', 'p3']);
    // A range covering the layers row removes only audience rows.
    await store.clearDerivations('audiences', [[a![0], l![1]]]);
    expect(await all('audiences')).toEqual([]);
    expect(await all('layers')).toEqual(['p2']);
    await store.clearDerivations('layers', [l!]);
    expect(await all('layers')).toEqual([]);
  });

  it('numbers are never used again once the table is empty', async () => {
    const first = await store.transaction((tx) => tx.logDerivations('audiences', rows(['x']), '2026-03-01T00:00:00.000Z'));
    await store.clearDerivations('audiences', [first!]);
    const second = await store.transaction((tx) => tx.logDerivations('audiences', rows(['y']), '2026-03-01T00:00:00.000Z'));
    expect(second![0]).toBeGreaterThan(first![1]);
    // A consumer clearing an old range late cannot take the new row.
    await store.clearDerivations('audiences', [first!]);
    expect(await all('audiences')).toEqual(['y']);
    await store.clearDerivations('audiences', [second!]);
  });

  it('pages in order up to a bound; the bound is the last row logged by a time', async () => {
    const old = await store.transaction((tx) => tx.logDerivations('audiences', rows(['o1', 'o2', 'o3']), '2026-03-01T00:00:00.000Z'));
    await store.transaction((tx) => tx.logDerivations('layers', rows(['other']), '2026-03-01T00:00:30.000Z'));
    await store.transaction((tx) => tx.logDerivations('audiences', rows(['n1']), '2026-03-01T00:01:00.000Z'));
    const bound = await store.derivationBound('audiences', '2026-03-01T00:00:59.000Z');
    expect(bound).toBeGreaterThanOrEqual(old![1]);
    expect((await store.derivationPage('audiences', 0, 2, bound)).map((r) => r.profileId)).toEqual(['o1', 'o2']);
    expect((await store.derivationPage('audiences', old![0] + 1, 10, bound)).map((r) => r.profileId)).toEqual(['o3']);
    // Nothing younger than the time: no bound at all.
    expect(await store.derivationBound('audiences', '2026-03-02T00:00:00.000Z')).toBe(Number.MAX_SAFE_INTEGER);
    expect(await all('audiences')).toEqual(['o1', 'o2', 'o3', 'n1']);
  });
});
