import { loadConfig, type Config } from '@siyu/config';
import { describe, expect, it } from 'vitest';
import { sqliteCacheFor, sqliteTempStoreFor } from '../src/runtime.ts';

describe('SQLite page cache per runtime', () => {
  const config = (cache?: string): Config => {
    const r = loadConfig(cache === undefined ? {} : { SIYU_SQLITE_CACHE_MB: cache });
    if (!r.ok) throw new Error(r.problems.join('; '));
    return r.config;
  };
  const lock = new SharedArrayBuffer(64);

  it('gives SIYU_SQLITE_CACHE_MB to connections that process events, and small fixed caches to the others', () => {
    const cases: [opts: Parameters<typeof sqliteCacheFor>[1], expected: number | 'auto', who: string][] = [
      [{ writerLock: lock, role: 'server' }, 8, 'server thread beside a worker'],
      [{ writerLock: lock }, 8, 'server thread beside a worker (role implied)'],
      [{ role: 'server' }, 32, 'a server that processes nothing (SIYU_WORKER=off) or on PostgreSQL'],
      [{ writerLock: lock, role: 'audience' }, 32, 'the audience thread'],
      [{ writerLock: lock, role: 'processor' }, 'auto', 'the processor thread'],
      [{ writerLock: lock, role: 'both' }, 'auto', 'one thread doing all the background work'],
      [{}, 'auto', 'SIYU_WORKER=inline, siyu import'],
    ];
    for (const [opts, expected, who] of cases) expect(sqliteCacheFor(config(), opts), who).toBe(expected);
    expect(sqliteCacheFor(config('200'), { writerLock: lock, role: 'processor' })).toBe(200);
    expect(sqliteCacheFor(config('200'), { writerLock: lock, role: 'server' })).toBe(8);
  });
});

describe('SQLite temporary storage per runtime', () => {
  const lock = new SharedArrayBuffer(64);

  it('keeps it in memory for connections that process events, in files for the server thread beside a worker', () => {
    const cases: [opts: Parameters<typeof sqliteTempStoreFor>[0], expected: 'file' | 'memory', who: string][] = [
      [{ writerLock: lock, role: 'server' }, 'file', 'server thread beside a worker'],
      [{ writerLock: lock }, 'file', 'server thread beside a worker (role implied)'],
      [{ role: 'server' }, 'file', 'a server that processes nothing (SIYU_WORKER=off) or on PostgreSQL'],
      [{ writerLock: lock, role: 'audience' }, 'memory', 'the audience thread'],
      [{ writerLock: lock, role: 'processor' }, 'memory', 'the processor thread'],
      [{ writerLock: lock, role: 'both' }, 'memory', 'one thread doing all the background work'],
      [{}, 'memory', 'SIYU_WORKER=inline, siyu import'],
    ];
    for (const [opts, expected, who] of cases) expect(sqliteTempStoreFor(opts), who).toBe(expected);
  });
});
