import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { connectSqlite, inboxFileOf } from '../src/sqlite/connect.ts';
import { consecutiveRuns, SqliteHotPath, waitingKey } from '../src/sqlite/sqlite-hot-path.ts';
import { tempDirs } from '../src/testing.ts';

/** Temp directories of this file, removed when it is done. */
const tempDir = tempDirs();

/** The embedded inbox lives in a file of its own beside the database (connect.ts says why). */
describe('SQLite inbox file', () => {
  it('sits beside the database', () => {
    expect(inboxFileOf('/data/siyu.db')).toBe('/data/siyu-inbox.db');
    expect(inboxFileOf('/data/custom')).toBe('/data/custom-inbox.db');
    expect(inboxFileOf(':memory:')).toBe(':memory:');
  });

  it('takes over messages a database from before kept in its main file, once, and keeps their order', async () => {
    const file = join(tempDir('siyu-inbox-'), 'siyu.db');
    await (await openStore({ sqliteFile: file })).close();
    // As an older version left it: two messages waiting and one dead letter in the main file.
    const old = new BetterSqlite3(file);
    const payload = (id: string) => JSON.stringify({ message: { messageId: id }, identifiers: [] });
    old.prepare('insert into inbox (workspace_id, message_id, payload, received_at) values (?, ?, ?, ?)').run('ws_1', 'old-1', payload('old-1'), '2026-01-01T00:00:00.000Z');
    old.prepare('insert into inbox (workspace_id, message_id, payload, received_at) values (?, ?, ?, ?)').run('ws_1', 'old-2', payload('old-2'), '2026-01-01T00:00:01.000Z');
    old.prepare('insert into inbox_dead (seq, workspace_id, message_id, payload, error, failed_at) values (?, ?, ?, ?, ?, ?)').run(9, 'ws_1', 'bad', payload('bad'), 'boom', '2026-01-01T00:00:02.000Z');
    old.close();

    for (let open = 0; open < 2; open++) {
      const opened = await openStore({ sqliteFile: file });
      try {
        expect((await opened.store.claimInbox(10)).map((i) => i.message.messageId)).toEqual(['old-1', 'old-2']);
        expect(await opened.store.inboxDepth()).toBe(2);
      } finally {
        await opened.close();
      }
    }
    const main = new BetterSqlite3(file, { readonly: true });
    const inbox = new BetterSqlite3(inboxFileOf(file), { readonly: true });
    try {
      expect(main.prepare('select (select count(*) from inbox) + (select count(*) from inbox_dead) as n').get()).toEqual({ n: 0 });
      expect(inbox.prepare('select seq, message_id, error from inbox_dead').all()).toEqual([{ seq: 9, message_id: 'bad', error: 'boom' }]);
    } finally {
      main.close();
      inbox.close();
    }
  });

  it('keeps no index on message ids (an inbox file from before loses its unique one); waiting duplicates are found in memory', async () => {
    const file = join(tempDir('siyu-inbox-'), 'siyu.db');
    // An inbox file as an older version made it, with a message waiting.
    const old = new BetterSqlite3(inboxFileOf(file));
    old.exec(`create table inbox (seq integer primary key autoincrement, workspace_id text not null, message_id text not null, payload text not null, received_at text not null);
      create unique index inbox_message_uq on inbox (workspace_id, message_id);`);
    const payload = (id: string) => JSON.stringify({ message: { messageId: id }, identifiers: [] });
    old.prepare('insert into inbox (workspace_id, message_id, payload, received_at) values (?, ?, ?, ?)').run('ws_1', 'w-1', payload('w-1'), '2026-01-01T00:00:00.000Z');
    old.close();

    const opened = await openStore({ sqliteFile: file });
    try {
      const item = (id: string) => ({ messageId: id, payload: payload(id), receivedAt: '2026-01-01T00:00:01.000Z' });
      // Found among the messages already waiting when the store opened.
      expect(await opened.store.appendInbox('ws_1', [item('w-1'), item('a')])).toEqual({ duplicates: ['w-1'] });
      expect(await opened.store.appendInbox('ws_1', [item('a'), item('b')])).toEqual({ duplicates: ['a'] });
      expect(await opened.store.appendInbox('ws_2', [item('a')])).toEqual({ duplicates: [] });
      expect(await opened.store.inboxDepth()).toBe(4);
    } finally {
      await opened.close();
    }
    const inbox = new BetterSqlite3(inboxFileOf(file), { readonly: true });
    try {
      expect(inbox.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'inbox' order by name").pluck().all()).toEqual(['inbox_ws_idx']);
    } finally {
      inbox.close();
    }
  });

  it('forgets waiting ids once the processor has taken them, and keeps those still waiting', async () => {
    const file = join(tempDir('siyu-inbox-'), 'siyu.db');
    await (await openStore({ sqliteFile: file })).close();
    const c = connectSqlite(file);
    const hot = new SqliteHotPath(c.raw, c.inbox, 3);
    const item = (id: string) => ({ messageId: id, payload: JSON.stringify({ message: { messageId: id }, identifiers: [] }), receivedAt: '2026-01-01T00:00:00.000Z' });
    try {
      expect(hot.appendInbox([{ workspaceId: 'ws', items: [item('a'), item('b'), item('c')] }])).toEqual([[]]);
      // The processor takes a and b (their events would now be stored; here they are simply gone).
      const taken = hot.claimInbox(2).map((i) => i.seq);
      hot.ackInbox(taken);
      // Removals are not flushed on their own, but appends still are (2 = FULL).
      expect(c.inbox.pragma('synchronous', { simple: true })).toBe(2);
      // Past three known ids the append prunes: a and b are forgotten, c is still found waiting.
      expect(hot.appendInbox([{ workspaceId: 'ws', items: [item('d')] }])).toEqual([[]]);
      expect(hot.appendInbox([{ workspaceId: 'ws', items: [item('c'), item('a')] }])).toEqual([['c']]);
      const waitingNow = hot.claimInbox(10);
      expect(waitingNow.map((i) => i.message.messageId)).toEqual(['c', 'd', 'a']);
      // A message set aside as a dead letter is no longer waiting: the client's retry is taken again.
      hot.deadLetter(waitingNow[0]!.seq, 'boom', '2026-01-01T00:00:01.000Z');
      expect(hot.appendInbox([{ workspaceId: 'ws', items: [item('c'), item('d')] }])).toEqual([['d']]);
      expect(hot.claimInbox(10).map((i) => i.message.messageId)).toEqual(['d', 'a', 'c']);
    } finally {
      await c.checkpointer?.close();
      c.raw.close();
      c.inbox.close();
      c.walSync?.close();
    }
  });

  it('removes exactly the consumed rows: a row left for a later batch between them stays', async () => {
    expect(consecutiveRuns([9, 1, 3, 2, 7, 8, 3])).toEqual([[1, 3], [7, 9]]);
    expect(consecutiveRuns([])).toEqual([]);
    const file = join(tempDir('siyu-inbox-'), 'siyu.db');
    await (await openStore({ sqliteFile: file })).close();
    const c = connectSqlite(file);
    const hot = new SqliteHotPath(c.raw, c.inbox);
    const item = (id: string) => ({ messageId: id, payload: JSON.stringify({ message: { messageId: id }, identifiers: [] }), receivedAt: '2026-01-01T00:00:00.000Z' });
    try {
      hot.appendInbox([{ workspaceId: 'ws', items: ['a', 'b', 'c', 'd', 'e', 'f'].map(item) }]);
      const seqs = hot.claimInbox(10).map((i) => i.seq);
      // b and e stay (a transient failure left them for a later batch).
      hot.ackInbox([seqs[5]!, seqs[0]!, seqs[2]!, seqs[3]!]);
      expect(hot.claimInbox(10).map((i) => i.message.messageId)).toEqual(['b', 'e']);
    } finally {
      await c.checkpointer?.close();
      c.raw.close();
      c.inbox.close();
      c.walSync?.close();
    }
  });

  it('two messages whose waiting keys collide are both taken', async () => {
    // Two ids with the same 32-bit key (a birthday search over ~2^16 ids).
    const seen = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let n = 0; !pair; n++) {
      const id = `c-${n}`;
      const k = waitingKey('ws', id);
      const other = seen.get(k);
      if (other) pair = [other, id];
      else seen.set(k, id);
    }
    const file = join(tempDir('siyu-inbox-'), 'siyu.db');
    const opened = await openStore({ sqliteFile: file });
    try {
      const item = (id: string) => ({ messageId: id, payload: JSON.stringify({ message: { messageId: id }, identifiers: [] }), receivedAt: '2026-01-01T00:00:00.000Z' });
      expect(await opened.store.appendInbox('ws', [item(pair[0])])).toEqual({ duplicates: [] });
      expect(await opened.store.appendInbox('ws', [item(pair[1])])).toEqual({ duplicates: [] });
      expect(await opened.store.appendInbox('ws', [item(pair[1])])).toEqual({ duplicates: [pair[1]] });
      expect((await opened.store.claimInbox(10)).map((i) => i.message.messageId)).toEqual(pair);
    } finally {
      await opened.close();
    }
  });
});
