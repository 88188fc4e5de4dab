import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_IDENTITY_RULES } from '@siyu/core';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/index.ts';
import { BackgroundCheckpointer } from '../src/sqlite/checkpointer.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Rows of `probe` in the database file alone, as if the WAL were lost: what checkpoints have copied. */
function rowsInMainFile(file: string): number {
  const copy = join(tempDir('siyu-ckpt-copy-'), 'copy.db');
  copyFileSync(file, copy);
  const db = new BetterSqlite3(copy);
  try {
    const exists = db.prepare("select 1 from sqlite_master where name = 'probe'").get();
    return exists ? (db.prepare('select count(*) as n from probe').get() as { n: number }).n : 0;
  } finally {
    db.close();
  }
}

/** A writer that never checkpoints itself (as the worker thread, whose autocheckpoint is far off). */
function writer(file: string) {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('create table if not exists probe (id integer primary key, body text)');
  const insert = db.prepare('insert into probe (body) values (?)');
  return {
    db,
    /** Commits `n` rows of ~1 KB (about a page each). */
    write: (n: number) =>
      db.transaction(() => {
        for (let i = 0; i < n; i++) insert.run(`row ${i} `.repeat(120));
      })(),
    /** Frames in the WAL: after a restart, only what was written since. */
    walFrames: () => (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log,
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
};

describe('BackgroundCheckpointer: copies the WAL into the database file off the writing threads', () => {
  it('past the threshold, committed rows reach the database file, and the WAL then restarts', async () => {
    const file = join(tempDir('siyu-ckpt-'), 'siyu.db');
    const w = writer(file);
    const checkpointer = BackgroundCheckpointer.start(file, 100, 5);
    w.write(400);
    let copied = 0;
    await until(() => (copied = rowsInMainFile(file)) === 400);
    expect(copied).toBe(400);
    // Everything was copied, so the next write transaction starts the WAL over: it holds only its own frames.
    w.write(1);
    expect(w.walFrames()).toBeLessThan(10);
    await checkpointer.stop();
    w.db.close();
  });

  it('below the threshold it leaves the WAL alone (the control for the test above)', async () => {
    const file = join(tempDir('siyu-ckpt-'), 'siyu.db');
    const w = writer(file);
    const checkpointer = BackgroundCheckpointer.start(file, 100_000, 5);
    w.write(400);
    await new Promise((r) => setTimeout(r, 300));
    expect(rowsInMainFile(file)).toBe(0);
    // Stopping runs a last pass: everything is in the file afterwards.
    await checkpointer.stop();
    expect(rowsInMainFile(file)).toBe(400);
    w.db.close();
  });

  it('a process awaiting the store’s close() stays alive until the thread has stopped (the thread alone does not hold it open)', () => {
    const dir = tempDir('siyu-ckpt-proc-');
    const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const script = `
      const { openStore } = await import(${JSON.stringify(index)});
      const opened = await openStore({ sqliteFile: ${JSON.stringify(join(dir, 'siyu.db'))}, sqliteCheckpoint: 'own' });
      await opened.close();
      process.stdout.write('closed');
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out).toBe('closed');
  });

  it('a store opened with it works as usual and opens again after closing', async () => {
    const file = join(tempDir('siyu-ckpt-'), 'siyu.db');
    const opened = await openStore({ sqliteFile: file, sqliteCheckpoint: 'own' });
    await opened.store.createWorkspace({ id: 'ws_ckpt', name: 'ckpt', timeZone: 'Asia/Shanghai', writeKeyHash: 'w', adminTokenHash: 'a', instanceAdmin: false, createdAt: new Date().toISOString(), rules: DEFAULT_IDENTITY_RULES });
    await opened.close();
    const again = await openStore({ sqliteFile: file, sqliteCheckpoint: 'shared' });
    expect((await again.store.getWorkspace('ws_ckpt'))?.name).toBe('ckpt');
    await again.close();
  });
});
