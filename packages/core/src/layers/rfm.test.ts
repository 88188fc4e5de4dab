import { describe, expect, test } from 'vitest';
import { AppError } from '../errors.ts';
import { RFM_SEGMENTS, RFM_SEGMENT_GRID, RFM_SEGMENT_RANGES, computeRfm, rfmMatrix, rfmSegmentOf } from './rfm.ts';
import type { RfmCustomer, RfmScoreValue } from './rfm.ts';

const now = new Date('2024-06-30T00:00:00Z');
const daysAgo = (d: number): string => new Date(now.getTime() - d * 86_400_000).toISOString();

/** Hand-computed below. */
const customers: RfmCustomer[] = [
  { id: 'A', lastOrderAt: daysAgo(1), orderCount: 10, totalSpent: 100_000 },
  { id: 'B', lastOrderAt: daysAgo(10), orderCount: 5, totalSpent: 50_000 },
  { id: 'C', lastOrderAt: daysAgo(30), orderCount: 2, totalSpent: 20_000 },
  { id: 'D', lastOrderAt: daysAgo(120), orderCount: 2, totalSpent: 8_000 },
  { id: 'E', lastOrderAt: daysAgo(365), orderCount: 1, totalSpent: 3_000 },
  { id: 'F', lastOrderAt: null, orderCount: 0, totalSpent: 0 },
];

describe('computeRfm by quintiles', () => {
  test('a hand-computed example', () => {
    // R: 5 customers, score = 1 + ⌊5 × (customers less recent) / 5⌋ → A 5, B 4, C 3, D 2, E 1.
    // F: [10, 5, 2, 2, 1] → A 5 (4 below), B 4 (3 below), C and D tie at 2 (1 below), E 1.
    // M: distinct → A 5 … E 1. Segments by R × (F+M)/2 in RFM_SEGMENT_GRID:
    // A 5/5 → Champions, B 4/4 → Champions, C 3/2.5 → Need Attention, D 2/2 → At Risk, E 1/1 → Lost.
    expect(computeRfm(customers, { now })).toEqual([
      { id: 'A', r: 5, f: 5, m: 5, segment: 'Champions', recencyDays: 1 },
      { id: 'B', r: 4, f: 4, m: 4, segment: 'Champions', recencyDays: 10 },
      { id: 'C', r: 3, f: 2, m: 3, segment: 'Need Attention', recencyDays: 30 },
      { id: 'D', r: 2, f: 2, m: 2, segment: 'At Risk', recencyDays: 120 },
      { id: 'E', r: 1, f: 1, m: 1, segment: 'Lost', recencyDays: 365 },
    ]);
  });

  test('equal values get equal scores, deterministically', () => {
    const counts = [1, 1, 1, 1, 1, 1, 1, 2, 2, 3];
    const many = counts.map((orderCount, i) => ({ id: `c${i}`, lastOrderAt: daysAgo(i), orderCount, totalSpent: 100 }));
    const scores = computeRfm(many, { now });
    expect(scores.map((s) => s.f)).toEqual([1, 1, 1, 1, 1, 1, 1, 4, 4, 5]);
    expect(new Set(scores.map((s) => s.m))).toEqual(new Set([1])); // everyone spent the same
    expect(computeRfm([...many].reverse(), { now }).map((s) => s.f)).toEqual([5, 4, 4, 1, 1, 1, 1, 1, 1, 1]);
  });

  test('the best value scores 5 even when more than a fifth of customers share it', () => {
    // 35 % ordered today (recency 0): strictly-worse shares alone would give them 1 + ⌊5 × 0.65⌋ = 4.
    const many = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, lastOrderAt: daysAgo(i < 7 ? 0 : i), orderCount: 1 + (i % 3), totalSpent: 100 * (i + 1) }));
    const scores = computeRfm(many, { now });
    expect(scores.slice(0, 7).map((s) => s.r)).toEqual([5, 5, 5, 5, 5, 5, 5]);
    expect(scores.slice(7).every((s) => s.r < 5)).toBe(true);
    // The worst value still scores 1, and everyone alike scores 1 as before.
    expect(scores[19]!.r).toBe(1);
    expect(new Set(computeRfm(many.map((c) => ({ ...c, totalSpent: 500 })), { now }).map((s) => s.m))).toEqual(new Set([1]));
  });

  test('ten distinct values split two per score', () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, lastOrderAt: daysAgo(10 * i), orderCount: i + 1, totalSpent: (i + 1) * 1000 }));
    const scores = computeRfm(ten, { now });
    expect(scores.map((s) => s.f)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(scores.map((s) => s.r)).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
  });

  test('customers without orders are left out', () => {
    expect(computeRfm([customers[5]!], { now })).toEqual([]);
  });
});

