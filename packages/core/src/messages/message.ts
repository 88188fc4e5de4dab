import { z } from 'zod';
import { formatPath, type Problem } from '../errors.ts';

export const MESSAGE_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Segment HTTP Tracking API limits. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
/** A corrected timestamp later than receivedAt by more than this is rejected as a future timestamp. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

const id = z.union([z.string(), z.number().finite()]).transform((v) => String(v).trim());
const isoTime = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: 'custom', message: `"${String(v)}" is not a date; use ISO-8601 such as 2026-01-31T08:00:00Z` });
    return z.NEVER;
  }
  return d.toISOString();
});
const record = z.record(z.string(), z.unknown());
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ExternalId = z.object({
  id: id,
  type: z.string().min(1),
  collection: z.string().optional(),
  encoding: z.string().optional(),
  appId: z.string().optional(),
});

/** The wire shape of one Segment message (loose: unknown top-level keys are ignored, as Segment does). */
export const WireMessage = z.object({
  type: z.enum(MESSAGE_TYPES).optional(),
  messageId: id.optional(),
  userId: id.nullish(),
  anonymousId: id.nullish(),
  previousId: id.optional(),
  groupId: id.optional(),
  event: z.string().optional(),
  name: z.string().nullish(),
  category: z.string().nullish(),
  traits: record.nullish(),
  properties: record.nullish(),
  context: z
    .object({ traits: record.nullish(), externalIds: z.array(ExternalId).nullish() })
    .catchall(z.unknown())
    .nullish(),
  timestamp: isoTime.nullish(),
  originalTimestamp: isoTime.nullish(),
  sentAt: isoTime.nullish(),
  integrations: z.unknown().optional(),
});
export type WireMessage = z.infer<typeof WireMessage>;

/** A validated message in Siyu's canonical form: what the inbox stores and the processor consumes. */
export interface NormalizedMessage {
  messageId: string;
  type: MessageType;
  userId: string | null;
  anonymousId: string | null;
  previousId: string | null;
  groupId: string | null;
  /** track: the event name; page/screen: the page name (or null). */
  event: string | null;
  traits: Record<string, unknown>;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  externalIds: { id: string; type: string; collection?: string | undefined; appId?: string | undefined }[];
  /** Skew-corrected event time (ISO). */
  timestamp: string;
  originalTimestamp: string | null;
  sentAt: string | null;
  receivedAt: string;
}

export interface ParseOptions {
  receivedAt: Date;
  /** Message type given by the endpoint (`/v1/track`); batch items carry their own. */
  type?: MessageType;
  /** Batch-level sentAt, used when a message has none. */
  batchSentAt?: string | null;
  /** Supplies a message id when the client sent none (no dedupe is then possible). */
  fallbackMessageId: () => string;
  /** Path prefix for problems, e.g. `batch[3]`. */
  path?: string;
}

/**
 * Segment's clock-skew correction: `timestamp = receivedAt − (sentAt − originalTimestamp)`, where
 * originalTimestamp is the client's `originalTimestamp` or, from server libraries, its `timestamp`.
 */
export function correctTimestamp(receivedAt: Date, originalTimestamp: string | null, sentAt: string | null): string {
  if (originalTimestamp && sentAt) {
    const corrected = receivedAt.getTime() - (Date.parse(sentAt) - Date.parse(originalTimestamp));
    return new Date(corrected).toISOString();
  }
  return originalTimestamp ?? receivedAt.toISOString();
}

/**
 * Validates one wire message and turns it into a NormalizedMessage, or returns every problem found
 * with its JSON path. Identifier extraction (and phone/email checks) happens in `extractIdentifiers`.
 */
