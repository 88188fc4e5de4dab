import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A real database for one test file: a fresh SQLite file, or the shared test PostgreSQL (tests isolate by workspace). */
export async function openTestStore(backend: TestBackend): Promise<OpenedStore> {
  if (backend.name === 'postgres') return openStore({ databaseUrl: backend.url, sqliteFile: '' });
  const dir = mkdtempSync(join(tmpdir(), 'siyu-test-'));
  return openStore({ sqliteFile: join(dir, 'siyu.db') });
}
