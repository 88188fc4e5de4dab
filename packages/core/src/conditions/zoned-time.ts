/**
 * Calendar math in a workspace time zone with nothing but `Intl.DateTimeFormat` (no clock, no I/O).
 * Instants are epoch milliseconds; calendar dates are `CivilDate`s (month 1–12).
 */

export const DAY_MS = 86_400_000;
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

interface ZonedParts extends CivilDate {
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows (`Asia/Shanghai`, `UTC`). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

function zonedParts(ms: number, timeZone: string): ZonedParts {
  const out: ZonedParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of formatterFor(timeZone).formatToParts(new Date(ms))) {
    if (p.type === 'year' || p.type === 'month' || p.type === 'day' || p.type === 'hour' || p.type === 'minute' || p.type === 'second') {
      out[p.type] = Number(p.value);
    }
  }
  return out;
}

/** Offset of `timeZone` from UTC at instant `ms`, in milliseconds (Asia/Shanghai → +8h). */
function offsetAt(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const whole = Math.floor(ms / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/** The calendar date of instant `ms` in `timeZone`. */
export function zonedDate(ms: number, timeZone: string): CivilDate {
  const p = zonedParts(ms, timeZone);
  return { year: p.year, month: p.month, day: p.day };
}

/** Days since 1970-01-01 of a calendar date (for differences between dates). */
export function dayNumber(d: CivilDate): number {
  return Math.round(Date.UTC(d.year, d.month - 1, d.day) / DAY_MS);
}

export function addDays(d: CivilDate, days: number): CivilDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function compareCivil(a: CivilDate, b: CivilDate): number {
  return dayNumber(a) - dayNumber(b);
}

/**
 * The instant a wall-clock time in `timeZone` denotes. For a time skipped by a DST jump the later
 * offset is used (the same instant Temporal's "compatible" choice gives for most zones).
 */
export function zonedWallTimeToInstant(d: CivilDate, timeOfDayMs: number, timeZone: string): number {
  const wall = Date.UTC(d.year, d.month - 1, d.day) + timeOfDayMs;
  const firstGuess = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(firstGuess, timeZone);
}

/** The first instant of calendar date `d` in `timeZone` (local midnight, or the end of a DST gap). */
export function startOfZonedDay(d: CivilDate, timeZone: string): number {
  const guess = zonedWallTimeToInstant(d, 0, timeZone);
  const p = zonedParts(guess, timeZone);
  if (p.year === d.year && p.month === d.month && p.day === d.day && p.hour === 0 && p.minute === 0 && p.second === 0) {
    return guess;
  }
  // Midnight does not exist that day (DST gap at 00:00): find the first second whose local date is d.
  const utcMidnight = Date.UTC(d.year, d.month - 1, d.day);
  let lo = Math.floor((utcMidnight - 15 * 3_600_000) / 1000);
  let hi = Math.ceil((utcMidnight + 15 * 3_600_000) / 1000);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (compareCivil(zonedDate(mid * 1000, timeZone), d) >= 0) hi = mid;
    else lo = mid + 1;
  }
  return lo * 1000;
}

/** The first instant of the calendar day after the one containing `ms` in `timeZone`. */
export function startOfNextZonedDay(ms: number, timeZone: string): number {
  return startOfZonedDay(addDays(zonedDate(ms, timeZone), 1), timeZone);
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A parsed date value: its instant and, for date-only values ("1990-02-28"), the calendar date as written. */
export interface DateValue {
  ms: number;
  date: CivilDate | null;
}

function validCivil(year: number, month: number, day: number): CivilDate | null {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/**
 * Parses a date value strictly (no `Date.parse` heuristics):
 * - `YYYY-MM-DD` → that calendar date, starting at local midnight in `timeZone`;
 * - `YYYY-MM-DDTHH:mm[:ss[.fff]]` with `Z` or `±HH:mm` → that instant;
 * - the same without an offset → wall-clock time in `timeZone`;
 * - a valid `Date` object → its instant.
 * Anything else → null.
 */
export function parseDateValue(value: unknown, timeZone: string): DateValue | null {
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? null : { ms, date: null };
  }
  if (typeof value !== 'string') return null;
  const s = value.trim();
  const dateOnly = DATE_ONLY.exec(s);
  if (dateOnly) {
    const date = validCivil(Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3]));
    return date ? { ms: startOfZonedDay(date, timeZone), date } : null;
  }
  const m = DATE_TIME.exec(s);
  if (!m) return null;
  const date = validCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (!date || hour > 23 || minute > 59 || second > 59) return null;
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  const timeOfDay = ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  const zone = m[8];
  if (zone === undefined) return { ms: zonedWallTimeToInstant(date, timeOfDay, timeZone), date: null };
  if (zone.toUpperCase() === 'Z') return { ms: Date.UTC(date.year, date.month - 1, date.day) + timeOfDay, date: null };
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offH = Number(digits.slice(0, 2));
  const offM = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (offH > 23 || offM > 59) return null;
  return { ms: Date.UTC(date.year, date.month - 1, date.day) + timeOfDay - sign * (offH * 60 + offM) * 60_000, date: null };
}

/** True for a string {@link parseDateValue} accepts. */
export function isIsoDateString(value: unknown): value is string {
  return typeof value === 'string' && parseDateValue(value, 'UTC') !== null;
}

/**
 * The calendar date of this year's (or a later year's) anniversary of `month`-`day`.
 * Feb 29 falls on Feb 28 in common years.
 */
export function anniversaryIn(year: number, month: number, day: number): CivilDate {
  if (month === 2 && day === 29 && !isLeapYear(year)) return { year, month: 2, day: 28 };
  return { year, month, day };
}

/**
 * Whole days from `today` to the next anniversary (on or after today) of a date first seen in
 * `originYear`; the origin date itself is not an anniversary, so the first one is in `originYear + 1`.
 */
export function daysUntilAnniversary(origin: CivilDate, today: CivilDate): number {
  for (let year = Math.max(today.year, origin.year + 1); ; year++) {
    const diff = dayNumber(anniversaryIn(year, origin.month, origin.day)) - dayNumber(today);
    if (diff >= 0) return diff;
  }
}
