/**
 * Typed fetch layer for the Siyu admin API (same origin, `Authorization: Bearer <admin token>`).
 * Every failure becomes an {@link ApiError} carrying the server's `{ error: { code, message, details } }`.
 */

import { readStoredLanguage } from './i18n';
import { localizeServerMessage } from './server-messages';

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
  /** The person's current tags (profile lists, segment member pages, count samples); absent from older servers. */
  tags?: AppliedTag[];
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
  /** `manual`, `api`, `import` or `rule`. */
  source: string;
  /** Who applied it (the admin token's actor), `rule` for rule tags; absent from older servers. */
  appliedBy?: string;
  appliedAt: string;
  /** When the application lapses; null or absent: never. */
  expiresAt?: string | null;
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
  /** What an identify (or group) call set; null otherwise. */
  traits?: Record<string, unknown> | null;
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
  /** Once reviewed: merged anyway or dismissed, when and by whom. */
  resolution?: 'merged' | 'dismissed' | null;
  resolvedAt?: string | null;
  resolvedBy?: string | null;
}

/** Where the workspace's accepted messages stand (GET /api/v1/pipeline). */
export interface PipelineStatus {
  waiting: number;
  lagMs: number;
  oldestWaitingAt: string | null;
  deadLetters: number;
}

/** A message whose processing failed, kept aside until retried. */
export interface DeadLetter {
  seq: number;
  messageId: string;
  type: string | null;
  event: string | null;
  receivedAt: string | null;
  error: string;
  failedAt: string;
  message: Record<string, unknown> | null;
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
// Audiences: tags, segments, live counts (money in conditions is integer fen)
// ---------------------------------------------------------------------------------------------

/** One validation problem: a JSON path into the request body (`definition.condition.all[1].value`) and why. */
export interface Problem {
  path: string;
  message: string;
}

export interface TagGroup {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export const TAG_KINDS = ['manual', 'rule', 'imported'] as const;
export type TagKind = (typeof TAG_KINDS)[number];

/** `{ version: 1, condition }` — see conditions.ts for the condition tree. */
export interface ConditionDefinitionJson {
  version: number;
  condition: unknown;
}

export interface TagItem {
  id: string;
  name: string;
  groupId: string | null;
  kind: TagKind;
  description: string | null;
  /** Rule tags: `{ version, condition }`; otherwise null. */
  definition: ConditionDefinitionJson | null;
  defaultTtlDays: number | null;
  /** People holding the tag now. */
  count: number;
  createdAt: string;
  updatedAt: string;
}

export interface TagInput {
  name?: string;
  groupId?: string | null;
  kind?: TagKind;
  description?: string | null;
  defaultTtlDays?: number | null;
  definition?: ConditionDefinitionJson;
}

/** Saved tags and segments also return non-blocking warnings (unknown trait, event not seen yet…). */
export type WithWarnings<T> = T & { warnings?: Problem[] };

export interface UnmatchedIdentifier {
  type: string;
  value: string;
  reason: 'not_found' | 'invalid';
  message?: string;
}

export interface BulkTagResult {
  tagId: string;
  requested: number;
  matched: number;
  applied?: number;
  removed?: number;
  alreadyTagged?: number;
  notTagged?: number;
  notFound: number;
  invalid: number;
  unmatched: UnmatchedIdentifier[];
}

/** A bulk apply/remove body: a list of one identifier type, or CSV text (header `type,value` or `phone`…). */
export type BulkIdentifiers = { type: string; values: string[]; expiresAt?: string } | { csv: string; expiresAt?: string };

export interface MembershipHistory {
  id: string;
  profileId: string;
  action: 'entered' | 'exited';
  reason: string | null;
  at: string;
  /** Who made the change by hand or by API; null for Siyu's own changes. */
  actor?: string | null;
  /** The person's current name (trait name or nickname), when they have one. */
  profileName?: string | null;
}

export interface ProfileTagResult {
  profileId: string;
  applied: boolean;
  tag: AppliedTag;
}

export interface Segment {
  id: string;
  name: string;
  description: string | null;
  definition: ConditionDefinitionJson;
  version: number;
  count: number;
  createdAt: string;
  updatedAt: string;
  computedAt: string | null;
}

export interface SegmentInput {
  name?: string;
  description?: string | null;
  definition?: ConditionDefinitionJson;
}

export interface AudienceCount {
  count: number;
  /** Up to 10 matching profiles. */
  sample: ProfileSummary[];
  /** `bitmap`: answered from the in-memory index; `bulk`: profiles were read and evaluated. */
  method: 'bitmap' | 'bulk';
  warnings: Problem[];
}

export type CatalogValueType = 'string' | 'number' | 'boolean' | 'date' | 'array';

export interface AudienceCatalog {
  /** Traits seen on profiles; `type` null when seen with mixed types. */
  traits: { name: string; type: CatalogValueType | null }[];
  events: string[];
  tags: { id: string; name: string }[];
  segments: { id: string; name: string }[];
}

// ---------------------------------------------------------------------------------------------
// Layers (分层): RFM and lifecycle
// ---------------------------------------------------------------------------------------------

export const RFM_SEGMENTS = [
  'Champions',
  'Loyal Customers',
  'Potential Loyalist',
  'New Customers',
  'Promising',
  'Need Attention',
  'About To Sleep',
  'At Risk',
  "Can't Lose Them",
  'Hibernating',
  'Lost',
] as const;
export type RfmSegmentName = (typeof RFM_SEGMENTS)[number];

export const LIFECYCLE_STAGES = ['prospect', 'new', 'active', 'silent', 'at_risk', 'churned'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export type RfmDimension = 'r' | 'f' | 'm';
export type RfmScore = 1 | 2 | 3 | 4 | 5;

export interface RfmReport {
  /** 25 cells, R 5..1 then F 1..5; revenue in fen. */
  cells: { r: RfmScore; f: RfmScore; customers: number; revenue: number }[];
  /** The 11 named segments in canonical order; share 0–1 of scored customers. */
  segments: { segment: RfmSegmentName; customers: number; revenue: number; share: number }[];
  customers: number;
  revenue: number;
  /** Cut points in use (r: days, f: orders, m: fen); null before the first recompute. */
  thresholds: Record<RfmDimension, { cuts: (number | null)[]; source: 'quintiles' | 'fixed' }> | null;
  computedAt: string | null;
}

export interface LifecycleReport {
  stages: { stage: LifecycleStage; customers: number; share: number }[];
  total: number;
}

export interface LifecycleThresholds {
  newDays: number;
  minIntervalDays: number;
  maxIntervalDays: number;
  singleOrderIntervalDays: number;
  activeMultiple: number;
  silentMultiple: number;
  atRiskMultiple: number;
}

/** Fixed cut points (4 strictly increasing numbers) per dimension; a dimension left out uses quintiles. m is fen. */
export type RfmThresholds = Partial<Record<RfmDimension, [number, number, number, number]>>;

export interface LayerSettings {
  rfm: { thresholds: RfmThresholds | null };
  lifecycle: LifecycleThresholds;
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

/** The `details.problems` of an INVALID_INPUT answer (empty for any other error). */
export function errorProblems(err: unknown): Problem[] {
  if (!isApiError(err)) return [];
  const problems = err.details?.problems;
  if (!Array.isArray(problems)) return [];
  return problems.filter(
    (p): p is Problem => typeof p === 'object' && p !== null && typeof (p as Problem).path === 'string' && typeof (p as Problem).message === 'string',
  );
}

/** The `details.dependants` of a 409 answer to a delete (segments and rule tags still using the thing). */
export function errorDependants(err: unknown): { kind: 'tag' | 'segment'; id: string; name: string }[] {
  if (!isApiError(err) || err.status !== 409) return [];
  const list = err.details?.dependants;
  return Array.isArray(list) ? (list as { kind: 'tag' | 'segment'; id: string; name: string }[]) : [];
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
  /** A non-JSON body (CSV), sent as-is with its content type. */
  rawBody?: { contentType: string; text: string };
  /** Read the answer as a Blob (file downloads) instead of JSON. */
  blob?: boolean;
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
    // The messages an operator meets most, in their language (server-messages.ts); the rest as sent.
    const language = readStoredLanguage();
    const details = err.details && typeof err.details === 'object' ? ({ ...(err.details as Record<string, unknown>) } as Record<string, unknown>) : undefined;
    for (const key of ['problems', 'warnings']) {
      const list = details?.[key];
      if (Array.isArray(list)) {
        details![key] = list.map((p: unknown) =>
          typeof p === 'object' && p !== null && typeof (p as Problem).message === 'string' ? { ...(p as Problem), message: localizeServerMessage((p as Problem).message, language) } : p,
        );
      }
    }
    return new ApiError({
      status: res.status,
      code: typeof err.code === 'string' ? err.code : 'INTERNAL',
      message: localizeServerMessage(err.message, language),
      details,
    });
  }
  return new ApiError({
    status: res.status,
    code: res.status === 401 ? 'UNAUTHENTICATED' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL',
    message: `HTTP ${res.status} ${res.statusText}`.trim(),
  });
}

async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.token ?? getToken();
  const headers: Record<string, string> = { Accept: options.blob ? '*/*' : 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | null = null;
  if (options.rawBody) {
    headers['Content-Type'] = options.rawBody.contentType;
    body = options.rawBody.text;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }

  let res: Response;
  try {
    res = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
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
  if (options.blob) return (await res.blob()) as T;
  return localizeAnswer((await res.json()) as T);
}

/**
 * Successful answers carry server messages too: the warnings of a live count or a saved tag / segment (an
 * unknown trait or event), and why each identifier of a bulk tag request was not matched. They are read in
 * the operator's language the same way as the messages of errors.
 */
function localizeAnswer<T>(body: T): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const language = readStoredLanguage();
  let out: Record<string, unknown> | null = null;
  for (const key of ['warnings', 'unmatched']) {
    const list = (body as Record<string, unknown>)[key];
    if (!Array.isArray(list)) continue;
    out ??= { ...(body as Record<string, unknown>) };
    out[key] = list.map((p: unknown) =>
      typeof p === 'object' && p !== null && typeof (p as { message?: unknown }).message === 'string'
        ? { ...(p as Record<string, unknown>), message: localizeServerMessage((p as { message: string }).message, language) }
        : p,
    );
  }
  return (out ?? body) as T;
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

  listConflicts: (query: PageQuery & { status?: 'open' | 'resolved' | 'all' }, signal?: AbortSignal) =>
    request<Page<IdentityConflict>>('GET', '/api/v1/identity/conflicts', { query: { ...pageQuery(query), status: query.status }, signal }),

  /** An operator's review of a refused link: merge anyway (undone with unmerge) or dismiss. */
  resolveConflict: (id: string, action: 'merge' | 'dismiss') =>
    request<{ conflict: IdentityConflict; merge: { id: string; winnerId: string; loserId: string } | null; attached: boolean }>('POST', `/api/v1/identity/conflicts/${enc(id)}/resolve`, {
      body: { action },
    }),

  pipeline: (signal?: AbortSignal) => request<PipelineStatus>('GET', '/api/v1/pipeline', { signal }),

  listDeadLetters: (query: PageQuery, signal?: AbortSignal) =>
    request<Page<DeadLetter>>('GET', '/api/v1/pipeline/dead-letters', { query: pageQuery(query), signal }),

  /** Puts dead letters back in line: these seqs, or all of them when omitted. */
  retryDeadLetters: (seqs?: number[]) =>
    request<{ retried: number }>('POST', '/api/v1/pipeline/dead-letters/retry', { body: seqs ? { seqs } : {} }),

  listIdentityTypes: (signal?: AbortSignal) =>
    request<{ data: IdentityType[] }>('GET', '/api/v1/identity/types', { signal }),

  /** Adds a custom identifier type, or changes a type's priority and per-person limit (built-in ones too). */
  putIdentityType: (input: { type: string; priority: number; maxPerProfile: number | null }) => request<IdentityType>('POST', '/api/v1/identity/types', { body: input }),

  listWorkspaces: (signal?: AbortSignal) => request<{ data: Workspace[] }>('GET', '/api/v1/workspaces', { signal }),

  createWorkspace: (input: { name: string; timeZone?: string }) =>
    request<CreatedWorkspace>('POST', '/api/v1/workspaces', { body: input }),

  // ---- tags
  listTagGroups: (signal?: AbortSignal) => request<{ data: TagGroup[] }>('GET', '/api/v1/tag-groups', { signal }),

  createTagGroup: (input: { name: string; description?: string | null }) =>
    request<TagGroup>('POST', '/api/v1/tag-groups', { body: input }),

  /** Renames or re-describes a group (only the fields given change); 409 (`CONFLICT`) when another group has the name. */
  updateTagGroup: (id: string, input: { name?: string; description?: string | null }) =>
    request<TagGroup>('PUT', `/api/v1/tag-groups/${enc(id)}`, { body: input }),

  /** 409 (`CONFLICT`, `details.tags: [{ id, name }]`) while the group still holds tags; 404 when unknown. */
  deleteTagGroup: (id: string) => request<{ deleted: true; id: string }>('DELETE', `/api/v1/tag-groups/${enc(id)}`),

  listTags: (query: { groupId?: string; kind?: TagKind } = {}, signal?: AbortSignal) =>
    request<{ data: TagItem[] }>('GET', '/api/v1/tags', { query: { groupId: query.groupId, kind: query.kind }, signal }),

  getTag: (id: string, signal?: AbortSignal) => request<TagItem>('GET', `/api/v1/tags/${enc(id)}`, { signal }),

  /** A rule tag is computed for everyone before the answer. */
  createTag: (input: TagInput) => request<WithWarnings<TagItem>>('POST', '/api/v1/tags', { body: input }),

  updateTag: (id: string, input: TagInput) => request<WithWarnings<TagItem>>('PUT', `/api/v1/tags/${enc(id)}`, { body: input }),

  /** 409 (`CONFLICT`, `details.dependants`) while segments or rule tags use the tag. */
  deleteTag: (id: string) => request<{ deleted: true; id: string }>('DELETE', `/api/v1/tags/${enc(id)}`),

  tagHistory: (id: string, query: PageQuery & { profileId?: string }, signal?: AbortSignal) =>
    request<Page<MembershipHistory>>('GET', `/api/v1/tags/${enc(id)}/history`, {
      query: { ...pageQuery(query), profileId: query.profileId },
      signal,
    }),

  /** Apply (`apply`) or remove (`remove`) a tag for a list or CSV of identifiers. */
  bulkTag: (id: string, action: 'apply' | 'remove', input: BulkIdentifiers) => {
    const path = `/api/v1/tags/${enc(id)}/${action}`;
    if ('csv' in input) {
      return request<BulkTagResult>('POST', path, {
        rawBody: { contentType: 'text/csv; charset=utf-8', text: input.csv },
        query: { expiresAt: input.expiresAt },
      });
    }
    return request<BulkTagResult>('POST', path, { body: input });
  },

  listProfileTags: (profileId: string, signal?: AbortSignal) =>
    request<{ profileId: string; data: AppliedTag[] }>('GET', `/api/v1/profiles/${enc(profileId)}/tags`, { signal }),

  applyProfileTag: (profileId: string, input: { tagId: string; expiresAt?: string | null }) =>
    request<ProfileTagResult>('POST', `/api/v1/profiles/${enc(profileId)}/tags`, { body: input }),

  removeProfileTag: (profileId: string, tagId: string) =>
    request<{ profileId: string; tagId: string; removed: boolean }>('DELETE', `/api/v1/profiles/${enc(profileId)}/tags/${enc(tagId)}`),

  // ---- segments
  listSegments: (signal?: AbortSignal) => request<{ data: Segment[] }>('GET', '/api/v1/segments', { signal }),

  getSegment: (id: string, signal?: AbortSignal) => request<Segment>('GET', `/api/v1/segments/${enc(id)}`, { signal }),

  /** Membership is computed before the answer. */
  createSegment: (input: SegmentInput) => request<WithWarnings<Segment>>('POST', '/api/v1/segments', { body: input }),

  updateSegment: (id: string, input: SegmentInput) =>
    request<WithWarnings<Segment>>('PUT', `/api/v1/segments/${enc(id)}`, { body: input }),

  /** 409 (`CONFLICT`, `details.dependants`) while other definitions use the segment. */
  deleteSegment: (id: string) => request<{ deleted: true; id: string }>('DELETE', `/api/v1/segments/${enc(id)}`),

  segmentMembers: (id: string, query: PageQuery, signal?: AbortSignal) =>
    request<Page<ProfileSummary>>('GET', `/api/v1/segments/${enc(id)}/members`, { query: pageQuery(query), signal }),

  segmentHistory: (id: string, query: PageQuery & { profileId?: string }, signal?: AbortSignal) =>
    request<Page<MembershipHistory>>('GET', `/api/v1/segments/${enc(id)}/history`, {
      query: { ...pageQuery(query), profileId: query.profileId },
      signal,
    }),

  /** Members as CSV: `id`, `createdAt`, `updatedAt`, `traits.<name>`, `computed.<name>`, `identities.<type>`. */
  exportSegmentCsv: (id: string, fields: readonly string[]) =>
    request<Blob>('GET', `/api/v1/segments/${enc(id)}/export`, { query: { fields: fields.join(',') }, blob: true }),

  // ---- live audience counts
  audienceCatalog: (signal?: AbortSignal) => request<AudienceCatalog>('GET', '/api/v1/audiences/catalog', { signal }),

  /** Who matches a definition right now (nothing saved). INVALID_INPUT lists every problem with its path. */
  countAudience: (definition: ConditionDefinitionJson, signal?: AbortSignal) =>
    request<AudienceCount>('POST', '/api/v1/audiences/count', { body: { definition }, signal }),

  // ---- layers
  rfm: (signal?: AbortSignal) => request<RfmReport>('GET', '/api/v1/layers/rfm', { signal }),

  recomputeRfm: () => request<RfmReport>('POST', '/api/v1/layers/rfm/recompute'),

  lifecycle: (signal?: AbortSignal) => request<LifecycleReport>('GET', '/api/v1/layers/lifecycle', { signal }),

  layerSettings: (signal?: AbortSignal) => request<LayerSettings>('GET', '/api/v1/layers/settings', { signal }),

  /** Replaces the settings; layers are recomputed in the background. */
  putLayerSettings: (input: LayerSettings) => request<LayerSettings>('PUT', '/api/v1/layers/settings', { body: input }),
};
