import { describe, expect, it } from 'vitest';
import { parseMessage, type NormalizedMessage } from '../messages/message.ts';
import { extractIdentifiers, type Identifier } from './extract.ts';
import { DEFAULT_IDENTITY_RULES, toRuleMap } from './rules.ts';

const RULES = toRuleMap(DEFAULT_IDENTITY_RULES);

function msg(input: Record<string, unknown>): NormalizedMessage {
  const r = parseMessage(input, { receivedAt: new Date('2026-03-01T12:00:00Z'), fallbackMessageId: () => 'm1' });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const sorted = (ids: Identifier[]) => [...ids].map((i) => `${i.type}=${i.value}`).sort();

describe('extractIdentifiers', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['userId', { type: 'identify', userId: 'u1' }, ['user_id=u1']],
    ['anonymousId', { type: 'page', anonymousId: 'a1' }, ['anonymous_id=a1']],
    ['numeric userId', { type: 'identify', userId: 10086 }, ['user_id=10086']],
    ['context.device.id', { type: 'track', anonymousId: 'a1', event: 'App Opened', context: { device: { id: 'IDFA-1' } } }, ['anonymous_id=a1', 'device_id=IDFA-1']],
    ['blank device id is ignored', { type: 'track', anonymousId: 'a1', event: 'E', context: { device: { id: '  ' } } }, ['anonymous_id=a1']],
    ['traits.phone → E.164', { type: 'identify', userId: 'u1', traits: { phone: '138 0013 8000' } }, ['phone=+8613800138000', 'user_id=u1']],
    ['traits.mobile alias', { type: 'identify', userId: 'u1', traits: { mobile: '13800138000' } }, ['phone=+8613800138000', 'user_id=u1']],
    ['traits.phoneNumber alias', { type: 'identify', userId: 'u1', traits: { phoneNumber: '+86 138-0013-8000' } }, ['phone=+8613800138000', 'user_id=u1']],
    ['traits.email → lower-case', { type: 'identify', userId: 'u1', traits: { email: ' Li.Lei@Example.com ' } }, ['email=li.lei@example.com', 'user_id=u1']],
    ['traits.member_no', { type: 'identify', userId: 'u1', traits: { member_no: 'M-001' } }, ['member_no=M-001', 'user_id=u1']],
    ['traits.memberNo alias', { type: 'identify', userId: 'u1', traits: { memberNo: 'M-001' } }, ['member_no=M-001', 'user_id=u1']],
    ['traits.member_id alias', { type: 'identify', userId: 'u1', traits: { member_id: 7 } }, ['member_no=7', 'user_id=u1']],
    ['traits.unionid alias', { type: 'identify', userId: 'u1', traits: { unionid: 'oU1' } }, ['user_id=u1', 'wechat_unionid=oU1']],
    ['traits.unionId alias', { type: 'identify', userId: 'u1', traits: { unionId: 'oU1' } }, ['user_id=u1', 'wechat_unionid=oU1']],
    ['traits.external_userid alias', { type: 'identify', userId: 'u1', traits: { external_userid: 'wmX' } }, ['user_id=u1', 'wecom_external_userid=wmX']],
    ['traits.openid scoped by traits.appid', { type: 'identify', anonymousId: 'a1', traits: { openid: 'oA', appid: 'wx9' } }, ['anonymous_id=a1', 'wechat_openid=wx9:oA']],
    ['traits.openid scoped by context.app.appId', { type: 'identify', anonymousId: 'a1', traits: { openid: 'oA' }, context: { app: { appId: 'wxApp' } } }, ['anonymous_id=a1', 'wechat_openid=wxApp:oA']],
    ['traits.openid without app id → default scope', { type: 'identify', anonymousId: 'a1', traits: { openId: 'oA' } }, ['anonymous_id=a1', 'wechat_openid=default:oA']],
    ['an already scoped openid is kept', { type: 'identify', anonymousId: 'a1', traits: { wechat_openid: 'wx1:oA' } }, ['anonymous_id=a1', 'wechat_openid=wx1:oA']],
    ['track: context.traits are read', { type: 'track', anonymousId: 'a1', event: 'E', context: { traits: { email: 'A@B.CN' } } }, ['anonymous_id=a1', 'email=a@b.cn']],
    ['empty and null traits are skipped', { type: 'identify', userId: 'u1', traits: { phone: '', email: null } }, ['user_id=u1']],
    ['traits.user_id does not add a second user id', { type: 'identify', userId: 'u1', traits: { user_id: 'u2', anonymous_id: 'a9' } }, ['user_id=u1']],
    ['the same identifier twice counts once', { type: 'identify', userId: 'u1', traits: { phone: '13800138000', mobile: '+8613800138000' } }, ['phone=+8613800138000', 'user_id=u1']],
    ['two different phones are both kept', { type: 'identify', userId: 'u1', traits: { phone: '13800138000', mobile: '13900139000' } }, ['phone=+8613800138000', 'phone=+8613900139000', 'user_id=u1']],
    [
      'externalIds: phone, email, unionid, member_no',
      {
        type: 'identify',
        userId: 'u1',
        context: {
          externalIds: [
            { type: 'phone', id: '13800138000' },
            { type: 'email', id: 'X@Y.COM' },
            { type: 'wechat_unionid', id: 'oU1' },
            { type: 'member_no', id: 88 },
          ],
        },
      },
      ['email=x@y.com', 'member_no=88', 'phone=+8613800138000', 'user_id=u1', 'wechat_unionid=oU1'],
    ],
    ['externalIds: wechat_openid scoped by appId', { type: 'identify', anonymousId: 'a1', context: { externalIds: [{ type: 'wechat_openid', id: 'oA', appId: 'wxMini' }] } }, ['anonymous_id=a1', 'wechat_openid=wxMini:oA']],
    ['externalIds: wechat_openid scoped by collection', { type: 'identify', anonymousId: 'a1', context: { externalIds: [{ type: 'wechat_openid', id: 'oA', collection: 'wxOA' }] } }, ['anonymous_id=a1', 'wechat_openid=wxOA:oA']],
    // Segment's own collection names the kind of object, not an app: the openid takes the message's app.
    ['externalIds: a collection that is no WeChat app id (Segment’s "users")', { type: 'identify', anonymousId: 'a1', traits: { appId: 'wx9' }, context: { externalIds: [{ type: 'wechat_openid', id: 'oA', collection: 'users' }] } }, ['anonymous_id=a1', 'wechat_openid=wx9:oA']],
    ['externalIds: openid alias type', { type: 'identify', anonymousId: 'a1', context: { externalIds: [{ type: 'openid', id: 'oA', appId: 'wx1' }] } }, ['anonymous_id=a1', 'wechat_openid=wx1:oA']],
  ])('%s', (_name, input, expected) => {
    const r = extractIdentifiers(msg(input), RULES);
    expect(r.problems).toEqual([]);
    expect(sorted(r.identifiers)).toEqual(expected);
  });

  it('the same openid in two official accounts is two identifiers', () => {
    const r = extractIdentifiers(
      msg({ type: 'identify', anonymousId: 'a1', context: { externalIds: [{ type: 'wechat_openid', id: 'oA', appId: 'wxOA' }, { type: 'wechat_openid', id: 'oA', appId: 'wxMini' }] } }),
      RULES,
    );
    expect(sorted(r.identifiers)).toEqual(['anonymous_id=a1', 'wechat_openid=wxMini:oA', 'wechat_openid=wxOA:oA']);
  });

  it('stores the cleaned phone and email back on the traits', () => {
    const m = msg({ type: 'identify', userId: 'u1', traits: { phone: '138 0013 8000', email: ' Li@Example.COM', city: '上海' } });
    extractIdentifiers(m, RULES);
    expect(m.traits).toEqual({ phone: '+8613800138000', email: 'li@example.com', city: '上海' });
  });

  it.each<[string, Record<string, unknown>, string, string, RegExp]>([
    ['invalid phone', { type: 'identify', userId: 'u1', traits: { phone: '12' } }, '', 'traits.phone', /phone "12" is not a valid/],
    ['invalid email', { type: 'identify', userId: 'u1', traits: { email: 'nope' } }, 'batch[3]', 'batch[3].traits.email', /email "nope"/],
    ['unknown external id type', { type: 'identify', userId: 'u1', context: { externalIds: [{ type: 'email', id: 'a@b.cn' }, { type: 'shopify_id', id: 'S1' }] } }, 'batch[0]', 'batch[0].context.externalIds[1].type', /"shopify_id" is not an identifier type.*POST \/api\/v1\/identity\/types/],
    ['invalid external phone', { type: 'identify', userId: 'u1', context: { externalIds: [{ type: 'phone', id: 'abc' }] } }, '', 'context.externalIds[0].id', /phone "abc"/],
  ])('%s → problem at %s', (_name, input, prefix, path, message) => {
    const r = extractIdentifiers(msg(input), RULES, prefix);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.path).toBe(path);
    expect(r.problems[0]!.message).toMatch(message);
  });

  it('a problem does not drop the other identifiers', () => {
    const r = extractIdentifiers(msg({ type: 'identify', userId: 'u1', traits: { phone: '12', email: 'ok@x.cn' } }), RULES);
    expect(r.problems.map((p) => p.path)).toEqual(['traits.phone']);
    expect(sorted(r.identifiers)).toEqual(['email=ok@x.cn', 'user_id=u1']);
  });

  // Regression guard for a fixed bug: on a track/page/screen call the person traits come only from `context.traits`, but
  // extract.ts (the `add(type, raw, \`traits.${key}\`…)` call in the traits loop) always reports
  // `traits.<key>`, a field the caller never sent; the path should point at `context.traits.phone`.
  it('an invalid phone in a track call’s context.traits is reported at context.traits.phone', () => {
    const r = extractIdentifiers(msg({ type: 'track', userId: 'u1', event: 'E', context: { traits: { phone: '12' } } }), RULES, 'batch[0]');
    expect(r.problems.map((p) => p.path)).toEqual(['batch[0].context.traits.phone']);
  });

  describe('custom identifier types', () => {
    const custom = toRuleMap([...DEFAULT_IDENTITY_RULES, { type: 'crm_id', priority: 95, maxPerProfile: 1, builtin: false }]);

    it('are rejected until added to the rules', () => {
      const m = msg({ type: 'identify', userId: 'u1', context: { externalIds: [{ type: 'crm_id', id: 'C-1' }] } });
      expect(extractIdentifiers(m, RULES).problems.map((p) => p.path)).toEqual(['context.externalIds[0].type']);
    });

    it('are read from externalIds and from a trait of the same name once added', () => {
      const fromExternal = extractIdentifiers(msg({ type: 'identify', userId: 'u1', context: { externalIds: [{ type: 'crm_id', id: ' C-1 ' }] } }), custom);
      expect(fromExternal.problems).toEqual([]);
      expect(sorted(fromExternal.identifiers)).toEqual(['crm_id=C-1', 'user_id=u1']);
      const fromTrait = extractIdentifiers(msg({ type: 'identify', userId: 'u1', traits: { crm_id: 12 } }), custom);
      expect(sorted(fromTrait.identifiers)).toEqual(['crm_id=12', 'user_id=u1']);
    });

    it('a trait that is not an identifier type stays a plain trait', () => {
      const r = extractIdentifiers(msg({ type: 'identify', userId: 'u1', traits: { crm_id: 'C-1', city: '上海' } }), RULES);
      expect(sorted(r.identifiers)).toEqual(['user_id=u1']);
    });
  });
});
