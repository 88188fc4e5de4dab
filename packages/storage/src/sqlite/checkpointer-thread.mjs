// Entry of the checkpointer thread (see checkpointer.ts). Plain JavaScript: it needs no TypeScript
// loader, so it starts the same way under `siyu start`, tests and benchmarks.
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

const { file, intervalMs, minFrames } = workerData;
const db = new BetterSqlite3(file);
db.pragma('busy_timeout = 0');
// This connection only checkpoints; it never commits, so it never checkpoints on its own.
db.pragma('wal_autocheckpoint = 0');
let timer = null;
let stopped = false;

// WAL frames not yet copied into the database file, read from the wal-index (`-shm`): mxFrame at
// byte 16 of its header, nBackfill at byte 96, in native byte order. Checkpointing only past
// `minFrames` (as wal_autocheckpoint would) lets a page rewritten many times be copied once.
const shm = (() => {
  try {
    return openSync(`${file}-shm`, 'r');
  } catch {
    return null;
  }
})();
const header = Buffer.alloc(100);
const le = endianness() === 'LE';
function pendingFrames() {
  if (shm === null) return Number.POSITIVE_INFINITY;
  if (readSync(shm, header, 0, 100, 0) < 100) return 0;
  const mxFrame = le ? header.readUInt32LE(16) : header.readUInt32BE(16);
  const nBackfill = le ? header.readUInt32LE(96) : header.readUInt32BE(96);
  return mxFrame > nBackfill ? mxFrame - nBackfill : 0;
}

function pass() {
  timer = null;
  if (stopped) return;
  try {
    if (pendingFrames() < minFrames) {
      timer = setTimeout(pass, intervalMs);
      return;
    }
    // PASSIVE: copies what no reader still needs and never waits for, nor blocks, writers or readers.
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.checkpointed > 0) parentPort.postMessage({ type: 'checkpointed', frames: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    // SQLITE_BUSY: another connection is checkpointing right now; try again next pass.
    if (!(e && e.code === 'SQLITE_BUSY')) parentPort.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
  timer = setTimeout(pass, intervalMs);
}

parentPort.on('message', (m) => {
  if (m && m.type === 'stop') {
    stopped = true;
    if (timer) clearTimeout(timer);
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The last connection to close checkpoints anyway.
    }
    db.close();
    if (shm !== null) closeSync(shm);
    parentPort.postMessage({ type: 'stopped' });
  }
});

timer = setTimeout(pass, intervalMs);
parentPort.postMessage({ type: 'ready' });
