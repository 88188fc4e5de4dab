// Per-statement system calls of SQLite, for every thread of the process (worker threads inherit --import):
//
//   node --import ./bench/profiling/sql-io.mjs --import tsx bench/run.ts audiences --backend sqlite --reuse <dir>
//
// Each better-sqlite3 statement run and pragma reads this thread's `syscr`/`syscw` (/proc/thread-self/io)
// before and after, and the totals per statement go to /tmp/sql-io-<pid>-<thread>.txt, largest first:
// read calls (a page SQLite did not hold), write calls (WAL frames: two per page; checkpoint copies), calls,
// and the wall time spent in the statement (the /proc reads excluded).
// The reads of /proc itself are taken off (a pragma line still counts ~2 of them: it runs, and includes, the
// `all PRAGMA …` line); `iterate` is counted when the iterator is made, not while it is read. Linux only; it
// slows the run a little, so compare counts, not times.
import { createRequire } from 'node:module';
import { openSync, readSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

const require = createRequire(new URL('../../packages/storage/package.json', import.meta.url));
const Database = require('better-sqlite3');
const probe = new Database(':memory:');
const statementProto = Object.getPrototypeOf(probe.prepare('select 1'));
probe.close();

const buf = Buffer.alloc(512);
const fd = openSync('/proc/thread-self/io', 'r');
const io = () => {
  const text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  return [Number(/syscr: (\d+)/.exec(text)[1]), Number(/syscw: (\d+)/.exec(text)[1]), process.hrtime.bigint()];
};
const ownReads = -io()[0] + io()[0];
const totals = new Map();
function record(key, [r0, w0, t0]) {
  const ns = process.hrtime.bigint() - t0;
  const [r1, w1] = io();
  const t = totals.get(key) ?? { calls: 0, reads: 0, writes: 0, ns: 0n };
  t.calls++;
  t.ns += ns;
  t.reads += r1 - r0 - ownReads;
  t.writes += w1 - w0;
  totals.set(key, t);
}
for (const method of ['run', 'all', 'get', 'iterate']) {
  const original = statementProto[method];
  statementProto[method] = function (...args) {
    const before = io();
    try {
      return original.apply(this, args);
    } finally {
      record(`${method} ${this.source.replace(/\s+/g, ' ').slice(0, 160)}`, before);
    }
  };
}
const pragma = Database.prototype.pragma;
Database.prototype.pragma = function (source, ...rest) {
  const before = io();
  try {
    return pragma.call(this, source, ...rest);
  } finally {
    record(`pragma ${source}`, before);
  }
};
const dump = () =>
  writeFileSync(
    `/tmp/sql-io-${process.pid}-${threadId}.txt`,
    [...totals]
      .sort((a, b) => b[1].reads + b[1].writes - (a[1].reads + a[1].writes))
      .map(([k, t]) => `${String(t.reads).padStart(9)} r ${String(t.writes).padStart(9)} w ${String(t.calls).padStart(8)} × ${String(t.ns / 1000000n).padStart(7)} ms  ${k}`)
      .join('\n') + '\n',
  );
process.on('exit', dump);
setInterval(dump, 2000).unref();
