import roaring from 'roaring';
import { AudienceBitmaps, newBitmap, type Bitmap } from '@siyu/storage';
import { Rng } from './generate.ts';
import { median, percentile } from './stats.ts';

const { RoaringBitmap32 } = roaring;

/** A random `fraction` of `1..population`, built the way the index loader builds bitmaps (addMany of nums). */
function randomBitmap(rng: Rng, population: number, fraction: number): Bitmap {
  const out = newBitmap();
  const buf = new Uint32Array(1 << 16);
  let n = 0;
  const logq = Math.log(1 - fraction);
  for (let num = 0; ; ) {
    num += 1 + Math.floor(Math.log(1 - rng.next()) / logq);
    if (num > population) break;
    buf[n++] = num;
    if (n === buf.length) {
      out.addMany(buf);
      n = 0;
    }
  }
  if (n) out.addMany(buf.subarray(0, n));
  return out;
}

function fillAll(all: Bitmap, population: number): void {
  const buf = new Uint32Array(1 << 16);
  for (let from = 1; from <= population; from += buf.length) {
    const n = Math.min(buf.length, population - from + 1);
    for (let i = 0; i < n; i++) buf[i] = from + i;
    all.addMany(n === buf.length ? buf : buf.subarray(0, n));
  }
}

/**
 * Live count of a 3-tag combination (30% ∧ 20% ∧ 10% of the population, independent random members)
 * over `population` profiles, in memory: the engine's own `AudienceBitmaps.evaluate` (clone, two ANDs,
 * AND with `all`, `.size`) — what `AudienceService.count` does for a bitmap-only definition — and, for
 * comparison, the bare `and` + `andCardinality` chain.
 */
export function liveCount3Tags(population: number, runs: number): { engineMs: number[]; bareMs: number[]; count: number; buildMs: number; serializedBytes: number } {
  const t0 = performance.now();
  const rng = new Rng(0x10_000_000 ^ population);
  const b = new AudienceBitmaps();
  fillAll(b.all, population);
  const tags = [0.3, 0.2, 0.1].map((fr) => randomBitmap(rng, population, fr));
  tags.forEach((t, i) => b.tags.set(`tag_${i}`, t));
  const buildMs = performance.now() - t0;
  const condition = { all: [0, 1, 2].map((i) => ({ tag: `tag_${i}`, has: true })) };
  const resolve = (ref: string) => ref;
  let count = 0;
  const engineMs: number[] = [];
  const bareMs: number[] = [];
  for (let r = 0; r < runs + 5; r++) {
    const s = performance.now();
    const hits = b.evaluate(condition, resolve);
    count = hits.size;
    const ms = performance.now() - s;
    if (r >= 5) engineMs.push(ms); // the first few runs warm up the JIT and the allocator
    const s2 = performance.now();
    const ab = RoaringBitmap32.and(tags[0]!, tags[1]!);
    const bare = ab.andCardinality(tags[2]!);
    const ms2 = performance.now() - s2;
    if (r >= 5) bareMs.push(ms2);
    if (bare !== count) throw new Error(`bitmap counts disagree: ${bare} vs ${count}`);
  }
  const serializedBytes = [b.all, ...tags].reduce((s, x) => s + x.getSerializationSizeInBytes('croaring'), 0);
  return { engineMs, bareMs, count, buildMs, serializedBytes };
}

export { median, percentile };
