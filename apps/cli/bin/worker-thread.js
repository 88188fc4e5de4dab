// Entry of the worker thread `siyu start` runs beside the server: registers the TypeScript loader
// (hooks do not carry over into worker threads), then runs src/worker-thread-main.ts.
import { register } from 'tsx/esm/api';

register();
await import('../src/worker-thread-main.ts');
