import type { IdentityType } from './api';
import { identifierTypeLabel } from './format';
import type { Translate } from './i18n';

/** Built-in identifier types in merge-priority order, used until the workspace's own list loads. */
export const BUILTIN_IDENTIFIER_TYPES = [
  'phone',
  'email',
  'user_id',
  'member_no',
  'wechat_unionid',
  'wechat_openid',
  'anonymous_id',
  'wecom_external_userid',
  'device_id',
] as const;

/** Select options for identifier types: the workspace's types (custom ones included), phone first. */
export function identityTypeOptions(types: readonly IdentityType[] | undefined, t: Translate) {
  const codes = types?.length ? types.map((x) => x.type) : [...BUILTIN_IDENTIFIER_TYPES];
  const order = (code: string) => {
    const i = (BUILTIN_IDENTIFIER_TYPES as readonly string[]).indexOf(code);
    return i === -1 ? BUILTIN_IDENTIFIER_TYPES.length : i;
  };
  return [...codes]
    .sort((a, b) => order(a) - order(b))
    .map((code) => ({ value: code, label: identifierTypeLabel(code, t) }));
}
