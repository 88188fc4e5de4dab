/**
 * What a Chinese operator reads, in a real browser (Chromium via playwright-core) against the real server:
 * server messages that arrive in successful answers (a bulk tag's unmatched identifiers, a live count's
 * warnings) and the layer settings' refusals are in Chinese; a profile's first-touch traits are named in
 * words (首次来源渠道 · 微信小程序) rather than as keys; and a timeline row shows an order's amount even when
 * the order carries more properties than the row has room for. Data goes in through the ingest service.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumMissing, waitForText, type RunningServer } from '../../server/test/console-harness.ts';
import { consoleSession, seedBatch } from './console-session.ts';

const NOW = '2026-03-01T08:00:00.000Z';
const daysAgo = (d: number) => new Date(Date.parse(NOW) - d * 86_400_000).toISOString();
const PHONE = '13800138000';

const BATCH = [
  {
    type: 'identify',
    userId: 'u_wang',
    traits: { name: '王小明', phone: PHONE, city: '上海' },
    context: { source_channel: 'mini_program' },
    timestamp: daysAgo(10),
  },
  {
    // a mini-program order as the demo sends it: the amount comes after six other properties
    type: 'track',
    userId: 'u_wang',
    event: 'Order Completed',
    properties: {
      order_id: 'MP2026022000000001',
      channel: 'mini_program',
      fulfillment: 'pickup',
      store_id: 'SH01',
      store_name: '上海静安嘉里中心店',
      coupon_code: 'NEW10',
      products: [{ sku: 'QH-T02', name: '茉莉奶绿', price: 16, quantity: 2 }],
      total: 32,
      currency: 'CNY',
    },
    // as SDKs repeat who the user is: masked in the expanded JSON too
    context: { traits: { phone: PHONE } },
    timestamp: daysAgo(9),
  },
];

const skipReason = chromiumMissing();

describe.skipIf(skipReason !== null)(skipReason ? `operator language — skipped: ${skipReason}` : 'what a Chinese operator reads in the console', () => {
  const session = consoleSession('operator language', {
    now: NOW,
    seed: seedBatch(BATCH),
  });
  let server: RunningServer;
  let page: Page;
  let pageErrors: string[] = [];
  beforeAll(() => {
    ({ server, page, pageErrors } = session);
  });
  const shot = session.shot;

  const call = session.call;
  /** An input inside an antd wrapper carrying the test id, or the input itself. */
  const input = (testId: string, scope = page.locator('body')) => scope.locator(`input[data-testid=${testId}], [data-testid=${testId}] input`).first();

  it("says why a pasted phone was not matched in Chinese, not in the server's English", async () => {
    expect((await call('POST', '/api/v1/tags', { name: '奶茶控' })).status).toBe(201);
    await page.goto(`${server.url}/tags`);
    const row = page.locator('[data-testid=tag-row][data-tag-name="奶茶控"]');
    await row.getByTestId('tag-bulk-apply').click();
    await page.getByTestId('tag-bulk-dialog').waitFor();
    await page.getByTestId('bulk-values').fill(`${PHONE}\n12345\n`);
    await page.getByTestId('bulk-submit').click();
    await page.getByTestId('bulk-result').waitFor();
    await waitForText(page, '[data-testid=bulk-unmatched]', '手机号「12345」格式不对');
    expect(await page.getByTestId('bulk-unmatched').innerText()).not.toContain('is not a valid phone number');
    await shot('operator-language-bulk');
    await page.getByTestId('bulk-close').click();
  });

  it('gives the live count\'s warning about a trait not seen yet in Chinese', async () => {
    await page.goto(`${server.url}/segments/new`);
    await page.getByTestId('add-rule').click();
    await page.getByTestId('add-rule-trait').click();
    const rule = page.locator('[data-testid=rule][data-kind=trait]');
    await rule.getByTestId('rule-trait').locator('input').fill('vip_level');
    await page.keyboard.press('Escape');
    await input('rule-value', rule).fill('gold');
    await waitForText(page, '[data-testid=live-count-warnings]', '属性「vip_level」在当前工作区还没出现过');
    expect(await page.getByTestId('live-count-warnings').innerText()).not.toContain('has not been seen');
    await shot('operator-language-live-count-warning');
  });

  it('refuses layer settings in Chinese, naming the fields as the form does', async () => {
    await page.goto(`${server.url}/layers`);
    await page.getByTestId('layers-settings').waitFor();
    await input('settings-silentMultiple').fill('1');
    await page.getByTestId('layers-settings-save').click();
    await waitForText(page, '[data-testid=settings-error]', '沉默倍数（silentMultiple = 1）必须大于活跃倍数（activeMultiple = 1.5）');

    await page.reload();
    await page.getByTestId('layers-settings').waitFor();
    await page.getByTestId('settings-m-fixed').click();
    await input('settings-m-cut-0').fill('300');
    await input('settings-m-cut-1').fill('100');
    await input('settings-m-cut-2').fill('500');
    await input('settings-m-cut-3').fill('900');
    await page.getByTestId('layers-settings-save').click();
    await waitForText(page, '[data-testid=settings-error]', '4 个切点必须从小到大依次递增');
    await shot('operator-language-layers');
  });

  it("names a profile's first-touch traits in words and keeps the order amount on its timeline row", async () => {
    const { json: wang } = await call<{ id: string }>('GET', `/api/v1/profiles/lookup?type=phone&value=${PHONE}`);
    await page.goto(`${server.url}/profiles/${wang.id}`);
    await waitForText(page, '[data-testid=profile-name]', '王小明');
    const firstTouch = page.getByTestId('first-touch');
    await waitForText(page, '[data-testid=first-touch]', '首次来源渠道');
    await waitForText(page, '[data-testid=first-touch-channel]', '微信小程序');
    await waitForText(page, '[data-testid=first-touch]', '首次出现时间');
    // the key is still there, small, for whoever writes conditions
    expect(await firstTouch.locator('[data-testid=first-touch-label][data-key=first_source_channel]').innerText()).toContain('first_source_channel');

    await page.getByTestId('tab-timeline').click();
    const order = page.getByTestId('timeline-event').filter({ hasText: 'Order Completed' });
    await order.waitFor();
    const shown = await order.innerText();
    expect(shown).toContain('total: 32');
    expect(shown).not.toContain('currency');
    expect(await order.getByTestId('timeline-more-properties').innerText()).toContain('另有 3 项');
    // an identify call shows what it set, the phone masked
    const identify = page.getByTestId('timeline-event').filter({ hasText: '王小明' });
    await identify.waitFor();
    const set = await identify.innerText();
    expect(set).toContain('city: 上海');
    expect(set).toContain('138****8000');
    expect(set).not.toContain(PHONE);
    await order.getByRole('button').first().click();
    const json = await order.locator('pre').innerText();
    expect(json).toContain('138****8000');
    expect(json).not.toContain(PHONE);
    await shot('operator-language-profile');

    // in English the labels follow the language
    await page.getByTestId('lang-en').click();
    await page.getByTestId('tab-traits').click();
    await waitForText(page, '[data-testid=first-touch]', 'First source channel');
    await waitForText(page, '[data-testid=first-touch-channel]', 'WeChat mini program');
    await page.getByTestId('lang-zh').click();
  });

  it('writes a segment\'s conditions with English punctuation in English', async () => {
    const created = await call<{ id: string }>('POST', '/api/v1/segments', {
      name: '复购中的小程序客户',
      definition: {
        version: 1,
        condition: {
          all: [
            { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 }, where: [{ property: 'channel', op: 'in', value: ['mini_program', 'store'] }, { property: 'total', op: 'gte', value: 20 }] },
            { lifecycle: ['new', 'active'] },
          ],
        },
      },
    });
    expect(created.status).toBe(201);
    await page.getByTestId('lang-en').click();
    await page.goto(`${server.url}/segments/${created.json.id}`);
    await waitForText(page, '[data-testid=definition-summary]', '"Order Completed"');
    const summary = await page.getByTestId('definition-summary').innerText();
    expect(summary).toContain('mini_program, store');
    expect(summary).toContain('New, Active');
    expect(summary).not.toMatch(/[「」、，]/);
    await shot('operator-language-summary-en');

    await page.getByTestId('lang-zh').click();
    await waitForText(page, '[data-testid=definition-summary]', '「Order Completed」');
    expect(await page.getByTestId('definition-summary').innerText()).toContain('mini_program、store');
  });

  it("names the people in a tag's history, not their profile ids", async () => {
    const tag = await call<{ id: string }>('POST', '/api/v1/tags', { name: '门店常客' });
    expect(tag.status).toBe(201);
    const who = await call<{ id: string }>('GET', `/api/v1/profiles/lookup?type=user_id&value=u_wang`);
    expect((await call('POST', `/api/v1/profiles/${who.json.id}/tags`, { tagId: tag.json.id })).status).toBe(201);
    await page.goto(`${server.url}/tags`);
    await page.locator('[data-testid=tag-row][data-tag-name="门店常客"]').getByTestId('tag-history').click();
    await waitForText(page, '[data-testid=history-item]', '王小明');
    expect(await page.locator('[data-testid=history-item] [data-testid=profile-link]').first().innerText()).toBe('王小明');
    await shot('operator-language-tag-history');
  });

  it('builds a segment from a lifecycle stage or an RFM group on the layers page, name and conditions filled in', async () => {
    await page.goto(`${server.url}/layers`);
    const stage = page.locator('[data-testid=lifecycle-segment-link][data-stage=new]');
    await stage.waitFor();
    await stage.click();
    await page.waitForURL(/\/segments\/new\?/);
    await page.getByTestId('segment-name').waitFor();
    expect(await input('segment-name').inputValue()).toBe('生命周期 · 新客');
    await waitForText(page, '[data-testid=live-count-value]', '1');
    await shot('operator-language-segment-from-stage');
    await page.getByTestId('segment-save').click();
    await page.waitForURL(/\/segments\/seg_/);
    const listed = await call<{ data: { name: string; count: number; definition: unknown }[] }>('GET', '/api/v1/segments');
    expect(listed.json.data.find((x) => x.name === '生命周期 · 新客')).toMatchObject({ count: 1, definition: { version: 1, condition: { all: [{ lifecycle: 'new' }] } } });

    await page.goto(`${server.url}/layers`);
    const rfm = page.locator('[data-testid=rfm-segment-link]').first();
    await rfm.waitFor();
    const code = await rfm.getAttribute('data-segment');
    await rfm.click();
    await page.waitForURL(/\/segments\/new\?/);
    await page.getByTestId('segment-name').waitFor();
    expect(await input('segment-name').inputValue()).toMatch(/^RFM · /);
    await waitForText(page, '[data-testid=live-count-value]', '1');
    expect(new URL(page.url()).searchParams.get('definition')).toBe(JSON.stringify({ version: 1, condition: { rfm_segment: code } }));

    // A cell of the R × F grid: clicked where the chart draws it (grid inset 86 / 24 / 16 / 84 px, R5 on top).
    const { json: report } = await call<{ cells: { r: number; f: number; customers: number }[] }>('GET', '/api/v1/layers/rfm');
    const cell = report.cells.find((c) => c.customers > 0)!;
    await page.goto(`${server.url}/layers`);
    const heatmap = page.getByTestId('rfm-heatmap');
    await heatmap.locator('canvas').first().waitFor();
    await page.waitForTimeout(800); // the chart's entry animation
    const box = (await heatmap.boundingBox())!;
    const w = (box.width - 86 - 24) / 5;
    const h = (box.height - 16 - 84) / 5;
    await heatmap.click({ position: { x: 86 + (cell.f - 0.5) * w, y: 16 + (5 - cell.r + 0.5) * h } });
    await page.waitForURL(/\/segments\/new\?/);
    await page.getByTestId('segment-name').waitFor();
    expect(await input('segment-name').inputValue()).toBe(`RFM · R${cell.r} F${cell.f}`);
    await waitForText(page, '[data-testid=live-count-value]', '1');
  });

  it('"返回" on a page opened directly goes to its list, not out of the console', async () => {
    await page.goto(`${server.url}/segments/new`);
    await page.getByTestId('segment-name').waitFor();
    await page.getByRole('button', { name: /返回/ }).click();
    await page.waitForURL(`${server.url}/segments`);
  });

  it('adds a custom identifier type and changes a built-in limit on 身份规则, with the server\'s refusal at the field', async () => {
    await page.goto(`${server.url}/identity/types`);
    await page.getByTestId('id-type-add').click();
    await input('id-type-code').fill('CRM-ID');
    await input('id-type-priority').fill('95');
    await page.getByTestId('id-type-save').click();
    await waitForText(page, '[data-testid=id-type-error-type]', '小写字母');
    await input('id-type-code').fill('crm_id');
    await input('id-type-max').fill('1');
    await page.getByTestId('id-type-save').click();
    await page.locator('[data-testid=id-type-edit][data-type=crm_id]').waitFor();
    await shot('operator-language-identity-types');
    // A built-in type: code fixed, limit changed.
    await page.locator('[data-testid=id-type-edit][data-type=phone]').click();
    expect(await input('id-type-code').isDisabled()).toBe(true);
    await input('id-type-max').fill('2');
    await page.getByTestId('id-type-save').click();
    await page.getByTestId('id-type-form').waitFor({ state: 'detached' });
    const { json } = await call<{ data: { type: string; priority: number; maxPerProfile: number | null; builtin: boolean }[] }>('GET', '/api/v1/identity/types');
    expect(json.data.find((r) => r.type === 'crm_id')).toEqual({ type: 'crm_id', priority: 95, maxPerProfile: 1, builtin: false });
    expect(json.data.find((r) => r.type === 'phone')).toMatchObject({ maxPerProfile: 2, builtin: true });
  });

  it('raised no uncaught errors and logged no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
