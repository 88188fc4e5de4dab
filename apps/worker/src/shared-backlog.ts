import type { Downstream } from './processor-loop.ts';

/** How often the publishing thread writes its backlog, and the reading thread looks again while it waits. */
const INTERVAL_MS = 10;

/**
 * A backlog one thread publishes and another keeps pace with, in shared memory (one 32-bit cell). With
 * two worker threads the audience engine runs on the audience thread, where the processor thread cannot
 * ask it: the audience thread publishes its engine's backlog every {@link INTERVAL_MS} ms, and the
 * processor loop reads it as one of its {@link Downstream}s. Announcements on their way between the
 * threads are not counted: the processor may run a batch or two past the bound, not further.
 */
export class SharedBacklog implements Downstream {
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cell = new Int32Array(buffer, 0, 1);
  }

  static buffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  /** Publishes `read()` every few milliseconds until the returned function is called (the timer does not keep the thread alive). */
  publishFrom(read: () => number): () => void {
    const publish = () => Atomics.store(this.cell, 0, Math.min(read(), 0x7fffffff));
    publish();
    const timer = setInterval(publish, INTERVAL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      Atomics.store(this.cell, 0, 0);
    };
  }

  backlog(): number {
    return Atomics.load(this.cell, 0);
  }

  /** Resolves after the next publication (the caller looks at {@link backlog} again). */
  caughtUp(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
  }
}
