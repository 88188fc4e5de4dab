/** Display helpers: times in the workspace time zone, money in fen, masking of personal data. */
import { hasMessage, type Translate } from './i18n';
import type { DayCount, Identifier, Traits } from './api';

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

function dateTimeFormat(timeZone: string): Intl.DateTimeFormat {
  let fmt = dateTimeFormats.get(timeZone);
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      // an unknown zone name from the server must not break every page
      fmt = dateTimeFormat(DEFAULT_TIME_ZONE);
    }
    dateTimeFormats.set(timeZone, fmt);
  }
  return fmt;
}

/** `2024-05-01T02:03:00Z` in Asia/Shanghai → `2024-05-01 10:03`; null/invalid → `—`. */
export function formatDateTime(iso: string | null | undefined, timeZone: string = DEFAULT_TIME_ZONE): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts: Record<string, string> = {};
  for (const part of dateTimeFormat(timeZone).formatToParts(date)) parts[part.type] = part.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return integerFormat.format(n);
}

/** Integer fen → `¥1,234.50`. Non-integer input (an average) is rounded to the nearest fen first. */
export function formatMoney(fen: number | null | undefined): string {
  if (fen === null || fen === undefined || !Number.isFinite(fen)) return '—';
  const rounded = Math.round(fen);
  const abs = Math.abs(rounded);
  const yuan = Math.floor(abs / 100);
  const cents = String(abs % 100).padStart(2, '0');
  return `${rounded < 0 ? '-' : ''}¥${integerFormat.format(yuan)}.${cents}`;
}

/** E.164 Chinese mobiles are shown the way people write them: `+8613800138000` → `13800138000`. */
export function displayPhone(value: string): string {
  const cn = /^\+86(1\d{10})$/.exec(value);
  return cn?.[1] ?? value;
}

/** `13800138000` → `138****8000`; keeps the first 3 and last 4 digits of any longer number. */
export function maskPhone(value: string): string {
  const shown = displayPhone(value);
  if (shown.length < 8) return `${shown.slice(0, 1)}****`;
  return `${shown.slice(0, 3)}****${shown.slice(-4)}`;
}

/** `zhangsan@example.com` → `z***@example.com`. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at <= 0) return `${value.slice(0, 1)}***`;
  return `${value.slice(0, 1)}***${value.slice(at)}`;
}

const PHONE_KEYS = new Set(['phone', 'mobile', 'phone_number', 'phoneNumber', 'tel']);
const EMAIL_KEYS = new Set(['email', 'mail']);

/** Shows an identifier (or a trait that holds one), masked unless `reveal`. */
export function displayIdentifier(type: string, value: string, reveal: boolean): string {
  if (PHONE_KEYS.has(type)) return reveal ? displayPhone(value) : maskPhone(value);
  if (EMAIL_KEYS.has(type)) return reveal ? value : maskEmail(value);
  return value;
}

export function isSensitiveKey(key: string): boolean {
  return PHONE_KEYS.has(key) || EMAIL_KEYS.has(key);
}

/** Human label of an identifier type; `wechat_openid` values carry their app id, custom types show their code. */
export function identifierTypeLabel(type: string, t: Translate): string {
  const key = `idType.${type}`;
  return hasMessage(key) ? t(key) : type;
}

const NAME_TRAITS = ['name', 'nickname', 'nickName', 'nick_name', 'real_name', 'username', 'userName'] as const;

