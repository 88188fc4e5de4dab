import { describe, expect, it } from 'vitest';
import { normalizeEmail, normalizePhone, normalizePlainId } from './normalize.ts';

describe('normalizePhone', () => {
  it.each<[string | number, string]>([
    ['13800138000', 'plain 11-digit mobile'],
    ['138 0013 8000', 'spaced'],
    ['138-0013-8000', 'dashed'],
    ['+86 138-0013-8000', '+86 with separators'],
    ['+8613800138000', 'already E.164'],
    ['008613800138000', '0086 international prefix'],
    ['8613800138000', '86 prefix without plus (13 digits)'],
    ['  13800138000  ', 'surrounding whitespace'],
    [13800138000, 'a JSON number'],
  ])('%j (%s) → +8613800138000', (raw) => {
    expect(normalizePhone(raw)).toEqual({ ok: true, value: '+8613800138000' });
  });

  it('keeps numbers of other countries in their own country code', () => {
    expect(normalizePhone('+1 415 555 2671')).toEqual({ ok: true, value: '+14155552671' });
  });

  it.each([['12'], ['abc'], ['1380013800'], [''], ['+86 138 0013']])('rejects %j with a message naming the value', (raw) => {
    const r = normalizePhone(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toContain(`"${raw}"`);
      expect(r.error).toMatch(/11 digits/);
    }
  });

  it.each([[null], [undefined], [{}], [true]])('rejects a non-string, non-number %j and says what it got', (raw) => {
    const r = normalizePhone(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/phone must be a string/);
  });
});

describe('normalizeEmail', () => {
  it.each([
    ['li.lei@example.com', 'li.lei@example.com'],
    ['  Li.Lei@Example.COM ', 'li.lei@example.com'],
    ['HAN.MEIMEI@QQ.COM', 'han.meimei@qq.com'],
    ['a+tag@sub.example.cn', 'a+tag@sub.example.cn'],
  ])('%j → %j', (raw, expected) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, value: expected });
  });

  it.each([['no-at'], ['a@b'], ['a b@example.com'], ['@example.com'], [''], [`${'x'.repeat(250)}@example.com`]])(
    'rejects %j with a message naming the value',
    (raw) => {
      const r = normalizeEmail(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain(`"${raw}"`);
    },
  );

  it('rejects a non-string', () => {
    expect(normalizeEmail(42)).toEqual({ ok: false, error: 'email must be a string, got number' });
  });
});

describe('normalizePlainId', () => {
  it.each([
    ['u1', 'u1'],
    ['  u1 ', 'u1'],
    [12345, '12345'],
  ])('%j → %j', (raw, expected) => {
    expect(normalizePlainId(raw, 'userId')).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['   ', 'userId must not be empty'],
    [null, 'userId must be a string or number, got null'],
    [{}, 'userId must be a string or number, got object'],
    ['x'.repeat(256), 'userId is 256 characters long; the limit is 255'],
  ])('rejects %j: %s', (raw, message) => {
    expect(normalizePlainId(raw, 'userId')).toEqual({ ok: false, error: message });
  });
});
