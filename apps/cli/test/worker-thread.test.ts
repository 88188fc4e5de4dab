import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '@siyu/config';
import { silentLogger, type Services } from '@siyu/services';
import { WorkerThread } from '../src/worker-thread.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a worker thread that dies is restarted, a restart that fails before it is ready is tried again, and quick crashes wait longer each time', { timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'siyu-worker-'));
  dirs.push(dataDir);
  const r = loadConfig({ SIYU_DATA_DIR: dataDir, SIYU_WORKER_THREADS: '1', SIYU_LOG_LEVEL: 'silent' });
  if (!r.ok) throw new Error(r.problems.join('; '));
  // Only what the thread's messages reach: the index its bitmap changes are applied to.
  const services = { audienceEngine: { index: { apply: () => undefined } } } as unknown as Services;
  const worker = new WorkerThread(r.config, services, silentLogger, undefined, { script: new URL('./fixtures/flaky-worker.mjs', import.meta.url) });
  const started: number[] = [];
  worker.observeIndex((_ws, ops) => {
    for (const op of ops) if (op.op === 'profile') started.push(op.num);
  });
  await worker.start();
  const waitFor = async (n: number, ms: number) => {
    const deadline = Date.now() + ms;
    while (started.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  // Attempt 1 runs and crashes; attempt 2 (after 100 ms) fails before it is ready; attempt 3 (after 1 s) runs.
  await waitFor(2, 15_000);
  expect(started).toEqual([1, 3]);
  // Attempt 3 crashes soon after it is ready too: the delays keep growing (5 s now), not back to 100 ms.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(started).toEqual([1, 3]);
  await waitFor(3, 10_000);
  expect(started).toEqual([1, 3, 4]);
  expect(readFileSync(join(dataDir, 'attempts'), 'utf8')).toBe('4');
  await worker.stop(5_000);
});
