/**
 * The web console in a real browser (Chromium via playwright-core) against the real server: the
 * built console served by createApp, real services on SQLite, data sent through the ingest service.
 * One browser page walks through the console the way an operator would; the steps run in order.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { WorkspaceRecord } from '@siyu/core';
import { createTestSiyu, testClock, type TestSiyu } from '@siyu/services/testing';
import { createApp } from '../src/index.ts';
import { chromiumMissing, ensureConsoleBuilt, launchChromium, listen, screenshot, waitForCanvasesStill, waitForText, type RunningServer } from './console-harness.ts';

const NOW = '2026-03-01T08:00:00.000Z';
const daysAgo = (d: number, hour = 0) => new Date(Date.parse(NOW) - d * 86_400_000 + hour * 3_600_000).toISOString();

const PHONE = '13800138000';
const MINI_PROGRAM_USER = 'u_10086';
const OA_VISITOR = 'anon-oa-7f3a';

/**
 * A tea-drink brand's data. 王小明 is seen twice: as a WeChat official-account visitor who orders
 * once (¥59.90), and as a mini-program member with his phone who orders once (¥128.50). When the
 * official-account visitor later leaves the same phone, the two profiles merge through it.
 * 李娜 is a second customer, and one anonymous web visitor only browses.
 */
const BATCH = [
  { type: 'identify', anonymousId: OA_VISITOR, traits: { nickname: '小明同学', openid: 'oWx_9a8b7c6d', wechat_appid: 'wx_demo_oa', city: '上海' }, timestamp: daysAgo(6) },
  { type: 'track', anonymousId: OA_VISITOR, event: 'Order Completed', properties: { order_id: 'OA-20260224-001', total: 59.9, currency: 'CNY', store: '上海静安嘉里中心店' }, timestamp: daysAgo(5) },
  { type: 'identify', userId: MINI_PROGRAM_USER, traits: { name: '王小明', phone: PHONE, member_level: '金卡' }, timestamp: daysAgo(3) },
  { type: 'track', userId: MINI_PROGRAM_USER, event: 'Product Viewed', properties: { product_id: 'TEA-007', name: '杨枝甘露', price: 22 }, timestamp: daysAgo(3, 1) },
  { type: 'track', userId: MINI_PROGRAM_USER, event: 'Order Completed', properties: { order_id: 'MP-20260226-118', total: 128.5, currency: 'CNY' }, timestamp: daysAgo(2) },
  // the same phone from the official account: merges the visitor into the mini-program member
  { type: 'identify', anonymousId: OA_VISITOR, traits: { phone: PHONE }, timestamp: daysAgo(1) },
  { type: 'identify', userId: 'u_10010', traits: { name: '李娜', phone: '13912345678', email: 'li.na@example.com', city: '北京' }, timestamp: daysAgo(4) },
  { type: 'track', userId: 'u_10010', event: 'Product Viewed', properties: { product_id: 'TEA-001', name: '多肉葡萄', price: 19 }, timestamp: daysAgo(4, 1) },
  { type: 'track', userId: 'u_10010', event: 'Order Completed', properties: { order_id: 'MP-20260225-042', total: 36, currency: 'CNY' }, timestamp: daysAgo(4, 2) },
  { type: 'page', anonymousId: 'anon-web-51c0', name: '门店列表', properties: { path: '/stores' }, timestamp: daysAgo(0, -2) },
];

/** What the overview must show for BATCH. */
const EXPECTED = { profiles: 3, events: BATCH.length, mergedProfiles: 1, openConflicts: 0 };

const skipReason = chromiumMissing();

