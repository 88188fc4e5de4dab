import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WAL_AUTOCHECKPOINT_PAGES } from './connect.ts';

/**
 * Copies the WAL into the database file from a thread of its own, so that the threads that write do
 * not stop to wait for the device.
 *
 * SQLite checkpoints inside the commit that takes the WAL past `wal_autocheckpoint` pages: the
 * committing thread copies 10,000 pages into the database file and waits for it to be flushed
 * (~150 ms here). In the 100k-profile incremental bench that was ~5 of the worker thread's ~21 busy
 * seconds. This thread watches the WAL's size and, past the same 10,000 pages, runs
 * `PRAGMA wal_checkpoint(PASSIVE)`, which never takes the write lock: the writers go on committing.
 * Then it catches up: short passes copy what was committed meanwhile until nothing is left, so the
 * next write transaction restarts the WAL from its beginning (a WAL that never restarts keeps
 * growing and slows every read). Pages are copied about as often as before — checkpointing on a
 * timer instead was measured at 3× the device writes. Writers keep an autocheckpoint at 4× the
 * threshold, as a backstop should this thread fall behind or stop.
 *
 * The WAL's size comes from the wal-index header in the `-shm` file (SQLite's documented layout:
 * `mxFrame` at byte 16, the checkpoint's `nBackfill` at byte 96, native byte order), read with one
 * `pread` per poll; nothing is written to it.
 *
 * Durability is unchanged (see wal-sync.ts): a checkpoint flushes the WAL and then the database file
 * before SQLite marks any frame as copied, whichever connection runs it.
 *
 * Why a thread and not the libuv pool: better-sqlite3 is synchronous, so the checkpoint must run on
 * a thread that may block. The thread's code is a short CommonJS string (no TypeScript loader needed).
 */
export class BackgroundCheckpointer {
  private constructor(
    private readonly worker: Worker,
    private readonly exited: Promise<void>,
  ) {}

  /** Starts checkpointing `file` (which must already be in WAL mode) past `thresholdPages` waiting frames. */
  static start(file: string, thresholdPages = WAL_AUTOCHECKPOINT_PAGES, pollMs = 20): BackgroundCheckpointer {
    const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(THREAD_CODE, { eval: true, workerData: { file, sqlitePath, thresholdPages, pollMs, littleEndian: endianness() === 'LE' } });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // A failure here is not fatal: the writers' own autocheckpoint still bounds the WAL.
    worker.on('error', (e: Error) => process.emitWarning(`siyu: background checkpoint stopped: ${e.message}`));
    worker.unref();
    return new BackgroundCheckpointer(worker, exited);
  }

  /** Runs a last pass and closes the thread's connection. */
  async stop(): Promise<void> {
    // Unreferenced, the thread would not keep this process alive until it has exited.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}

const THREAD_CODE = `
const fs = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const { file, thresholdPages, pollMs, littleEndian } = workerData;
const db = new Database(file);
db.pragma('busy_timeout = 1000');
// Checkpoints read WAL frames and write database pages directly: hardly any page cache needed.
db.pragma('cache_size = -1024');
const pass = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { if (e.code !== 'SQLITE_BUSY') throw e; }
};
const header = Buffer.alloc(100);
let shm = null;
/** Frames in the WAL not yet copied into the database file (0 when unknown). */
const waiting = () => {
  try {
    if (shm === null) shm = fs.openSync(file + '-shm', 'r');
    if (fs.readSync(shm, header, 0, 100, 0) < 100 || header[12] !== 1) return 0;
  } catch (e) {
    if (e.code === 'ENOENT') return 0;
    throw e;
  }
  const read = (at) => (littleEndian ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const mxFrame = read(16);
  const backfilled = read(96);
  return mxFrame > backfilled ? mxFrame - backfilled : 0;
};
let stopped = false;
const loop = () => {
  if (stopped) return;
  if (waiting() >= thresholdPages) {
    pass();
    // Catch up with what was committed during the pass, so the WAL can restart.
    for (let i = 0; i < 20 && waiting() > 0; i++) pass();
  }
  setTimeout(loop, pollMs);
};
setTimeout(loop, pollMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopped = true;
  pass();
  if (shm !== null) fs.closeSync(shm);
  db.close();
  parentPort.close();
});
`;
