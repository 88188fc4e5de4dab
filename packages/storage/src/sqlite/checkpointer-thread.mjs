// Entry of the checkpointer thread (see checkpointer.ts). Plain JavaScript: it needs no TypeScript
// loader, so it starts the same way under `siyu start`, tests and benchmarks.
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

const { file, intervalMs } = workerData;
const db = new BetterSqlite3(file);
db.pragma('busy_timeout = 0');
// This connection only checkpoints; it never commits, so it never checkpoints on its own.
db.pragma('wal_autocheckpoint = 0');
let timer = null;
let stopped = false;

function pass() {
  timer = null;
  if (stopped) return;
  try {
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
    parentPort.postMessage({ type: 'stopped' });
  }
});

timer = setTimeout(pass, intervalMs);
parentPort.postMessage({ type: 'ready' });
