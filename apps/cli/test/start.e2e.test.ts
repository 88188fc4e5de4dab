import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDirs } from '@siyu/storage/testing';

/** Temp directories of this file, removed when it is done. */
const tempDir = tempDirs();

/**
 * `siyu start` as a user runs it: a real process on embedded SQLite, a real port, real signals.
 * SQLite only — these are guarantees of the embedded setup (durability across SIGKILL, clean SIGTERM).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'apps/cli/bin/siyu.js');
/** A request to a healthy local server that takes longer than this is hanging. */
const HANG_MS = 15_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function siyuEnv(dataDir: string, port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIYU_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, SIYU_DATA_DIR: dataDir, SIYU_PORT: String(port), SIYU_HOST: '127.0.0.1', SIYU_LOG_LEVEL: 'info', ...extra };
}

/** Every process this file starts, so a failing test never leaves one behind. */
const running = new Set<ChildProcess>();

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

class Siyu {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly base: string;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => running.delete(child));
  }

  /** Starts `siyu start` and resolves once /healthz answers 200. */
  static async start(dataDir: string, port: number, env: Record<string, string> = {}): Promise<Siyu> {
    const child = spawn(process.execPath, [BIN, 'start'], { cwd: ROOT, env: siyuEnv(dataDir, port, env), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const s = new Siyu(child, port);
    let exited = false;
    void s.exited.then(() => (exited = true));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`siyu start exited before it was healthy\n${s.output()}`);
      const ok = await fetch(`${s.base}/healthz`, { signal: AbortSignal.timeout(HANG_MS) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`siyu start was not healthy within 60 s\n${s.output()}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return this.exited;
  }

  /** What the process printed, for failure messages. */
  output(): string {
    return `stdout:\n${this.stdout.slice(-4000)}\nstderr:\n${this.stderr.slice(-4000)}`;
  }

  /** stdout lines that are JSON log records. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Admin API GET; a request that hangs fails the test instead of stalling it. */
  async admin<T>(path: string, token: string): Promise<T> {
    const res = await fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HANG_MS) });
    expect(res.status, `GET ${path}`).toBe(200);
    return (await res.json()) as T;
  }
}

function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

function printedKeys(stdout: string): { writeKey: string | undefined; adminToken: string | undefined } {
  return { writeKey: /write key[^\n]*?:\s*(wk_\S+)/.exec(stdout)?.[1], adminToken: /admin token[^\n]*?:\s*(sat_\S+)/.exec(stdout)?.[1] };
}

function savedKeys(dataDir: string): { workspaceId: string; writeKey: string; adminToken: string } {
  return JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as { workspaceId: string; writeKey: string; adminToken: string };
}

async function runCli(dataDir: string, port: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: siyuEnv(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  running.delete(child);
  return { code, stdout, stderr };
}

/** POSTs with `Connection: close` (no keep-alive), so the server has no open connection once it has answered. */
function postOnce(port: number, path: string, writeKey: string, body: Buffer): { req: ReturnType<typeof httpRequest>; answer: Promise<{ status: number; text: string }> } {
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { authorization: basic(writeKey), 'content-type': 'application/json', 'content-length': body.length } });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.once('error', reject);
  });
  return { req, answer };
}

function batchOf(prefix: string, size: number): Buffer {
  return Buffer.from(JSON.stringify({ batch: Array.from({ length: size }, (_, i) => ({ type: 'track', anonymousId: `${prefix}-${i % 5}`, messageId: `${prefix}-${i}`, event: 'In Flight' })) }));
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls until `read` reaches `min` and then gives the same value five times in a row (the inbox has drained), or 60 s pass. */
async function waitForStable(read: () => Promise<number>, min: number): Promise<number> {
  let last = -1;
  let same = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const v = await read();
    same = v === last ? same + 1 : 0;
    last = v;
    if (same >= 4 && v >= min) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/**
 * Opens a copy of the database and of the inbox file beside it (with their WALs), so inspecting them
 * never touches the data directory; the inbox is attached as schema `q`.
 */
function openCopy(dataDir: string): BetterSqlite3.Database {
  const copy = tempDir('siyu-e2e-copy-');
  for (const file of ['siyu.db', 'siyu-inbox.db']) for (const suffix of ['', '-wal']) if (existsSync(join(dataDir, `${file}${suffix}`))) copyFileSync(join(dataDir, `${file}${suffix}`), join(copy, `${file}${suffix}`));
  const db = new BetterSqlite3(join(copy, 'siyu.db'), { fileMustExist: true });
  db.exec(`attach database '${join(copy, 'siyu-inbox.db')}' as q`);
  return db;
}

/** Load: four clients posting batches of unique messages until `stop()` is true; returns the batches answered 200. */
async function postBatches(base: string, writeKey: string, perBatch: number, stop: (accepted: number) => boolean): Promise<number[]> {
  const accepted: number[] = [];
  let next = 0;
  let done = false;
  const messagesOf = (b: number) =>
    Array.from({ length: perBatch }, (_, i) => {
      const n = b * perBatch + i;
      // Devices share phones, so the processor merges profiles while the process dies.
      return { type: 'track', anonymousId: `dev-${n % 300}`, messageId: `b${b}-m${i}`, event: 'Tapped', properties: { n }, context: { traits: { phone: `1380000${String(n % 97).padStart(4, '0')}` } } };
    });
  const client = async () => {
    while (!done) {
      const b = next++;
      try {
        const res = await fetch(`${base}/v1/batch`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ batch: messagesOf(b) }), signal: AbortSignal.timeout(HANG_MS) });
        const body = (await res.json()) as unknown;
        if (res.status === 200) {
          expect(body).toEqual({ success: true, accepted: perBatch, duplicates: 0 });
          accepted.push(b);
        }
      } catch {
        // The connection died with the process: this batch was never answered.
      }
      if (!done && stop(accepted.length)) done = true;
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  return accepted;
}

describe('siyu start (SQLite, real process)', () => {
  it('prints the keys on first start; they persist across a restart and `siyu credentials` prints them', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    const first = await Siyu.start(dataDir, port);
    const keys = printedKeys(first.stdout);
    expect(keys.writeKey, first.stdout).toMatch(/^wk_/);
    expect(keys.adminToken, first.stdout).toMatch(/^sat_/);
    const { writeKey, adminToken } = keys as { writeKey: string; adminToken: string };

    expect(await first.admin('/api/v1/me', adminToken)).toMatchObject({ instanceAdmin: true });
    const sent = await fetch(`${first.base}/v1/identify`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ userId: 'kept', traits: { city: '上海' } }) });
    expect(sent.status).toBe(200);
    expect((await first.stop()).signal, first.output()).toBeNull();

    const second = await Siyu.start(dataDir, port);
    // No new keys are issued on a restart …
    expect(printedKeys(second.stdout)).toEqual({ writeKey: undefined, adminToken: undefined });
    expect(second.stdout).toContain('siyu credentials');
    // … the old ones still work, and the data is still there.
    expect(await second.admin('/api/v1/profiles/lookup?type=user_id&value=kept', adminToken)).toMatchObject({ traits: { city: '上海' } });
    expect((await fetch(`${second.base}/v1/track`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ userId: 'kept', event: 'Came Back' }) })).status).toBe(200);

    const creds = await runCli(dataDir, port, ['credentials']);
    expect(creds.code, creds.stderr).toBe(0);
    expect(printedKeys(creds.stdout)).toEqual({ writeKey, adminToken });
    const json = await runCli(dataDir, port, ['credentials', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ writeKey, adminToken });
    expect((await second.stop()).signal, second.output()).toBeNull();
  });

  it('a process without the saved keys never replaces them: clients keep working until `credentials --rotate`', { timeout: 120_000 }, async () => {
    // As a second machine or data directory sharing a PostgreSQL database: the workspace is there, its keys are not.
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    const made = await runCli(dataDir, port, ['credentials', '--json']);
    expect(made.code, made.stderr).toBe(0);
    const { writeKey, adminToken } = JSON.parse(made.stdout) as { writeKey: string; adminToken: string };
    rmSync(join(dataDir, 'credentials.json'));

    const plain = await runCli(dataDir, port, ['credentials']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('credentials --rotate');
    expect(plain.stdout).toBe('');
    const s = await Siyu.start(dataDir, port);
    expect(printedKeys(s.stdout)).toEqual({ writeKey: undefined, adminToken: undefined });
    expect(s.stdout).toContain('credentials --rotate');
    // The keys made first still work after both.
    expect(await s.admin('/api/v1/me', adminToken)).toMatchObject({ instanceAdmin: true });
    expect((await fetch(`${s.base}/v1/track`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ userId: 'k', event: 'Still Here' }) })).status).toBe(200);

    const rotated = await runCli(dataDir, port, ['credentials', '--rotate', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { writeKey: string; adminToken: string };
    expect(fresh.writeKey).not.toBe(writeKey);
    expect(savedKeys(dataDir)).toMatchObject(fresh);
    const again = await runCli(dataDir, port, ['credentials', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject(fresh);
    expect((await s.stop()).signal, s.output()).toBeNull();
  });

  it('processes in a worker thread; live counts on the server thread follow what it commits', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const s = await Siyu.start(dataDir, await freePort());
    const { writeKey, adminToken } = printedKeys(s.stdout) as { writeKey: string; adminToken: string };
    const count = async (condition: unknown) => {
      const res = await fetch(`${s.base}/api/v1/audiences/count`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ definition: { version: 1, condition } }), signal: AbortSignal.timeout(HANG_MS) });
      expect(res.status).toBe(200);
      return (await res.json()) as { count: number; method: string };
    };
    // Loads the server thread's bitmaps now, before any event: from here on only forwarded changes move them.
    expect(await count({ lifecycle: 'prospect' })).toMatchObject({ count: 0, method: 'bitmap' });
    const batch = Array.from({ length: 40 }, (_, i) => ({ type: 'identify', userId: `w-${i}`, traits: { city: '上海' } }));
    const orders = Array.from({ length: 10 }, (_, i) => ({ type: 'track', userId: `w-${i}`, event: 'Order Completed', properties: { order_id: `o-${i}`, total: 10 } }));
    expect((await fetch(`${s.base}/v1/batch`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ batch: [...batch, ...orders] }) })).status).toBe(200);
    const deadline = Date.now() + 20_000;
    let counts = { prospect: 0, buyers: 0 };
    while (Date.now() < deadline) {
      counts = { prospect: (await count({ lifecycle: 'prospect' })).count, buyers: (await count({ lifecycle: ['new', 'active'] })).count };
      if (counts.prospect === 30 && counts.buyers === 10) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counts).toEqual({ prospect: 30, buyers: 10 });
    // The layer loop logged from the worker thread.
    expect(s.logs().some((l) => l.thread === 'worker'), s.output()).toBe(true);
    expect((await s.stop()).code, s.output()).toBe(0);
  });

  it('with SIYU_WORKER_THREADS=2 the audience engine has a thread of its own; memberships reach live counts', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const s = await Siyu.start(dataDir, await freePort(), { SIYU_WORKER_THREADS: '2' });
    const { writeKey, adminToken } = printedKeys(s.stdout) as { writeKey: string; adminToken: string };
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const created = await fetch(`${s.base}/api/v1/segments`, { method: 'POST', headers: admin, body: JSON.stringify({ name: '上海买家', definition: { version: 1, condition: { all: [{ trait: 'city', op: 'eq', value: '上海' }, { event: 'Order Completed', op: 'gte', value: 1, window: 'ever' }] } } }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const segmentId = ((await created.json()) as { id: string }).id;
    const count = async (condition: unknown) => {
      const res = await fetch(`${s.base}/api/v1/audiences/count`, { method: 'POST', headers: admin, body: JSON.stringify({ definition: { version: 1, condition } }), signal: AbortSignal.timeout(HANG_MS) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { count: number }).count;
    };
    const people = Array.from({ length: 30 }, (_, i) => ({ type: 'identify', userId: `t-${i}`, traits: { city: i % 3 === 0 ? '北京' : '上海' } }));
    const orders = Array.from({ length: 15 }, (_, i) => ({ type: 'track', userId: `t-${i}`, event: 'Order Completed', properties: { order_id: `o-${i}`, total: 10 } }));
    expect((await fetch(`${s.base}/v1/batch`, { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ batch: [...people, ...orders] }) })).status).toBe(200);
    // t-0 … t-14 ordered; of them the 10 not in 北京 (i % 3 ≠ 0) are members; their layers moved too.
    const deadline = Date.now() + 20_000;
    let counts = { members: 0, buyers: 0 };
    while (Date.now() < deadline) {
      counts = { members: await count({ segment: segmentId, in: true }), buyers: await count({ lifecycle: ['new', 'active'] }) };
      if (counts.members === 10 && counts.buyers === 15) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counts).toEqual({ members: 10, buyers: 15 });
    // The layer loop logged from the processor thread (the engine there follows nothing: the members
    // above were written by the audience thread).
    expect(s.logs().some((l) => l.thread === 'processor'), s.output()).toBe(true);
    expect((await s.stop()).code, s.output()).toBe(0);
  });

  it('writes one JSON log line per request to stdout, each with its request id', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const s = await Siyu.start(dataDir, await freePort());
    const { writeKey, adminToken } = printedKeys(s.stdout) as { writeKey: string; adminToken: string };
    const calls: [string, RequestInit, number][] = [
      ['/healthz', {}, 200],
      ['/v1/track', { method: 'POST', headers: { authorization: basic(writeKey) }, body: JSON.stringify({ anonymousId: 'a', event: 'Logged' }) }, 200],
      ['/v1/track', { method: 'POST', headers: { authorization: basic(writeKey) }, body: '{broken' }, 400],
      ['/api/v1/profiles', { headers: { authorization: `Bearer ${adminToken}` } }, 200],
      ['/api/v1/profiles', {}, 401],
      ['/v1/nope', { method: 'POST', body: '{}' }, 404],
    ];
    const ids: string[] = [];
    for (const [i, [path, init, status]] of calls.entries()) {
      const own = i % 2 === 0 ? `e2e-${i}` : undefined;
      const res = await fetch(`${s.base}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), ...(own ? { 'x-request-id': own } : {}) } });
      expect(res.status, path).toBe(status);
      const id = res.headers.get('x-request-id');
      expect(id).toBeTruthy();
      if (own) expect(id).toBe(own);
      ids.push(id!);
    }
    await waitFor(() => ids.every((id) => s.stdout.includes(`"reqId":"${id}"`)), 'every request to be logged');
    await s.stop();

    const records = s.logs();
    const requests = records.filter((r) => r.msg === 'request');
    expect(requests.every((r) => typeof r.reqId === 'string' && r.reqId.length > 0)).toBe(true);
    for (const [i, id] of ids.entries()) {
      const lines = requests.filter((r) => r.reqId === id);
      expect(lines, `request ${i} (${calls[i]![0]}) is logged once`).toHaveLength(1);
      expect(lines[0]).toMatchObject({ method: calls[i]![1].method ?? 'GET', path: calls[i]![0], status: calls[i]![2] });
    }
    // Secrets never reach the log.
    expect(JSON.stringify(records)).not.toContain(writeKey);
    expect(JSON.stringify(records)).not.toContain(adminToken);
  });

  it('exits with code 0 on SIGTERM when idle, after logging that it stopped cleanly', { timeout: 120_000 }, async () => {
    const s = await Siyu.start(tempDir('siyu-e2e-'), await freePort());
    expect((await fetch(`${s.base}/readyz`)).status).toBe(200);
    expect(await s.stop(), s.output()).toEqual({ code: 0, signal: null });
    expect(s.logs().map((r) => r.msg)).toContain('stopped cleanly');
  });

  it('on SIGTERM answers the request in flight and keeps its data', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    const s = await Siyu.start(dataDir, port);
    const { writeKey, adminToken } = savedKeys(dataDir);
    const body = batchOf('inflight', 200);

    // Headers and half the body are sent; the rest follows only after the signal.
    const { req, answer } = postOnce(port, '/v1/batch', writeKey, body);
    req.write(body.subarray(0, body.length >> 1));
    await once(req, 'socket');
    // A complete request on another connection: once it is answered, the server has read the first one's headers.
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);

    s.child.kill('SIGTERM');
    await waitFor(() => s.stdout.includes('shutting down'), 'the shutdown log line');
    // New connections are no longer accepted …
    await expect(fetch(`${s.base}/healthz`, { signal: AbortSignal.timeout(HANG_MS) })).rejects.toThrow();
    // … but the request in flight is answered.
    req.end(body.subarray(body.length >> 1));
    const answered = await answer;
    expect(answered.status, answered.text).toBe(200);
    expect(JSON.parse(answered.text)).toEqual({ success: true, accepted: 200, duplicates: 0 });
    expect((await s.exited).signal, s.output()).toBeNull();

    const again = await Siyu.start(dataDir, port);
    const events = await waitForStable(async () => (await again.admin<{ events: number }>('/api/v1/stats', adminToken)).events, 200);
    expect(events).toBe(200);
    await again.stop();
  });

  // Regression guard for a fixed bug: apps/worker/src/processor-loop.ts:66 (+ `sleep` at :88) — after a small batch the loop lingers on an
  // unref'd timer; when SIGTERM's shutdown (main.ts) awaits `loop.stop()` during that linger, nothing keeps the
  // event loop alive, so Node exits with code 13 ("unsettled top-level await") before `rt.close()` finishes:
  // no "stopped cleanly", the database is not closed, and supervisors see a failed exit.
  it('exits with code 0 when SIGTERM arrives while the processor works on what it just accepted', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    // Five rounds: the window is a few milliseconds wide, so one round alone could miss it.
    for (let round = 0; round < 5; round++) {
      const s = await Siyu.start(dataDir, port);
      const { writeKey } = savedKeys(dataDir);
      const { req, answer } = postOnce(port, '/v1/batch', writeKey, batchOf(`round${round}`, 200));
      req.end(batchOf(`round${round}`, 200));
      expect((await answer).status).toBe(200);
      expect(await s.stop(), `round ${round}\n${s.output()}`).toEqual({ code: 0, signal: null });
      expect(s.logs().map((r) => r.msg)).toContain('stopped cleanly');
    }
  });

  it('after SIGKILL mid-stream, every message answered 200 is on disk: processed once or waiting in the inbox', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const s = await Siyu.start(dataDir, await freePort());
    const { workspaceId, writeKey } = savedKeys(dataDir);
    const PER_BATCH = 50;
    const accepted = await postBatches(s.base, writeKey, PER_BATCH, (n) => {
      if (n >= 40 && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
      return n >= 40;
    });
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(accepted.length).toBeGreaterThanOrEqual(40);

    // What the crashed process left: every accepted message is processed (one event) or waiting in the
    // inbox file — or both, when the kill fell between a batch's commit and its removal from the inbox
    // (the restart then drops it as already stored; the next test proves it).
    const db = openCopy(dataDir);
    try {
      const rows = db
        .prepare("select message_id as id, 'event' as place from events where workspace_id = ? union all select message_id as id, 'inbox' as place from q.inbox where workspace_id = ?")
        .all(workspaceId, workspaceId) as { id: string; place: string }[];
      const places = new Map<string, string[]>();
      for (const r of rows) places.set(r.id, [...(places.get(r.id) ?? []), r.place]);
      const ok = (p: string[] | undefined) => p !== undefined && p.filter((x) => x === 'event').length <= 1 && p.filter((x) => x === 'inbox').length <= 1;
      const wrong: string[] = [];
      for (const b of accepted) for (let i = 0; i < PER_BATCH; i++) if (!ok(places.get(`b${b}-m${i}`))) wrong.push(`b${b}-m${i}: ${JSON.stringify(places.get(`b${b}-m${i}`) ?? [])}`);
      expect(wrong).toEqual([]);
      expect([...places].filter(([, p]) => !ok(p))).toEqual([]);
      // Nothing is left in the old place, the main file's inbox table.
      expect((db.prepare('select count(*) as n from main.inbox').get() as { n: number }).n).toBe(0);
      // Each committed processor batch folded its messages into profiles exactly once.
      const events = (db.prepare('select count(*) as n from events where workspace_id = ?').get(workspaceId) as { n: number }).n;
      const folded = (db.prepare("select coalesce(sum(json_extract(computed, '$.event_count')), 0) as n from profiles where workspace_id = ? and merged_into is null").get(workspaceId) as { n: number }).n;
      expect(folded).toBe(events);
    } finally {
      db.close();
    }
  });

  it('after SIGKILL, a restart brings memberships up to date for batches committed before the kill (derivation log)', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    const s = await Siyu.start(dataDir, port);
    const { workspaceId, writeKey, adminToken } = savedKeys(dataDir);
    const created = await fetch(`${s.base}/api/v1/segments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '点过', definition: { version: 1, condition: { event: 'Tapped', op: 'gte', value: 1, window: 'ever' } } }),
      signal: AbortSignal.timeout(HANG_MS),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const segmentId = ((await created.json()) as { id: string }).id;
    const PER_BATCH = 50;
    const accepted = await postBatches(s.base, writeKey, PER_BATCH, (n) => {
      if (n >= 40 && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
      return n >= 40;
    });
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // What the kill cut off: committed batches whose memberships were not written yet (timing decides how many).
    const left = openCopy(dataDir);
    const cutOff = (left.prepare("select count(*) as n from derivation_log where consumer = 'audiences'").get() as { n: number }).n;
    left.close();

    const again = await Siyu.start(dataDir, port);
    await waitForStable(async () => (await again.admin<{ events: number }>('/api/v1/stats', adminToken)).events, accepted.length * PER_BATCH);
    // Every person has tapped: the segment holds every canonical profile, and no profile merged away,
    // once the restart has caught up (devices share phones: most profiles merge while the process dies).
    const deadline = Date.now() + 60_000;
    let count = -1;
    let profiles = -2;
    while (Date.now() < deadline) {
      count = (await again.admin<{ count: number }>(`/api/v1/segments/${segmentId}`, adminToken)).count;
      profiles = (await again.admin<{ profiles: number }>('/api/v1/stats', adminToken)).profiles;
      if (count === profiles) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(count, `segment count against profiles (${cutOff} profiles cut off by the kill)\n${again.output()}`).toBe(profiles);
    await again.stop();
    const db = new BetterSqlite3(join(dataDir, 'siyu.db'), { readonly: true, fileMustExist: true });
    try {
      const members = (db.prepare('select count(*) as n from segment_members where segment_id = ?').get(segmentId) as { n: number }).n;
      const canonical = (db.prepare('select count(*) as n from profiles where workspace_id = ? and merged_into is null').get(workspaceId) as { n: number }).n;
      expect(members).toBe(canonical);
      // Every consumer's work is done: nothing is left in the log.
      expect((db.prepare('select count(*) as n from derivation_log').get() as { n: number }).n).toBe(0);
    } finally {
      db.close();
    }
  });

  // Regression guard for a fixed bug: packages/services/src/processor.service.ts:96 — processWorkspace calls `workspaces.identityRules()`
  // inside the processor transaction; on a cold rules cache (any restart with messages waiting in the inbox,
  // or a backlog older than the 30 s cache TTL) that query goes through `deps.store` instead of the
  // transaction, and Kysely's single SQLite connection is held by the transaction itself: the processor
  // deadlocks and every later database request (admin API, /readyz, ingestion) hangs.
  it('`siyu import` beside a running server (two processes writing one file): the import completes and every event is stored once', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    const s = await Siyu.start(dataDir, port);
    const { workspaceId, writeKey, adminToken } = savedKeys(dataDir);
    // The import processes its own messages: a second writer beside the server's processor and engine.
    const ROWS = 60_000;
    const csv = join(tempDir('siyu-e2e-csv-'), 'events.csv');
    const at = Date.now() - 86_400_000;
    writeFileSync(csv, `member,event,time,id\n${Array.from({ length: ROWS }, (_, i) => `m${i % 2000},Visited,${new Date(at + i).toISOString()},csv-${i}`).join('\n')}\n`);
    let importDone = false;
    const importing = runCli(dataDir, port, ['import', 'events', csv, '--map', 'member=userId', '--map', 'event=event', '--map', 'time=timestamp', '--map', 'id=messageId']).finally(() => (importDone = true));
    const PER_BATCH = 50;
    const accepted = await postBatches(s.base, writeKey, PER_BATCH, (n) => importDone && n >= 40);
    const imported = await importing;
    expect(imported.code, `${imported.stdout}\n${imported.stderr}`).toBe(0);
    const expected = ROWS + accepted.length * PER_BATCH;
    const events = await waitForStable(async () => (await s.admin<{ events: number }>('/api/v1/stats', adminToken)).events, expected);
    expect(events).toBe(expected);
    expect(await s.admin('/api/v1/pipeline', adminToken)).toMatchObject({ waiting: 0, deadLetters: 0 });
    await s.stop();
    // Neither writer failed on the other's lock: no error in the server's log.
    expect(s.stdout.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
    const db = new BetterSqlite3(join(dataDir, 'siyu.db'), { readonly: true, fileMustExist: true });
    try {
      expect((db.prepare('select count(*) as n from events where workspace_id = ? group by message_id having count(*) > 1').all(workspaceId) as unknown[]).length).toBe(0);
    } finally {
      db.close();
    }
  });

  it('after SIGKILL, a restart drains the inbox: every batch answered 200 is stored exactly once', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('siyu-e2e-');
    const port = await freePort();
    // The first process only accepts (worker off), so a backlog is certainly waiting when it is killed.
    const s = await Siyu.start(dataDir, port, { SIYU_WORKER: 'off' });
    const { workspaceId, writeKey, adminToken } = savedKeys(dataDir);
    const PER_BATCH = 50;
    const accepted = await postBatches(s.base, writeKey, PER_BATCH, (n) => {
      if (n >= 20 && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
      return n >= 20;
    });
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const again = await Siyu.start(dataDir, port);
    const events = await waitForStable(async () => (await again.admin<{ events: number }>('/api/v1/stats', adminToken)).events, accepted.length * PER_BATCH);
    expect(events).toBeGreaterThanOrEqual(accepted.length * PER_BATCH);
    expect((await fetch(`${again.base}/readyz`, { signal: AbortSignal.timeout(HANG_MS) })).status).toBe(200);
    await again.stop();

    const db = new BetterSqlite3(join(dataDir, 'siyu.db'), { readonly: true, fileMustExist: true });
    try {
      const counts = new Map<string, number>();
      for (const row of db.prepare('select message_id as id, count(*) as n from events where workspace_id = ? group by message_id').all(workspaceId) as { id: string; n: number }[]) counts.set(row.id, row.n);
      const missing: string[] = [];
      for (const b of accepted) for (let i = 0; i < PER_BATCH; i++) if (counts.get(`b${b}-m${i}`) !== 1) missing.push(`b${b}-m${i} stored ${counts.get(`b${b}-m${i}`) ?? 0} times`);
      expect(missing).toEqual([]);
      expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
      db.exec(`attach database '${join(dataDir, 'siyu-inbox.db')}' as q`);
      expect((db.prepare('select count(*) as n from q.inbox').get() as { n: number }).n).toBe(0);
      expect((db.prepare('select count(*) as n from q.inbox_dead').get() as { n: number }).n).toBe(0);
      const folded = (db.prepare("select sum(json_extract(computed, '$.event_count')) as n from profiles where workspace_id = ? and merged_into is null").get(workspaceId) as { n: number }).n;
      expect(folded).toBe(counts.size);
    } finally {
      db.close();
    }
  });
});
