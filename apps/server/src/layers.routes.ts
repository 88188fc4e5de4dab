import { LIFECYCLE_STAGES, RFM_SEGMENTS } from '@siyu/core';
import { LayerSettingsInput } from '@siyu/services';
import type { Hono } from 'hono';
import { z } from 'zod';
import { jsonBody } from './admin.routes.ts';
import type { AppEnv, AppOptions } from './context.ts';
import { addOpenApiPaths } from './openapi.ts';

/** Layering (分层) admin API: RFM matrix, lifecycle distribution and their settings, scoped to the token's workspace. */
export function layersRoutes(app: Hono<AppEnv>, { services }: AppOptions): void {
  app.get('/api/v1/layers/settings', async (c) => c.json(await services.layers.getSettings(c.get('workspace').id)));
  app.put('/api/v1/layers/settings', async (c) => c.json(await services.layers.putSettings(c.get('workspace').id, await jsonBody(c))));
  app.get('/api/v1/layers/rfm', async (c) => c.json(await services.layers.rfm(c.get('workspace').id)));
  app.post('/api/v1/layers/rfm/recompute', async (c) => c.json(await services.layers.recomputeAll(c.get('workspace').id)));
  app.get('/api/v1/layers/lifecycle', async (c) => c.json(await services.layers.lifecycle(c.get('workspace').id)));
  addOpenApiPaths(layersOpenApiPaths());
}

type Paths = Parameters<typeof addOpenApiPaths>[0];

function layersOpenApiPaths(): Paths {
  const error = { $ref: '#/components/schemas/Error' };
  const json = (schema: object) => ({ content: { 'application/json': { schema } } });
  const ok = (schema: object) => ({ '200': { description: 'OK', ...json(schema) }, '4XX': { description: 'error', ...json(error) } });
  const op = (summary: string, response: object, extra: object = {}) => ({ summary, tags: ['Layers'], security: [{ adminToken: [] }], responses: ok(response), ...extra });
  const int = { type: 'integer' };
  const score = { type: 'integer', minimum: 1, maximum: 5 };
  const cuts = { type: 'array', items: { type: ['number', 'null'] }, minItems: 4, maxItems: 4 };
  const settings = z.toJSONSchema(LayerSettingsInput, { io: 'input', unrepresentable: 'any' }) as object;
  const rfm = {
    type: 'object',
    properties: {
      cells: { type: 'array', description: '25 cells, R 5..1 then F 1..5; revenue is total spent in fen', items: { type: 'object', properties: { r: score, f: score, customers: int, revenue: int } } },
      segments: { type: 'array', items: { type: 'object', properties: { segment: { type: 'string', enum: [...RFM_SEGMENTS] }, customers: int, revenue: int, share: { type: 'number' } } } },
      customers: int,
      revenue: int,
      thresholds: {
        type: ['object', 'null'],
        description: 'cut points in use per dimension (r: days since the last order, ≤ cut scores higher; f, m: smallest value reaching the next score); null before the first recompute',
        properties: Object.fromEntries(['r', 'f', 'm'].map((d) => [d, { type: 'object', properties: { cuts, source: { type: 'string', enum: ['quintiles', 'fixed'] } } }])),
      },
      computedAt: { type: ['string', 'null'], format: 'date-time' },
    },
    required: ['cells', 'segments', 'thresholds', 'computedAt'],
  };
  const lifecycle = {
    type: 'object',
    properties: {
      stages: { type: 'array', items: { type: 'object', properties: { stage: { type: 'string', enum: [...LIFECYCLE_STAGES] }, customers: int, share: { type: 'number' } } } },
      total: int,
    },
    required: ['stages', 'total'],
  };
  return {
    '/api/v1/layers/settings': {
      get: op('RFM thresholds (null: quintiles) and lifecycle thresholds, defaults filled in', { type: 'object' }),
      put: op('Replace the layering settings; every problem is returned with its path. Layers are recomputed', { type: 'object' }, { requestBody: json(settings) }),
    },
    '/api/v1/layers/rfm': { get: op('RFM: customers and revenue per R × F cell and per named segment', rfm) },
    '/api/v1/layers/rfm/recompute': { post: op('Recompute RFM (and lifecycle) for every customer now; returns the new matrix', rfm) },
    '/api/v1/layers/lifecycle': { get: op('Profiles per lifecycle stage (prospect, new, active, silent, at_risk, churned)', lifecycle) },
  };
}