export function parseMessage(input: unknown, opts: ParseOptions): { ok: true; value: NormalizedMessage } | { ok: false; error: Problem[] } {
  const prefix = opts.path ?? '';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: [{ path: prefix || '(root)', message: 'each message must be a JSON object' }] };
  }
  const parsed = WireMessage.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues.map((i) => ({ path: formatPath(i.path, prefix), message: describeIssue(i) })),
    };
  }
  const m = parsed.data;
  const problems: Problem[] = [];
  const at = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const type = opts.type ?? m.type;
  if (!type) {
    problems.push({ path: at('type'), message: `type is required in a batch: one of ${MESSAGE_TYPES.join(', ')}` });
    return { ok: false, error: problems };
  }
  if (opts.type && m.type && m.type !== opts.type) {
    problems.push({ path: at('type'), message: `type "${m.type}" does not match the endpoint /v1/${opts.type}` });
  }
  const userId = m.userId ? m.userId : null;
  const anonymousId = m.anonymousId ? m.anonymousId : null;
  if (type === 'alias') {
    if (!m.previousId) problems.push({ path: at('previousId'), message: 'alias needs previousId (the old id to link)' });
    if (!userId) problems.push({ path: at('userId'), message: 'alias needs userId (the new id to link previousId to)' });
  } else if (!userId && !anonymousId) {
    problems.push({ path: at('userId'), message: 'every message needs a userId or an anonymousId' });
  }
  if (type === 'track') {
    if (!m.event || !m.event.trim()) problems.push({ path: at('event'), message: 'track needs a non-empty event name, e.g. "Order Completed"' });
    else if (m.event.length > 200) problems.push({ path: at('event'), message: `event name is ${m.event.length} characters; the limit is 200` });
  }
  if (type === 'group' && !m.groupId) problems.push({ path: at('groupId'), message: 'group needs a groupId' });
  for (const field of ['userId', 'anonymousId', 'messageId'] as const) {
    const v = m[field];
    if (typeof v === 'string' && v.length > 255) problems.push({ path: at(field), message: `${field} is ${v.length} characters; the limit is 255` });
    // Stored as UTF-8, an unpaired surrogate comes back as U+FFFD: the id would no longer match itself.
    else if (typeof v === 'string' && LONE_SURROGATE.test(v)) problems.push({ path: at(field), message: `${field} contains an unpaired UTF-16 surrogate (a lone \\uD800–\\uDFFF); send valid Unicode text` });
  }

  const originalTimestamp = m.originalTimestamp ?? m.timestamp ?? null;
  const sentAt = m.sentAt ?? opts.batchSentAt ?? null;
  const timestamp = correctTimestamp(opts.receivedAt, originalTimestamp, sentAt);
  if (Date.parse(timestamp) > opts.receivedAt.getTime() + MAX_FUTURE_SKEW_MS) {
    problems.push({
      path: at(m.originalTimestamp ? 'originalTimestamp' : 'timestamp'),
      message: `timestamp ${timestamp} is in the future (received at ${opts.receivedAt.toISOString()}); send the time the event happened, or sentAt so clock skew can be corrected`,
    });
  }
  if (problems.length) return { ok: false, error: problems };

  const context = { ...(m.context ?? {}) } as Record<string, unknown>;
  const externalIds = (m.context?.externalIds ?? []).map((e) => ({
    id: e.id,
    type: e.type,
    ...(e.collection ? { collection: e.collection } : {}),
    ...(e.appId ? { appId: e.appId } : {}),
  }));
  // Traits describe the person (identify traits, and context.traits on any call); group traits describe
  // the group, so they are kept with the group call's properties instead.
  const traits = type === 'identify' ? { ...(m.context?.traits ?? {}), ...(m.traits ?? {}) } : { ...(m.context?.traits ?? {}) };
  const properties = type === 'group' ? { ...(m.properties ?? {}), ...(m.traits ?? {}) } : { ...(m.properties ?? {}) };
  if ((type === 'page' || type === 'screen') && m.category) properties.category ??= m.category;

  return {
    ok: true,
    value: {
      messageId: m.messageId || opts.fallbackMessageId(),
      type,
      userId,
      anonymousId,
      previousId: m.previousId ?? null,
      groupId: m.groupId ?? null,
      event: type === 'track' ? m.event!.trim() : (m.name ?? null),
      traits,
      properties,
      context,
      externalIds,
      timestamp,
      originalTimestamp,
      sentAt,
      receivedAt: opts.receivedAt.toISOString(),
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? String(issue.path[issue.path.length - 1]) : 'message';
  switch (issue.code) {
    case 'invalid_type':
      return `${field} must be ${issue.expected === 'record' ? 'an object' : issue.expected}`;
    case 'invalid_union':
      return `${field} has the wrong type (expected a string or number)`;
    case 'invalid_value':
      return `${field} must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return `${field}: ${issue.message}`;
  }
}
