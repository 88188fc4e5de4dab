import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { inboxFileOf } from '../src/sqlite/connect.ts';

/** The embedded inbox lives in a file of its own beside the database (connect.ts says why). */
describe('SQLite inbox file', () => {
  it('sits beside the database', () => {
    expect(inboxFileOf('/data/siyu.db')).toBe('/data/siyu-inbox.db');
    expect(inboxFileOf('/data/custom')).toBe('/data/custom-inbox.db');
    expect(inboxFileOf(':memory:')).toBe(':memory:');
  });

  it('takes over messages a database from before kept in its main file, once, and keeps their order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'siyu-inbox-')), 'siyu.db');
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
});
