import type { TestBackend } from '@siyu/storage/testing';
import { createTestSiyu, testClock, type TestClock, type TestSiyu } from '@siyu/services/testing';
import type { ProfileView } from '@siyu/services';
import type { Hono } from 'hono';
import { createApp, type AppEnv, type AppOptions } from '../src/index.ts';

/** The error body every endpoint answers with. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: { problems?: { path: string; message: string }[]; limit?: string; maxBytes?: number; bytes?: number; [k: string]: unknown };
  };
}

export interface IngestBody {
  success: true;
  accepted: number;
  duplicates: number;
}

/** One stored event as the admin API shows it. */
export interface EventView {
  id: string;
  messageId: string;
  type: string;
  event: string | null;
  traits: Record<string, unknown>;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  timestamp: string;
  receivedAt: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** A clock that follows the wall clock (for real SDK clients, which stamp messages with the real time). */
export function wallClock(): TestClock {
  const clock = (() => new Date()) as TestClock;
  clock.set = () => {
    throw new Error('the wall clock cannot be set');
  };
  clock.advance = () => {
    throw new Error('the wall clock cannot be advanced');
  };
  return clock;
}

export interface ServerHarness {
  t: TestSiyu;
  app: Hono<AppEnv>;
  close(): Promise<void>;
}

/** Real services on `backend` behind the real Hono app; requests go through `app.request()` (no port). */
export async function createServerHarness(
  backend: TestBackend,
  opts: { clock?: TestClock; log?: AppOptions['log']; isReady?: AppOptions['isReady'] } = {},
): Promise<ServerHarness> {
  const t = await createTestSiyu(backend, { clock: opts.clock ?? testClock('2026-03-01T08:00:00.000Z') });
  const app = createApp({ services: t.services, ...(opts.log ? { log: opts.log } : {}), ...(opts.isReady ? { isReady: opts.isReady } : {}) });
  return { t, app, close: () => t.close() };
}

export function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

async function reply<T>(res: Response): Promise<Reply<T>> {
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body: body as T, text, headers: res.headers };
}

/**
 * POSTs to the tracking API. `body` is JSON-encoded unless it is already a string or Buffer.
 * `writeKey` goes into HTTP Basic auth unless null.
 */
export async function send<T = IngestBody>(
  app: Hono<AppEnv>,
  path: string,
  body: unknown,
  opts: { writeKey?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.writeKey) headers.authorization = basicAuth(opts.writeKey);
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  let payload: string | Buffer = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  // A string body would get "text/plain" from the Request constructor; bytes carry no content type.
  if (!('content-type' in headers) && typeof payload === 'string') payload = Buffer.from(payload);
  return reply<T>(await app.request(path, { method: 'POST', body: typeof payload === 'string' ? payload : new Uint8Array(payload), headers }));
}

/** Calls the admin API with a Bearer token. */
export async function api<T = unknown>(app: Hono<AppEnv>, token: string | null, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return reply<T>(await app.request(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }));
}

/** The profile holding an identifier, or undefined when the lookup answers 404. */
export async function lookup(app: Hono<AppEnv>, token: string, type: string, value: string): Promise<ProfileView | undefined> {
  const r = await api<ProfileView>(app, token, 'GET', `/api/v1/profiles/lookup?type=${encodeURIComponent(type)}&value=${encodeURIComponent(value)}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`lookup ${type}=${value} answered ${r.status}: ${r.text}`);
  return r.body;
}

/** Every event of a profile, following nextCursor, newest first. */
export async function allEvents(app: Hono<AppEnv>, token: string, profileId: string): Promise<EventView[]> {
  const out: EventView[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const r: Reply<Page<EventView>> = await api<Page<EventView>>(app, token, 'GET', `/api/v1/profiles/${profileId}/events?limit=500${q}`);
    if (r.status !== 200) throw new Error(`events of ${profileId} answered ${r.status}: ${r.text}`);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('events did not end after 1000 pages');
}

/** Every canonical profile of the token's workspace. */
export async function allProfiles(app: Hono<AppEnv>, token: string): Promise<{ id: string; traits: Record<string, unknown>; identities: { type: string; value: string }[] }[]> {
  const out: { id: string; traits: Record<string, unknown>; identities: { type: string; value: string }[] }[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const r: Reply<Page<{ id: string; traits: Record<string, unknown>; identities: { type: string; value: string }[] }>> = await api(app, token, 'GET', `/api/v1/profiles?limit=500${q}`);
    if (r.status !== 200) throw new Error(`profiles answered ${r.status}: ${r.text}`);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('profiles did not end after 1000 pages');
}

/** A short unique suffix so values never collide between tests sharing one PostgreSQL database. */
export function uniq(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** A valid, unique mainland mobile number (138 + 8 digits). */
export function uniquePhone(): string {
  return `138${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}
