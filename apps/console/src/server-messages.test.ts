import { describe, expect, it } from 'vitest';
import { localizeServerMessage } from './server-messages';

/** The wordings the rules match, as core and the services write them (copied: the console does not import core). */
describe('server messages in the operator’s language', () => {
  const zh = (m: string) => localizeServerMessage(m, 'zh-CN');
  it('reads the identifier problems core writes (packages/core/src/identity/normalize.ts)', () => {
    expect(zh('phone "abc" is not a valid phone number (expected 11 digits such as 13800138000, or +country code)')).toMatch(/^手机号「abc」格式不对/);
    expect(zh('email "nope" is not a valid address (expected name@domain.tld)')).toMatch(/^邮箱「nope」格式不对/);
  });
  it('reads name conflicts, missing things and common validation', () => {
    expect(zh('a tag named "高潜客户" already exists')).toBe('已有名为「高潜客户」的标签，请换一个名字');
    expect(zh('a tag group named "渠道" already exists')).toBe('已有名为「渠道」的标签组，请换一个名字');
    expect(zh('profile "prof_x" was not found in this workspace')).toBe('在当前工作区找不到客户档案「prof_x」');
    expect(zh('Too small: expected number to be >0')).toBe('必须大于 0');
    expect(zh('tag group "渠道" still holds 2 tag(s) ("门店", "小程序"); move them to another group (PUT /api/v1/tags/{id} with "groupId") or delete them first')).toBe('标签组「渠道」里还有 2 个标签（"门店", "小程序"）：先把它们移到别的组或删除');
    expect(zh('Invalid input: expected number, received null')).toBe('请填写数字');
    expect(zh('op "gte" needs a number or an ISO date (e.g. 100 or "2024-01-31"), got "x"')).toMatch(/^这个比较需要一个数字或日期/);
  });
  it('reads the layer settings problems core writes (packages/core/src/layers/lifecycle.ts, rfm.ts)', () => {
    expect(zh('silentMultiple (1) must be greater than activeMultiple (1.5)')).toBe('沉默倍数（silentMultiple = 1）必须大于活跃倍数（activeMultiple = 1.5）');
    expect(zh('maxIntervalDays (180) must be at least minIntervalDays (200)')).toBe('最长购买间隔（maxIntervalDays = 180）不能小于最短购买间隔（minIntervalDays = 200）');
    expect(zh('the 4 cut points must be strictly increasing')).toBe('4 个切点必须从小到大依次递增');
    expect(zh('cut points cannot be negative')).toBe('切点不能是负数');
  });
  it('leaves other messages, and other languages, as sent', () => {
    expect(zh('something new')).toBe('something new');
    expect(localizeServerMessage('a tag named "x" already exists', 'en-US')).toBe('a tag named "x" already exists');
  });
});
