// Which B-trees a SQLite WAL's frames belong to:  node bench/profiling/wal-pages.mjs <copy of siyu.db-wal>
//
// Take the copy during a run (checkpoints reuse the WAL from its start; with SIYU's checkpointer every ~10,000
// frames). Each frame's page is classified by its last version in the WAL: table leaf (T), index leaf (I),
// index interior (Ii) pages by the column count and the leading values of their first cell (ids keep their
// prefix: `prof_…`, `ws_…`, `evt_…`), so an index is told by its columns — e.g. `I5:prof_…,…,track,…` is
// events_profile_idx (profile_id, timestamp, type, event, rowid). Interior table pages hold no values.
import { fstatSync, openSync, readSync } from 'node:fs';

const fd = openSync(process.argv[2], 'r');
const size = fstatSync(fd).size;
const header = Buffer.alloc(32);
readSync(fd, header, 0, 32, 0);
const pageSize = header.readUInt32BE(8);
const [salt1, salt2] = [header.readUInt32BE(16), header.readUInt32BE(20)];
const frameSize = 24 + pageSize;
const pages = new Map();
let frames = 0;
let commits = 0;
const fh = Buffer.alloc(24);
for (let off = 32; off + frameSize <= size; off += frameSize) {
  readSync(fd, fh, 0, 24, off);
  if (fh.readUInt32BE(8) !== salt1 || fh.readUInt32BE(12) !== salt2) break;
  frames++;
  if (fh.readUInt32BE(4) !== 0) commits++;
  const pgno = fh.readUInt32BE(0);
  const seen = pages.get(pgno);
  if (seen) {
    seen.frames++;
    seen.offset = off;
  } else pages.set(pgno, { frames: 1, offset: off });
}

function varint(b, i) {
  let v = 0;
  for (let k = 0; k < 9; k++) {
    const c = b[i + k];
    if (k === 8) return [v * 256 + c, i + 9];
    v = v * 128 + (c & 0x7f);
    if (!(c & 0x80)) return [v, i + k + 1];
  }
  return [v, i + 9];
}
const FIXED = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0];
function recordValues(b, i) {
  const [headerSize, first] = varint(b, i);
  const types = [];
  for (let j = first; j < i + headerSize; ) {
    const [t, next] = varint(b, j);
    types.push(t);
    j = next;
  }
  let p = i + headerSize;
  return types.map((t) => {
    const len = t >= 12 ? Math.floor((t - (t % 2 ? 13 : 12)) / 2) : FIXED[t] ?? 0;
    const value = t >= 13 && t % 2 ? (p + len <= b.length ? b.toString('utf8', p, p + Math.min(len, 12)) : '?') : t >= 1 && t <= 6 ? '#' : t === 0 ? 'null' : `t${t}`;
    p += len;
    return value.replace(/[0-9A-Z]{3,}.*/, '…');
  });
}

const page = Buffer.alloc(pageSize);
const classes = new Map();
for (const [pgno, p] of pages) {
  readSync(fd, page, 0, pageSize, p.offset + 24);
  const base = pgno === 1 ? 100 : 0;
  const type = page[base];
  const cells = page.readUInt16BE(base + 3);
  let name = `other (type ${type})`;
  if (type === 0x05) name = 'interior table';
  else if ((type === 0x0d || type === 0x0a || type === 0x02) && cells > 0) {
    let i = page.readUInt16BE(base + (type === 0x02 ? 12 : 8)) + (type === 0x02 ? 4 : 0);
    i = varint(page, i)[1];
    if (type === 0x0d) i = varint(page, i)[1];
    try {
      const values = recordValues(page, i);
      name = `${type === 0x0d ? 'T' : type === 0x0a ? 'I' : 'Ii'}${values.length}:${values.slice(0, 4).join(',')}`;
    } catch {
      name = 'undecodable';
    }
  }
  const c = classes.get(name) ?? { pages: 0, frames: 0 };
  c.pages++;
  c.frames += p.frames;
  classes.set(name, c);
}
console.log(`${frames} frames, ${pages.size} distinct pages, ${commits} commits`);
for (const [name, c] of [...classes].sort((a, b) => b[1].frames - a[1].frames).slice(0, 50)) {
  console.log(`${String(c.frames).padStart(9)} frames ${String(c.pages).padStart(9)} pages  ${name}`);
}
