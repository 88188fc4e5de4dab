import { describe, expect, it } from 'vitest';
import {
  coerceText,
  fromCondition,
  fromDefinition,
  hasUnfinishedRule,
  newGroup,
  newRule,
  placeProblems,
  toDefinition,
  updateNode,
  valueForOp,
  yuanToFen,
  type GroupNode,
  type RuleNode,
} from './conditions';

const roundTrip = (condition: unknown) => toDefinition(fromDefinition({ version: 1, condition })).definition.condition;

describe('condition builder ⇄ JSON', () => {
  it('writes the brief example: total spent ≥ ¥100 (in fen) and has a tag', () => {
    const spent = newRule('computed');
    const tag = newRule('tag', { tag: 'tag_vip' });
    const root = newGroup('all', [{ ...spent, value: yuanToFen(100) } as RuleNode, tag]);
    const { definition, paths } = toDefinition(root);
    expect(definition).toEqual({
      version: 1,
      condition: { all: [{ computed: 'total_spent', op: 'gte', value: 10000 }, { tag: 'tag_vip', has: true }] },
    });
    expect(paths.get(root.key)).toBe('definition.condition');
    expect(paths.get(tag.key)).toBe('definition.condition.all[1]');
  });

  it.each([
    { name: 'nested any/all', c: { all: [{ any: [{ trait: 'city', op: 'eq', value: '上海' }, { trait: 'city', op: 'in', value: ['北京', '杭州'] }] }, { lifecycle: ['silent', 'at_risk'] }] } },
    { name: 'behaviour with where, sum and window', c: { all: [{ event: 'Order Completed', where: [{ property: 'store', op: 'contains', value: '上海' }], measure: { sum: 'total' }, op: 'gte', value: 500, window: { last_days: 30 } }] } },
    { name: 'did not do', c: { all: [{ event: 'Order Completed', op: 'eq', value: 0, window: { last_days: 90 } }] } },
    { name: 'sequence', c: { any: [{ sequence: ['Product Viewed', 'Order Completed'], within_days: 7 }] } },
    { name: 'negated group and leaf', c: { all: [{ not: { any: [{ tag: 'VIP', has: true }] } }, { not: { segment: 'seg_1', in: true } }] } },
    { name: 'rfm and rfm_segment', c: { all: [{ rfm: { r: [4, 5], f: [1] } }, { rfm_segment: ['Champions', "Can't Lose Them"] }] } },
    { name: 'date window', c: { all: [{ event: 'Signed Up', op: 'gte', value: 1, window: { between: ['2026-01-01', '2026-01-31'] } }] } },
  ])('round-trips $name exactly', ({ c }) => {
    expect(roundTrip(c)).toEqual(c);
  });

  it('keeps what the visual rules cannot show as a JSON rule, unchanged', () => {
    const odd = { sequence: [{ event: 'A', where: [{ property: 'x', op: 'exists' }] }, 'B'] };
    const node = fromCondition(odd);
    expect(node).toMatchObject({ type: 'rule', kind: 'json' });
    expect(roundTrip({ all: [odd, { weird: 1 }] })).toEqual({ all: [odd, { weird: 1 }] });
  });

  it('wraps a single top-level condition in "all"', () => {
    expect(roundTrip({ tag: 'VIP', has: true })).toEqual({ all: [{ tag: 'VIP', has: true }] });
  });

  it('reports a JSON rule that does not parse locally', () => {
    const bad = { ...newRule('json'), text: '{ nope' } as RuleNode;
    const r = toDefinition(newGroup('all', [bad]));
    expect(r.localProblems.get(bad.key)).toBeTruthy();
  });
});

describe('problems → builder nodes', () => {
  it('puts each problem under the deepest node whose path it is under', () => {
    const root = fromDefinition({
      version: 1,
      condition: { all: [{ trait: 'age', op: 'gt', value: 'x' }, { any: [{ tag: 'nope', has: true }] }] },
    });
    const { paths } = toDefinition(root);
    const inner = root.children[1] as GroupNode;
    const { byNode, unplaced } = placeProblems(
      [
        { path: 'definition.condition.all[0].value', message: 'not a number' },
        { path: 'definition.condition.all[1].any[0].tag', message: 'unknown tag' },
        { path: 'definition.condition.all[1].any', message: 'group problem' },
        { path: 'name', message: 'give the segment a name' },
      ],
      paths,
    );
    expect(byNode.get(root.children[0]!.key)?.map((p) => p.message)).toEqual(['not a number']);
    expect(byNode.get(inner.children[0]!.key)?.map((p) => p.message)).toEqual(['unknown tag']);
    expect(byNode.get(inner.key)?.map((p) => p.message)).toEqual(['group problem']);
    expect(unplaced.map((p) => p.path)).toEqual(['name']);
  });

  it('paths of a negated group go through "not"', () => {
    const child = newRule('lifecycle');
    const group: GroupNode = { ...newGroup('any', [child]), negate: true };
    const { paths, definition } = toDefinition(newGroup('all', [group]));
    expect(definition.condition).toEqual({ all: [{ not: { any: [{ lifecycle: 'active' }] } }] });
    expect(paths.get(child.key)).toBe('definition.condition.all[0].not.any[0]');
  });
});

describe('edits and values', () => {
  it('updates and removes nodes immutably', () => {
    const a = newRule('trait');
    const b = newRule('tag');
    const root = newGroup('all', [a, b]);
    const next = updateNode(root, a.key, (n) => ({ ...n, negate: true }));
    expect(next).not.toBe(root);
    expect((next as GroupNode).children[0]?.negate).toBe(true);
    expect(root.children[0]?.negate).toBe(false);
    const removed = updateNode(next, b.key, () => null) as GroupNode;
    expect(removed.children).toHaveLength(1);
  });

  it('reshapes the value when the op changes shape', () => {
    expect(valueForOp('in', 'eq', '上海')).toEqual(['上海']);
    expect(valueForOp('between', 'gte', 5)).toEqual([null, null]);
    expect(valueForOp('within_last', 'gte', 5)).toEqual({ days: 30 });
    expect(valueForOp('exists', 'eq', 'x')).toBeUndefined();
    expect(valueForOp('gt', 'eq', 3)).toBe(3);
  });

  it('types text as the subject needs', () => {
    expect(coerceText('30', 'number', 'scalar')).toBe(30);
    expect(coerceText('30', undefined, 'order')).toBe(30);
    expect(coerceText('30', 'string', 'scalar')).toBe('30');
    expect(coerceText('true', 'boolean', 'scalar')).toBe(true);
    expect(yuanToFen(99.99)).toBe(9999);
    expect(yuanToFen(null)).toBeUndefined();
  });
});

describe('unfinished rules', () => {
  it('a rule without its trait, event, tag or segment yet is unfinished; the tree is too', () => {
    const root = fromDefinition({ version: 1, condition: { all: [{ trait: 'city', op: 'eq', value: '上海' }] } });
    expect(hasUnfinishedRule(root)).toBe(false);
    const blank = fromDefinition({ version: 1, condition: { all: [{ trait: 'city', op: 'eq', value: '上海' }, { trait: '', op: 'eq', value: '' }] } });
    expect(hasUnfinishedRule(blank)).toBe(true);
    expect(hasUnfinishedRule(fromDefinition({ version: 1, condition: { event: '', op: 'gte', value: 1 } }))).toBe(true);
    expect(hasUnfinishedRule(fromDefinition({ version: 1, condition: { lifecycle: 'new' } }))).toBe(false);
  });
});
