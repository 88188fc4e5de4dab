/**
 * Tag groups (rename, re-describe, delete — refused while the group holds tags) and each person's
 * tags in the profiles list, in a real browser (Chromium via playwright-core) against the real
 * server: the built console served by createApp, real services on SQLite. Uses the console harness
 * of apps/server/test; data is seeded through the ingest service and the admin API, as there.
 * The steps run in order on one page.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumMissing, waitForText, type RunningServer } from '../../server/test/console-harness.ts';
import { consoleSession, seedBatch } from './console-session.ts';

const NOW = '2026-03-01T08:00:00.000Z';
const daysAgo = (d: number) => new Date(Date.parse(NOW) - d * 86_400_000).toISOString();

const WANG_PHONE = '13800138000';
const LI_PHONE = '13912345678';
const BATCH = [
  { type: 'identify', userId: 'u_10086', traits: { name: '王小明', phone: WANG_PHONE }, timestamp: daysAgo(3) },
  { type: 'identify', userId: 'u_10010', traits: { name: '李娜', phone: LI_PHONE }, timestamp: daysAgo(2) },
  { type: 'identify', userId: 'u_10000', traits: { name: '张伟', phone: '13700000001' }, timestamp: daysAgo(1) },
];

const GROUP = '渠道来源';
const RENAMED = '会员渠道';
const OTHER_GROUP = '消费偏好';
const STORE_TAG = '门店会员';
const MINI_TAG = '小程序会员';

const skipReason = chromiumMissing();

describe.skipIf(skipReason !== null)(skipReason ? `tag groups and profile tags — skipped: ${skipReason}` : 'tag groups and profile tags in the console', () => {
  const session = consoleSession('tag group', {
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
  const ids: { group?: string; otherGroup?: string; storeTag?: string; miniTag?: string } = {};

  const call = session.call;
  const createTag = async (name: string, groupId?: string) => {
    const r = await call<{ id: string }>('POST', '/api/v1/tags', { name, ...(groupId ? { groupId } : {}) });
    expect(r.status, name).toBe(201);
    return r.json.id;
  };
  const applyByPhone = async (tagId: string, phone: string) => {
    const r = await call<{ applied: number }>('POST', `/api/v1/tags/${tagId}/apply`, { type: 'phone', values: [phone] });
    expect(r.status).toBe(200);
    expect(r.json.applied).toBe(1);
  };

  const groupOption = (name: string) => page.locator(`[data-testid=tag-group-filter] [data-testid=tag-group-option][data-group-name="${name}"]`);
  const tagRow = (name: string) => page.locator(`[data-testid=tag-row][data-tag-name="${name}"]`);
  const modalButton = (name: RegExp) => page.locator('.ant-modal:visible').getByRole('button', { name });

  it('renames a tag group and changes its description; a name another group has is refused at the field', async () => {
    const created = await call<{ id: string }>('POST', '/api/v1/tag-groups', { name: GROUP, description: '旧的说明' });
    expect(created.status).toBe(201);
    ids.group = created.json.id;
    const other = await call<{ id: string }>('POST', '/api/v1/tag-groups', { name: OTHER_GROUP });
    expect(other.status).toBe(201);
    ids.otherGroup = other.json.id;

    await page.goto(`${server.url}/tags`);
    await waitForText(page, '[data-testid=menu-tags]', '标签');
    // no group chosen: nothing to edit or delete
    await groupOption(GROUP).waitFor();
    expect(await page.getByTestId('tag-group-actions').count()).toBe(0);

    await groupOption(GROUP).click();
    await page.locator(`[data-testid=tag-group-actions][data-group-name="${GROUP}"]`).waitFor();
    await waitForText(page, '[data-testid=tag-group-description]', '旧的说明');

    // a taken name: the server's 409 message at the name field, nothing changed
    await page.getByTestId('tag-group-edit').click();
    const form = page.getByTestId('tag-group-form');
    await form.waitFor();
    await waitForText(page, '.ant-modal-title', `编辑标签组：${GROUP}`);
    expect(await page.getByTestId('tag-group-name').inputValue()).toBe(GROUP);
    expect(await page.getByTestId('tag-group-description-input').inputValue()).toBe('旧的说明');
    await page.getByTestId('tag-group-name').fill(OTHER_GROUP);
    await page.getByTestId('tag-group-submit').click();
    await waitForText(page, '[data-testid=tag-group-form] .ant-form-item-explain-error', `已有名为「${OTHER_GROUP}」的标签组`);
    await modalButton(/取\s*消/).click();
    await form.waitFor({ state: 'detached' });

    // the new name and description
    await page.getByTestId('tag-group-edit').click();
    await form.waitFor();
    expect(await page.getByTestId('tag-group-name').inputValue()).toBe(GROUP);
    await page.getByTestId('tag-group-name').fill(RENAMED);
    await page.getByTestId('tag-group-description-input').fill('门店与小程序的会员来源');
    await page.getByTestId('tag-group-submit').click();
    await form.waitFor({ state: 'detached' });
    await waitForText(page, '.ant-message-notice', `标签组「${RENAMED}」已更新`);
    await groupOption(RENAMED).waitFor();
    expect(await groupOption(GROUP).count()).toBe(0);
    await page.locator(`[data-testid=tag-group-actions][data-group-name="${RENAMED}"]`).waitFor();
    await waitForText(page, '[data-testid=tag-group-description]', '门店与小程序的会员来源');
    await shot('tag-group-renamed');

    const groups = await call<{ data: { id: string; name: string; description: string | null }[] }>('GET', '/api/v1/tag-groups');
    expect(groups.json.data.find((g) => g.id === ids.group)).toMatchObject({ name: RENAMED, description: '门店与小程序的会员来源' });
  });

  it('refuses to delete a group that holds tags, naming them; once they are moved or deleted the group is deleted', async () => {
    ids.storeTag = await createTag(STORE_TAG, ids.group);
    ids.miniTag = await createTag(MINI_TAG, ids.group);
    await page.goto(`${server.url}/tags`);
    await groupOption(RENAMED).click();
    await tagRow(STORE_TAG).waitFor();
    await tagRow(MINI_TAG).waitFor();

    await page.getByTestId('tag-group-delete').click();
    await waitForText(page, '.ant-popconfirm', `删除标签组「${RENAMED}」？`);
    await page.getByTestId('tag-group-delete-confirm').click();
    await waitForText(page, '.ant-modal-confirm-title', `无法删除标签组「${RENAMED}」`);
    const blocked = page.getByTestId('group-delete-blocked');
    await waitForText(page, '[data-testid=group-delete-blocked]', '请先把它们移到其他标签组或删除');
    expect((await blocked.getByTestId('group-delete-blocked-tag').allTextContents()).sort()).toEqual([MINI_TAG, STORE_TAG].sort());
    // the server's own message, which names the tags too
    await waitForText(page, '[data-testid=group-delete-blocked]', `标签组「${RENAMED}」里还有 2 个标签`);
    await waitForText(page, '[data-testid=group-delete-blocked]', `"${STORE_TAG}"`);
    await shot('tag-group-delete-blocked');
    await page.locator('.ant-modal-confirm-btns button').click();
    await blocked.waitFor({ state: 'detached' });
    await groupOption(RENAMED).waitFor();

    // one tag moved to the other group (API), the other deleted on the page
    const moved = await call('PUT', `/api/v1/tags/${ids.miniTag}`, { groupId: ids.otherGroup });
    expect(moved.status).toBe(200);
    await tagRow(STORE_TAG).getByTestId('tag-delete').click();
    await page.getByTestId('tag-delete-confirm').click();
    await waitForText(page, '.ant-message-notice', `标签「${STORE_TAG}」已删除`);
    await tagRow(STORE_TAG).waitFor({ state: 'detached' });
    // the list was reloaded: the moved tag left this group's view
    await tagRow(MINI_TAG).waitFor({ state: 'detached' });

    await page.getByTestId('tag-group-delete').click();
    await page.getByTestId('tag-group-delete-confirm').click();
    await waitForText(page, '.ant-message-notice', `标签组「${RENAMED}」已删除`);
    await groupOption(RENAMED).waitFor({ state: 'detached' });
    await page.getByTestId('tag-group-actions').waitFor({ state: 'detached' });
    // back on "all": the moved tag is listed under its new group
    await waitForText(page, `[data-testid=tag-row][data-tag-name="${MINI_TAG}"]`, OTHER_GROUP);
    await shot('tag-group-deleted');

    const groups = await call<{ data: { id: string }[] }>('GET', '/api/v1/tag-groups');
    expect(groups.json.data.map((g) => g.id)).toEqual([ids.otherGroup]);
    expect((await call('DELETE', `/api/v1/tag-groups/${ids.group}`)).status).toBe(404);
  });

  it("shows each person's tags in the profiles list: at most 3, then +N", async () => {
    // 李娜: one tag; 王小明: four (three shown, "+1"); 张伟: none
    await applyByPhone(ids.miniTag!, LI_PHONE);
    for (const name of ['高意向', '复购', '新品尝鲜']) await applyByPhone(await createTag(name), WANG_PHONE);
    await applyByPhone(ids.miniTag!, WANG_PHONE);

    await page.goto(`${server.url}/profiles`);
    await waitForText(page, '[data-testid=profiles-table] thead', '标签');
    const row = (name: string) => page.locator('[data-testid=profile-row]').filter({ hasText: name });
    await row('张伟').waitFor();

    await row('李娜').locator(`[data-testid=profile-tag][data-tag-name="${MINI_TAG}"]`).waitFor();
    expect(await row('李娜').getByTestId('profile-tag').allTextContents()).toEqual([MINI_TAG]);
    expect(await row('李娜').getByTestId('profile-tags-more').count()).toBe(0);

    const wang = row('王小明');
    await wang.getByTestId('profile-tags-more').waitFor();
    expect(await wang.getByTestId('profile-tags-more').textContent()).toBe('+1');
    const shown = await wang.getByTestId('profile-tag').allTextContents();
    expect(shown).toHaveLength(3);
    for (const name of shown) expect(['高意向', '复购', '新品尝鲜', MINI_TAG]).toContain(name);

    expect(await row('张伟').getByTestId('profile-tags').count()).toBe(0);
    await shot('profiles-tags');

    // the column title follows the language
    await page.getByTestId('lang-en').click();
    await waitForText(page, '[data-testid=profiles-table] thead', 'Tags');
    await waitForText(page, '[data-testid=profiles-table] [data-testid=profile-tags-more]', '+1');
  });

  it('raised no uncaught errors and logged no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
