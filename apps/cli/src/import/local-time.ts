/**
 * Dates as spreadsheets and POS exports write them: ISO-8601 with or without a zone, `2010-12-01 08:26:00`,
 * `12/1/2010 8:26` (US order unless told otherwise), `2024/01/31`, `2024年1月31日 8:00`, epoch seconds or ms.
 * Times without a zone are local times in `timeZone`.
 */

export type DateOrder = 'mdy' | 'dmy';

export interface TimeParseOptions {
  timeZone: string;
  /** How to read `1/2/2024`: January 2 (`mdy`, the default) or 1 February (`dmy`). */
  dateOrder?: DateOrder;
}

export type TimeParseResult = { ok: true; iso: string } | { ok: false; error: string };

const YMD = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const SLASHED = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?)?$/i;
const CHINESE = /^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[:：时](\d{2})(?:[:：分](\d{2})秒?)?)?$/;
const EPOCH = /^\d{10}(?:\.\d+)?$|^\d{13}$/;

export function parseLocalTime(raw: string, opts: TimeParseOptions): TimeParseResult {
  const text = raw.trim();
  const fail = (why = ''): TimeParseResult => notADate(raw, why);
  if (!text) return fail();
  if (EPOCH.test(text)) {
    const ms = text.length === 13 ? Number(text) : Math.round(Number(text) * 1000);
    return { ok: true, iso: new Date(ms).toISOString() };
  }
  let m = YMD.exec(text);
  if (m) {
    const fraction = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
    return build(
      { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: m[4] ? +m[4] : 0, minute: m[5] ? +m[5] : 0, second: m[6] ? +m[6] : 0, ms: Math.floor(fraction) },
      m[8] ?? null,
      opts.timeZone,
      fail,
    );
  }
  m = SLASHED.exec(text);
  if (m) {
    const [a, b] = [+m[1]!, +m[2]!];
    const order = opts.dateOrder ?? 'mdy';
    const month = order === 'mdy' ? a : b;
    const day = order === 'mdy' ? b : a;
    let year = +m[3]!;
    if (m[3]!.length === 2) year += year < 70 ? 2000 : 1900;
    let hour = m[4] ? +m[4] : 0;
    const ampm = m[7]?.toUpperCase();
    if (ampm) {
      if (hour < 1 || hour > 12) return fail(`hour ${hour} with ${ampm}`);
      hour = (hour % 12) + (ampm === 'PM' ? 12 : 0);
    }
    if (month > 12 && day <= 12) return fail(`month ${month} does not exist; if the day comes first, pass --date-order ${order === 'mdy' ? 'dmy' : 'mdy'}`);
    return build({ year, month, day, hour, minute: m[5] ? +m[5] : 0, second: m[6] ? +m[6] : 0, ms: 0 }, null, opts.timeZone, fail);
  }
  m = CHINESE.exec(text);
  if (m) {
    return build({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: m[4] ? +m[4] : 0, minute: m[5] ? +m[5] : 0, second: m[6] ? +m[6] : 0, ms: 0 }, null, opts.timeZone, fail);
  }
  return fail();
}

function notADate(raw: string, why: string): TimeParseResult {
  return {
    ok: false,
    error: `"${raw}" is not a date${why ? ` (${why})` : ''}; expected e.g. 2024-01-31 08:00, 1/31/2024 8:00 or ISO-8601 with a zone such as 2024-01-31T08:00:00+08:00`,
  };
}

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

function build(c: Civil, zone: string | null, timeZone: string, fail: (why?: string) => TimeParseResult): TimeParseResult {
  if (c.month < 1 || c.month > 12) return fail(`month ${c.month} does not exist`);
  const dim = new Date(Date.UTC(c.year, c.month, 0)).getUTCDate();
  if (c.day < 1 || c.day > dim) return fail(`day ${c.day} does not exist in ${c.year}-${String(c.month).padStart(2, '0')}`);
  if (c.hour > 23 || c.minute > 59 || c.second > 60) return fail(`time ${c.hour}:${c.minute}:${c.second} does not exist`);
  const wall = Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, Math.min(c.second, 59), c.ms);
  if (zone) {
    if (zone.toUpperCase() === 'Z') return { ok: true, iso: new Date(wall).toISOString() };
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0));
    return { ok: true, iso: new Date(wall - offsetMin * 60_000).toISOString() };
  }
  return { ok: true, iso: new Date(zonedWallToUtc(wall, timeZone)).toISOString() };
}

/** `wall` is a wall-clock time in `timeZone` written as if it were UTC; returns the real instant. */
export function zonedWallToUtc(wall: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return wall;
  // Two passes settle the offset around DST changes; a wall time that does not exist (spring forward) moves forward.
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  return second;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();

/** Offset of `timeZone` from UTC at instant `ms`, cached per zone and hour (an import reads many rows of one zone). */
function offsetAt(ms: number, timeZone: string): number {
  const hourKey = `${timeZone}|${Math.floor(ms / 3_600_000)}`;
  const hit = offsets.get(hourKey);
  if (hit !== undefined) return hit;
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  const offset = asUtc - Math.floor(ms / 1000) * 1000;
  if (offsets.size > 50_000) offsets.clear();
  offsets.set(hourKey, offset);
  return offset;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
