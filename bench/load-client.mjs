// Worker thread: posts pre-built batches to the server with N requests in flight, like many SDK clients.
import { parentPort, workerData } from 'node:worker_threads';

const { url, writeKey, bodies, concurrency } = workerData;
const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
let next = 0;
let failed = 0;
const started = performance.now();
async function lane() {
  for (;;) {
    const i = next++;
    if (i >= bodies.length) return;
    const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: bodies[i] });
    if (res.status !== 200) {
      failed++;
      if (failed < 3) console.error(res.status, await res.text());
    } else await res.arrayBuffer();
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
parentPort.postMessage({ ms: performance.now() - started, failed });
