import { AppError } from '@siyu/core';
import type { IngestKind } from '@siyu/services';
import type { Hono } from 'hono';
import { readJsonBody } from './body.ts';
import type { AppEnv, AppOptions } from './context.ts';

const KINDS: readonly IngestKind[] = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'];

/**
 * Segment HTTP Tracking API: `/v1/{identify,track,page,screen,group,alias,batch}` (and `/v1/import`
 * as Segment's alias of batch). Auth: HTTP Basic with the write key as user name, or `writeKey` in the body.
 */
export function ingestRoutes(app: Hono<AppEnv>, { services }: AppOptions): void {
  const handler = (kind: IngestKind) => async (c: import('hono').Context<AppEnv>) => {
    const { value, bytes } = await readJsonBody(c.req.raw);
    const key = writeKeyFrom(c.req.header('authorization'), value);
    if (!key) throw new AppError('UNAUTHENTICATED', 'no write key: send it as the HTTP Basic user name (Authorization: Basic base64("<writeKey>:")) or as "writeKey" in the body', { header: 'Authorization' });
    const workspace = await services.workspaces.authenticate('write', key);
    if (!workspace) throw new AppError('UNAUTHENTICATED', 'unknown write key; `npx siyu credentials` prints the write key of your workspace', { header: 'Authorization' });
    c.set('workspace', workspace);
    const result = await services.ingest.ingest(workspace, kind, value, bytes);
    return c.json({ success: true, ...result });
  };
  for (const kind of KINDS) app.post(`/v1/${kind}`, handler(kind));
  app.post('/v1/import', handler('batch'));
}

function writeKeyFrom(authorization: string | undefined, body: unknown): string | undefined {
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const user = decoded.split(':')[0];
    if (user) return user;
  }
  if (typeof body === 'object' && body !== null && typeof (body as { writeKey?: unknown }).writeKey === 'string') {
    return (body as { writeKey: string }).writeKey;
  }
  return undefined;
}
