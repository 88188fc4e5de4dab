/**
 * Reviewing identity conflicts in a real browser (Chromium via playwright-core) against the real server: a
 * link the rules refused is merged anyway from the 身份冲突 page (and leaves the open list, showing under 已处理
 * with who did it), another is dismissed. Data goes in through the ingest service, as in the other console tests.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { WorkspaceRecord } from '@siyu/core';
import { createTestSiyu, testClock, type TestSiyu } from '@siyu/services/testing';
import { createApp } from '../../server/src/index.ts';
import { chromiumMissing, ensureConsoleBuilt, listen, openConsolePage, screenshot, waitForText, type ConsolePage, type RunningServer } from '../../server/test/console-harness.ts';

const NOW = '2026-03-01T08:00:00.000Z';
// Two customers on one shop iPad, and two more on a kiosk: the one-user_id rule refuses both links.
const BATCH = [
  { type: 'identify', userId: 'u_wang', traits: { name: '王小明', phone: '13800138000' }, context: { device: { id: 'shop-ipad' } } },
  { type: 'identify', userId: 'u_wang2', traits: { name: '王小明(新号)' }, context: { device: { id: 'shop-ipad' } } },
  { type: 'identify', userId: 'u_li', traits: { name: '李娜' }, context: { device: { id: 'kiosk-1' } } },
  { type: 'identify', userId: 'u_zhang', traits: { name: '张伟' }, context: { device: { id: 'kiosk-1' } } },
];

const skipReason = chromiumMissing();

describe.skipIf(skipReason !== null)(skipReason ? `conflict review — skipped: ${skipReason}` : 'conflict review in the console', () => {
  let t: TestSiyu;
  let workspace: WorkspaceRecord;
  let server: RunningServer;
  let browser: ConsolePage;
  let page: Page;
  let pageErrors: string[] = [];
  const screenshots: string[] = [];

  beforeAll(async () => {
    const consoleDir = await ensureConsoleBuilt();
    t = await createTestSiyu({ name: 'sqlite' }, { clock: testClock(NOW) });
    let adminToken: string;
    ({ workspace, adminToken } = await t.workspace('演示', { instanceAdmin: true }));
    for (const m of BATCH) await t.services.ingest.ingest(workspace, 'identify', m, Buffer.byteLength(JSON.stringify(m)));
    await t.drain();
    await t.services.layers.settled();
    await t.services.audienceEngine.settled();
    const app = createApp({ services: t.services, consoleDir });
    server = await listen(app.fetch);
    browser = await openConsolePage(server.url, { adminToken });
    page = browser.page;
    pageErrors = browser.pageErrors;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    if (screenshots.length) console.log(`conflict review screenshots:\n  ${screenshots.join('\n  ')}`);
  });

  const shot = async (name: string) => screenshots.push(await screenshot(page, name));
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(`failed-${ctx.task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  const rows = () => page.locator('[data-testid=conflicts-table] tbody tr[data-testid=conflict-row]');
  const rowWith = (text: string) => rows().filter({ hasText: text });

  it('merges a refused link from the page: one person afterwards, and the conflict moves to 已处理 with who did it', async () => {
    await page.goto(`${server.url}/identity/conflicts`);
    await waitForText(page, '[data-testid=menu-conflicts]', '身份冲突');
    await rowWith('shop-ipad').waitFor();
    expect(await rows().count()).toBe(2);
    await rowWith('shop-ipad').getByTestId('conflict-merge').click();
    await page.getByTestId('conflict-merge-confirm').click();
    await waitForText(page, '.ant-message-notice', '已合并');
    await rowWith('shop-ipad').waitFor({ state: 'detached' });
    expect(await rows().count()).toBe(1);
    const wang = await t.services.profiles.lookup(workspace.id, 'user_id', 'u_wang2');
    expect(wang.identities.filter((i) => i.type === 'user_id').map((i) => i.value).sort()).toEqual(['u_wang', 'u_wang2']);
    expect(wang.merges[0]?.actor).toMatch(/^admin:/);

    await page.getByTestId('conflicts-resolved').click();
    await rowWith('shop-ipad').waitFor();
    await waitForText(page, '[data-testid=conflict-resolution]', '已合并 · 管理员');
    await shot('conflicts-resolved');
  });

  it('dismisses the other: the two stay apart and the open list is empty', async () => {
    await page.getByTestId('conflicts-open').click();
    await rowWith('kiosk-1').waitFor();
    await rowWith('kiosk-1').getByTestId('conflict-dismiss').click();
    await waitForText(page, '.ant-message-notice', '已忽略');
    await waitForText(page, '[data-testid=conflicts-table]', '没有身份冲突');
    const li = await t.services.profiles.lookup(workspace.id, 'user_id', 'u_li');
    const zhang = await t.services.profiles.lookup(workspace.id, 'user_id', 'u_zhang');
    expect(li.id).not.toBe(zhang.id);
    expect((await t.services.profiles.stats(workspace.id)).openConflicts).toBe(0);
  });

  it('raised no uncaught errors and logged no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
