// What benchmarks and tests use of the `siyu` command's composition (the command itself is bin/siyu.js).
export { openRuntime, ensureDefaultWorkspace, sqliteCacheFor, sqliteTempStoreFor, type Runtime } from './runtime.ts';
export { WorkerThread } from './worker-thread.ts';
export { tuneHeap } from './heap.ts';
