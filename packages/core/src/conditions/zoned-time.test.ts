import { describe, expect, test } from 'vitest';
import { daysUntilAnniversary, isValidTimeZone, parseDateValue, startOfNextZonedDay, startOfZonedDay, zonedDate } from './zoned-time.ts';

describe('parseDateValue', () => {
  test.each([
    { input: '2024-06-01T00:00:00Z', zone: 'Asia/Shanghai', expected: '2024-06-01T00:00:00.000Z' },
    { input: '2024-06-01T08:00:00+08:00', zone: 'UTC', expected: '2024-06-01T00:00:00.000Z' },
    { input: '2024-06-01T08:00:00.123+0800', zone: 'UTC', expected: '2024-06-01T00:00:00.123Z' },
    { input: '2024-06-01T05:30:00-05', zone: 'UTC', expected: '2024-06-01T10:30:00.000Z' },
    { input: '2024-06-01', zone: 'Asia/Shanghai', expected: '2024-05-31T16:00:00.000Z' },
    { input: '2024-06-01', zone: 'UTC', expected: '2024-06-01T00:00:00.000Z' },
    { input: '2024-06-01 09:15', zone: 'Asia/Shanghai', expected: '2024-06-01T01:15:00.000Z' },
    { input: '2024-03-10T12:00:00', zone: 'America/New_York', expected: '2024-03-10T16:00:00.000Z' },
  ])('$input in $zone', ({ input, zone, expected }) => {
    expect(new Date(parseDateValue(input, zone)!.ms).toISOString()).toBe(expected);
  });

  test.each(['2024-02-30', '2023-02-29', '2024-13-01', 'yesterday', '1717200000', '2024-06-01T25:00:00Z', ''])('rejects %j', (input) => {
    expect(parseDateValue(input, 'UTC')).toBeNull();
  });

  test('keeps the calendar date of a date-only value', () => {
    expect(parseDateValue('2000-02-29', 'Asia/Shanghai')!.date).toEqual({ year: 2000, month: 2, day: 29 });
    expect(parseDateValue('2000-02-29T10:00:00Z', 'Asia/Shanghai')!.date).toBeNull();
  });
});

describe('zoned calendar', () => {
  test('the date of an instant depends on the zone', () => {
    const ms = Date.parse('2024-12-31T16:30:00Z');
    expect(zonedDate(ms, 'Asia/Shanghai')).toEqual({ year: 2025, month: 1, day: 1 });
    expect(zonedDate(ms, 'UTC')).toEqual({ year: 2024, month: 12, day: 31 });
  });

  test('start of day and of the next day', () => {
    expect(new Date(startOfZonedDay({ year: 2025, month: 1, day: 1 }, 'Asia/Shanghai')).toISOString()).toBe('2024-12-31T16:00:00.000Z');
    expect(new Date(startOfNextZonedDay(Date.parse('2024-12-31T15:59:59Z'), 'Asia/Shanghai')).toISOString()).toBe('2024-12-31T16:00:00.000Z');
    // America/Santiago skipped 2022-09-11 00:00 → 01:00: that day starts at 04:00Z.
    expect(new Date(startOfZonedDay({ year: 2022, month: 9, day: 11 }, 'America/Santiago')).toISOString()).toBe('2022-09-11T04:00:00.000Z');
  });

  test('anniversaries', () => {
    expect(daysUntilAnniversary({ year: 1990, month: 1, day: 2 }, { year: 2024, month: 12, day: 30 })).toBe(3);
    expect(daysUntilAnniversary({ year: 2000, month: 2, day: 29 }, { year: 2025, month: 2, day: 1 })).toBe(27);
    expect(daysUntilAnniversary({ year: 2000, month: 2, day: 29 }, { year: 2028, month: 2, day: 1 })).toBe(28);
    expect(daysUntilAnniversary({ year: 2024, month: 6, day: 15 }, { year: 2024, month: 6, day: 15 })).toBe(365);
  });

  test('time zone names', () => {
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
