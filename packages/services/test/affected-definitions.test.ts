import { describe, expect, it } from 'vitest';
import type { SegmentRecord, TagRecord } from '@siyu/storage';
import { WorkspaceModel } from '../src/audiences/definitions.ts';

const at = '2026-01-01T00:00:00.000Z';
const tag = (id: string, name: string, condition?: unknown): TagRecord => ({
  id,
  workspaceId: 'ws',
  groupId: null,
  name,
  kind: condition ? 'rule' : 'manual',
  definition: condition ? { version: 1, condition } : null,
  description: null,
  defaultTtlDays: null,
  createdAt: at,
  updatedAt: at,
});
const segment = (id: string, condition: unknown): SegmentRecord => ({ id, workspaceId: 'ws', name: id, description: null, definition: { version: 1, condition }, version: 1, createdAt: at, updatedAt: at, computedAt: null });

// 高意向 (rule tag: viewed products) ← seg_hot (tag + city) ← seg_hot_vip (seg_hot + manual VIP); seg_spend on total spent.
const model = new WorkspaceModel(
  'ws',
  'Asia/Shanghai',
  [tag('tag_vip', 'VIP'), tag('tag_intent', '高意向', { event: 'Product Viewed', op: 'gte', value: 3, window: { last_days: 7 } })],
  [
    segment('seg_hot', { all: [{ tag: '高意向', has: true }, { trait: 'city', op: 'eq', value: '上海' }] }),
    segment('seg_hot_vip', { all: [{ segment: 'seg_hot', in: true }, { tag: 'tag_vip', has: true }] }),
    segment('seg_spend', { computed: 'total_spent', op: 'gte', value: 50_000 }),
  ],
  0,
);
const change = (c: { events?: string[]; traits?: string[]; computed?: string[]; whole?: boolean }) => ({
  whole: c.whole ?? false,
  events: new Set(c.events ?? []),
  traits: new Set(c.traits ?? []),
  computed: new Set(c.computed ?? []),
});
const ids = (defs: ReturnType<typeof model.affectedDefinitions>) => (defs === null ? null : defs.map((d) => d.id));

describe('WorkspaceModel.affectedDefinitions', () => {
  it.each([
    ['an event a rule tag uses: the tag and everything built on it, in order', change({ events: ['Product Viewed'] }), ['tag_intent', 'seg_hot', 'seg_hot_vip']],
    ['a trait: the segment using it and its dependant', change({ traits: ['city'] }), ['seg_hot', 'seg_hot_vip']],
    ['a computed trait, by its top-level key', change({ computed: ['total_spent'] }), ['seg_spend']],
    ['what nothing uses: none', change({ events: ['Page Viewed'], traits: ['nickname'], computed: ['event_counts'] }), []],
  ])('%s', (_name, c, expected) => {
    expect(ids(model.affectedDefinitions(c))).toEqual(expected);
  });

  it('a new or merged profile, or a change reaching every definition, means all of them (null)', () => {
    expect(model.affectedDefinitions(change({ whole: true }))).toBeNull();
    expect(model.affectedDefinitions(change({ events: ['Product Viewed'], traits: ['city'], computed: ['total_spent'] }))).toBeNull();
  });

  it('a definition on membership events depends on any evaluation: all of them', () => {
    const m = new WorkspaceModel('ws', 'Asia/Shanghai', [], [segment('seg_a', { trait: 'city', op: 'exists' }), segment('seg_b', { event: 'Segment Entered', op: 'gte', value: 1 })], 0);
    expect(m.affectedDefinitions(change({ traits: ['nickname'] }))).toBeNull();
  });
});
