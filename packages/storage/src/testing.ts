import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openStore, type OpenedStore } from './index.ts';

export interface TestBackend {
  name: 'sqlite' | 'postgres';
  url?: string;
}

/**
 * The backends every storage-touching test runs on: SQLite always, PostgreSQL when
 * `SIYU_TEST_DATABASE_URL` is set (CI sets it). Use with `describe.each(TEST_BACKENDS)`.
 */
export const TEST_BACKENDS: TestBackend[] = [
  { name: 'sqlite' },
  ...(process.env.SIYU_TEST_DATABASE_URL ? [{ name: 'postgres' as const, url: process.env.SIYU_TEST_DATABASE_URL }] : []),
];

/**
 * Temporary directories for one test file, removed once its tests are done: call at the top level of
 * the file, then `tempDir('siyu-…-')` wherever a directory is needed.
 */
export function tempDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** A real database for one test file: a fresh SQLite file, or the shared test PostgreSQL (tests isolate by workspace). */
export async function openTestStore(backend: TestBackend): Promise<OpenedStore> {
  if (backend.name === 'postgres') return openStore({ databaseUrl: backend.url, sqliteFile: '' });
  const dir = mkdtempSync(join(tmpdir(), 'siyu-test-'));
  const opened = await openStore({ sqliteFile: join(dir, 'siyu.db') });
  return {
    ...opened,
    async close() {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A backend of one test file's own: on PostgreSQL a fresh database (dropped by `drop()`); SQLite files
 * are per test file already. For tests whose background work (processor, layer and audience
 * schedulers) claims rows of every workspace: on a shared database another file's processor, with
 * its own virtual clock, would handle this file's messages.
 */
export async function isolatedTestBackend(backend: TestBackend): Promise<{ backend: TestBackend; drop(): Promise<void> }> {
  if (backend.name !== 'postgres' || !backend.url) return { backend, drop: async () => undefined };
  const name = `siyu_test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(backend.url);
  url.pathname = `/${name}`;
  return {
    backend: { name: 'postgres', url: url.toString() },
    async drop() {
      // pg's pool.end() resolves before its sockets close: wait for the sessions to go rather than kill them.
      for (let attempt = 0; ; attempt++) {
        try {
          return await run(`drop database if exists ${name}`);
        } catch (e) {
          if ((e as { code?: string }).code !== '55006' || attempt >= 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}
