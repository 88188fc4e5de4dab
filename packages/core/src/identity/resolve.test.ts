import { describe, expect, it } from 'vitest';
import type { Identifier } from './extract.ts';
import { aliasIdentifier, resolveIdentifiers, type IdentityGraph, type Resolution } from './resolve.ts';
import { DEFAULT_IDENTITY_RULES, toRuleMap, type IdentityRule } from './rules.ts';

const RULES = toRuleMap(DEFAULT_IDENTITY_RULES);

/** `'phone=+86…'` → Identifier. */
const id = (s: string): Identifier => {
  const i = s.indexOf('=');
  return { type: s.slice(0, i), value: s.slice(i + 1) };
};

/** An identity graph from `{ P1: ['user_id=u1', …], … }`. */
function graphOf(profiles: Record<string, string[]>): IdentityGraph {
  const owner = new Map<string, string>();
  for (const [p, ids] of Object.entries(profiles)) for (const s of ids) owner.set(s, p);
  return {
    profileOf: (type, value) => owner.get(`${type}=${value}`),
    identitiesOf: (p) => (profiles[p] ?? []).map(id),
  };
}

function resolve(profiles: Record<string, string[]>, message: string[], rules = RULES): Resolution {
  let n = 0;
  return resolveIdentifiers(message.map(id), rules, graphOf(profiles), () => `NEW${++n}`);
}

interface Expected {
  profileId: string;
  created: boolean;
  attach: string[];
  merges: [winner: string, loser: string, via: string][];
  conflicts: [type: string, other: string | null][];
}

function summary(r: Resolution): Expected {
  return {
    profileId: r.profileId,
    created: r.created,
    attach: r.attach.map((i) => `${i.type}=${i.value}`).sort(),
    merges: r.merges.map((m) => [m.winnerId, m.loserId, `${m.via.type}=${m.via.value}`]),
    conflicts: r.conflicts.map((c) => [c.type, c.otherProfileId]),
  };
}

const PHONE = 'phone=+8613800138000';

