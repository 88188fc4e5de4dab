import { AppError, ConditionDefinition } from '@siyu/core';
import { COUNT_METHODS, SegmentInput, TagGroupInput, TagInput, type BulkIdentifiersInput, type CountMethod } from '@siyu/services';
import type { Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { jsonBody, pageQuery } from './admin.routes.ts';
import type { AppEnv, AppOptions } from './context.ts';
import { addOpenApiPaths, openApiDocument } from './openapi.ts';

/** Largest CSV body accepted by bulk tag endpoints (100k identifiers fit easily). */
const MAX_CSV_BYTES = 8 * 1024 * 1024;

/**
 * Tags, tag groups, segments and live audience counts (admin API, Bearer admin token). Register
 * after `adminRoutes`, whose middleware authenticates `/api/v1/*`. Every call is scoped to the
 * token's workspace.
 */
export function audienceRoutes(app: Hono<AppEnv>, { services }: AppOptions): void {
  const ws = (c: Context<AppEnv>) => c.get('workspace').id;

  // ------------------------------------------------------------ tag groups and tags
  app.get('/api/v1/tag-groups', async (c) => c.json(await services.tags.listGroups(ws(c))));
  app.post('/api/v1/tag-groups', async (c) => c.json(await services.tags.createGroup(ws(c), await jsonBody(c)), 201));
  app.put('/api/v1/tag-groups/:id', async (c) => c.json(await services.tags.updateGroup(ws(c), c.req.param('id'), await jsonBody(c))));
  app.delete('/api/v1/tag-groups/:id', async (c) => c.json(await services.tags.deleteGroup(ws(c), c.req.param('id'))));

  app.get('/api/v1/tags', async (c) => c.json(await services.tags.list(ws(c), { groupId: c.req.query('groupId'), kind: c.req.query('kind') })));
  app.post('/api/v1/tags', async (c) => c.json(await services.tags.create(ws(c), await jsonBody(c)), 201));
  app.get('/api/v1/tags/:id', async (c) => c.json(await services.tags.get(ws(c), c.req.param('id'))));
  app.put('/api/v1/tags/:id', async (c) => c.json(await services.tags.update(ws(c), c.req.param('id'), await jsonBody(c))));
  app.delete('/api/v1/tags/:id', async (c) => c.json(await services.tags.delete(ws(c), c.req.param('id'))));
  app.get('/api/v1/tags/:id/history', async (c) => c.json(await services.tags.history(ws(c), c.req.param('id'), { ...pageQuery(c), profileId: c.req.query('profileId') })));
  app.post('/api/v1/tags/:id/apply', async (c) => c.json(await services.tags.applyBulk(ws(c), c.req.param('id'), await bulkBody(c), c.get('actor'))));
  app.post('/api/v1/tags/:id/remove', async (c) => c.json(await services.tags.removeBulk(ws(c), c.req.param('id'), await bulkBody(c), c.get('actor'))));

  app.get('/api/v1/profiles/:id/tags', async (c) => {
    const profile = await services.profiles.get(ws(c), c.req.param('id'));
    return c.json({ profileId: profile.id, data: profile.tags });
  });
  app.post('/api/v1/profiles/:id/tags', async (c) => {
    const r = await services.tags.applyToProfile(ws(c), c.req.param('id'), await jsonBody(c), c.get('actor'));
    return c.json(r, r.applied ? 201 : 200);
  });
  app.delete('/api/v1/profiles/:id/tags/:tagId', async (c) => c.json(await services.tags.removeFromProfile(ws(c), c.req.param('id'), c.req.param('tagId'), c.get('actor'))));

  // ------------------------------------------------------------ segments
  app.get('/api/v1/segments', async (c) => c.json(await services.segments.list(ws(c))));
  app.post('/api/v1/segments', async (c) => c.json(await services.segments.create(ws(c), await jsonBody(c)), 201));
  app.get('/api/v1/segments/:id', async (c) => c.json(await services.segments.get(ws(c), c.req.param('id'))));
  app.put('/api/v1/segments/:id', async (c) => c.json(await services.segments.update(ws(c), c.req.param('id'), await jsonBody(c))));
  app.delete('/api/v1/segments/:id', async (c) => c.json(await services.segments.delete(ws(c), c.req.param('id'))));
  app.get('/api/v1/segments/:id/members', async (c) => c.json(await services.segments.members(ws(c), c.req.param('id'), pageQuery(c))));
  app.get('/api/v1/segments/:id/history', async (c) => c.json(await services.segments.history(ws(c), c.req.param('id'), { ...pageQuery(c), profileId: c.req.query('profileId') })));
  app.get('/api/v1/segments/:id/export', async (c) => {
    const raw = c.req.query('fields');
    const fields = raw ? raw.split(',').map((f) => f.trim()).filter(Boolean) : undefined;
    const out = await services.segments.exportCsv(ws(c), c.req.param('id'), fields);
    c.header('content-type', 'text/csv; charset=utf-8');
    c.header('content-disposition', `attachment; filename="${encodeURIComponent(out.filename)}"; filename*=UTF-8''${encodeURIComponent(out.filename)}`);
    return stream(c, async (s) => {
      // A byte-order mark: Excel (on Chinese Windows above all) reads a CSV without one in the local code page,
      // and names come out garbled. Other readers skip it.
      await s.write('\uFEFF');
      for await (const chunk of out.lines) await s.write(chunk);
    });
  });

  // ------------------------------------------------------------ live counts
  app.get('/api/v1/audiences/catalog', async (c) => c.json(await services.audiences.catalog(ws(c))));
  app.post('/api/v1/audiences/count', async (c) => {
    const body = (await jsonBody(c)) as { definition?: unknown; method?: unknown };
    if (body === null || typeof body !== 'object' || body.definition === undefined) {
      throw new AppError('INVALID_INPUT', 'send { "definition": { "version": 1, "condition": … } }', { problems: [{ path: 'definition', message: 'required' }] });
    }
    const method = body.method ?? 'auto';
    if (typeof method !== 'string' || !(COUNT_METHODS as readonly string[]).includes(method)) {
      throw new AppError('INVALID_INPUT', `method must be one of ${COUNT_METHODS.join(', ')}`, { problems: [{ path: 'method', message: `use one of ${COUNT_METHODS.join(', ')}` }] });
    }
    return c.json(await services.audiences.count(ws(c), body.definition, { method: method as CountMethod }));
  });

  addOpenApiPaths(openApiPaths());
}

/** A bulk identifier body: JSON (`identifiers` or `type` + `values`), or `text/csv`. */
async function bulkBody(c: Context<AppEnv>): Promise<BulkIdentifiersInput> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (type.startsWith('text/csv') || type.startsWith('text/plain')) {
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > MAX_CSV_BYTES) throw new AppError('INVALID_INPUT', `the CSV is ${declared} bytes; the limit is ${MAX_CSV_BYTES} bytes — split the file`);
    const text = await c.req.text();
    if (text.length > MAX_CSV_BYTES) throw new AppError('INVALID_INPUT', `the CSV is over ${MAX_CSV_BYTES} bytes; split the file`);
    return { csv: text, expiresAt: c.req.query('expiresAt') };
  }
  return { json: await jsonBody(c) };
}