/** The name to show for a person: name/nickname traits, else first + last name, else null. */
export function profileName(traits: Traits): string | null {
  for (const key of NAME_TRAITS) {
    const value = traits[key];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  const first = traits.firstName ?? traits.first_name;
  const last = traits.lastName ?? traits.last_name;
  const parts = [last, first].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  // Chinese order: family name first, no space.
  if (parts.length) return parts.every((p) => /^[\u4e00-\u9fff]+$/.test(p)) ? parts.join('') : parts.reverse().join(' ');
  return null;
}

export function firstIdentity(identities: readonly Identifier[], type: string): { value: string; more: number } | null {
  const matches = identities.filter((i) => i.type === type);
  const first = matches[0];
  return first ? { value: first.value, more: matches.length - 1 } : null;
}

/**
 * Label of a first-touch trait: the ones Siyu records itself (`first_source_channel`, its `…_at` time,
 * `first_seen`, first UTM source / campaign, referrer) in the operator's language; `$set_once` traits the
 * sender named keep their name.
 */
export function firstTouchLabel(key: string, t: Translate): string {
  const own = `firstTouch.${key}`;
  if (hasMessage(own)) return t(own);
  const base = key.endsWith('_at') ? `firstTouch.${key.slice(0, -3)}` : null;
  if (base && hasMessage(base)) return t('firstTouch.setAt', { label: t(base) });
  return key;
}

/** A source channel as sent (`mini_program`, `wechat_oa`, `store`…) named for people; unknown ones as sent. */
export function channelLabel(channel: string, t: Translate): string {
  const key = `channel.${channel}`;
  return hasMessage(key) ? t(key) : channel;
}

/** Compact rendering of a trait/property value for tables. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Short form of a sortable id for tight spaces: `prof_01J9ZK…X4`. */
export function shortId(id: string): string {
  return id.length > 18 ? `${id.slice(0, 12)}…${id.slice(-4)}` : id;
}

/** Adds zero days between the first and last day the server reported, so gaps read as "no events". */
export function fillMissingDays(days: readonly DayCount[]): DayCount[] {
  if (days.length === 0) return [];
  const byDay = new Map(days.map((d) => [d.day, d.count]));
  const sorted = [...byDay.keys()].sort();
  const start = new Date(`${sorted[0]}T00:00:00Z`);
  const end = new Date(`${sorted[sorted.length - 1]}T00:00:00Z`);
  const out: DayCount[] = [];
  for (let d = start; d <= end && out.length < 400; d = new Date(d.getTime() + 86_400_000)) {
    const day = d.toISOString().slice(0, 10);
    out.push({ day, count: byDay.get(day) ?? 0 });
  }
  return out;
}

/**
 * A merge's reason in the operator's language, identifiers masked unless revealed. The server writes
 * `shared phone +86…` or `one message carried user_id u1 and anonymous_id a1, held by the two profiles`;
 * anything else (older or future wordings) is shown as written, phone numbers and emails in it masked.
 */
export function mergeReasonText(reason: string, reveal: boolean, t: Translate): string {
  const id = (type: string, value: string) => `${identifierTypeLabel(type, t)} ${displayIdentifier(type, value, reveal)}`;
  const both = /^one message carried (\S+) (.+?) and (\S+) (.+), held by the two profiles$/.exec(reason);
  if (both) return t('profile.mergeReasonBoth', { a: id(both[1]!, both[2]!), b: id(both[3]!, both[4]!) });
  const shared = /^shared (\S+) (.+)$/.exec(reason);
  if (shared) return t('profile.mergeReasonShared', { id: id(shared[1]!, shared[2]!) });
  if (reveal) return reason;
  return reason.replace(/\+?\d[\d -]{7,}\d/g, (m) => maskPhone(m.replace(/[ -]/g, ''))).replace(/[^\s,;:()]+@[^\s,;:()]+/g, (m) => maskEmail(m));
}

/** Who made a change, for operators: Siyu's identity resolution, a rule, an admin token, or as written. */
export function actorLabel(actor: string | null | undefined, t: Translate): string {
  if (!actor) return '—';
  if (actor === 'identity-resolution') return t('actor.identityResolution');
  if (actor === 'rule') return t('actor.rule');
  if (actor.startsWith('admin:')) return t('actor.admin');
  return actor;
}

/**
 * A refused link's reason in the operator's language, identifiers masked unless revealed. The server writes
 * `not merged: device_id ipad links to a profile with user_id u1, and a person holds at most 1 user_id` or
 * `limit: a profile holds at most 1 member_no; profile already has M1`; anything else goes as merge reasons do.
 */
export function conflictReasonText(reason: string, reveal: boolean, t: Translate): string {
  const id = (type: string, value: string) => `${identifierTypeLabel(type, t)} ${displayIdentifier(type, value, reveal)}`;
  const notMerged = /^not merged: (\S+) (.+?) links to a profile with (\S+) (.+?), and a person holds at most (\d+) (\S+)$/.exec(reason);
  if (notMerged) return t('conflicts.reasonNotMerged', { a: id(notMerged[1]!, notMerged[2]!), b: id(notMerged[3]!, notMerged[4]!), n: notMerged[5]!, type: identifierTypeLabel(notMerged[6]!, t) });
  const limit = /^limit: a profile holds at most (\d+) (\S+); profile already has (.+)$/.exec(reason);
  if (limit) {
    const held = limit[3]!.split(', ').map((v) => displayIdentifier(limit[2]!, v, reveal)).join('、');
    return t('conflicts.reasonLimit', { n: limit[1]!, type: identifierTypeLabel(limit[2]!, t), held });
  }
  return mergeReasonText(reason, reveal, t);
}
