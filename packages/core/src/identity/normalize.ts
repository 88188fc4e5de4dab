import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Result } from '../errors.ts';

/**
 * Phone to E.164. Numbers without a country code are read as `defaultCountry` (CN: +86).
 * Accepts common Chinese formats: `138 0013 8000`, `138-0013-8000`, `+86 13800138000`, `0086…`, `86…` (13 digits).
 */
export function normalizePhone(raw: unknown, defaultCountry: CountryCode = 'CN'): Result<string, string> {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    return { ok: false, error: `phone must be a string such as "13800138000" or "+8613800138000", got ${typeof raw}` };
  }
  let text = String(raw).trim();
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  const digits = text.replace(/[\s\-().]/g, '');
  if (defaultCountry === 'CN' && /^86\d{11}$/.test(digits)) text = `+${digits}`;
  const parsed = parsePhoneNumberFromString(text, defaultCountry);
  if (!parsed || !parsed.isValid()) {
    return {
      ok: false,
      error: `phone "${String(raw)}" is not a valid phone number (expected 11 digits such as 13800138000, or +country code)`,
    };
  }
  return { ok: true, value: parsed.number };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Email trimmed and lower-cased; rejects strings that cannot be an address. */
export function normalizeEmail(raw: unknown): Result<string, string> {
  if (typeof raw !== 'string') return { ok: false, error: `email must be a string, got ${typeof raw}` };
  const value = raw.trim().toLowerCase();
  if (!EMAIL.test(value) || value.length > 254) {
    return { ok: false, error: `email "${raw}" is not a valid address (expected name@domain.tld)` };
  }
  return { ok: true, value };
}

/** Plain ids (user_id, unionid…): strings or integers, trimmed, 1–255 characters. */
export function normalizePlainId(raw: unknown, field: string): Result<string, string> {
  if (typeof raw === 'number' && Number.isFinite(raw)) raw = String(raw);
  if (typeof raw !== 'string') return { ok: false, error: `${field} must be a string or number, got ${raw === null ? 'null' : typeof raw}` };
  const value = raw.trim();
  if (value.length === 0) return { ok: false, error: `${field} must not be empty` };
  if (value.length > 255) return { ok: false, error: `${field} is ${value.length} characters long; the limit is 255` };
  return { ok: true, value };
}
