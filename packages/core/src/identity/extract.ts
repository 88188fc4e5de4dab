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
    const type = traitType(key, rules);
    if (!type) continue;
    // identify carries traits at `traits`; other calls only through `context.traits`.
    const v = add(type, raw, `${msg.type === 'identify' && !(msg.context.traits as Record<string, unknown> | undefined)?.[key] ? 'traits' : 'context.traits'}.${key}`, appIdFromTraits);
    // Profiles keep the cleaned value (E.164 phone, lower-case email), like the identity graph.
    if (v.ok && (type === 'phone' || type === 'email')) msg.traits[key] = v.value;
  }
  msg.externalIds.forEach((ext, i) => {
    const type = externalIdType(ext.type, rules);
    if (!type) {
      problems.push({
        path: at(`context.externalIds[${i}].type`),
        message: `"${ext.type}" is not an identifier type of this workspace (known: ${[...rules.keys()].join(', ')}); add it with POST /api/v1/identity/types`,
      });
      return;
    }
    add(type, ext.id, `context.externalIds[${i}].id`, externalAppId(ext) ?? appIdFromTraits);
  });
  return { identifiers: [...out.values()], problems };
}

/**
 * The message without the identifiers `drop` picks, wherever it carries them: userId and anonymousId, `context.device.id`,
 * identifier traits (in `traits` and in `context.traits`, whatever their spelling: `136 0000 2222` is the phone
 * +8613600002222) and `context.externalIds`. Erasure uses it: a later message carrying an erased person's
 * identifiers is stored without them, not just left unattached. The message given is not changed.
 */
export function withoutIdentifiers(msg: NormalizedMessage, rules: IdentityRules, drop: (id: Identifier) => boolean): NormalizedMessage {
  const context = { ...msg.context };
  const contextTraits = isRecord(context.traits) ? { ...context.traits } : undefined;
  const traits = { ...msg.traits };
  const appId = pickAppId(msg.traits) ?? pickAppId(isRecord(context.app) ? context.app : {});
  const dropped = (type: string, raw: unknown, appIdOf?: string) => {
    if (raw === null || raw === undefined || raw === '') return false;
    const v = normalizeIdentifier(type, raw, type, appIdOf);
    return v.ok && drop({ type, value: v.value });
  };
  const userId = msg.userId !== null && dropped('user_id', msg.userId) ? null : msg.userId;
  const anonymousId = msg.anonymousId !== null && dropped('anonymous_id', msg.anonymousId) ? null : msg.anonymousId;
  if (isRecord(context.device) && dropped('device_id', context.device.id)) {
    const { id: _id, ...device } = context.device;
    context.device = device;
  }
  for (const bag of [traits, contextTraits]) {
    if (!bag) continue;
    for (const [key, raw] of Object.entries(bag)) {
      const type = traitType(key, rules);
      if (type && dropped(type, raw, appId)) delete bag[key];
    }
  }
  if (contextTraits) context.traits = contextTraits;
  const keep = msg.externalIds.map((ext) => {
    const type = externalIdType(ext.type, rules);
    return !type || !dropped(type, ext.id, externalAppId(ext) ?? appId);
  });
  // context.externalIds is the array as sent; msg.externalIds is parsed from it, one entry for each.
  if (Array.isArray(context.externalIds) && context.externalIds.length === keep.length) context.externalIds = context.externalIds.filter((_, i) => keep[i]);
  return { ...msg, userId, anonymousId, traits, context, externalIds: msg.externalIds.filter((_, i) => keep[i]) };
}

/** The identifier type a trait key holds (its type's name, or an alias such as `mobile`), if any. */
function traitType(key: string, rules: IdentityRules): string | undefined {
  const type = rules.has(key) ? key : TRAIT_ALIASES[key];
  return type && rules.has(type) && type !== 'user_id' && type !== 'anonymous_id' ? type : undefined;
}

function externalIdType(type: string, rules: IdentityRules): string | undefined {
  const t = rules.has(type) ? type : TRAIT_ALIASES[type];
  return t && rules.has(t) ? t : undefined;
}

/**
 * The WeChat app an external id names: `appId`, or `collection` when it is a WeChat app id (`wx…`). In Segment's
 * own use `collection` names the kind of object (`users`), which is no app: such an openid takes the message's app.
 */
function externalAppId(ext: { appId?: string | undefined; collection?: string | undefined }): string | undefined {
  return ext.appId ?? (ext.collection && /^wx/i.test(ext.collection) ? ext.collection : undefined);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
