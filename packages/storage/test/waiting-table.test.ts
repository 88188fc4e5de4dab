import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaitingTable } from '../src/sqlite/waiting-table.ts';

type Op = { op: 'set'; key: number; seq: number } | { op: 'delete'; key: number } | { op: 'retain'; from: number | null };

describe('WaitingTable', () => {
  it('answers as a Map does under any sequence of sets, deletes and prunes (keys crowded into two slots)', () => {
    // Seven keys that all start probing at the last slot or the first of a 16-slot table (three and
    // four of them): one run of collisions that wraps around, which deletes must shift back. And any key.
    const homeOf = (k: number) => Math.imul(k, 0x9e3779b1) >>> 28;
    const crowded: number[] = [];
    for (let k = 1; crowded.length < 7; k++) if ((homeOf(k) === 15 && crowded.filter((c) => homeOf(c) === 15).length < 3) || (homeOf(k) === 0 && crowded.filter((c) => homeOf(c) === 0).length < 4)) crowded.push(k);
    const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...crowded) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key, seq: fc.integer({ min: 1, max: 1000 }) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('retain' as const), from: fc.option(fc.integer({ min: -5, max: 1000 })) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const table = new WaitingTable(16);
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.op === 'set') {
            table.set(o.key, o.seq);
            model.set(o.key, o.seq);
          } else if (o.op === 'delete') {
            table.delete(o.key);
            model.delete(o.key);
          } else {
            table.retainFrom(o.from);
            for (const [k, s] of model) if (o.from === null || s < o.from) model.delete(k);
          }
          expect(table.size).toBe(model.size);
        }
        for (const [k, s] of model) expect(table.get(k)).toBe(s);
        for (const o of ops) if (o.op !== 'retain' && !model.has(o.key)) expect(table.get(o.key)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('grows at half full and holds 500k entries in 12 MB of slots', () => {
    const table = new WaitingTable();
    for (let i = 1; i <= 500_000; i++) table.set(Math.imul(i, 0x01000193), i);
    expect(table.size).toBe(500_000);
    expect(table.capacity).toBe(2 ** 20);
    for (let i = 1; i <= 500_000; i += 997) expect(table.get(Math.imul(i, 0x01000193))).toBe(i);
    table.retainFrom(400_001);
    expect(table.size).toBe(100_000);
    expect(table.capacity).toBe(2 ** 18);
    expect(table.get(Math.imul(400_001, 0x01000193))).toBe(400_001);
    expect(table.get(Math.imul(400_000, 0x01000193))).toBeUndefined();
  });

  it('refuses a seq it could not tell from an empty slot', () => {
    expect(() => new WaitingTable().set(1, 0)).toThrow(RangeError);
  });
});
