import type { Problem } from '../errors.ts';
import type { NormalizedMessage } from '../messages/message.ts';
import { normalizeEmail, normalizePhone, normalizePlainId } from './normalize.ts';
import type { IdentityRules } from './rules.ts';

/** One identifier of a person, normalised: `{ type: 'phone', value: '+8613800138000' }`. */
export interface Identifier {
  type: string;
  value: string;
}

/** Trait keys read as identifiers, besides a trait named exactly like an identifier type. */
const TRAIT_ALIASES: Record<string, string> = {
  mobile: 'phone',
  phone_number: 'phone',
  phoneNumber: 'phone',
  memberNo: 'member_no',
  member_id: 'member_no',
  unionid: 'wechat_unionid',
  unionId: 'wechat_unionid',
  openid: 'wechat_openid',
  openId: 'wechat_openid',
  external_userid: 'wecom_external_userid',
  externalUserId: 'wecom_external_userid',
  deviceId: 'device_id',
};

const OPENID_APP_KEYS = ['wechat_appid', 'wechatAppId', 'appid', 'appId'] as const;

export function identifierKey(type: string, value: string): string {
  return `${type}\u0000${value}`;
}

/**
 * Every identifier a message carries: userId, anonymousId, alias previousId, `context.device.id`,
 * traits (phone, email, member_no, unionid, openid…) and `context.externalIds`. Phones become E.164
 * (`defaultCountry`, CN by default), emails lower-case, WeChat openids are scoped by app id
 * (`wx123:oAbc…`). Invalid values and unknown external id types are returned as problems.
 */
export function extractIdentifiers(
  msg: NormalizedMessage,
  rules: IdentityRules,
  path = '',
): { identifiers: Identifier[]; problems: Problem[] } {
  const out = new Map<string, Identifier>();
  const problems: Problem[] = [];
  const at = (field: string) => (path ? `${path}.${field}` : field);
  const appIdFromTraits = pickAppId(msg.traits) ?? pickAppId((msg.context.app as Record<string, unknown> | undefined) ?? {});

  const add = (type: string, raw: unknown, field: string, appId?: string) => {
    const value = normalizeIdentifier(type, raw, field, appId);
    if (!value.ok) problems.push({ path: at(field), message: value.error });
    else out.set(identifierKey(type, value.value), { type, value: value.value });
    return value;
  };

  if (msg.userId) add('user_id', msg.userId, 'userId');
  if (msg.anonymousId) add('anonymous_id', msg.anonymousId, 'anonymousId');
  const device = msg.context.device as Record<string, unknown> | undefined;
  if (device && (typeof device.id === 'string' || typeof device.id === 'number') && String(device.id).trim()) {
    add('device_id', device.id, 'context.device.id');
  }
  for (const [key, raw] of Object.entries(msg.traits)) {
    if (raw === null || raw === undefined || raw === '') continue;
    const type = rules.has(key) ? key : TRAIT_ALIASES[key];
    if (!type || !rules.has(type) || type === 'user_id' || type === 'anonymous_id') continue;
    // identify carries traits at `traits`; other calls only through `context.traits`.
    const v = add(type, raw, `${msg.type === 'identify' && !(msg.context.traits as Record<string, unknown> | undefined)?.[key] ? 'traits' : 'context.traits'}.${key}`, appIdFromTraits);
    // Profiles keep the cleaned value (E.164 phone, lower-case email), like the identity graph.
    if (v.ok && (type === 'phone' || type === 'email')) msg.traits[key] = v.value;
  }
  msg.externalIds.forEach((ext, i) => {
    const type = rules.has(ext.type) ? ext.type : TRAIT_ALIASES[ext.type];
    if (!type || !rules.has(type)) {
      problems.push({
        path: at(`context.externalIds[${i}].type`),
        message: `"${ext.type}" is not an identifier type of this workspace (known: ${[...rules.keys()].join(', ')}); add it with POST /api/v1/identity/types`,
      });
      return;
    }
    add(type, ext.id, `context.externalIds[${i}].id`, ext.appId ?? ext.collection ?? appIdFromTraits);
  });
  return { identifiers: [...out.values()], problems };
}

function pickAppId(obj: Record<string, unknown>): string | undefined {
  for (const key of OPENID_APP_KEYS) {
    const v = obj[key];
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  return undefined;
}

function normalizeIdentifier(type: string, raw: unknown, field: string, appId?: string) {
  switch (type) {
    case 'phone':
      return normalizePhone(raw);
    case 'email':
      return normalizeEmail(raw);
    case 'wechat_openid': {
      const v = normalizePlainId(raw, field);
      if (!v.ok) return v;
      // An openid is only unique within one official account / mini program.
      return v.value.includes(':') ? v : { ok: true as const, value: `${appId ?? 'default'}:${v.value}` };
    }
    default:
      return normalizePlainId(raw, field);
  }
}
