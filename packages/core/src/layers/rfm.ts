import { z } from 'zod';
import { invalidInput, formatPath } from '../errors.ts';
import { DAY_MS, parseDateValue } from '../conditions/zoned-time.ts';

/** The 11 named RFM segments. */
export const RFM_SEGMENTS = [
  'Champions',
  'Loyal Customers',
  'Potential Loyalist',
  'New Customers',
  'Promising',
  'Need Attention',
  'About To Sleep',
  'At Risk',
  "Can't Lose Them",
  'Hibernating',
  'Lost',
] as const;
export type RfmSegmentName = (typeof RFM_SEGMENTS)[number];

export function isRfmSegmentName(value: unknown): value is RfmSegmentName {
  return typeof value === 'string' && (RFM_SEGMENTS as readonly string[]).includes(value);
}

/** An R, F or M score. */
export type RfmScoreValue = 1 | 2 | 3 | 4 | 5;

/**
 * The widely published segment table (Putler's "RFM segments", also the rsquaredacademy/rfm
 * vignette): each segment is a range of R and of FM = (F + M) / 2, both inclusive. The ranges overlap,
 * so they do not by themselves name a cell; {@link RFM_SEGMENT_GRID} resolves them.
 */
export const RFM_SEGMENT_RANGES: ReadonlyArray<{ segment: RfmSegmentName; r: readonly [number, number]; fm: readonly [number, number] }> = [
  { segment: 'Champions', r: [4, 5], fm: [4, 5] },
  { segment: 'Loyal Customers', r: [2, 5], fm: [3, 5] },
  { segment: 'Potential Loyalist', r: [3, 5], fm: [1, 3] },
  { segment: 'New Customers', r: [4, 5], fm: [0, 1] },
  { segment: 'Promising', r: [3, 4], fm: [0, 1] },
  { segment: 'Need Attention', r: [2, 3], fm: [2, 3] },
  { segment: 'About To Sleep', r: [2, 3], fm: [0, 2] },
  { segment: 'At Risk', r: [0, 2], fm: [2, 5] },
  { segment: "Can't Lose Them", r: [0, 1], fm: [4, 5] },
  { segment: 'Hibernating', r: [1, 2], fm: [1, 2] },
  { segment: 'Lost', r: [0, 2], fm: [0, 2] },
];

const CH = 'Champions';
const LO = 'Loyal Customers';
const PL = 'Potential Loyalist';
const NC = 'New Customers';
const PR = 'Promising';
const NA = 'Need Attention';
const AS = 'About To Sleep';
const AR = 'At Risk';
const CL = "Can't Lose Them";
const HI = 'Hibernating';
const LS = 'Lost';

/**
 * R × FM → segment, one name per cell. Rows are R = 5..1; columns are FM = (F + M) / 2 =
 * 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5. Every cell lies inside its segment's published range in
 * {@link RFM_SEGMENT_RANGES} (a test checks this), and every one of the 11 segments has a cell.
 */
export const RFM_SEGMENT_GRID: Readonly<Record<RfmScoreValue, readonly RfmSegmentName[]>> = {
  //  FM:  1    1.5  2    2.5  3    3.5  4    4.5  5
  5: [NC, PL, PL, PL, LO, LO, CH, CH, CH],
  4: [NC, PL, PL, PL, LO, LO, CH, CH, CH],
  3: [PR, AS, AS, NA, NA, LO, LO, LO, LO],
  2: [HI, HI, AR, AR, AR, AR, AR, AR, AR],
  1: [LS, LS, AR, AR, AR, AR, CL, CL, CL],
};

/** The named segment of an R, F, M score triple. */
export function rfmSegmentOf(r: RfmScoreValue, f: RfmScoreValue, m: RfmScoreValue): RfmSegmentName {
  const segment = RFM_SEGMENT_GRID[r][f + m - 2];
  if (segment === undefined) throw new RangeError(`RFM scores must be 1–5, got r=${r} f=${f} m=${m}`);
  return segment;
}

