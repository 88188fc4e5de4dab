// Keeps every WAL frame of a run for wal-pages.mjs:
//
//   WAL_CAPTURE=/tmp/run.wal node --import ./bench/profiling/wal-capture.mjs --import tsx bench/run.ts audiences \
//     --backend sqlite --reuse <dir> --seconds 10
//   node bench/profiling/wal-pages.mjs /tmp/run.wal
//
// Checkpoints are skipped (the WAL grows by ~30 KB per event at 1M profiles: mind the disk) and the WAL is
// copied to $WAL_CAPTURE when the first connection to a `siyu.db` closes; closing the last one checkpoints it
// into the database as usual. Only for measuring: checkpoints are what keep the WAL bounded.
import { createRequire } from 'node:module';
import { copyFileSync, existsSync } from 'node:fs';

const target = process.env.WAL_CAPTURE ?? '/tmp/siyu-wal-capture.wal';
const require = createRequire(new URL('../../packages/storage/package.json', import.meta.url));
const Database = require('better-sqlite3');
const pragma = Database.prototype.pragma;
Database.prototype.pragma = function (source, ...rest) {
  if (/wal_checkpoint/.test(source)) return [{ busy: 0, log: 0, checkpointed: 0 }];
  return pragma.call(this, /wal_autocheckpoint\s*=/.test(source) ? 'wal_autocheckpoint = 0' : source, ...rest);
};
const close = Database.prototype.close;
Database.prototype.close = function () {
  if (this.name.endsWith('siyu.db') && !existsSync(target) && existsSync(`${this.name}-wal`)) {
    copyFileSync(`${this.name}-wal`, target);
    process.stderr.write(`wal-capture: ${this.name}-wal copied to ${target}\n`);
  }
  return close.call(this);
};
