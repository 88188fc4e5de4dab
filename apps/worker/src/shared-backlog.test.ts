import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { SharedBacklog } from './shared-backlog.ts';

it('shows another thread the backlog it publishes, and zero once it stops publishing', async () => {
  const buffer = SharedBacklog.buffer();
  const reader = new SharedBacklog(buffer);
  expect(reader.backlog()).toBe(0);
  // The publisher in a thread of its own, as the audience thread is: it publishes 8,000, then 0 when told.
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const cell = new Int32Array(workerData);
     let n = 8000;
     const t = setInterval(() => Atomics.store(cell, 0, n), 10);
     parentPort.on('message', (m) => { if (m === 'drain') n = 0; else { clearInterval(t); parentPort.close(); } });`,
    { eval: true, workerData: buffer },
  );
  try {
    for (let i = 0; i < 100 && reader.backlog() === 0; i++) await reader.caughtUp();
    expect(reader.backlog()).toBe(8000);
    worker.postMessage('drain');
    for (let i = 0; i < 100 && reader.backlog() !== 0; i++) await reader.caughtUp();
    expect(reader.backlog()).toBe(0);
  } finally {
    worker.postMessage('stop');
    await worker.terminate();
  }
});

it('publishes what read() returns until stopped, then zero', async () => {
  const shared = new SharedBacklog(SharedBacklog.buffer());
  let queued = 3;
  const stop = shared.publishFrom(() => queued);
  expect(shared.backlog()).toBe(3);
  queued = 9000;
  await shared.caughtUp();
  await shared.caughtUp();
  expect(shared.backlog()).toBe(9000);
  stop();
  expect(shared.backlog()).toBe(0);
});
