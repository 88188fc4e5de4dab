import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import { createServices, newId, silentLogger, type Services } from '@siyu/services';
import { testClock } from '@siyu/services/testing';
import { openStore, type OpenedStore } from '@siyu/storage';

/**
 * `siyu import` beside `siyu start` on one SQLite file: two processes, each with its own audience bitmaps. The
 * server's follow its own threads' changes only (rebuilt every 10 minutes otherwise), so after an import its
 * counts left the imported customers out, and a segment created then left them out for good — the plan of a
 * bulk recompute reads candidates from the bitmaps. The import now marks its writes (`side_writes`), and the
 * server rebuilds before the next use.
 */
describe('an import process beside the server on one SQLite file', () => {
  const clock = testClock('2026-03-01T00:00:00.000Z');
  const dir = mkdtempSync(join(tmpdir(), 'siyu-side-writes-'));
  let serverStore: OpenedStore;
  let importStore: OpenedStore;
  let server: Services;
  let importer: Services;
  let ws: WorkspaceRecord;
  beforeAll(async () => {
    serverStore = await openStore({ sqliteFile: join(dir, 'siyu.db') });
    importStore = await openStore({ sqliteFile: join(dir, 'siyu.db') });
    server = createServices({ store: serverStore.store, clock, newId, log: silentLogger });
    importer = createServices({ store: importStore.store, clock, newId, log: silentLogger });
    ws = (await server.workspaces.create({ name: 'side writes' })).workspace;
  });
  afterAll(async () => {
    await importStore?.close();
    await serverStore?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function buy(services: Services, users: string[]): Promise<void> {
    const body = { batch: users.map((u) => ({ type: 'track', userId: u, event: 'Order Completed', properties: { order_id: `o-${u}`, total: 30 }, timestamp: clock().toISOString() })) };
    await services.ingest.ingest(ws, 'batch', body, JSON.stringify(body).length);
    while ((await services.processor.processBatch(1000)).messages > 0);
    await services.layers.settled();
    await services.audienceEngine.settled();
  }

  it('counts and new segments on the server include what the import wrote', async () => {
    await buy(server, ['s-1', 's-2']);
    // The server's bitmaps are loaded (the console's live count), then the import runs.
    expect((await server.audiences.count(ws.id, { version: 1, condition: { lifecycle: 'new' } })).count).toBe(2);
    await buy(importer, ['i-1', 'i-2', 'i-3']);
    await importStore.store.noteSideWrites();

    expect((await server.audiences.count(ws.id, { version: 1, condition: { lifecycle: 'new' } })).count).toBe(5);
    const segment = await server.segments.create(ws.id, { name: '下过单', definition: { version: 1, condition: { event: 'Order Completed', op: 'gte', value: 1, window: 'ever' } } });
    expect(segment.count).toBe(5);
    expect((await server.segments.members(ws.id, segment.id, { limit: 10 })).data).toHaveLength(5);
  });
});