describe('resolveIdentifiers scenarios', () => {
  it.each<[string, Record<string, string[]>, string[], Expected]>([
    [
      'a new person: a new profile holding every identifier',
      {},
      ['user_id=u1', PHONE, 'anonymous_id=a1'],
      { profileId: 'NEW1', created: true, attach: ['anonymous_id=a1', PHONE, 'user_id=u1'], merges: [], conflicts: [] },
    ],
    [
      'a known person with a new identifier: attached to their profile',
      { P1: ['user_id=u1'] },
      ['user_id=u1', PHONE],
      { profileId: 'P1', created: false, attach: [PHONE], merges: [], conflicts: [] },
    ],
    [
      'a known person seen again: nothing to do',
      { P1: ['user_id=u1', PHONE] },
      [PHONE, 'user_id=u1'],
      { profileId: 'P1', created: false, attach: [], merges: [], conflicts: [] },
    ],
    [
      'anonymous visitor reached through a lower-priority id, new user_id attached',
      { P1: ['anonymous_id=a1'] },
      ['anonymous_id=a1', 'user_id=u1'],
      { profileId: 'P1', created: false, attach: ['user_id=u1'], merges: [], conflicts: [] },
    ],
    [
      'two profiles linked: the one reached through the higher-priority identifier wins',
      { P1: ['anonymous_id=a1'], P2: ['user_id=u1'] },
      ['anonymous_id=a1', 'user_id=u1'],
      { profileId: 'P2', created: false, attach: [], merges: [['P2', 'P1', 'anonymous_id=a1']], conflicts: [] },
    ],
    [
      'phone beats email when both reach a profile',
      { PE: ['email=a@b.cn'], PP: [PHONE] },
      ['email=a@b.cn', PHONE],
      { profileId: 'PP', created: false, attach: [], merges: [['PP', 'PE', 'email=a@b.cn']], conflicts: [] },
    ],
    [
      'shared device, two different user_ids: not merged, the event goes to the user_id’s profile',
      { P1: ['user_id=u1', 'device_id=d1'], P2: ['user_id=u2'] },
      ['user_id=u2', 'device_id=d1'],
      { profileId: 'P2', created: false, attach: [], merges: [], conflicts: [['device_id', 'P1']] },
    ],
    [
      'a new user_id on a device whose profile has another user_id: a new profile, device not taken',
      { P1: ['user_id=u1', 'device_id=d1'] },
      ['user_id=u2', 'device_id=d1'],
      { profileId: 'NEW1', created: true, attach: ['user_id=u2'], merges: [], conflicts: [['device_id', 'P1']] },
    ],
    [
      'two customers on one browser (shared anonymousId): not fused',
      { P1: ['user_id=u1', 'anonymous_id=a1'] },
      ['user_id=u2', 'anonymous_id=a1', 'email=u2@x.cn'],
      { profileId: 'NEW1', created: true, attach: ['email=u2@x.cn', 'user_id=u2'], merges: [], conflicts: [['anonymous_id', 'P1']] },
    ],
    [
      'member_no limit: a second member number is refused, the event still lands on the profile',
      { P1: ['user_id=u1', 'member_no=M1'] },
      ['user_id=u1', 'member_no=M2'],
      { profileId: 'P1', created: false, attach: [], merges: [], conflicts: [['member_no', null]] },
    ],
    [
      'member_no limit blocks a merge of two members through a shared phone',
      { P1: ['member_no=M1', PHONE], P2: ['member_no=M2'] },
      ['member_no=M2', PHONE],
      { profileId: 'P2', created: false, attach: [], merges: [], conflicts: [['phone', 'P1']] },
    ],
    [
      'unlimited types merge freely: two phones and two emails end up on one person',
      { P1: [PHONE, 'email=a@x.cn'], P2: ['phone=+8613900139000', 'email=b@x.cn'] },
      [PHONE, 'phone=+8613900139000'],
      { profileId: 'P1', created: false, attach: [], merges: [['P1', 'P2', 'phone=+8613900139000']], conflicts: [] },
    ],
    [
      'a message reaching three profiles merges all into the highest-priority one',
      { PA: ['anonymous_id=a1'], PP: [PHONE], PU: ['user_id=u1'] },
      ['anonymous_id=a1', PHONE, 'user_id=u1'],
      { profileId: 'PU', created: false, attach: [], merges: [['PU', 'PP', PHONE], ['PU', 'PA', 'anonymous_id=a1']], conflicts: [] },
    ],
    [
      'three profiles, one of them with another user_id: the other two merge, that one is refused',
      { PA: ['anonymous_id=a1'], PX: ['user_id=u9', PHONE], PU: ['user_id=u1'] },
      ['anonymous_id=a1', PHONE, 'user_id=u1'],
      { profileId: 'PU', created: false, attach: [], merges: [['PU', 'PA', 'anonymous_id=a1']], conflicts: [['phone', 'PX']] },
    ],
    [
      'two identifiers of the same profile lead to one merge only',
      { P1: ['user_id=u1'], P2: [PHONE, 'email=a@b.cn'] },
      ['user_id=u1', PHONE, 'email=a@b.cn'],
      { profileId: 'P1', created: false, attach: [], merges: [['P1', 'P2', PHONE]], conflicts: [] },
    ],
    [
      'new identifiers are attached to the winner after merging',
      { P1: ['anonymous_id=a1'], P2: [PHONE] },
      ['anonymous_id=a1', PHONE, 'email=new@x.cn'],
      { profileId: 'P2', created: false, attach: ['email=new@x.cn'], merges: [['P2', 'P1', 'anonymous_id=a1']], conflicts: [] },
    ],
  ])('%s', (_name, profiles, message, expected) => {
    expect(summary(resolve(profiles, message))).toEqual(expected);
  });

  it('does not depend on the order identifiers are listed in', () => {
    const profiles = { PA: ['anonymous_id=a1'], PP: [PHONE], PU: ['user_id=u1'] };
    const a = summary(resolve(profiles, ['user_id=u1', PHONE, 'anonymous_id=a1']));
    const b = summary(resolve(profiles, ['anonymous_id=a1', 'user_id=u1', PHONE]));
    expect(b).toEqual(a);
  });

  it('a refused merge explains itself: what linked the profiles and which limit blocked it', () => {
    const r = resolve({ P1: ['user_id=u1', 'device_id=d1'], P2: ['user_id=u2'] }, ['user_id=u2', 'device_id=d1']);
    expect(r.conflicts).toEqual([
      {
        type: 'device_id',
        value: 'd1',
        profileId: 'P2',
        otherProfileId: 'P1',
        reason: 'not merged: device_id d1 links to a profile with user_id u1, and a person holds at most 1 user_id',
      },
    ]);
  });

  it('a refused attachment names the value the profile already holds', () => {
    const r = resolve({ P1: ['user_id=u1', 'member_no=M1'] }, ['user_id=u1', 'member_no=M2']);
    expect(r.conflicts[0]).toMatchObject({ type: 'member_no', value: 'M2', profileId: 'P1', otherProfileId: null });
    expect(r.conflicts[0]!.reason).toMatch(/at most 1 member_no.*M1/);
  });

  it('the merged person may not exceed a limit through several losers together', () => {
    // Each loser alone fits the winner, but the two together would give it two member numbers.
    const r = resolve({ PU: ['user_id=u1'], PM1: ['member_no=M1', PHONE], PM2: ['member_no=M2', 'email=a@b.cn'] }, ['user_id=u1', PHONE, 'email=a@b.cn']);
    expect(summary(r).merges).toEqual([['PU', 'PM1', PHONE]]);
    expect(summary(r).conflicts).toEqual([['email', 'PM2']]);
  });

  it('a custom type with a limit is enforced like a built-in one', () => {
    const rules = toRuleMap([...DEFAULT_IDENTITY_RULES, { type: 'crm_id', priority: 95, maxPerProfile: 1, builtin: false } satisfies IdentityRule]);
    const r = resolve({ P1: ['crm_id=C1', PHONE], P2: ['crm_id=C2'] }, ['crm_id=C2', PHONE], rules);
    expect(summary(r)).toEqual({ profileId: 'P2', created: false, attach: [], merges: [], conflicts: [['phone', 'P1']] });
  });

  it('raising a type’s limit lets the same link merge', () => {
    const rules = toRuleMap(DEFAULT_IDENTITY_RULES.map((r) => (r.type === 'member_no' ? { ...r, maxPerProfile: null } : r)));
    const r = resolve({ P1: ['member_no=M1', PHONE], P2: ['member_no=M2'] }, ['member_no=M2', PHONE], rules);
    expect(summary(r).merges).toEqual([['P2', 'P1', PHONE]]);
  });
});

describe('aliasIdentifier', () => {
  it('previousId is a user_id when a profile holds it, else an anonymous_id', () => {
    const g = graphOf({ P1: ['user_id=old-login'] });
    expect(aliasIdentifier('old-login', g)).toEqual({ type: 'user_id', value: 'old-login' });
    expect(aliasIdentifier('anon-7', g)).toEqual({ type: 'anonymous_id', value: 'anon-7' });
  });
});
