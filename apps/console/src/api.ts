/**
 * Typed fetch layer for the Siyu admin API (same origin, `Authorization: Bearer <admin token>`).
 * Every failure becomes an {@link ApiError} carrying the server's `{ error: { code, message, details } }`.
 */

// ---------------------------------------------------------------------------------------------
// Wire types (camelCase JSON; times are UTC ISO-8601 strings; money is integer fen)
// ---------------------------------------------------------------------------------------------

export interface Workspace {
  id: string;
  name: string;
  timeZone: string;
  createdAt: string;
}

export interface Me {
  workspace: Workspace;
  instanceAdmin: boolean;
}

export interface DayCount {
  day: string;
  count: number;
}

export interface Stats {
  profiles: number;
  events: number;
  mergedProfiles: number;
  openConflicts: number;
  eventsPerDay: DayCount[];
  eventsByName: { event: string; count: number }[];
  identitiesByType: { type: string; count: number }[];
}

/** Computed traits kept current by the event processor. Money fields are integer fen. */
export interface Computed {
  first_seen: string | null;
  last_seen: string | null;
  event_count: number;
  event_counts: Record<string, number>;
  order_count: number;
  total_spent: number;
  avg_order_value: number | null;
  first_order_at: string | null;
  last_order_at: string | null;
  refund_count: number;
  total_refunded: number;
}

export type Traits = Record<string, unknown>;

export interface Identifier {
  type: string;
  value: string;
}

export interface ProfileSummary {
  id: string;
  traits: Traits;
  computed: Computed;
  identities: Identifier[];
  createdAt: string;
  updatedAt: string;
}

export interface ProfileIdentity extends Identifier {
  firstSeen: string;
  sourceMessageId: string | null;
}

export interface Merge {
  id: string;
  winnerId: string;
  loserId: string;
  reason: string;
  messageId: string | null;
  actor: string | null;
  createdAt: string;
  undoneAt: string | null;
}

export interface AppliedTag {
  id: string;
  name: string;
  source: string;
  appliedAt: string;
}

export interface Profile {
  id: string;
  traits: Traits;
  traitTimes: Record<string, string>;
  firstTouch: Traits;
  computed: Computed;
  identities: ProfileIdentity[];
  merges: Merge[];
  tags: AppliedTag[];
  createdAt: string;
  updatedAt: string;
}

export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ProfileEvent {
  id: string;
  type: EventType;
  event: string | null;
  properties: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  timestamp: string;
  receivedAt: string;
  messageId: string;
}

export interface UnmergeResult {
  profileId: string;
  restoredProfileId: string;
}

export interface DeleteProfileResult {
  deleted: true;
  suppressedIdentifiers: number;
}

export interface IdentityConflict {
  id: string;
  messageId: string;
  profileId: string;
  otherProfileId: string | null;
  identifierType: string;
  identifierValue: string;
  reason: string;
  createdAt: string;
}

export interface IdentityType {
  type: string;
  priority: number;
  maxPerProfile: number | null;
  builtin: boolean;
}

export interface CreatedWorkspace {
  workspace: Workspace;
  writeKey: string;
  adminToken: string;
}

/** One page of a cursor-paginated list. `nextCursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface PageQuery {
  limit?: number;
  cursor?: string | null;
}

export interface ProfileListQuery extends PageQuery {
  q?: string;
  /** `{ city: '上海' }` → `trait.city=上海` */
  traits?: Record<string, string>;
  identifierType?: string;
  identifierValue?: string;
}

// ---------------------------------------------------------------------------------------------
// Errors and the admin token
// ---------------------------------------------------------------------------------------------

/** `NETWORK` is the console's own code for "the server could not be reached"; the rest come from the server. */
export type ApiErrorCode =
  | 'INVALID_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'NETWORK'
  | (string & {});

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(options: {
    status: number;
    code: ApiErrorCode;
    message: string;
    details?: Record<string, unknown> | undefined;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
    this.details = options.details;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

const TOKEN_KEY = 'siyu.adminToken';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  localStorage.removeItem(TOKEN_KEY);
}

type UnauthorizedHandler = () => void;
let unauthorizedHandler: UnauthorizedHandler | null = null;

/** Called on any 401 (after the stored token is cleared). The app uses it to go back to /login. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  unauthorizedHandler = handler;
}

// ---------------------------------------------------------------------------------------------
// Request core
// ---------------------------------------------------------------------------------------------

type QueryValue = string | number | boolean | null | undefined;

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Use this token instead of the stored one (the login page checks a token before storing it). */
  token?: string;
}

