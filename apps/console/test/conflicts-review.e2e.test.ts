/**
 * Reviewing identity conflicts in a real browser (Chromium via playwright-core) against the real server: a
 * link the rules refused is merged anyway from the 身份冲突 page (and leaves the open list, showing under 已处理
 * with who did it), another is dismissed. Data goes in through the ingest service, as in the other console tests.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { WorkspaceRecord } from '@siyu/core';
import type { TestSiyu } from '@siyu/services/testing';
import { chromiumMissing, waitForText, type RunningServer } from '../../server/test/console-harness.ts';
import { consoleSession } from './console-session.ts';

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
  const session = consoleSession('conflict review', {
    now: NOW,
    seed: async (t, workspace) => {
      for (const m of BATCH) await t.services.ingest.ingest(workspace, 'identify', m, Buffer.byteLength(JSON.stringify(m)));
    },
  });
  let t: TestSiyu;
  let workspace: WorkspaceRecord;
  let server: RunningServer;
  let page: Page;
  let pageErrors: string[] = [];
  beforeAll(() => {
    ({ t, workspace, server, page, pageErrors } = session);
  });
  const shot = session.shot;

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
