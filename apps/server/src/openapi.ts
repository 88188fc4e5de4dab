import { WireMessage } from '@siyu/core';
import { CreateWorkspaceInput } from '@siyu/services';
import { z } from 'zod';

type Op = { summary: string; tags: string[]; security?: object[]; parameters?: object[]; requestBody?: object; responses?: Record<string, object> };

const error = { $ref: '#/components/schemas/Error' };
const page = (item: object) => ({ type: 'object', properties: { data: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } }, required: ['data', 'nextCursor'] });
const q = (name: string, description: string, required = false) => ({ name, in: 'query', required, description, schema: { type: 'string' } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'profile id (prof_…); a merged-away id answers with the surviving profile' };
const paging = [q('limit', '1–500, default 50'), q('cursor', 'nextCursor of the previous page')];
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ok = (schema: object = { type: 'object' }) => ({ '200': { description: 'OK', ...json(schema) }, '4XX': { description: 'error', ...json(error) } });

function toSchema(schema: z.ZodType): object {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as object;
}

let cached: object | undefined;

/** OpenAPI 3.1 document of the tracking and admin APIs, request schemas generated from the zod schemas. */
export function openApiDocument(): object {
  if (cached) return cached;
  const track = (type: string, summary: string): Op => ({
    summary,
    tags: ['Tracking (Segment-compatible)'],
    security: [{ writeKey: [] }],
    requestBody: json({ allOf: [{ $ref: '#/components/schemas/Message' }], description: `a ${type} message` }),
    responses: ok({ type: 'object', properties: { success: { type: 'boolean' }, accepted: { type: 'integer' }, duplicates: { type: 'integer' } } }),
  });
  const admin = (summary: string, extra: Partial<Op> = {}): Op => ({ summary, tags: ['Admin'], security: [{ adminToken: [] }], responses: ok(), ...extra });
  const paths: Record<string, Record<string, Op>> = {
    '/v1/identify': { post: track('identify', 'Identify a person and set traits') },
    '/v1/track': { post: track('track', 'Record an event') },
    '/v1/page': { post: track('page', 'Record a page view') },
    '/v1/screen': { post: track('screen', 'Record a screen view') },
    '/v1/group': { post: track('group', 'Associate a person with a group') },
    '/v1/alias': { post: track('alias', 'Link previousId to userId') },
    '/v1/batch': {
      post: {
        ...track('batch', 'Send up to 500 KB of messages (32 KB each)'),
        requestBody: json({ type: 'object', properties: { batch: { type: 'array', items: { $ref: '#/components/schemas/Message' } }, sentAt: { type: 'string' }, context: { type: 'object' }, writeKey: { type: 'string' } }, required: ['batch'] }),
      },
    },
    '/v1/import': { post: { ...track('batch', "Segment's alias of /v1/batch") } },
    '/api/v1/me': { get: admin('The workspace of the token') },
    '/api/v1/stats': { get: admin('Counts and charts for the overview') },
    '/api/v1/workspaces': {
      get: admin('List workspaces (all for the instance admin token, else its own)'),
      post: admin('Create a workspace; returns its write key and admin token once', { requestBody: json(toSchema(CreateWorkspaceInput)) }),
    },
    '/api/v1/identity/types': { get: admin('Identifier types with priority and per-profile limit'), post: admin('Add a custom identifier type or change priority/limit') },
    '/api/v1/identity/conflicts': { get: admin('Refused links, for review (open ones by default)', { parameters: [...paging, q('status', 'open (default), resolved or all')] }) },
    '/api/v1/identity/conflicts/{id}/resolve': {
      post: admin('Review a refused link: merge anyway (an ordinary merge, undone with unmerge) or dismiss', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: json({ type: 'object', properties: { action: { type: 'string', enum: ['merge', 'dismiss'] } }, required: ['action'] }),
      }),
    },
    '/api/v1/pipeline': { get: admin('Processing status: messages waiting for the processor, how long the first in line has waited (lagMs), dead letters') },
    '/api/v1/pipeline/dead-letters': { get: admin('Messages whose processing failed, oldest first, with the error and the message as accepted', { parameters: paging }) },
    '/api/v1/pipeline/dead-letters/retry': {
      post: admin('Put dead letters back in line for the processor (the given seqs, or all when omitted)', { requestBody: json({ type: 'object', properties: { seqs: { type: 'array', items: { type: 'integer', minimum: 1 }, maxItems: 1000 } } }) }),
    },
    '/api/v1/profiles': {
      get: admin('List profiles', { parameters: [...paging, q('q', 'search: any identifier (phone, email, user id, member number…, written as you like), the last 4–10 digits of a phone, or the start of a name or nickname'), q('trait.<name>', 'filter by a trait value, e.g. trait.city=上海'), q('identifierType', 'with identifierValue: filter by an identifier'), q('identifierValue', 'identifier value')], responses: ok(page({ $ref: '#/components/schemas/ProfileSummary' })) }),
    },
    '/api/v1/profiles/lookup': { get: admin('Find the profile holding an identifier (follows merges)', { parameters: [q('type', 'identifier type, e.g. phone', true), q('value', 'value, normalised like ingestion', true)] }) },
    '/api/v1/profiles/{id}': { get: admin('A profile: traits, computed traits, identities, merge history', { parameters: [idParam] }), delete: admin('Erase the person (PIPL/GDPR); identifiers are suppressed', { parameters: [idParam] }) },
    '/api/v1/profiles/{id}/events': { get: admin('Timeline, newest first', { parameters: [idParam, ...paging] }) },
    '/api/v1/profiles/{id}/export': { get: admin('Everything held on the person', { parameters: [idParam] }) },
    '/api/v1/profiles/{id}/unmerge': { post: admin('Undo a merge', { parameters: [idParam], requestBody: json({ type: 'object', properties: { mergeId: { type: 'string' } }, required: ['mergeId'] }) }) },
  };
  cached = {
    openapi: '3.1.0',
    info: { title: 'Siyu API', version: '1', description: 'Segment-compatible tracking API and admin API of Siyu (私域).' },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        writeKey: { type: 'http', scheme: 'basic', description: 'write key as the user name, empty password' },
        adminToken: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Message: toSchema(WireMessage),
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string', enum: ['INVALID_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'] }, message: { type: 'string' }, details: { type: 'object' } }, required: ['code', 'message', 'details'] } }, required: ['error'] },
        ProfileSummary: { type: 'object', properties: { id: { type: 'string' }, traits: { type: 'object' }, computed: { type: 'object' }, identities: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } } } }, createdAt: { type: 'string' }, updatedAt: { type: 'string' } } },
      },
    },
  };
  return cached;
}

/** For extensions to add their paths. */
export function addOpenApiPaths(extra: Record<string, Record<string, Op>>): void {
  const doc = openApiDocument() as { paths: Record<string, Record<string, Op>> };
  Object.assign(doc.paths, extra);
}
