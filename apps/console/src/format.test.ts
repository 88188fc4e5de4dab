import { describe, expect, it } from 'vitest';
import {
  actorLabel,
  conflictReasonText,
  displayIdentifier,
  fillMissingDays,
  formatDateTime,
  formatMoney,
  maskEmail,
  maskPhone,
  mergeReasonText,
  profileName,
} from './format';
import { translate, type Translate } from './i18n';

describe('formatDateTime', () => {
  it('shows UTC instants in the workspace time zone as YYYY-MM-DD HH:mm', () => {
    expect(formatDateTime('2024-05-01T16:30:00Z', 'Asia/Shanghai')).toBe('2024-05-02 00:30');
    expect(formatDateTime('2024-05-01T16:30:00Z', 'UTC')).toBe('2024-05-01 16:30');
  });

  it('shows a dash for missing times and falls back to Shanghai for an unknown zone', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDateTime('2024-05-01T00:00:00Z', 'Mars/Olympus')).toBe('2024-05-01 08:00');
  });
});

describe('formatMoney', () => {
  it('shows integer fen as yuan with two decimals and grouping', () => {
    expect(formatMoney(0)).toBe('¥0.00');
    expect(formatMoney(12950)).toBe('¥129.50');
    expect(formatMoney(123456789)).toBe('¥1,234,567.89');
    expect(formatMoney(-505)).toBe('-¥5.05');
  });

  it('rounds averages to the nearest fen', () => {
    expect(formatMoney(3333.5)).toBe('¥33.34');
    expect(formatMoney(null)).toBe('—');
  });
});

describe('masking', () => {
  it('masks Chinese mobiles like 138****8000, with or without +86', () => {
    expect(maskPhone('13800138000')).toBe('138****8000');
    expect(maskPhone('+8613800138000')).toBe('138****8000');
    expect(displayIdentifier('phone', '+8613800138000', true)).toBe('13800138000');
  });

  it('masks the local part of emails and leaves other identifiers alone', () => {
    expect(maskEmail('zhangsan@example.com')).toBe('z***@example.com');
    expect(displayIdentifier('email', 'zhangsan@example.com', false)).toBe('z***@example.com');
    expect(displayIdentifier('user_id', 'u-42', false)).toBe('u-42');
  });
});

describe('profileName', () => {
  it('prefers name, then nickname, then family + given name', () => {
    expect(profileName({ name: '张伟', nickname: '阿伟' })).toBe('张伟');
    expect(profileName({ nickname: '小美' })).toBe('小美');
    expect(profileName({ firstName: '伟', lastName: '张' })).toBe('张伟');
    expect(profileName({ firstName: 'Wei', lastName: 'Zhang' })).toBe('Wei Zhang');
    expect(profileName({ city: '上海' })).toBeNull();
  });
});

describe('fillMissingDays', () => {
  it('adds zero-count days between reported days', () => {
    expect(
      fillMissingDays([
        { day: '2024-02-28', count: 3 },
        { day: '2024-03-01', count: 5 },
      ]),
    ).toEqual([
      { day: '2024-02-28', count: 3 },
      { day: '2024-02-29', count: 0 },
      { day: '2024-03-01', count: 5 },
    ]);
  });
});

describe('merge reasons and actors, for operators', () => {
  const zh: Translate = (key, vars) => translate('zh-CN', key, vars);
  it('a merge reason reads in Chinese with its identifiers masked unless revealed', () => {
    const both = 'one message carried phone +8613350356537 and wechat_openid wx1:oAbc, held by the two profiles';
    expect(mergeReasonText(both, false, zh)).not.toContain('13350356537');
    expect(mergeReasonText(both, false, zh)).toContain('6537');
    expect(mergeReasonText(both, false, zh)).toMatch(/^同一条消息同时带有/);
    expect(mergeReasonText(both, true, zh)).toContain('13350356537');
    expect(mergeReasonText('shared email li.lei@example.com', false, zh)).toMatch(/^共用 /);
    expect(mergeReasonText('shared email li.lei@example.com', false, zh)).not.toContain('li.lei@example.com');
    // Another wording: shown as written, phones and emails in it masked.
    expect(mergeReasonText('manual: +8613800138000 and a@b.cn', false, zh)).not.toMatch(/13800138000|a@b\.cn/);
  });
  it('actors have labels', () => {
    expect([actorLabel('identity-resolution', zh), actorLabel('rule', zh), actorLabel('admin:ws_1', zh), actorLabel('staff:wang', zh), actorLabel(null, zh)]).toEqual(['自动识别', '规则', '管理员', 'staff:wang', '—']);
  });
});

describe('conflict reasons, for operators', () => {
  const zh: Translate = (key, vars) => translate('zh-CN', key, vars);
  it('read in Chinese, identifiers masked unless revealed', () => {
    const notMerged = conflictReasonText('not merged: phone +8613800138000 links to a profile with user_id u1, and a person holds at most 1 user_id', false, zh);
    expect(notMerged).toMatch(/^未合并：/);
    expect(notMerged).not.toContain('13800138000');
    expect(conflictReasonText('limit: a profile holds at most 1 member_no; profile already has M1', false, zh)).toMatch(/^未添加：每人最多 1 个.*M1$/);
  });
});
