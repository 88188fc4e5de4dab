import { sql } from 'kysely';
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
    // PostgreSQL ranges carry their transaction: joined only with the same transaction's.
    expect(mergeRanges([[1, 2, 7], [3, 4, 8], [5, 6, 8]])).toEqual([
      [1, 2, 7],
      [3, 6, 8],
    ]);
  });
});

// Its own database on PostgreSQL: other test files' engines recover (and so remove) every consumer's rows.
describe.each(TEST_BACKENDS)('derivation log storage on $name', (backend) => {
  let opened: OpenedStore;
  let store: SqlStore;
  let drop: () => Promise<void>;
  let isolatedBackend: Parameters<typeof openTestStore>[0] | undefined;
  beforeAll(async () => {
    const isolated = await isolatedTestBackend(backend);
    drop = isolated.drop;
    isolatedBackend = isolated.backend;
    opened = await openTestStore(isolated.backend);
    store = opened.store;
  });
  afterAll(async () => {
    await opened.close();
    await drop();
  });

  const rows = (ids: string[]) => ids;
  const all = async (consumer: 'audiences' | 'layers') => (await store.derivationPage(consumer, 0, 1000)).map((r) => r.profileId);

  it('a batch’s rows take consecutive numbers; each consumer removes only its own, by range', async () => {
    const [a, l, b] = await store.transaction(async (tx) => [
      await tx.logDerivations('audiences', rows(['p1', 'p2', 'p3'])),
      await tx.logDerivations('layers', rows(['p2'])),
      await tx.logDerivations('audiences', []),
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

  it('a range removes only the rows of the transaction that logged it, not another’s that drew numbers in between (PostgreSQL)', async () => {
    if (backend.name !== 'postgres') return;
    // Two transactions logging at once draw numbers from the sequence in turn. Made deterministic here: the other
    // transaction's row takes a number inside this one's range (as an interleaved INSERT would), and commits.
    const other = await openTestStore(isolatedBackend!);
    try {
      let range: readonly [number, number, number?] | null = null;
      await store.transaction(async (tx) => {
        const first = (await tx.logDerivations('audiences', rows(['mine-1'])))!;
        await other.store.db.insertInto('derivation_log').values({ seq: first[0] + 1, consumer: 1, profile_id: 'theirs' }).execute();
        await sql`select setval(pg_get_serial_sequence('derivation_log', 'seq'), ${first[0] + 1})`.execute(tx.db);
        const second = (await tx.logDerivations('audiences', rows(['mine-2'])))!;
        expect(second[0]).toBe(first[0] + 2);
        expect(second[2]).toBe(first[2]);
        range = [first[0], second[1], first[2]!];
      });
      expect(await all('audiences')).toEqual(['mine-1', 'theirs', 'mine-2']);
      await store.clearDerivations('audiences', [range!]);
      // Their work is still to be done (or recovered after a crash).
      expect(await all('audiences')).toEqual(['theirs']);
      await store.clearDerivations('audiences', [[0, Number.MAX_SAFE_INTEGER]]);
    } finally {
      await other.close();
    }
  });

  it('numbers are never used again once the table is empty', async () => {
    const first = await store.transaction((tx) => tx.logDerivations('audiences', rows(['x'])));
    await store.clearDerivations('audiences', [first!]);
    const second = await store.transaction((tx) => tx.logDerivations('audiences', rows(['y'])));
    expect(second![0]).toBeGreaterThan(first![1]);
    // A consumer clearing an old range late cannot take the new row.
    await store.clearDerivations('audiences', [first!]);
    expect(await all('audiences')).toEqual(['y']);
    await store.clearDerivations('audiences', [second!]);
  });

  it('pages in order up to a bound, with each profile’s workspace (null when the profile is gone)', async () => {
    const old = await store.transaction((tx) => tx.logDerivations('audiences', rows(['o1', 'o2', 'o3'])));
    await store.transaction((tx) => tx.logDerivations('layers', rows(['other'])));
    const bound = await store.lastDerivationSeq();
    await store.transaction((tx) => tx.logDerivations('audiences', rows(['n1'])));
    expect(await store.lastDerivationSeq()).toBe(bound + 1);
    expect((await store.derivationPage('audiences', 0, 2, bound)).map((r) => r.profileId)).toEqual(['o1', 'o2']);
    expect((await store.derivationPage('audiences', old![0] + 1, 10, bound)).map((r) => r.profileId)).toEqual(['o3']);
    expect(await all('audiences')).toEqual(['o1', 'o2', 'o3', 'n1']);
    // No such profiles here: no workspace.
    expect((await store.derivationPage('audiences', 0, 1)).map((r) => r.workspaceId)).toEqual([null]);
  });
});