const Cutpoints = z
  .tuple([z.number(), z.number(), z.number(), z.number()])
  .refine((c) => c[0] < c[1] && c[1] < c[2] && c[2] < c[3], { message: 'the 4 cut points must be strictly increasing' })
  .refine((c) => c[0] >= 0, { message: 'cut points cannot be negative' });

/**
 * Fixed cut points instead of quintiles, 4 strictly increasing numbers per dimension.
 * - `r` (days since the last order): ≤ r[0] → 5, ≤ r[1] → 4, ≤ r[2] → 3, ≤ r[3] → 2, else 1.
 * - `f` (orders) and `m` (total spent, same unit as the input): < c[0] → 1, < c[1] → 2, < c[2] → 3,
 *   < c[3] → 4, else 5 — i.e. c[i] is the smallest value that scores i + 2.
 */
export const RfmThresholds = z.strictObject({ r: Cutpoints.optional(), f: Cutpoints.optional(), m: Cutpoints.optional() });
export type RfmThresholds = z.infer<typeof RfmThresholds>;

export interface RfmCustomer {
  id: string;
  lastOrderAt: string | null;
  orderCount: number;
  /** Total spent, integer fen (any unit works; it is only ranked, and summed by {@link rfmMatrix}). */
  totalSpent: number;
}

export interface RfmOptions {
  now: Date;
  thresholds?: RfmThresholds;
}

export interface RfmScore {
  id: string;
  r: RfmScoreValue;
  f: RfmScoreValue;
  m: RfmScoreValue;
  segment: RfmSegmentName;
  /** Whole days since the last order (what R scores). */
  recencyDays: number;
}

function clampScore(n: number): RfmScoreValue {
  return Math.min(5, Math.max(1, n)) as RfmScoreValue;
}

/** Index of the first element ≥ v (sorted ascending). */
function lowerBound(sorted: readonly number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > v (sorted ascending). */
function upperBound(sorted: readonly number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Quintile score 1–5 by the share of customers with a strictly worse value:
 * `1 + ⌊5 × worse / n⌋`. Equal values always get equal scores. The best value scores 5 whenever customers
 * differ: otherwise, when more than a fifth tie at the top (everyone who ordered today: recency 0 days),
 * no one would score 5 and the top row of the matrix would stay empty.
 */
function quintileScorer(values: readonly number[], higherIsBetter: boolean): (v: number) => RfmScoreValue {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const best = higherIsBetter ? sorted[n - 1] : sorted[0];
  const differ = n > 0 && sorted[0] !== sorted[n - 1];
  return (v) => {
    if (differ && v === best) return 5;
    const worse = higherIsBetter ? lowerBound(sorted, v) : n - upperBound(sorted, v);
    return clampScore(1 + Math.floor((5 * worse) / n));
  };
}

function cutpointScorer(cuts: readonly number[], higherIsBetter: boolean): (v: number) => RfmScoreValue {
  return higherIsBetter
    ? (v) => clampScore(1 + cuts.filter((c) => c <= v).length)
    : (v) => clampScore(5 - cuts.filter((c) => c < v).length);
}

function parseThresholds(input: RfmThresholds | undefined): RfmThresholds {
  if (input === undefined) return {};
  const parsed = RfmThresholds.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ path: formatPath(i.path, 'thresholds'), message: i.message }));
    throw invalidInput('invalid RFM thresholds', problems);
  }
  return parsed.data;
}

/**
 * RFM scores and named segment for every customer with at least one order (others are omitted),
 * in input order. By default each dimension is scored by quintiles over the given customers
 * (R: fewer days since the last order scores higher; F, M: more scores higher); ties score equal.
 * `opts.thresholds` replaces quintiles by fixed cut points per dimension.
 *
 * @example computeRfm([{ id: 'prof_1', lastOrderAt: '2024-05-01T00:00:00Z', orderCount: 3, totalSpent: 25_000 }], { now })
 * @throws AppError `INVALID_INPUT` for invalid thresholds or an unparseable `lastOrderAt`.
 */
