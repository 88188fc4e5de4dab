// Child process: builds realistic batches and posts them with N requests in flight, like many SDK
// clients. A separate process, so the server's resident memory is measured alone.
import { buildBatches, type Timestamps } from './messages.ts';

const { url, writeKey, batches, batchSize, people, idPrefix, concurrency, rate, timestamps } = JSON.parse(process.argv[2]!) as {
  url: string;
  writeKey: string;
  batches: number;
  batchSize: number;
  people: number;
  idPrefix: string;
  concurrency: number;
  /** Offered events/s (0: as fast as the server answers). */
  rate: number;
  timestamps: Timestamps;
};
const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
const CHUNK = 200;
let failed = 0;
const started = performance.now();
for (let from = 0; from < batches; from += CHUNK) {
  // Built a chunk at a time (same seed per chunk offset keeps runs comparable) so the client stays small.
  const bodies = buildBatches({ batches: Math.min(CHUNK, batches - from), batchSize, people, idPrefix: `${idPrefix}${from}-`, seed: 42 + from, timestamps });
  let next = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= bodies.length) return;
      if (rate > 0) {
        // Paced: batch number (from + i) leaves at its scheduled time.
        const due = started + ((from + i) * batchSize * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: bodies[i] });
      if (res.status !== 200) {
        failed++;
        if (failed < 3) console.error(res.status, await res.text());
      } else await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
process.stdout.write(JSON.stringify({ ms: performance.now() - started, failed }));
