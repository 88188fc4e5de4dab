import v8 from 'node:v8';

/**
 * How far a thread's V8 heap may grow past what survived its last full collection before the next
 * one: 1.5× (V8's own choice goes up to 4× when collections are cheap next to the work done).
 *
 * The processor and the ingestion path allocate fast and keep little: each batch's messages,
 * profiles and statements live for one batch (~45 MB live in the worker at 1M profiles), but with
 * V8's factor the worker's old generation was let grow to ~200–250 MB between collections, and peak
 * resident memory of `siyu start` under a 1M-profile ingest was 576 MB. At 1.5× it is 412 MB, for
 * more, shorter full collections (~1.5 s of pauses per 1M events in the worker, against ~0.4 s).
 * V8 reads the flag at each collection, so setting it once at start covers every thread, worker
 * threads started later included.
 */
export const HEAP_GROWING_PERCENT = 50;

export function tuneHeap(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
