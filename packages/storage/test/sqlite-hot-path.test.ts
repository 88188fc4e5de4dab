import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProfileState, type ProcessorChanges, type ProfileRow } from '@siyu/core';
import type { OpenedStore } from '../src/index.ts';
import { openTestStore } from '../src/testing.ts';

const T0 = '2026-02-01T00:00:00.000Z';

/** The SQLite processor path updates the profiles it read in the transaction by rowid. */
describe('SQLite hot path: profile updates by rowid', () => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openTestStore({ name: 'sqlite' });
  });
  afterAll(async () => opened.close());

  function profile(workspaceId: string, id: string, traits: Record<string, unknown>): ProfileRow {
    return { id, workspaceId, mergedInto: null, createdAt: T0, updatedAt: T0, ...emptyProfileState(), traits };
  }
  const changes = (profiles: ProfileRow[]): ProcessorChanges => ({ consumedSeqs: [], profiles, identities: [], events: [], merges: [], conflicts: [] });
  const traitsOf = async (id: string) => (await opened.store.profilesByIds([id]))[0]?.traits;

  it('writes a profile read in the transaction, and new ones, as the upsert did', async () => {
    const ws = `ws_${randomUUID()}`;
    const [a, b] = [`prof_${randomUUID()}`, `prof_${randomUUID()}`];
    await opened.store.upsertProfiles([profile(ws, a, { v: 1 })]);
    await opened.store.transaction(async (tx) => {
      const [loaded] = await tx.profilesByIds([a]);
      await tx.applyChanges(changes([{ ...loaded!, traits: { v: 2 }, updatedAt: '2026-02-02T00:00:00.000Z' }, profile(ws, b, { v: 1 })]));
    });
    expect(await traitsOf(a)).toEqual({ v: 2 });
    expect(await traitsOf(b)).toEqual({ v: 1 });
    const [stored] = await opened.store.profilesByIds([a]);
    expect(stored!.updatedAt).toBe('2026-02-02T00:00:00.000Z');
  });

  it('a rowid read before the profile was erased and its rowid reused never writes the other profile', async () => {
    const ws = `ws_${randomUUID()}`;
    const [a, b] = [`prof_${randomUUID()}`, `prof_${randomUUID()}`];
    await opened.store.upsertProfiles([profile(ws, a, { who: 'a' })]);
    const rowOf = async (id: string, db = opened.store.db) => (await db.selectFrom('profiles').select(({ ref }) => ref('rowid' as never).as('r')).where('id', '=', id).executeTakeFirst())?.r;
    const rowA = await rowOf(a);
    await opened.store.transaction(async (tx) => {
      const [loaded] = await tx.profilesByIds([a]);
      // Meanwhile (here: in the same transaction) a is erased and b takes its rowid (the highest one, reused).
      await tx.db.deleteFrom('profiles').where('id', '=', a).execute();
      await tx.db
        .insertInto('profiles')
        .values({ id: b, workspace_id: ws, traits: JSON.stringify({ who: 'b' }), trait_times: '{}', first_touch: '{}', computed: '{}', merged_into: null, first_seen: null, last_seen: null, created_at: T0, updated_at: T0 } as never)
        .execute();
      expect(await rowOf(b, tx.db)).toBe(rowA);
      await tx.applyChanges(changes([{ ...loaded!, traits: { who: 'a again' } }]));
    });
    expect(await traitsOf(b)).toEqual({ who: 'b' });
    expect(await traitsOf(a)).toEqual({ who: 'a again' });
  });
});
