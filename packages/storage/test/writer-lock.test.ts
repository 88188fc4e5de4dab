import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WriterLock } from '../src/sqlite/writer-lock.ts';

describe('WriterLock', () => {
  it('serves acquirers in ticket order within a thread', async () => {
    const lock = new WriterLock(WriterLock.create(), 0);
    const order: number[] = [];
    await lock.acquire();
    const waiters = [1, 2, 3].map(async (n) => {
      await lock.acquire();
      order.push(n);
      lock.release();
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    lock.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
  });

  it('excludes another thread and hands over without losing a turn', async () => {
    const buffer = WriterLock.create();
    const lock = new WriterLock(buffer, 0);
    const counter = new Int32Array(new SharedArrayBuffer(4));
    // The other thread increments a shared counter non-atomically under the lock, 200 times.
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      const cells = new Int32Array(workerData.buffer);
      const counter = new Int32Array(workerData.counter);
      (async () => {
        for (let i = 0; i < 200; i++) {
          const t = Atomics.add(cells, 0, 1);
          for (;;) { const s = Atomics.load(cells, 1); if (s === t) break; const w = Atomics.waitAsync(cells, 1, s); if (w.async) await w.value; }
          const v = counter[0]; await new Promise((r) => setImmediate(r)); counter[0] = v + 1;
          Atomics.add(cells, 1, 1); Atomics.notify(cells, 1);
        }
        parentPort.postMessage('done');
      })();`;
    const worker = new Worker(src, { eval: true, workerData: { buffer, counter: counter.buffer } });
    for (let i = 0; i < 200; i++) {
      await lock.acquire();
      const v = counter[0]!;
      await new Promise((r) => setImmediate(r));
      counter[0] = v + 1;
      lock.release();
    }
    await new Promise((r) => worker.once('message', r));
    await worker.terminate();
    expect(counter[0]).toBe(400);
  });

  it('hands on a lock held by a thread that died, and only then', async () => {
    const buffer = WriterLock.create();
    const dead = new WriterLock(buffer, 7);
    const alive = new WriterLock(buffer, 0);
    await dead.acquire();
    expect(alive.releaseIfHeldBy(8)).toBe(false);
    expect(alive.releaseIfHeldBy(-1)).toBe(false);
    expect(alive.releaseIfHeldBy(7)).toBe(true);
    expect(alive.releaseIfHeldBy(7)).toBe(false);
    await alive.acquire();
    alive.release();
  });
});
