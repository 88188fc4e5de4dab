#!/usr/bin/env node
// Sums PostgreSQL's logged statement durations by statement (parse, bind and execute apart), largest first.
//   node bench/profiling/pg-log-summary.mjs LOGFILE [N]
// LOGFILE: the server log of a run with `log_min_duration_statement = 0` (CONTRIBUTING, "Profiling"). Times are
// wall time in the server, waits for locks, the WAL flush and the CPU included.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profiling/pg-log-summary.mjs LOGFILE [N]');
  process.exit(2);
}
const totals = new Map();
const add = (kind, text, ms) => {
  const key = `${kind} ${text.replace(/\s+/g, ' ').slice(0, 110)}`;
  const t = totals.get(key) ?? { ms: 0, n: 0 };
  t.ms += ms;
  t.n++;
  totals.set(key, t);
};
// Read line by line: with every statement's parameters logged, a run's log passes what one string may hold.
let pending = null;
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (pending) {
    // Statements that begin with a line break are logged from the next line on.
    if (!line.trim()) continue;
    add(pending.kind, line.trim(), pending.ms);
    pending = null;
  }
  const m = /duration: ([\d.]+) ms\s+(statement|execute [^:]*|parse [^:]*|bind [^:]*): ?(.*)/.exec(line);
  if (!m) continue;
  const kind = m[2].split(' ')[0];
  if (m[3].trim()) add(kind, m[3].trim(), Number(m[1]));
  else pending = { kind, ms: Number(m[1]) };
}
const all = [...totals].sort((a, b) => b[1].ms - a[1].ms);
for (const [key, t] of all.slice(0, Number(nArg ?? 30))) console.log(`${(t.ms / 1000).toFixed(2).padStart(8)} s ${String(t.n).padStart(7)}×  ${key}`);
console.log(`${(all.reduce((s, [, t]) => s + t.ms, 0) / 1000).toFixed(2).padStart(8)} s in all`);
