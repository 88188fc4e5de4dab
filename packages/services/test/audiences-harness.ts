import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { openTestStore, type TestBackend } from '@siyu/storage/testing';

/**
 * A backend of this test file's own: on PostgreSQL a fresh database, dropped by `drop()`; SQLite
 * files are per test file already.
 *
 * Why: the processor claims inbox rows of every workspace and the re-evaluation scheduler claims due
 * rows of every workspace, so on a shared database another test file's processor (with its own
 * virtual clock) would evaluate this file's profiles, and `settled()` here would not wait for it.
 */
export async function isolatedBackend(backend: TestBackend): Promise<{ backend: TestBackend; drop(): Promise<void> }> {
  if (backend.name !== 'postgres' || !backend.url) return { backend, drop: async () => undefined };
  const name = `siyu_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = await openTestStore({ name: 'postgres', url: backend.url });
  await sql`create database ${sql.id(name)}`.execute(admin.store.db);
  const url = new URL(backend.url);
  url.pathname = `/${name}`;
  return {
    backend: { name: 'postgres', url: url.toString() },
    async drop() {
      // Closed pools finish disconnecting asynchronously; wait for them rather than kill them.
      for (let attempt = 0; ; attempt++) {
        try {
          await sql`drop database if exists ${sql.id(name)}`.execute(admin.store.db);
          break;
        } catch (e) {
          if (attempt >= 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await admin.close();
    },
  };
}
