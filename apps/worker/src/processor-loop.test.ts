import { expect, it } from 'vitest';
import { silentLogger, type ProcessorService } from '@siyu/services';
import { ProcessorLoop, type Downstream } from './processor-loop.ts';

/** A processor whose batches each queue `size` profiles downstream, `batches` times, then finds the inbox empty. */
function fakes(batches: number, size: number) {
  const calls: number[] = [];
  let left = batches;
  let release: (() => void) | null = null;
  const downstream: Downstream & { queued: number; waits: number } = {
    queued: 0,
    waits: 0,
    backlog: () => downstream.queued,
    caughtUp: () => {
      downstream.waits++;
      return new Promise<void>((resolve) => (release = resolve));
    },
  };
  const processor = {
    async processBatch() {
      calls.push(downstream.queued);
      if (left === 0) return { messages: 0, latenciesMs: [] };
      left--;
      downstream.queued += size;
      return { messages: size, latenciesMs: [] };
    },
  } as unknown as ProcessorService;
  /** The downstream work runs: its queue empties. */
  const catchUp = () => {
    downstream.queued = 0;
    const r = release;
    release = null;
    r?.();
  };
  return { processor, downstream, calls, catchUp };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

it('does not start a batch while the work its batches queued is over the bound, and goes on once it has run', async () => {
  const f = fakes(5, 2000);
  const loop = new ProcessorLoop(f.processor, silentLogger, { batchSize: 2000, downstream: [f.downstream], maxBacklog: 3000, maxWaitMs: 60_000 });
  loop.start();
  await tick();
  // Two batches (4,000 queued > 3,000): the third waits.
  expect(f.calls).toEqual([0, 2000]);
  expect(f.downstream.waits).toBe(1);
  await tick();
  expect(f.calls).toHaveLength(2);
  f.catchUp();
  await tick();
  expect(f.calls).toEqual([0, 2000, 0, 2000]);
  f.catchUp();
  await tick();
  f.catchUp();
  await tick();
  // Never more than the bound plus one batch queued when a batch started.
  expect(Math.max(...f.calls)).toBeLessThanOrEqual(3000);
  await loop.stop();
});

it('waits at most maxWaitMs for work that does not catch up (a bulk recompute holding the queue)', async () => {
  const f = fakes(3, 2000);
  const loop = new ProcessorLoop(f.processor, silentLogger, { batchSize: 2000, downstream: [f.downstream], maxBacklog: 1000, maxWaitMs: 30 });
  loop.start();
  await tick();
  expect(f.calls).toHaveLength(1);
  await new Promise((r) => setTimeout(r, 120));
  // Each batch waited its 30 ms and went on: all three ran and the inbox was found empty.
  expect(f.calls).toEqual([0, 2000, 4000, 6000]);
  await loop.stop();
});

it('drain() keeps pace too (the import command drains with the engine in the same process)', async () => {
  const f = fakes(3, 2000);
  const loop = new ProcessorLoop(f.processor, silentLogger, { batchSize: 2000, downstream: [f.downstream], maxBacklog: 1000, maxWaitMs: 60_000 });
  const drained = loop.drain();
  await tick();
  expect(f.calls).toEqual([0]);
  f.catchUp();
  await tick();
  expect(f.calls).toEqual([0, 0]);
  f.catchUp();
  await tick();
  f.catchUp();
  expect(await drained).toBe(6000);
  expect(f.calls).toEqual([0, 0, 0, 0]);
});

it('stops at once while a batch waits for downstream work', async () => {
  const f = fakes(5, 2000);
  const loop = new ProcessorLoop(f.processor, silentLogger, { batchSize: 2000, downstream: [f.downstream], maxBacklog: 1000, maxWaitMs: 60_000 });
  loop.start();
  await tick();
  expect(f.calls).toEqual([0]);
  // Without the stop signal this would wait out maxWaitMs (60 s), past the test's time limit.
  await loop.stop();
  expect(f.calls).toEqual([0]);
});
