#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof, or SIYU_BENCH_PROFILE): self time per function and
// inclusive time per function, top N each, as a share of the profile's samples.
//   node bench/profiling/cpuprofile-summary.mjs FILE.cpuprofile [N] [filter]
// `filter` (a substring of function name or url) limits the inclusive list to matching frames.
import { readFileSync } from 'node:fs';

const [file, nArg, filter] = process.argv.slice(2);
const n = Number(nArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const total = profile.samples.length;
const durationMs = (profile.endTime - profile.startTime) / 1000;
const label = (node) => {
  const f = node.callFrame;
  const url = f.url.replace(/^.*\/(packages|apps|bench|node_modules)\//, '$1/');
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
};
const self = new Map();
const incl = new Map();
for (const [id, count] of counts) {
  const node = byId.get(id);
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + count);
  }
}
const pct = (c) => ((100 * c) / total).toFixed(1).padStart(5) + '%';
console.log(`${file}: ${total} samples over ${durationMs.toFixed(0)} ms`);
const idle = [...self].filter(([l]) => l.startsWith('(idle)')).reduce((a, [, c]) => a + c, 0);
console.log(`idle ${pct(idle)}`);
console.log('\n-- self --');
for (const [l, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(pct(c), l);
console.log('\n-- inclusive --');
for (const [l, c] of [...incl].filter(([l]) => !filter || l.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(pct(c), l);
