import { z } from 'zod';

/** Built-in identifier types, highest merge priority first. */
export const BUILTIN_IDENTIFIER_TYPES = [
  'user_id',
  'member_no',
  'wechat_unionid',
  'phone',
  'email',
  'wecom_external_userid',
  'wechat_openid',
  'device_id',
  'anonymous_id',
] as const;
export type BuiltinIdentifierType = (typeof BUILTIN_IDENTIFIER_TYPES)[number];

/**
 * How one identifier type takes part in ID-mapping.
 * `priority`: the profile reached through the highest-priority identifier is the one a message belongs to
 * and the one that survives a merge. `maxPerProfile`: how many distinct values one person may hold
 * (null = unlimited); a merge that would exceed it is refused and recorded as a conflict.
 */
export const IdentityRule = z.object({
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]{1,39}$/, 'identifier types are lower snake_case, 2–40 characters, starting with a letter'),
  priority: z.number().int().min(0).max(1000),
  maxPerProfile: z.number().int().min(1).nullable(),
  builtin: z.boolean().default(false),
});
export type IdentityRule = z.infer<typeof IdentityRule>;

export const DEFAULT_IDENTITY_RULES: readonly IdentityRule[] = [
  { type: 'user_id', priority: 100, maxPerProfile: 1, builtin: true },
  { type: 'member_no', priority: 90, maxPerProfile: 1, builtin: true },
  { type: 'wechat_unionid', priority: 80, maxPerProfile: 1, builtin: true },
  { type: 'phone', priority: 70, maxPerProfile: null, builtin: true },
  { type: 'email', priority: 60, maxPerProfile: null, builtin: true },
  { type: 'wecom_external_userid', priority: 50, maxPerProfile: null, builtin: true },
  { type: 'wechat_openid', priority: 40, maxPerProfile: null, builtin: true },
  { type: 'device_id', priority: 20, maxPerProfile: null, builtin: true },
  { type: 'anonymous_id', priority: 10, maxPerProfile: null, builtin: true },
];

export type IdentityRules = ReadonlyMap<string, IdentityRule>;

export function toRuleMap(rules: readonly IdentityRule[]): IdentityRules {
  return new Map(rules.map((r) => [r.type, r]));
}
