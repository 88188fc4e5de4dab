import { afterAll, beforeAll } from 'vitest';
import type { TestBackend } from '@siyu/storage/testing';
import { isolatedTestBackend } from '@siyu/storage/testing';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';

// The isolated PostgreSQL database per test file lives in the shared test harness.
export { isolatedTestBackend as isolatedBackend } from '@siyu/storage/testing';

/**
 * Registers, in the calling `describe` block, a `TestSiyu` on a database of its own (on PostgreSQL a fresh
 * database, dropped after): opened before the block's tests, handed to `use`, closed after them.
 */
export function isolatedSiyu(backend: TestBackend, opts: Parameters<typeof createTestSiyu>[1], use: (t: TestSiyu) => void): void {
  let t: TestSiyu | undefined;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const isolated = await isolatedTestBackend(backend);
    drop = isolated.drop;
    t = await createTestSiyu(isolated.backend, opts);
    use(t);
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });
}
