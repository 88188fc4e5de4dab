import { describe, expect, it } from 'vitest';
import { parseLocalTime } from '../src/import/local-time.ts';

const iso = (text: string, timeZone = 'Asia/Shanghai', dateOrder: 'mdy' | 'dmy' = 'mdy') => {
  const r = parseLocalTime(text, { timeZone, dateOrder });
  return r.ok ? r.iso : r.error;
};

describe('parseLocalTime', () => {
  it.each([
    ['2010-12-01 08:26:00', 'Europe/London', '2010-12-01T08:26:00.000Z'],
    ['2011-06-15 14:30', 'Europe/London', '2011-06-15T13:30:00.000Z'],
    ['12/1/2010 8:26', 'Europe/London', '2010-12-01T08:26:00.000Z'],
    ['6/15/2011 2:30 PM', 'Europe/London', '2011-06-15T13:30:00.000Z'],
    ['2024-01-31', 'Asia/Shanghai', '2024-01-30T16:00:00.000Z'],
    ['2024/01/31 08:00', 'Asia/Shanghai', '2024-01-31T00:00:00.000Z'],
    ['2024年1月31日 8:00', 'Asia/Shanghai', '2024-01-31T00:00:00.000Z'],
    ['2024-01-31T08:00:00+08:00', 'Europe/London', '2024-01-31T00:00:00.000Z'],
    ['2024-01-31T08:00:00.250Z', 'Asia/Shanghai', '2024-01-31T08:00:00.250Z'],
    ['1706659200', 'Asia/Shanghai', '2024-01-31T00:00:00.000Z'],
    ['1706659200000', 'Asia/Shanghai', '2024-01-31T00:00:00.000Z'],
    // New York springs forward at 02:00 on 2024-03-10: 03:30 is already EDT (UTC−4).
    ['2024-03-10 03:30', 'America/New_York', '2024-03-10T07:30:00.000Z'],
    ['2024-03-09 03:30', 'America/New_York', '2024-03-09T08:30:00.000Z'],
  ])('%s in %s is %s', (text, zone, expected) => {
    expect(iso(text, zone)).toBe(expected);
  });

  it('reads day-first dates when told to', () => {
    expect(iso('31/12/2010 10:00', 'UTC', 'dmy')).toBe('2010-12-31T10:00:00.000Z');
    expect(iso('1/2/2024', 'UTC', 'dmy')).toBe('2024-02-01T00:00:00.000Z');
  });

  it('says what is wrong and how to fix it', () => {
    expect(iso('31/12/2010 10:00', 'UTC')).toContain('--date-order dmy');
    expect(iso('2024-02-30')).toContain('day 30 does not exist in 2024-02');
    expect(iso('2024-01-31 25:00')).toContain('does not exist');
    expect(iso('yesterday')).toMatch(/^"yesterday" is not a date; expected/);
  });
});