type Op = { summary: string; tags: string[]; security?: object[]; parameters?: object[]; requestBody?: object; responses?: Record<string, object> };

/**
 * A zod schema as a named OpenAPI component: its `$defs` (zod's output for recursive schemas) are
 * hoisted into `components.schemas` too, so every `$ref` resolves against the document.
 */
function component(name: string, schema: z.ZodType, opts: { defNames?: Record<string, string>; properties?: Record<string, object> } = {}): { $ref: string } {
  const defNames = opts.defNames ?? {};
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema: _s, $defs, ...root } = json as { $schema?: unknown; $defs?: Record<string, unknown> };
  const rename = (key: string) => defNames[key] ?? `${name}_${key.replace(/[^\w]/g, '')}`;
  const relink = (x: unknown): unknown => JSON.parse(JSON.stringify(x).replace(/"#\/\$defs\/([^"]+)"/g, (_m, key: string) => JSON.stringify(`#/components/schemas/${rename(key)}`)));
  const schemas = (openApiDocument() as { components: { schemas: Record<string, unknown> } }).components.schemas;
  for (const [key, def] of Object.entries($defs ?? {})) schemas[rename(key)] = relink(def);
  const main = relink(root) as { properties?: Record<string, object> };
  if (opts.properties) main.properties = { ...main.properties, ...opts.properties };
  schemas[name] = main;
  return { $ref: `#/components/schemas/${name}` };
}

