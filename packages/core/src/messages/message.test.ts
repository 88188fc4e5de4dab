import { describe, expect, it } from 'vitest';
import type { Problem } from '../errors.ts';
import { correctTimestamp, parseMessage, type NormalizedMessage, type ParseOptions } from './message.ts';

const RECEIVED = '2026-03-01T12:00:00.000Z';
const opts = (extra: Partial<ParseOptions> = {}): ParseOptions => ({
  receivedAt: new Date(RECEIVED),
  fallbackMessageId: () => 'evt_fallback',
  ...extra,
});

function ok(input: unknown, extra: Partial<ParseOptions> = {}): NormalizedMessage {
  const r = parseMessage(input, opts(extra));
  if (!r.ok) throw new Error(`expected a valid message, got ${JSON.stringify(r.error)}`);
  return r.value;
}

function problems(input: unknown, extra: Partial<ParseOptions> = {}): Problem[] {
  const r = parseMessage(input, opts(extra));
  if (r.ok) throw new Error(`expected problems, got a valid message ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('parseMessage: Segment rules', () => {
  it.each<[string, unknown, Partial<ParseOptions>, string]>([
    ['no userId nor anonymousId', { type: 'track', event: 'Signed Up' }, {}, 'userId'],
    ['blank userId and no anonymousId', { type: 'identify', userId: '   ' }, {}, 'userId'],
    ['track without event', { type: 'track', userId: 'u1' }, {}, 'event'],
    ['track with a blank event', { type: 'track', userId: 'u1', event: '  ' }, {}, 'event'],
    ['track with a 201-character event', { type: 'track', userId: 'u1', event: 'x'.repeat(201) }, {}, 'event'],
    ['alias without previousId', { type: 'alias', userId: 'u1' }, {}, 'previousId'],
    ['alias without userId', { type: 'alias', previousId: 'anon-1', anonymousId: 'anon-1' }, {}, 'userId'],
    ['group without groupId', { type: 'group', userId: 'u1' }, {}, 'groupId'],
    ['batch item without type', { userId: 'u1' }, {}, 'type'],
    ['unknown type', { type: 'purchase', userId: 'u1' }, {}, 'type'],
    ['type not matching the endpoint', { type: 'identify', userId: 'u1', event: 'E' }, { type: 'track' }, 'type'],
    ['userId longer than 255', { type: 'identify', userId: 'u'.repeat(256) }, {}, 'userId'],
    ['messageId longer than 255', { type: 'identify', userId: 'u1', messageId: 'm'.repeat(256) }, {}, 'messageId'],
    ['messageId with a lone high surrogate', { type: 'identify', userId: 'u1', messageId: 'm-\ud800' }, {}, 'messageId'],
    ['userId with a lone low surrogate', { type: 'identify', userId: '\udc00u1' }, {}, 'userId'],
  ])('%s → a problem at %s', (_name, input, extra, path) => {
    const found = problems(input, extra);
    expect(found.map((p) => p.path)).toContain(path);
    for (const p of found) expect(p.message.length).toBeGreaterThan(10);
  });

  it.each<[string, unknown]>([
    ['identify with userId', { type: 'identify', userId: 'u1' }],
    ['track with anonymousId only', { type: 'track', anonymousId: 'a1', event: 'Product Viewed' }],
    ['alias with previousId and userId', { type: 'alias', previousId: 'a1', userId: 'u1' }],
    ['group with groupId', { type: 'group', userId: 'u1', groupId: 'g1' }],
    ['page without a name', { type: 'page', anonymousId: 'a1' }],
    ['screen', { type: 'screen', userId: 'u1', name: 'Home' }],
    ['ids with characters beyond the BMP (surrogate pairs)', { type: 'identify', userId: 'u-😀', messageId: 'm-𠀀' }],
  ])('%s is valid', (_name, input) => {
    expect(parseMessage(input, opts()).ok).toBe(true);
  });

  it('alias needs both ids: an empty alias reports previousId and userId at once', () => {
    expect(problems({ type: 'alias', anonymousId: 'a1' }).map((p) => p.path).sort()).toEqual(['previousId', 'userId']);
  });

  it.each<[string, unknown, string, RegExp]>([
    ['userId as an object', { type: 'identify', userId: { id: 1 } }, 'userId', /wrong type/],
    ['userId as a boolean', { type: 'identify', userId: true }, 'userId', /wrong type/],
    ['event as a number', { type: 'track', userId: 'u1', event: 7 }, 'event', /event must be string/],
    ['traits as a string', { type: 'identify', userId: 'u1', traits: 'vip' }, 'traits', /must be an object/],
    ['properties as an array', { type: 'track', userId: 'u1', event: 'E', properties: [1] }, 'properties', /must be an object/],
    ['an external id without id', { type: 'identify', userId: 'u1', context: { externalIds: [{ type: 'phone' }] } }, 'context.externalIds[0].id', /wrong type/],
    ['an unparseable timestamp', { type: 'identify', userId: 'u1', timestamp: 'yesterday' }, 'timestamp', /"yesterday" is not a date/],
  ])('wrong type: %s → problem at %s', (_name, input, path, message) => {
    const found = problems(input);
    const p = found.find((x) => x.path === path);
    expect(p, JSON.stringify(found)).toBeDefined();
    expect(p!.message).toMatch(message);
  });

  it('a message that is not an object is one problem at the root or its batch path', () => {
    expect(problems('hello')).toEqual([{ path: '(root)', message: 'each message must be a JSON object' }]);
    expect(problems([1], { path: 'batch[4]' })).toEqual([{ path: 'batch[4]', message: 'each message must be a JSON object' }]);
  });

  it('problems carry the batch path prefix', () => {
    expect(problems({ type: 'track', userId: 'u1' }, { path: 'batch[2]' }).map((p) => p.path)).toEqual(['batch[2].event']);
    expect(problems({ type: 'identify', userId: 'u1', traits: 3 }, { path: 'batch[7]' }).map((p) => p.path)).toEqual(['batch[7].traits']);
    expect(problems({ type: 'track', event: 'E' }, { path: 'batch[0]' }).map((p) => p.path)).toEqual(['batch[0].userId']);
  });

  it('reports every problem of a message, not only the first', () => {
    expect(problems({ type: 'track', event: ' ' }).map((p) => p.path).sort()).toEqual(['event', 'userId']);
    expect(problems({ type: 'track', userId: [], event: 1, traits: 'x' }).map((p) => p.path).sort()).toEqual(['event', 'traits', 'userId']);
  });
});

describe('parseMessage: normalisation', () => {
  it('coerces numeric ids to trimmed strings', () => {
    const m = ok({ type: 'identify', userId: 10086, anonymousId: ' a1 ', messageId: 42 });
    expect(m.userId).toBe('10086');
    expect(m.anonymousId).toBe('a1');
    expect(m.messageId).toBe('42');
  });

  it('uses the fallback id when the client sent no messageId', () => {
    expect(ok({ type: 'identify', userId: 'u1' }).messageId).toBe('evt_fallback');
  });

  it('takes the type from the endpoint when the body has none', () => {
    const m = ok({ userId: 'u1', event: ' Order Completed ' }, { type: 'track' });
    expect(m.type).toBe('track');
    expect(m.event).toBe('Order Completed');
  });

  it('identify merges context.traits under traits (traits win)', () => {
    const m = ok({ type: 'identify', userId: 'u1', traits: { city: '上海', name: '李雷' }, context: { traits: { city: '北京', gender: 'm' } } });
    expect(m.traits).toEqual({ city: '上海', name: '李雷', gender: 'm' });
  });

  it('track keeps only context.traits as person traits', () => {
    const m = ok({ type: 'track', userId: 'u1', event: 'E', properties: { total: 1 }, context: { traits: { phone: '13800138000' } } });
    expect(m.traits).toEqual({ phone: '13800138000' });
    expect(m.properties).toEqual({ total: 1 });
  });

  it('group traits describe the group and go to properties, not to the person', () => {
    const m = ok({ type: 'group', userId: 'u1', groupId: 'acme', traits: { industry: 'retail' } });
    expect(m.traits).toEqual({});
    expect(m.properties).toEqual({ industry: 'retail' });
    expect(m.groupId).toBe('acme');
  });

  it('page keeps its name as event and its category in properties', () => {
    const m = ok({ type: 'page', anonymousId: 'a1', name: 'Pricing', category: 'Docs' });
    expect(m.event).toBe('Pricing');
    expect(m.properties).toEqual({ category: 'Docs' });
  });

  it('keeps context.externalIds with their app id / collection', () => {
    const m = ok({
      type: 'identify',
      userId: 'u1',
      context: { externalIds: [{ id: 'oAbc', type: 'wechat_openid', collection: 'users', encoding: 'none', appId: 'wx1' }, { id: 42, type: 'crm_id' }] },
    });
    expect(m.externalIds).toEqual([
      { id: 'oAbc', type: 'wechat_openid', collection: 'users', appId: 'wx1' },
      { id: '42', type: 'crm_id' },
    ]);
  });
});

describe('parseMessage: timestamps and clock skew', () => {
  it.each<[string, Record<string, unknown>, Partial<ParseOptions>, string]>([
    ['no time at all → receivedAt', {}, {}, RECEIVED],
    ['originalTimestamp without sentAt is kept', { originalTimestamp: '2026-03-01T08:00:00Z' }, {}, '2026-03-01T08:00:00.000Z'],
    ['server-library timestamp without sentAt is kept', { timestamp: '2026-02-28T23:30:00+08:00' }, {}, '2026-02-28T15:30:00.000Z'],
    // Device clock 1 h ahead: the event happened 1 minute before it was sent.
    ['client skew: originalTimestamp + sentAt', { originalTimestamp: '2026-03-01T12:59:00Z', sentAt: '2026-03-01T13:00:00Z' }, {}, '2026-03-01T11:59:00.000Z'],
    ['server library: timestamp + sentAt', { timestamp: '2026-03-01T11:00:00Z', sentAt: '2026-03-01T11:30:00Z' }, {}, '2026-03-01T11:30:00.000Z'],
    ['batch-level sentAt is used when the message has none', { originalTimestamp: '2026-03-01T09:10:00Z' }, { batchSentAt: '2026-03-01T09:20:00Z' }, '2026-03-01T11:50:00.000Z'],
    ['message sentAt wins over batch sentAt', { originalTimestamp: '2026-03-01T09:10:00Z', sentAt: '2026-03-01T09:15:00Z' }, { batchSentAt: '2026-03-01T09:20:00Z' }, '2026-03-01T11:55:00.000Z'],
    ['epoch milliseconds are accepted', { originalTimestamp: Date.parse('2026-03-01T10:00:00Z') }, {}, '2026-03-01T10:00:00.000Z'],
    ['a future client clock corrected by sentAt is accepted', { originalTimestamp: '2026-03-01T12:10:00Z', sentAt: '2026-03-01T12:10:01Z' }, {}, '2026-03-01T11:59:59.000Z'],
    ['exactly 5 minutes ahead is still accepted', { originalTimestamp: '2026-03-01T12:05:00Z' }, {}, '2026-03-01T12:05:00.000Z'],
  ])('%s', (_name, times, extra, expected) => {
    const m = ok({ type: 'track', userId: 'u1', event: 'E', ...times }, extra);
    expect(m.timestamp).toBe(expected);
  });

  it('keeps originalTimestamp and sentAt as received', () => {
    const m = ok({ type: 'track', userId: 'u1', event: 'E', originalTimestamp: '2026-03-01T12:59:00Z', sentAt: '2026-03-01T13:00:00Z' });
    expect(m.originalTimestamp).toBe('2026-03-01T12:59:00.000Z');
    expect(m.sentAt).toBe('2026-03-01T13:00:00.000Z');
    expect(m.receivedAt).toBe(RECEIVED);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['originalTimestamp 10 minutes ahead', { originalTimestamp: '2026-03-01T12:10:00Z' }, 'originalTimestamp'],
    ['timestamp one day ahead', { timestamp: '2026-03-02T12:00:00Z' }, 'timestamp'],
    ['5 minutes and 1 second ahead', { timestamp: '2026-03-01T12:05:01Z' }, 'timestamp'],
  ])('rejects a future time: %s', (_name, times, path) => {
    const found = problems({ type: 'track', userId: 'u1', event: 'E', ...times }, { path: 'batch[1]' });
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toBe(`batch[1].${path}`);
    expect(found[0]!.message).toMatch(/in the future/);
  });

  it('correctTimestamp is the Segment formula', () => {
    const received = new Date('2026-03-01T12:00:00.000Z');
    expect(correctTimestamp(received, '2026-03-01T10:00:00.000Z', '2026-03-01T10:00:30.000Z')).toBe('2026-03-01T11:59:30.000Z');
    expect(correctTimestamp(received, null, '2026-03-01T10:00:30.000Z')).toBe('2026-03-01T12:00:00.000Z');
    expect(correctTimestamp(received, '2026-03-01T10:00:00.000Z', null)).toBe('2026-03-01T10:00:00.000Z');
  });
});
