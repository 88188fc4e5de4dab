import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import type { WorkspaceRecord } from '@siyu/core';
import { createTestSiyu, testClock, type TestSiyu } from '@siyu/services/testing';
import { createApp } from '../../server/src/index.ts';
import { ensureConsoleBuilt, listen, openConsolePage, screenshot, type ConsolePage, type RunningServer } from '../../server/test/console-harness.ts';

/** What a console test works with, once `beforeAll` has run. */
export interface ConsoleSession {
  t: TestSiyu;
  workspace: WorkspaceRecord;
  adminToken: string;
  server: RunningServer;
  page: Page;
  /** Uncaught errors and console errors of the page so far. */
  pageErrors: string[];
  /** Saves a full-page screenshot (listed when the file's tests end). */
  shot(name: string): Promise<void>;
  /** The admin API with the workspace's token; answers the status and the JSON body. */
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }>;
}

/** A `seed` that sends these Segment messages as one `/v1/batch` through the ingest service, all accepted. */
export function seedBatch(batch: readonly object[]): (t: TestSiyu, workspace: WorkspaceRecord) => Promise<void> {
  return async (t, workspace) => {
    const body = { batch };
    const r = await t.services.ingest.ingest(workspace, 'batch', body, Buffer.byteLength(JSON.stringify(body)));
    if (r.accepted !== batch.length || r.duplicates !== 0) throw new Error(`seed: ${JSON.stringify(r)} for ${batch.length} messages`);
  };
}

/**
 * For one `describe` block: real services on SQLite with the clock at `now`, a workspace `seed` fills (through the
 * ingest service or the services themselves; the processor, layers and audiences have settled when the page opens),
 * the built console served by the real app, and Chromium signed in with the workspace's admin token. Everything is
 * closed after the block; a failing test leaves a screenshot.
 */
export function consoleSession(label: string, opts: { now: string; seed?: (t: TestSiyu, workspace: WorkspaceRecord) => Promise<void> }): ConsoleSession {
  const screenshots: string[] = [];
  let browser: ConsolePage | undefined;
  const s = {} as ConsoleSession;
  s.shot = async (name) => {
    screenshots.push(await screenshot(s.page, name));
  };
  s.call = async <T,>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${s.server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${s.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as T };
  };

  beforeAll(async () => {
    const consoleDir = await ensureConsoleBuilt();
    s.t = await createTestSiyu({ name: 'sqlite' }, { clock: testClock(opts.now) });
    ({ workspace: s.workspace, adminToken: s.adminToken } = await s.t.workspace('演示', { instanceAdmin: true }));
    if (opts.seed) await opts.seed(s.t, s.workspace);
    await s.t.drain();
    await s.t.services.layers.settled();
    await s.t.services.audienceEngine.settled();
    s.server = await listen(createApp({ services: s.t.services, consoleDir }).fetch);
    browser = await openConsolePage(s.server.url, { adminToken: s.adminToken });
    s.page = browser.page;
    s.pageErrors = browser.pageErrors;
  });

  afterAll(async () => {
    await browser?.close();
    await s.server?.close();
    await s.t?.close();
    if (screenshots.length) console.log(`${label} screenshots:\n  ${screenshots.join('\n  ')}`);
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && s.page && !s.page.isClosed()) await s.shot(`failed-${ctx.task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  return s;
}
