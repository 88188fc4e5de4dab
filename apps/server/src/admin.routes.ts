import { AppError } from '@siyu/core';
import type { Context, Hono } from 'hono';
import type { AppEnv, AppOptions } from './context.ts';

/** Parses `limit` (1–500, default 50) and `cursor` query parameters. */
export function pageQuery(c: Context<AppEnv>): { limit: number; cursor: string | undefined } {
  const raw = c.req.query('limit');
  const limit = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new AppError('INVALID_INPUT', `limit must be a whole number from 1 to 500, got "${raw}"`, { problems: [{ path: 'limit', message: 'expected 1–500' }] });
  }
  return { limit, cursor: c.req.query('cursor') || undefined };
}

/** An admin request's JSON body: an object (every admin endpoint takes one), `{}` when there is none. */
export async function jsonBody(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AppError('INVALID_INPUT', `the body is not valid JSON: ${(e as Error).message}`, { problems: [{ path: '(body)', message: (e as Error).message }] });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
    throw new AppError('INVALID_INPUT', `the body must be a JSON object, not ${got}`, { problems: [{ path: '(body)', message: `expected an object, got ${got}` }] });
  }
  return value as Record<string, unknown>;
}

/** Admin API (Bearer admin token). Every query is scoped to the token's workspace. */
export function adminRoutes(app: Hono<AppEnv>, { services }: AppOptions): void {
  app.use('/api/v1/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const token = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
    if (!token) throw new AppError('UNAUTHENTICATED', 'send the admin token as "Authorization: Bearer <token>"; `npx siyu credentials` prints it', { header: 'Authorization' });
    const workspace = await services.workspaces.authenticate('admin', token);
    if (!workspace) throw new AppError('UNAUTHENTICATED', 'unknown admin token; `npx siyu credentials` prints the admin token of your workspace', { header: 'Authorization' });
    c.set('workspace', workspace);
    c.set('actor', `admin:${workspace.id}`);
    await next();
  });

  app.get('/api/v1/me', (c) => {
    const { instanceAdmin, ...workspace } = c.get('workspace');
    return c.json({ workspace, instanceAdmin });
  });

  app.get('/api/v1/stats', async (c) => c.json(await services.profiles.stats(c.get('workspace').id)));

  // The processing pipeline: freshness (what waits for the processor) and failed messages.
  app.get('/api/v1/pipeline', async (c) => c.json(await services.pipeline.status(c.get('workspace').id)));
  app.get('/api/v1/pipeline/dead-letters', async (c) => c.json(await services.pipeline.deadLetters(c.get('workspace').id, pageQuery(c))));
  app.post('/api/v1/pipeline/dead-letters/retry', async (c) => c.json(await services.pipeline.retry(c.get('workspace').id, await jsonBody(c))));

  app.get('/api/v1/workspaces', async (c) => {
    const list = await services.workspaces.list(c.get('workspace'));
    return c.json({ data: list.map(({ instanceAdmin: _i, ...w }) => w) });
  });
  app.post('/api/v1/workspaces', async (c) => {
    if (!c.get('workspace').instanceAdmin) throw new AppError('FORBIDDEN', 'only the instance admin token (of the first workspace) may create workspaces');
    const created = await services.workspaces.create(await jsonBody(c));
    const { instanceAdmin: _i, ...workspace } = created.workspace;
    return c.json({ workspace, writeKey: created.writeKey, adminToken: created.adminToken }, 201);
  });

  app.get('/api/v1/identity/types', async (c) => {
    const rules = await services.workspaces.identityRules(c.get('workspace').id);
    return c.json({ data: [...rules.values()].sort((a, b) => b.priority - a.priority) });
  });
  app.post('/api/v1/identity/types', async (c) => {
    const rule = await services.workspaces.putIdentityType(c.get('workspace').id, await jsonBody(c));
    return c.json(rule, 201);
  });
  app.get('/api/v1/identity/conflicts', async (c) => c.json(await services.profiles.conflicts(c.get('workspace').id, { ...pageQuery(c), status: c.req.query('status') })));
  app.post('/api/v1/identity/conflicts/:id/resolve', async (c) => c.json(await services.processor.resolveConflict(c.get('workspace').id, c.req.param('id'), await jsonBody(c), c.get('actor'))));

  app.get('/api/v1/profiles', async (c) => {
    const traits: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.req.query())) if (k.startsWith('trait.') && k.length > 6) traits[k.slice(6)] = v;
    const page = await services.profiles.list(c.get('workspace').id, {
      ...pageQuery(c),
      traits,
      q: c.req.query('q'),
      identifierType: c.req.query('identifierType'),
      identifierValue: c.req.query('identifierValue'),
    });
    return c.json(page);
  });
  app.get('/api/v1/profiles/lookup', async (c) => {
    const type = c.req.query('type');
    const value = c.req.query('value');
    if (!type || !value) throw new AppError('INVALID_INPUT', 'give ?type=<identifier type>&value=<value>, e.g. ?type=phone&value=13800138000', { problems: [{ path: type ? 'value' : 'type', message: 'required' }] });
    return c.json(await services.profiles.lookup(c.get('workspace').id, type, value));
  });
  app.get('/api/v1/profiles/:id', async (c) => c.json(await services.profiles.get(c.get('workspace').id, c.req.param('id'))));
  app.get('/api/v1/profiles/:id/events', async (c) => c.json(await services.profiles.events(c.get('workspace').id, c.req.param('id'), pageQuery(c))));
  app.get('/api/v1/profiles/:id/export', async (c) => {
    const data = await services.profiles.export(c.get('workspace').id, c.req.param('id'), c.get('actor'));
    c.header('content-disposition', `attachment; filename="${c.req.param('id')}.json"`);
    return c.json(data);
  });
  app.post('/api/v1/profiles/:id/unmerge', async (c) => {
    const body = (await jsonBody(c)) as { mergeId?: unknown };
    return c.json(await services.profiles.unmerge(c.get('workspace').id, c.req.param('id'), body.mergeId, c.get('actor')));
  });
  app.delete('/api/v1/profiles/:id', async (c) => c.json(await services.profiles.erase(c.get('workspace').id, c.req.param('id'), c.get('actor'))));
}