describe('computeRfm with fixed thresholds', () => {
  test('cut points replace quintiles', () => {
    const scores = computeRfm(customers, {
      now,
      thresholds: { r: [7, 30, 90, 180], f: [2, 3, 5, 10], m: [5_000, 10_000, 30_000, 80_000] },
    });
    expect(scores.map((s) => [s.id, s.r, s.f, s.m])).toEqual([
      ['A', 5, 5, 5],
      ['B', 4, 4, 4],
      ['C', 4, 2, 3], // 30 days is still ≤ 30
      ['D', 2, 2, 2],
      ['E', 1, 1, 1],
    ]);
  });

  test('invalid thresholds are refused with every problem', () => {
    try {
      computeRfm(customers, { now, thresholds: { r: [30, 7, 90, 180], m: [-1, 2, 3, 4] } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      const problems = (e as AppError).details?.['problems'] as Array<{ path: string }>;
      expect(problems.map((p) => p.path)).toEqual(['thresholds.r', 'thresholds.m']);
    }
  });
});

describe('named segments', () => {
  test('every grid cell lies inside its segment’s published range, and all 11 segments appear', () => {
    const seen = new Set<string>();
    for (const r of [1, 2, 3, 4, 5] as RfmScoreValue[]) {
      RFM_SEGMENT_GRID[r].forEach((segment, i) => {
        const fm = 1 + i / 2;
        const range = RFM_SEGMENT_RANGES.find((x) => x.segment === segment)!;
        expect(r >= range.r[0] && r <= range.r[1] && fm >= range.fm[0] && fm <= range.fm[1], `${segment} at R${r} FM${fm}`).toBe(true);
        seen.add(segment);
      });
    }
    expect([...seen].sort()).toEqual([...RFM_SEGMENTS].sort());
  });

  test.each([
    [5, 5, 5, 'Champions'],
    [5, 1, 1, 'New Customers'],
    [3, 1, 1, 'Promising'],
    [4, 2, 1, 'Potential Loyalist'],
    [3, 4, 5, 'Loyal Customers'],
    [3, 1, 2, 'About To Sleep'],
    [3, 3, 2, 'Need Attention'],
    [2, 4, 4, 'At Risk'],
    [1, 5, 4, "Can't Lose Them"],
    [2, 1, 1, 'Hibernating'],
    [1, 1, 2, 'Lost'],
  ] as const)('R%i F%i M%i → %s', (r, f, m, segment) => {
    expect(rfmSegmentOf(r, f, m)).toBe(segment);
  });
});

describe('rfmMatrix', () => {
  test('counts and revenue per R × F cell and per segment', () => {
    const matrix = rfmMatrix(customers, { now });
    expect(matrix.customers).toBe(5);
    expect(matrix.revenue).toBe(181_000);
    expect(matrix.cells).toHaveLength(25);
    expect(matrix.cells.filter((c) => c.customers > 0)).toEqual([
      { r: 5, f: 5, customers: 1, revenue: 100_000 },
      { r: 4, f: 4, customers: 1, revenue: 50_000 },
      { r: 3, f: 2, customers: 1, revenue: 20_000 },
      { r: 2, f: 2, customers: 1, revenue: 8_000 },
      { r: 1, f: 1, customers: 1, revenue: 3_000 },
    ]);
    expect(matrix.segments).toHaveLength(11);
    expect(matrix.segments.find((s) => s.segment === 'Champions')).toEqual({ segment: 'Champions', customers: 2, revenue: 150_000 });
    expect(matrix.segments.find((s) => s.segment === 'Hibernating')).toEqual({ segment: 'Hibernating', customers: 0, revenue: 0 });
  });
});
