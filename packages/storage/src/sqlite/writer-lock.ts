/**
 * One writer at a time across the threads of a process sharing one SQLite file (the server on the
 * main thread, the worker on its own thread). SQLite allows a single writer; without this, a thread
 * that finds the database locked sleeps in SQLite's busy handler — on the main thread that freezes
 * HTTP for as long as the other thread's transaction runs. Here waiting is asynchronous
 * (`Atomics.waitAsync`), so the event loop keeps serving while it waits.
 *
 * A ticket lock (FIFO, so neither thread can starve the other) in a `SharedArrayBuffer` that every
 * thread's store is opened with. The buffer holds one lock per database file (`slot` 0: siyu.db,
 * 1: the inbox file), each three cells: next ticket, ticket being served, holder's thread id + 1.
 * Hand-written because no maintained npm package offers an async cross-thread lock on Atomics; it is
 * small and tested in writer-lock.test.ts.
 */
export class WriterLock {
  private readonly cells: Int32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly threadId: number,
    slot = 0,
  ) {
    this.cells = new Int32Array(buffer, slot * 3 * Int32Array.BYTES_PER_ELEMENT, 3);
  }

  static readonly SLOTS = 2;

  /** The locks and, after them, the {@link MembershipEpoch} cell. */
  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer((WriterLock.SLOTS * 3 + 1) * Int32Array.BYTES_PER_ELEMENT);
  }

  /** Runs `fn` (synchronous database work) while holding the lock. */
  async run<T>(fn: () => T): Promise<T> {
    await this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  async acquire(): Promise<void> {
    const ticket = Atomics.add(this.cells, 0, 1);
    for (;;) {
      const serving = Atomics.load(this.cells, 1);
      if (serving === ticket) break;
      const w = waitAsync(this.cells, 1, serving);
      if (w.async) await w.value;
    }
    Atomics.store(this.cells, 2, this.threadId + 1);
  }

  release(): void {
    Atomics.store(this.cells, 2, 0);
    Atomics.add(this.cells, 1, 1);
    Atomics.notify(this.cells, 1);
  }

  /**
   * After a thread died: if it held the lock, hand it on (its SQLite transaction was rolled back
   * when its connection closed). Returns whether it did.
   */
  releaseIfHeldBy(threadId: number): boolean {
    if (threadId < 0 || Atomics.load(this.cells, 2) !== threadId + 1) return false;
    this.release();
    return true;
  }
}

/** `Atomics.waitAsync` (Node ≥ 16; typed from ES2024, newer than this project's lib setting). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

/**
 * A counter of committed writes to tag and segment memberships, shared by the threads of a process
 * (the cell after the locks in {@link WriterLock.create}'s buffer; a buffer of its own when the store is
 * not shared). The audience engine reads a page outside the write lock and, holding it, compares this
 * counter with its value before the read: a membership written meanwhile by another thread (a manual
 * tag, a recompute) sends it back to read the page again under the lock. It is bumped after COMMIT and
 * before the lock is released, so a reader holding the lock sees every bump of a committed write, and
 * a reader that saw the bump reads that write's result.
 */
export class MembershipEpoch {
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    const offset = buffer.byteLength >= (WriterLock.SLOTS * 3 + 1) * Int32Array.BYTES_PER_ELEMENT ? WriterLock.SLOTS * 3 : 0;
    this.cell = new Int32Array(buffer, offset * Int32Array.BYTES_PER_ELEMENT, 1);
  }

  read(): number {
    return Atomics.load(this.cell, 0);
  }

  bump(): void {
    Atomics.add(this.cell, 0, 1);
  }
}
