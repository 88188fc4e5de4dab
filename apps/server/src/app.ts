import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { adminRoutes } from './admin.routes.ts';
import { audienceRoutes } from './audiences.routes.ts';
import type { AppEnv, AppOptions } from './context.ts';
import { HTTP_STATUS, toAppError } from './errors.ts';
import { ingestRoutes } from './ingest.routes.ts';
import { layersRoutes } from './layers.routes.ts';
import { openApiDocument } from './openapi.ts';

/** The whole HTTP surface, as a web-standard app (tests call `app.request()` without a port). */
export function createApp(opts: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const requestId = c.req.header('x-request-id') || randomUUID();
    c.set('requestId', requestId);
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
    opts.log?.info({ reqId: requestId, method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10, workspaceId: c.get('workspace')?.id }, 'request');
  });

  app.onError((err, c) => {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') opts.log?.error({ reqId: c.get('requestId'), err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
    return c.json(e.toJSON(), HTTP_STATUS[e.code]);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ready = opts.isReady ? await opts.isReady().catch(() => false) : true;
    return c.json({ status: ready ? 'ready' : 'not ready' }, ready ? 200 : 503);
  });
  app.get('/api/openapi.json', (c) => c.json(openApiDocument()));

  ingestRoutes(app, opts);
  adminRoutes(app, opts);
  audienceRoutes(app, opts);
  layersRoutes(app, opts);
  for (const extend of opts.extend ?? []) extend(app, opts.services);

  app.all('/api/*', (c) => c.json({ error: { code: 'NOT_FOUND', message: `no API route ${c.req.method} ${c.req.path}; see /api/openapi.json` } }, 404));
  app.all('/v1/*', (c) => c.json({ error: { code: 'NOT_FOUND', message: `no tracking route ${c.req.method} ${c.req.path}; use /v1/identify, track, page, screen, group, alias or batch` } }, 404));

  if (opts.consoleDir && existsSync(join(opts.consoleDir, 'index.html'))) serveConsole(app, opts.consoleDir);
  else app.get('/', (c) => c.text('Siyu is running. The console is not built: run `npm start` (it builds apps/console) or `npm run build:console`.\n'));
  return app;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Serves the built single-page console; unknown paths fall back to index.html. */
function serveConsole(app: Hono<AppEnv>, dir: string): void {
  app.get('*', async (c) => {
    const rel = normalize(decodeURIComponent(c.req.path)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, rel);
    if (file.startsWith(dir) && rel !== '/' && existsSync(file) && extname(file)) {
      const body = await readFile(file);
      const immutable = rel.startsWith('/assets/');
      return c.body(body, 200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
    }
    return c.html(await readFile(join(dir, 'index.html'), 'utf8'));
  });
}
