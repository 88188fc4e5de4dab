import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { messageKey } from '../src/sqlite/message-key.ts';
import { tempDirs } from '../src/testing.ts';

const tempDir = tempDirs();

describe('message key (SQLite)', () => {
  it('is a whole number below 2^53, the same for the same workspace and message id, and fixed across versions', () => {
    // Stored with every event: a change to the function would hide every earlier event from the duplicate check.
    expect(messageKey('ws_1', 'm-1')).toBe(messageKey('ws_1', 'm-1'));
    expect(messageKey('ws_1', 'm-1')).toMatchInlineSnapshot(`7840594386629237`);
    expect(messageKey('ws_01HZX0', '7f9c2ba4-e88f-4d2e-9e4b-2f1c3a5d6e70')).toMatchInlineSnapshot(`5942406135558399`);
    const keys = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const k = messageKey(`ws_${i % 3}`, `id-${i}`);
      expect(Number.isSafeInteger(k) && k >= 0).toBe(true);
      keys.add(k);
    }
    expect(keys.size).toBe(20_000);
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    expect(messageKey('ab', 'c')).not.toBe(messageKey('a', 'bc'));
  });

  it('an event stored under the key of another message (a collision) neither makes that message a duplicate nor blocks it', async () => {
    const opened = await openStore({ sqliteFile: join(tempDir('siyu-key-'), 'siyu.db') });
    const { store } = opened;
    try {
      const T = '2026-01-01T00:00:00.000Z';
      const event = (id: string, messageId: string) => ({ id, workspaceId: 'ws_1', profileId: 'prof_a', originProfileId: 'prof_a', messageId, type: 'track' as const, event: 'Viewed', traits: {}, properties: {}, context: {}, timestamp: T, receivedAt: T, profileNum: 1 });
      const write = (e: ReturnType<typeof event>) => store.applyChanges({ consumedSeqs: [], profiles: [], identities: [], events: [e], merges: [], conflicts: [] });
      // Both ways of asking: the processor's (in its transaction) and any other caller's.
      const processed = async (ids: string[]) => [[...(await store.transaction((tx) => tx.processedMessageIds('ws_1', ids)))], [...(await store.processedMessageIds('ws_1', ids))]];
      await write(event('evt_1', 'other'));
      // As if 'other' and 'm-1' hashed alike.
      await sql`update events set message_key = ${messageKey('ws_1', 'm-1')} where id = 'evt_1'`.execute(store.db);
      expect(await processed(['m-1'])).toEqual([[], []]);
      await write(event('evt_2', 'm-1'));
      expect(await processed(['m-1'])).toEqual([['m-1'], ['m-1']]);
      // A message repeated within one batch is stored once (across batches the processor's check above keeps it out).
      await store.applyChanges({ consumedSeqs: [], profiles: [], identities: [], events: [event('evt_3', 'm-3'), event('evt_4', 'm-3')], merges: [], conflicts: [] });
      expect(await sql<{ n: number }>`select count(*) as n from events`.execute(store.db).then((r) => r.rows[0]!.n)).toBe(3);
      // Events Siyu makes itself carry no key (nothing checks their ids; hashed, they would scatter in the index).
      await store.transaction((tx) => tx.insertGeneratedEvents([event('evt_5', 'siyu-segment-entered-evt_5')]));
      const keys = await sql<{ id: string; message_key: number | null }>`select id, message_key from events where id in ('evt_2', 'evt_5') order by id`.execute(store.db);
      expect(keys.rows).toEqual([{ id: 'evt_2', message_key: messageKey('ws_1', 'm-1') }, { id: 'evt_5', message_key: null }]);
    } finally {
      await opened.close();
    }
  });
});