export function computeRfm(customers: readonly RfmCustomer[], opts: RfmOptions): RfmScore[] {
  return scoreCustomers(customers, opts).map((x) => x.score);
}

function scoreCustomers(customers: readonly RfmCustomer[], opts: RfmOptions): Array<{ score: RfmScore; totalSpent: number }> {
  const thresholds = parseThresholds(opts.thresholds);
  const now = opts.now.getTime();
  const rows: Array<{ id: string; recency: number; frequency: number; monetary: number }> = [];
  customers.forEach((c, i) => {
    if (c.orderCount < 1 || c.lastOrderAt === null) return;
    const last = parseDateValue(c.lastOrderAt, 'UTC');
    if (!last) {
      throw invalidInput(`lastOrderAt "${c.lastOrderAt}" of customer "${c.id}" is not an ISO-8601 timestamp`, [
        { path: `customers[${i}].lastOrderAt`, message: 'expected an ISO-8601 timestamp such as 2024-01-31T08:00:00Z' },
      ]);
    }
    rows.push({ id: c.id, recency: Math.max(0, Math.floor((now - last.ms) / DAY_MS)), frequency: c.orderCount, monetary: c.totalSpent });
  });
  if (rows.length === 0) return [];
  const scoreR = thresholds.r ? cutpointScorer(thresholds.r, false) : quintileScorer(rows.map((x) => x.recency), false);
  const scoreF = thresholds.f ? cutpointScorer(thresholds.f, true) : quintileScorer(rows.map((x) => x.frequency), true);
  const scoreM = thresholds.m ? cutpointScorer(thresholds.m, true) : quintileScorer(rows.map((x) => x.monetary), true);
  return rows.map((x) => {
    const r = scoreR(x.recency);
    const f = scoreF(x.frequency);
    const m = scoreM(x.monetary);
    return { score: { id: x.id, r, f, m, segment: rfmSegmentOf(r, f, m), recencyDays: x.recency }, totalSpent: x.monetary };
  });
}

export interface RfmMatrixCell {
  r: RfmScoreValue;
  f: RfmScoreValue;
  customers: number;
  revenue: number;
}

export interface RfmSegmentTotal {
  segment: RfmSegmentName;
  customers: number;
  revenue: number;
}

export interface RfmMatrix {
  /** All 25 R × F cells, R = 5..1 then F = 1..5, zeros included (ready for a heat map). */
  cells: RfmMatrixCell[];
  /** All 11 segments in {@link RFM_SEGMENTS} order, zeros included. */
  segments: RfmSegmentTotal[];
  customers: number;
  /** Sum of `totalSpent` of the scored customers (same unit as the input). */
  revenue: number;
}

const SCORES: readonly RfmScoreValue[] = [1, 2, 3, 4, 5];

/**
 * Customer counts and revenue per R × F cell and per named segment, scoring with {@link computeRfm}
 * under the same options. Customers without orders are not counted.
 */
export function rfmMatrix(customers: readonly RfmCustomer[], opts: RfmOptions): RfmMatrix {
  const scored = scoreCustomers(customers, opts);
  const cells = new Map<string, RfmMatrixCell>();
  for (const r of [...SCORES].reverse()) for (const f of SCORES) cells.set(`${r}:${f}`, { r, f, customers: 0, revenue: 0 });
  const segments = new Map<RfmSegmentName, RfmSegmentTotal>(RFM_SEGMENTS.map((s) => [s, { segment: s, customers: 0, revenue: 0 }]));
  let revenue = 0;
  for (const { score: s, totalSpent: amount } of scored) {
    const cell = cells.get(`${s.r}:${s.f}`)!;
    cell.customers += 1;
    cell.revenue += amount;
    const seg = segments.get(s.segment)!;
    seg.customers += 1;
    seg.revenue += amount;
    revenue += amount;
  }
  return { cells: [...cells.values()], segments: [...segments.values()], customers: scored.length, revenue };
}
