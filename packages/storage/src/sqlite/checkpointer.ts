import { closeSync, fdatasync, fdatasyncSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import BetterSqlite3 from 'better-sqlite3';

/** Frames the WAL holds beyond what was copied into the database file, after which we checkpoint. */
export const CHECKPOINT_PAGES = 10_000;

/**
 * SQLite's own checkpoint inside a commit, kept as a backstop (a connection that never commits through
 * a store, or a checkpointer that cannot keep up): a multiple of {@link CHECKPOINT_PAGES}, counted on
 * the whole WAL since it last restarted.
 */
export const BACKSTOP_PAGES = 4 * CHECKPOINT_PAGES;

/** Flushes the database file to the device without blocking the thread; injectable for tests. */
export type FlushFile = (fd: number) => Promise<void>;

const LITTLE_ENDIAN = endianness() === 'LE';

const flushFile: FlushFile = (fd) => new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

/**
 * Checkpoints a WAL-mode database with the flush of the database file off the thread.
 *
 * A checkpoint copies the WAL's frames into the database file. SQLite's own (`wal_autocheckpoint`)
 * runs inside the commit that takes the WAL past its threshold and flushes the database file there,
 * holding the write lock: on this 2-core EPYC ~270 ms per 10,000 pages, two thirds of it waiting for
 * the device — a quarter of the processor thread's time at 5,000 events/s. Here the copy runs on the
 * thread (a few tens of ms) and the flush on libuv's thread pool while the thread goes on.
 *
 * What makes that safe is the order SQLite needs: frames may be copied only once they are on the
 * device, and the WAL may be restarted (overwritten from its start) only once the copies are on the
 * device. So, in {@link afterCommit}:
 *
 * 1. a second connection opens a read transaction (the *pin*): its snapshot marks the WAL's last
 *    frame, and while it is open no connection — in any thread or process — can restart the WAL
 *    (SQLite restarts only when no reader holds a snapshot of it; writers append instead);
 * 2. the WAL is flushed (`fdatasync`; the commit that got here has just flushed it, so this is quick);
 * 3. a connection in `synchronous = OFF` runs `wal_checkpoint(PASSIVE)`: it copies the frames up to
 *    the pin's mark and does not flush;
 * 4. the database file is flushed on the thread pool; then the pin is released.
 *
 * A crash at any point leaves every frame in the WAL, which SQLite replays on open, so pages half
 * written to the database file are rewritten from it. Transactions wait for step 4 before they begin
 * ({@link beforeCommit}: usually long done; awaited before the store takes its write lock, so another thread's
 * transactions go on meanwhile), so the first commit after a complete checkpoint restarts
 * the WAL rather than growing it; a commit elsewhere meanwhile just appends.
 */
export class Checkpointer {
  private readonly pin: BetterSqlite3.Database;
  private readonly ckpt: BetterSqlite3.Database;
  private shmFd: number | null = null;
  private walFd: number | null = null;
  private dbFd: number | null = null;
  private flushing: Promise<void> | null = null;
  /** The wal-index header as last read (read after every transaction: no allocation each time). */
  private readonly header = Buffer.alloc(100);
  /** Checkpoints run (tests and benchmarks read it). */
  checkpoints = 0;

  constructor(
    private readonly file: string,
    private readonly opts: { pages?: number; flush?: FlushFile } = {},
  ) {
    // Two small connections of their own: a connection with a transaction open cannot checkpoint, and
    // the pin is one; the store's connection may be inside a transaction whenever this runs.
    this.pin = new BetterSqlite3(file, { fileMustExist: true });
    this.pin.pragma('cache_size = -256');
    this.ckpt = new BetterSqlite3(file, { fileMustExist: true });
    this.ckpt.pragma('cache_size = -256');
    this.ckpt.pragma('synchronous = OFF');
  }

  /** Frames in the WAL and frames of it copied into the database file, from the wal-index header (`-shm`). */
  walState(): { frames: number; copied: number } | null {
    if (this.shmFd === null) {
      try {
        this.shmFd = openSync(`${this.file}-shm`, 'r');
      } catch {
        return null;
      }
    }
    // Layout (sqlite.org/walformat.html): two copies of the 48-byte header (mxFrame at offset 16),
    // then the checkpoint info (nBackfill at 96), in the machine's byte order.
    const buf = this.header;
    if (readSync(this.shmFd, buf, 0, 100, 0) < 100) return null;
    const frames = LITTLE_ENDIAN ? buf.readUInt32LE(16) : buf.readUInt32BE(16);
    const copied = LITTLE_ENDIAN ? buf.readUInt32LE(96) : buf.readUInt32BE(96);
    return { frames, copied };
  }

  /** After a transaction: checkpoints when the WAL holds enough frames not yet copied (steps 1–3 now, 4 in the background). */
  afterCommit(): void {
    if (this.flushing || !this.ckpt.open) return;
    const state = this.walState();
    if (!state || state.frames - state.copied < (this.opts.pages ?? CHECKPOINT_PAGES)) return;
    this.pin.exec('begin');
    try {
      this.pin.prepare('select count(*) from sqlite_schema').pluck().get();
      this.walFd ??= openSync(`${this.file}-wal`, 'r');
      // On the thread (not the pool): a transaction that begins after the copy reads the database file
      // alone, and that is what lets its commit restart the WAL; one that began while the copy waited
      // on the device would hold a snapshot of the WAL and append.
      fdatasyncSync(this.walFd);
      const busy = (this.ckpt.pragma('wal_checkpoint(PASSIVE)') as { busy: number }[])[0]?.busy ?? 1;
      // Another checkpoint is running (another thread's, or a backstop): it flushes its own copies.
      if (busy) {
        this.pin.exec('commit');
        return;
      }
    } catch (e) {
      if (this.pin.inTransaction) this.pin.exec('commit');
      throw e;
    }
    this.checkpoints++;
    this.dbFd ??= openSync(this.file, 'r');
    // A failed flush keeps the pin and stays the answer of beforeCommit: nothing commits on copies
    // not known to be on the device (the process must restart; as PostgreSQL panics on a failed fsync).
    const flushing = (this.opts.flush ?? flushFile)(this.dbFd).then(() => {
      if (this.pin.open && this.pin.inTransaction) this.pin.exec('commit');
      this.flushing = null;
    });
    flushing.catch(() => undefined);
    this.flushing = flushing;
  }

  /**
   * Before a transaction: the database-file flush in progress, if any, to wait for (so that its commit may
   * restart the WAL). A failed flush rejects: the commit fails rather than build on copies not known
   * to be on the device (they are still in the WAL, which stays pinned until a flush succeeds).
   */
  beforeCommit(): Promise<void> | null {
    return this.flushing;
  }

  /** Waits for a flush in progress and releases the files; call before the main connection closes. */
  async close(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    for (const fd of [this.shmFd, this.walFd, this.dbFd]) if (fd !== null) closeSync(fd);
    this.shmFd = this.walFd = this.dbFd = null;
    if (this.pin.open) this.pin.close();
    if (this.ckpt.open) this.ckpt.close();
  }
}
