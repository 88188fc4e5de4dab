import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a SQLite file's WAL from a thread of its own, so the connections that write it can turn
 * their automatic checkpoints off.
 *
 * A checkpoint copies the WAL's pages into the database file and flushes both; SQLite runs it inside
 * the commit that pushes the WAL over `wal_autocheckpoint` pages, on the committing thread. A segment
 * recompute on the server thread writes ~5,000 random pages per 1,000 members, so every second of its
 * commits paid a checkpoint (~0.3 of 2.2 s at 1M profiles). Here the copying runs on another thread
 * (in parallel on another core, and mostly waiting on the device) as a PASSIVE checkpoint that never
 * blocks writers, once `minFrames` wait in the WAL (checked every `intervalMs`) — the same threshold
 * as the committing connection's, so a page rewritten many times is still copied once. If the thread fails, `onFailure` runs (the caller turns the
 * automatic checkpoints back on).
 */
export class Checkpointer {
  private stopped = false;

  private constructor(
    private readonly worker: Worker,
    private readonly ready: Promise<void>,
  ) {}

  /** `minFrames`: checkpoint once this many WAL frames wait to be copied (the threshold a committing connection would use). */
  static start(file: string, opts: { intervalMs?: number; minFrames: number; onFailure: (reason: string) => void }): Checkpointer {
    const worker = new Worker(new URL('./checkpointer-thread.mjs', import.meta.url), { workerData: { file, intervalMs: opts.intervalMs ?? 200, minFrames: opts.minFrames } });
    let failed = false;
    const fail = (reason: string) => {
      if (failed || c.stopped) return;
      failed = true;
      opts.onFailure(reason);
    };
    const ready = new Promise<void>((resolve) => {
      worker.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') fail(m.message ?? 'checkpoint failed');
      });
      worker.once('error', (e: Error) => {
        resolve();
        fail(e.message);
      });
      worker.once('exit', (code) => {
        resolve();
        fail(`checkpointer thread exited (${code})`);
      });
    });
    // Never keeps the process alive on its own.
    worker.unref();
    const c = new Checkpointer(worker, ready);
    return c;
  }

  /** Waits for the thread to have opened the database (tests). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** A last checkpoint, then the thread ends. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Unreferenced, the thread would let the process exit while this waits for its answer.
    this.worker.ref();
    await this.ready;
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      this.worker.once('exit', done);
      this.worker.on('message', (m: { type: string }) => {
        if (m.type === 'stopped') void this.worker.terminate().then(done, done);
      });
      this.worker.postMessage({ type: 'stop' });
      // A thread that does not answer within 5 s is ended anyway.
      setTimeout(() => void this.worker.terminate().then(done, done), 5000).unref();
    });
  }
}