function buildUrl(path: string, query?: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue;
    params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function readError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy error page, an empty body): fall through to the status line
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (err && typeof err.message === 'string') {
    return new ApiError({
      status: res.status,
      code: typeof err.code === 'string' ? err.code : 'INTERNAL',
      message: err.message,
      details: err.details && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : undefined,
    });
  }
  return new ApiError({
    status: res.status,
    code: res.status === 401 ? 'UNAUTHENTICATED' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL',
    message: `HTTP ${res.status} ${res.statusText}`.trim(),
  });
}

async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.token ?? getToken();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';

  let res: Response;
  try {
    res = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (cause) {
    if (isAbortError(cause)) throw cause;
    throw new ApiError({ status: 0, code: 'NETWORK', message: 'Network error', cause });
  }

  if (!res.ok) {
    const err = await readError(res);
    // A token being checked on the login page is not "the session expired".
    if (res.status === 401 && options.token === undefined) {
      clearToken();
      unauthorizedHandler?.();
    }
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

function pageQuery(q: PageQuery): Record<string, QueryValue> {
  return { limit: q.limit, cursor: q.cursor };
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

export const api = {
  me: (signal?: AbortSignal) => request<Me>('GET', '/api/v1/me', { signal }),

  /** Checks a token without storing it or triggering the 401 redirect. */
  meWithToken: (token: string, signal?: AbortSignal) => request<Me>('GET', '/api/v1/me', { token, signal }),

  stats: (signal?: AbortSignal) => request<Stats>('GET', '/api/v1/stats', { signal }),

  listProfiles: (query: ProfileListQuery, signal?: AbortSignal) => {
    const params: Record<string, QueryValue> = {
      ...pageQuery(query),
      q: query.q,
      identifierType: query.identifierType,
      identifierValue: query.identifierValue,
    };
    for (const [name, value] of Object.entries(query.traits ?? {})) params[`trait.${name}`] = value;
    return request<Page<ProfileSummary>>('GET', '/api/v1/profiles', { query: params, signal });
  },

  /** 404 (`NOT_FOUND`) when no profile holds the identifier. */
  lookupProfile: (type: string, value: string, signal?: AbortSignal) =>
    request<Profile>('GET', '/api/v1/profiles/lookup', { query: { type, value }, signal }),

  getProfile: (id: string, signal?: AbortSignal) => request<Profile>('GET', `/api/v1/profiles/${enc(id)}`, { signal }),

  listProfileEvents: (id: string, query: PageQuery, signal?: AbortSignal) =>
    request<Page<ProfileEvent>>('GET', `/api/v1/profiles/${enc(id)}/events`, { query: pageQuery(query), signal }),

  unmerge: (id: string, mergeId: string) =>
    request<UnmergeResult>('POST', `/api/v1/profiles/${enc(id)}/unmerge`, { body: { mergeId } }),

  exportProfile: (id: string) => request<unknown>('GET', `/api/v1/profiles/${enc(id)}/export`),

  deleteProfile: (id: string) => request<DeleteProfileResult>('DELETE', `/api/v1/profiles/${enc(id)}`),

  listConflicts: (query: PageQuery, signal?: AbortSignal) =>
    request<Page<IdentityConflict>>('GET', '/api/v1/identity/conflicts', { query: pageQuery(query), signal }),

  listIdentityTypes: (signal?: AbortSignal) =>
    request<{ data: IdentityType[] }>('GET', '/api/v1/identity/types', { signal }),

  listWorkspaces: (signal?: AbortSignal) => request<{ data: Workspace[] }>('GET', '/api/v1/workspaces', { signal }),

  createWorkspace: (input: { name: string; timeZone?: string }) =>
    request<CreatedWorkspace>('POST', '/api/v1/workspaces', { body: input }),
};