describe.skipIf(skipReason !== null)(skipReason ? `web console in Chromium — skipped: ${skipReason}` : 'web console in Chromium', () => {
  let t: TestSiyu;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminToken: string;
  let workspace: WorkspaceRecord;
  const pageErrors: string[] = [];
  const screenshots: string[] = [];

  beforeAll(async () => {
    const consoleDir = await ensureConsoleBuilt();
    t = await createTestSiyu({ name: 'sqlite' }, { clock: testClock(NOW) });
    ({ workspace, adminToken } = await t.workspace('演示', { instanceAdmin: true }));
    const body = { batch: BATCH };
    const r = await t.services.ingest.ingest(workspace, 'batch', body, Buffer.byteLength(JSON.stringify(body)));
    expect(r).toEqual({ accepted: BATCH.length, duplicates: 0 });
    await t.drain();
    const app = createApp({ services: t.services, consoleDir });
    server = await listen(app.fetch);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`));
    // the wrong-token login answers 401 on purpose; Chromium logs that as "Failed to load resource"
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`console.error: ${msg.text()}`);
    });
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
    await t?.close();
    if (screenshots.length) console.log(`console screenshots:\n  ${screenshots.join('\n  ')}`);
  });

  const shot = async (name: string) => screenshots.push(await screenshot(page, name));

  // a failed step leaves a picture of what the browser showed
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(`failed-${ctx.task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  it('the server and the data behind the UI are what the steps below expect', async () => {
    const res = await fetch(`${server.url}/api/v1/stats`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject(EXPECTED);
    const index = await fetch(`${server.url}/profiles/whatever`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<div id="root">');
  });

  it('opens on the login page in Chinese and rejects a wrong token', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForURL(/\/login$/);
    await waitForText(page, '[data-testid=login-submit]', '登录');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await page.getByTestId('login-token-input').fill('sat_not_a_real_token');
    await page.getByTestId('login-submit').click();
    await waitForText(page, '[data-testid=login-error]', '管理令牌无效');
    expect(page.url()).toMatch(/\/login$/);
    await shot('login-error');
  });

  it('signs in with the admin token and shows the overview: stat cards, charts, Chinese menu', async () => {
    await page.getByTestId('login-token-input').fill(adminToken);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(`${server.url}/`);
    await waitForText(page, '[data-testid=header-workspace]', '演示');

    const stat = async (testId: string, title: string, value: number) => {
      await waitForText(page, `[data-testid=${testId}] .ant-statistic-content-value`, new RegExp(`^${value}$`));
      await waitForText(page, `[data-testid=${testId}]`, title);
    };
    await stat('stat-profiles', '客户数', EXPECTED.profiles);
    await stat('stat-events', '事件数', EXPECTED.events);
    await stat('stat-merged-profiles', '合并档案', EXPECTED.mergedProfiles);
    await stat('stat-open-conflicts', '待处理冲突', EXPECTED.openConflicts);

    for (const chart of ['chart-events-per-day', 'chart-top-events', 'chart-identities-by-type']) {
      const canvas = page.locator(`[data-testid=${chart}] canvas`).first();
      await canvas.waitFor({ state: 'visible' });
      const box = await canvas.boundingBox();
      expect(box?.width, chart).toBeGreaterThan(100);
      expect(box?.height, chart).toBeGreaterThan(100);
    }
    await waitForText(page, '[data-testid=chart-events-per-day]', '近 30 天事件趋势');

    await waitForText(page, '[data-testid=menu-overview]', '概览');
    await waitForText(page, '[data-testid=menu-profiles]', '客户');
    await waitForText(page, '[data-testid=menu-conflicts]', '身份冲突');
    expect(await page.title()).toBe('私域 Siyu 控制台');
    await waitForCanvasesStill(page);
    await shot('overview-zh');
  });

  it('switches the UI to English', async () => {
    await page.getByTestId('lang-en').click();
    await waitForText(page, '[data-testid=menu-profiles]', 'Profiles');
    await waitForText(page, '[data-testid=menu-overview]', 'Overview');
    await waitForText(page, '[data-testid=menu-workspaces]', 'Workspaces');
    await waitForText(page, '[data-testid=stat-profiles]', 'Profiles');
    await waitForText(page, '[data-testid=stat-merged-profiles]', 'Merged profiles');
    await waitForText(page, '[data-testid=chart-events-per-day]', 'Events, last 30 days');
    await waitForText(page, '[data-testid=logout]', 'Log out');
    expect(await page.locator('html').getAttribute('lang')).toBe('en-US');
    expect(await page.title()).toBe('Siyu Console');
    // the numbers stay
    await waitForText(page, '[data-testid=stat-profiles] .ant-statistic-content-value', new RegExp(`^${EXPECTED.profiles}$`));
    await waitForCanvasesStill(page);
    await shot('overview-en');
  });

  it('lists the profiles and looks one up by phone: merged identities and order figures in ¥', async () => {
    await page.getByTestId('menu-profiles').click();
    await page.waitForURL(/\/profiles$/);
    await page.locator('[data-testid=profile-row]').nth(EXPECTED.profiles - 1).waitFor();
    expect(await page.locator('[data-testid=profile-row]').count()).toBe(EXPECTED.profiles);
    await waitForText(page, '[data-testid=profiles-table]', '王小明');
    await waitForText(page, '[data-testid=profiles-table]', '李娜');
    // masked phones by default, totals in yuan from fen
    await waitForText(page, '[data-testid=profiles-table]', '138****8000');
    await waitForText(page, '[data-testid=profiles-table]', '¥188.40');

    // pick "Phone" in the identifier-type select (it is the default; choose it the way a user would)
    await page.getByTestId('lookup-type').click();
    const option = page.locator('.ant-select-item-option').filter({ hasText: /^Phone$/ });
    await option.click();
    await waitForText(page, '[data-testid=lookup-type]', 'Phone');
    await page.locator('.ant-select-dropdown').first().waitFor({ state: 'hidden' });
    await page.getByTestId('lookup-input').fill(PHONE);
    await shot('profiles-en');
    await page.getByTestId('lookup-submit').click();

    await page.waitForURL(/\/profiles\/[^/]+$/);
    await waitForText(page, '[data-testid=profile-name]', '王小明');
    await waitForText(page, '[data-testid=figure-order-count] .ant-statistic-content', /^2$/);
    await waitForText(page, '[data-testid=figure-total-spent]', '¥188.40');
    await waitForText(page, '[data-testid=figure-avg-order-value]', '¥94.20');
    await waitForText(page, '[data-testid=tab-identities]', 'Identities (4)');
    await waitForText(page, '[data-testid=tab-merges]', 'Merges (1)');

    await page.getByTestId('tab-identities').click();
    const identities = page.locator('[data-testid=identities-table] tbody tr.ant-table-row');
    await identities.nth(3).waitFor();
    expect(await identities.count()).toBe(4);
    const table = (await page.getByTestId('identities-table').textContent()) ?? '';
    for (const shown of ['user_id', MINI_PROGRAM_USER, 'phone', '138****8000', 'anonymous_id', OA_VISITOR, 'wechat_openid', 'wx_demo_oa:oWx_9a8b7c6d']) {
      expect(table, shown).toContain(shown);
    }
    expect(table, 'the phone is masked until "show full" is on').not.toContain(PHONE);
    await shot('profile-merged');
  });

  it('unmerges from the merges tab: the profile keeps fewer identities and its own order', async () => {
    const profileUrl = page.url();
    await page.getByTestId('tab-merges').click();
    await waitForText(page, '[data-testid=merges-table] tbody', 'Merged'); // the status of an active merge
    await page.getByTestId('unmerge-button').click();
    await page.getByTestId('unmerge-confirm').click();

    // the notice links to the restored profile: the official-account visitor with his own order
    const notice = page.locator('.ant-message-notice').filter({ hasText: 'Unmerged; restored profile' });
    const restoredLink = notice.locator('a');
    await restoredLink.waitFor();
    const restoredId = ((await restoredLink.textContent()) ?? '').trim();
    expect(restoredId).not.toBe('');
    expect(profileUrl).not.toContain(restoredId);
    await restoredLink.click();
    await page.waitForURL(`${server.url}/profiles/${encodeURIComponent(restoredId)}`);
    await waitForText(page, '[data-testid=profile-name]', '小明同学');
    await waitForText(page, '[data-testid=figure-order-count] .ant-statistic-content', /^1$/);
    await waitForText(page, '[data-testid=figure-total-spent]', '¥59.90');
    await shot('profile-restored');
    await page.goBack();
    await page.waitForURL(profileUrl);

    // the merged profile, reloaded: the visitor's identities and order went back to the restored profile
    await page.getByTestId('tab-merges').click();
    await waitForText(page, '[data-testid=merges-table]', 'Unmerged');
    await waitForText(page, '[data-testid=tab-identities]', /Identities \([0-3]\)/);
    await waitForText(page, '[data-testid=figure-order-count] .ant-statistic-content', /^1$/);
    await waitForText(page, '[data-testid=figure-total-spent]', '¥128.50');
    expect(page.url()).toBe(profileUrl);
    await shot('profile-unmerged-merges');

    await page.getByTestId('tab-identities').click();
    const identities = page.locator('[data-testid=identities-table] tbody tr.ant-table-row');
    await identities.first().waitFor();
    const count = await identities.count();
    expect(count).toBeLessThan(4);
    const tabText = (await page.getByTestId('tab-identities').textContent()) ?? '';
    expect(tabText).toBe(`Identities (${count})`);
    const table = (await page.getByTestId('identities-table').textContent()) ?? '';
    expect(table).toContain(MINI_PROGRAM_USER);
    expect(table).not.toContain(OA_VISITOR);
    await shot('profile-unmerged-identities');

    // the overview agrees: one more profile, no merged ones
    await page.getByTestId('menu-overview').click();
    await waitForText(page, '[data-testid=stat-profiles] .ant-statistic-content-value', new RegExp(`^${EXPECTED.profiles + 1}$`));
    await waitForText(page, '[data-testid=stat-merged-profiles] .ant-statistic-content-value', /^0$/);
  });

  it('raised no uncaught errors and logged no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