function openApiPaths(): Record<string, Record<string, Op>> {
  const json = (s: object) => ({ content: { 'application/json': { schema: s } } });
  const error = { $ref: '#/components/schemas/Error' };
  const ok = (s: object = { type: 'object' }, status = '200') => ({ [status]: { description: 'OK', ...json(s) }, '4XX': { description: 'error: 400 with every problem and its path, 404, 409 with dependants', ...json(error) } });
  const q = (name: string, description: string, required = false) => ({ name, in: 'query', required, description, schema: { type: 'string' } });
  const path = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
  const paging = [q('limit', '1–500, default 50'), q('cursor', 'nextCursor of the previous page')];
  const definition = component('ConditionDefinition', ConditionDefinition, { defNames: { __schema0: 'ConditionNode' } });
  const tagGroupInput = component('TagGroupInput', TagGroupInput);
  const tagInput = component('TagInput', TagInput, { properties: { definition } });
  const segmentInput = component('SegmentInput', SegmentInput, { properties: { definition } });
  const tagId = path('id', 'tag id (tag_…)');
  const segId = path('id', 'segment id (seg_…)');
  const op = (summary: string, tag: string, extra: Partial<Op> = {}): Op => ({ summary, tags: [tag], security: [{ adminToken: [] }], responses: ok(), ...extra });
  const bulk = {
    content: {
      'application/json': {
        schema: {
          oneOf: [
            { type: 'object', properties: { identifiers: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } }, required: ['type', 'value'] } }, expiresAt: { type: 'string' } }, required: ['identifiers'] },
            { type: 'object', properties: { type: { type: 'string', example: 'phone' }, values: { type: 'array', items: { type: 'string' } }, expiresAt: { type: 'string' } }, required: ['type', 'values'] },
          ],
        },
      },
      'text/csv': { schema: { type: 'string', description: 'header "type,value", or one column named after an identifier type (phone, email, user_id…); expiry via ?expiresAt=' } },
    },
  };
  const T = 'Tags';
  const S = 'Segments';
  return {
    '/api/v1/tag-groups': { get: op('List tag groups', T), post: op('Create a tag group', T, { requestBody: json(tagGroupInput), responses: ok({ type: 'object' }, '201') }) },
    '/api/v1/tag-groups/{id}': {
      put: op('Rename a tag group or change its description', T, { parameters: [path('id', 'tag group id')], requestBody: json(tagGroupInput) }),
      delete: op('Delete an empty tag group; 409 with its tags while it holds any', T, { parameters: [path('id', 'tag group id')] }),
    },
    '/api/v1/tags': {
      get: op('List tags with their current counts', T, { parameters: [q('groupId', 'only this group'), q('kind', 'manual, rule or imported')] }),
      post: op('Create a tag (rule tags are computed before the answer)', T, { requestBody: json(tagInput), responses: ok({ type: 'object' }, '201') }),
    },
    '/api/v1/tags/{id}': {
      get: op('A tag and its count', T, { parameters: [tagId] }),
      put: op('Change a tag (a new rule is recomputed, with history)', T, { parameters: [tagId] }),
      delete: op('Delete a tag; 409 while segments or rule tags use it', T, { parameters: [tagId] }),
    },
    '/api/v1/tags/{id}/history': { get: op('Who got or lost the tag, when and why; newest first', T, { parameters: [tagId, ...paging, q('profileId', 'only this profile')] }) },
    '/api/v1/tags/{id}/apply': { post: op('Apply a tag to a list or CSV of identifiers', T, { parameters: [tagId, q('expiresAt', 'CSV bodies: expiry of the applications')], requestBody: bulk }) },
    '/api/v1/tags/{id}/remove': { post: op('Remove a tag from a list or CSV of identifiers', T, { parameters: [tagId], requestBody: bulk }) },
    '/api/v1/profiles/{id}/tags': {
      get: op("A profile's tags", T, { parameters: [path('id', 'profile id')] }),
      post: op('Apply a tag to one profile', T, {
        parameters: [path('id', 'profile id')],
        requestBody: json({ type: 'object', properties: { tagId: { type: 'string' }, tagName: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }),
        responses: ok({ type: 'object' }, '201'),
      }),
    },
    '/api/v1/profiles/{id}/tags/{tagId}': { delete: op('Remove a tag from one profile', T, { parameters: [path('id', 'profile id'), path('tagId', 'tag id')] }) },
    '/api/v1/segments': {
      get: op('List segments with their current counts', S),
      post: op('Create a segment; membership is computed before the answer', S, {
        requestBody: json(segmentInput),
        responses: ok({ type: 'object' }, '201'),
      }),
    },
    '/api/v1/segments/{id}': {
      get: op('A segment: definition and current count', S, { parameters: [segId] }),
      put: op('Change a segment (a new definition is recomputed: exits and entries with history)', S, { parameters: [segId] }),
      delete: op('Delete a segment; 409 while other definitions use it', S, { parameters: [segId] }),
    },
    '/api/v1/segments/{id}/members': { get: op('Current members (profile summaries)', S, { parameters: [segId, ...paging] }) },
    '/api/v1/segments/{id}/history': { get: op('Entries and exits, newest first', S, { parameters: [segId, ...paging, q('profileId', 'only this profile')] }) },
    '/api/v1/segments/{id}/export': {
      get: op('Members as CSV (streamed)', S, {
        parameters: [segId, q('fields', 'comma-separated: id, createdAt, updatedAt, traits.<name>, computed.<name>, identities.<type>')],
        responses: { '200': { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } } },
      }),
    },
    '/api/v1/audiences/catalog': { get: op('Known traits (with types), events, tags and segments for building definitions', S) },
    '/api/v1/audiences/count': {
      post: op('Count who matches a definition, with a sample, without saving', S, {
        requestBody: json({ type: 'object', properties: { definition, method: { type: 'string', enum: [...COUNT_METHODS] } }, required: ['definition'] }),
        responses: ok({ type: 'object', properties: { count: { type: 'integer' }, sample: { type: 'array', items: { $ref: '#/components/schemas/ProfileSummary' } }, method: { type: 'string', enum: ['bitmap', 'bulk'] }, warnings: { type: 'array' } } }),
      }),
    },
  };
}
