import { AppError, extractIdentifiers, type Identifier, type IdentityRules, type NormalizedMessage, type Problem } from '@siyu/core';

/** Most identifiers one bulk request may carry. */
export const MAX_BULK_IDENTIFIERS = 100_000;

/** An identifier that matched no profile or could not be read, echoed back to the caller. */
export interface UnmatchedIdentifier {
  type: string;
  value: string;
  reason: 'not_found' | 'invalid';
  message?: string;
}

/**
 * Reads a bulk identifier list: `{ identifiers: [{ type, value }] }` or `{ type, values: [...] }`.
 * Throws INVALID_INPUT with every problem.
 */
export function parseIdentifierList(body: unknown): Identifier[] {
  const problems: Problem[] = [];
  const out: Identifier[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('INVALID_INPUT', 'send { "identifiers": [{ "type": "phone", "value": "13800138000" }] }, { "type": "phone", "values": [...] } or a CSV body (Content-Type: text/csv)');
  }
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.identifiers)) {
    b.identifiers.forEach((x, i) => {
      const item = x as Record<string, unknown> | null;
      if (item === null || typeof item !== 'object' || typeof item.type !== 'string' || !item.type || (typeof item.value !== 'string' && typeof item.value !== 'number')) {
        problems.push({ path: `identifiers[${i}]`, message: 'expected { "type": identifier type, "value": string }' });
      } else out.push({ type: item.type, value: String(item.value) });
    });
  } else if (typeof b.type === 'string' && Array.isArray(b.values)) {
    const type = b.type;
    b.values.forEach((v, i) => {
      if (typeof v !== 'string' && typeof v !== 'number') problems.push({ path: `values[${i}]`, message: 'expected a string' });
      else out.push({ type, value: String(v) });
    });
  } else {
    problems.push({ path: 'identifiers', message: 'give "identifiers": [{ "type", "value" }], or "type" with "values": [...]' });
  }
  if (out.length > MAX_BULK_IDENTIFIERS) problems.push({ path: 'identifiers', message: `at most ${MAX_BULK_IDENTIFIERS} identifiers per request, got ${out.length}; split the list` });
  if (problems.length) throw new AppError('INVALID_INPUT', `the identifier list is not valid: ${problems[0]!.path}: ${problems[0]!.message}`, { problems });
  return out;
}

/** Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

/**
 * Reads identifiers from CSV: a header `type,value` (one identifier per row), or a column named
 * after an identifier type of the workspace (`phone`, `email`, `user_id`…), whose values are read.
 */
/**
 * Column names spreadsheets exported in China use for identifiers (and common English spellings), by the type
 * they hold: a list headed 手机号 or 会员卡号 is read without renaming the column first.
 */
const HEADER_ALIASES: Record<string, string> = {
  手机号: 'phone',
  手机号码: 'phone',
  手机: 'phone',
  电话: 'phone',
  联系电话: 'phone',
  mobile: 'phone',
  邮箱: 'email',
  电子邮箱: 'email',
  邮件: 'email',
  会员号: 'member_no',
  会员编号: 'member_no',
  会员卡号: 'member_no',
  用户id: 'user_id',
  用户编号: 'user_id',
  userid: 'user_id',
  unionid: 'wechat_unionid',
  openid: 'wechat_openid',
  外部联系人id: 'wecom_external_userid',
  external_userid: 'wecom_external_userid',
  设备id: 'device_id',
};

export function parseIdentifierCsv(text: string, rules: IdentityRules): Identifier[] {
  const rows = parseCsv(text);
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  if (!header) throw new AppError('INVALID_INPUT', 'the CSV is empty; send a header row (type,value or an identifier type such as phone) and one identifier per row');
  const out: Identifier[] = [];
  const typeCol = header.indexOf('type');
  const valueCol = header.indexOf('value');
  if (typeCol >= 0 && valueCol >= 0) {
    for (const r of rows.slice(1)) {
      const type = r[typeCol]?.trim() ?? '';
      const value = r[valueCol]?.trim() ?? '';
      if (type && value) out.push({ type, value });
    }
  } else {
    const typeOf = (h: string) => (rules.has(h) ? h : HEADER_ALIASES[h.replace(/\s+/g, '')]);
    const col = header.findIndex((h) => { const t = typeOf(h); return t !== undefined && rules.has(t); });
    if (col < 0) {
      throw new AppError('INVALID_INPUT', `the CSV header must be "type,value" or name an identifier type (one of ${[...rules.keys()].join(', ')}); got "${rows[0]!.join(',')}"`, {
        problems: [{ path: 'csv[0]', message: 'unknown header' }],
      });
    }
    const type = typeOf(header[col]!)!;
    for (const r of rows.slice(1)) {
      const value = r[col]?.trim() ?? '';
      if (value) out.push({ type, value });
    }
  }
  if (out.length > MAX_BULK_IDENTIFIERS) throw new AppError('INVALID_INPUT', `at most ${MAX_BULK_IDENTIFIERS} identifiers per request, got ${out.length}; split the file`);
  return out;
}

/**
 * Normalises an identifier the way ingestion does (phones to E.164, emails lower-cased…), or
 * explains why it cannot be read.
 */
export function normalizeIdentifier(id: Identifier, rules: IdentityRules): { ok: true; value: Identifier } | { ok: false; message: string } {
  if (!rules.has(id.type)) return { ok: false, message: `"${id.type}" is not an identifier type of this workspace (known: ${[...rules.keys()].join(', ')})` };
  if (id.type === 'user_id' || id.type === 'anonymous_id') {
    const value = id.value.trim();
    return value ? { ok: true, value: { type: id.type, value } } : { ok: false, message: 'empty value' };
  }
  const probe: NormalizedMessage = {
    messageId: 'lookup',
    type: 'identify',
    userId: null,
    anonymousId: null,
    previousId: null,
    groupId: null,
    event: null,
    traits: { [id.type]: id.value },
    properties: {},
    context: {},
    externalIds: [],
    timestamp: '',
    originalTimestamp: null,
    sentAt: null,
    receivedAt: '',
  };
  const res = extractIdentifiers(probe, rules);
  const found = res.identifiers.find((i) => i.type === id.type);
  if (res.problems.length || !found) return { ok: false, message: res.problems[0]?.message.replace(/^traits\./, '') ?? `"${id.value}" is not a valid ${id.type}` };
  return { ok: true, value: found };
}
