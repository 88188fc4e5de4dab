import { z } from 'zod';
import { invalidInput, formatPath } from '../errors.ts';
import { parseDateValue } from '../conditions/zoned-time.ts';

/** Lifecycle stages, in the order a customer normally passes through them. */
export const LIFECYCLE_STAGES = ['prospect', 'new', 'active', 'silent', 'at_risk', 'churned'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export function isLifecycleStage(value: unknown): value is LifecycleStage {
  return typeof value === 'string' && (LIFECYCLE_STAGES as readonly string[]).includes(value);
}

const DAY_MS = 86_400_000;

/**
 * Lifecycle thresholds. All fields are optional on input and take the defaults below.
 *
 * A repeat buyer's expected interval is `(lastOrderAt − firstOrderAt) / (orderCount − 1)`, clamped to
 * `[minIntervalDays, maxIntervalDays]`; a one-order customer uses `singleOrderIntervalDays`. The stage is
 * then `active` while days since the last order `< activeMultiple × interval`, `silent` while
 * `< silentMultiple × interval`, `at_risk` while `< atRiskMultiple × interval`, else `churned`. Bounds are
 * half-open so a stage changes exactly at `lastOrderAt + multiple × interval`.
 */
export const LifecycleThresholds = z
  .strictObject({
    newDays: z.number().positive().default(30),
    minIntervalDays: z.number().positive().default(7),
    maxIntervalDays: z.number().positive().default(180),
    singleOrderIntervalDays: z.number().positive().default(60),
    activeMultiple: z.number().positive().default(1.5),
    silentMultiple: z.number().positive().default(3),
    atRiskMultiple: z.number().positive().default(6),
  })
  .superRefine((t, ctx) => {
    if (t.minIntervalDays > t.maxIntervalDays) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxIntervalDays'],
        message: `maxIntervalDays (${t.maxIntervalDays}) must be at least minIntervalDays (${t.minIntervalDays})`,
      });
    }
    if (!(t.activeMultiple < t.silentMultiple)) {
      ctx.addIssue({
        code: 'custom',
        path: ['silentMultiple'],
        message: `silentMultiple (${t.silentMultiple}) must be greater than activeMultiple (${t.activeMultiple})`,
      });
    }
    if (!(t.silentMultiple < t.atRiskMultiple)) {
      ctx.addIssue({
        code: 'custom',
        path: ['atRiskMultiple'],
        message: `atRiskMultiple (${t.atRiskMultiple}) must be greater than silentMultiple (${t.silentMultiple})`,
      });
    }
  });
export type LifecycleThresholds = z.infer<typeof LifecycleThresholds>;
export type LifecycleThresholdsInput = z.input<typeof LifecycleThresholds>;

export const DEFAULT_LIFECYCLE_THRESHOLDS: LifecycleThresholds = LifecycleThresholds.parse({});

export interface LifecycleCustomer {
  firstOrderAt: string | null;
  lastOrderAt: string | null;
  orderCount: number;
  firstSeen?: string | null;
}

export interface LifecycleOptions {
  now: Date;
  thresholds?: LifecycleThresholdsInput;
}

const resolved = new WeakMap<object, LifecycleThresholds>();

/** Parses thresholds once per options object; throws `INVALID_INPUT` listing every problem. */
function resolveThresholds(input: LifecycleThresholdsInput | undefined): LifecycleThresholds {
  if (input === undefined) return DEFAULT_LIFECYCLE_THRESHOLDS;
  const cached = resolved.get(input);
  if (cached) return cached;
  const parsed = LifecycleThresholds.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ path: formatPath(i.path, 'thresholds'), message: i.message }));
    throw invalidInput('invalid lifecycle thresholds', problems);
  }
  resolved.set(input, parsed.data);
  return parsed.data;
}

function parseInstant(iso: string | null, field: string): number | null {
  if (iso === null) return null;
  // Timestamps are UTC ISO-8601 on the wire; an offset-less one is read as UTC.
  const ms = parseDateValue(iso, 'UTC')?.ms;
  if (ms === undefined) throw invalidInput(`${field} "${iso}" is not an ISO-8601 timestamp`, [{ path: field, message: 'expected an ISO-8601 timestamp such as 2024-01-31T08:00:00Z' }]);
  return ms;
}

interface Plan {
  stage: LifecycleStage;
  /** Instant at which the stage changes with no new order, or null. */
  changesAt: number | null;
}

function plan(customer: LifecycleCustomer, opts: LifecycleOptions): Plan {
  const t = resolveThresholds(opts.thresholds);
  const now = opts.now.getTime();
  const last = parseInstant(customer.lastOrderAt, 'lastOrderAt');
  if (customer.orderCount < 1 || last === null) return { stage: 'prospect', changesAt: null };
  const first = parseInstant(customer.firstOrderAt, 'firstOrderAt') ?? last;

  if (customer.orderCount === 1) {
    const newUntil = first + t.newDays * DAY_MS;
    if (now < newUntil) return { stage: 'new', changesAt: Math.ceil(newUntil) };
  }

  const intervalDays =
    customer.orderCount >= 2
      ? Math.min(t.maxIntervalDays, Math.max(t.minIntervalDays, (last - first) / DAY_MS / (customer.orderCount - 1)))
      : t.singleOrderIntervalDays;
  const bounds: Array<[LifecycleStage, number]> = [
    ['active', last + t.activeMultiple * intervalDays * DAY_MS],
    ['silent', last + t.silentMultiple * intervalDays * DAY_MS],
    ['at_risk', last + t.atRiskMultiple * intervalDays * DAY_MS],
  ];
  for (const [stage, until] of bounds) {
    if (now < until) return { stage, changesAt: Math.ceil(until) };
  }
  return { stage: 'churned', changesAt: null };
}

/**
 * The lifecycle stage of one customer at `opts.now`, relative to the customer's own purchase rhythm.
 *
 * - `prospect`: no order yet;
 * - `new`: exactly one order, placed less than `newDays` ago;
 * - `active` / `silent` / `at_risk` / `churned`: days since the last order against multiples of the
 *   expected interval (see {@link LifecycleThresholds}).
 *
 * @example lifecycleStage({ firstOrderAt: null, lastOrderAt: null, orderCount: 0, firstSeen: '2024-01-01T00:00:00Z' }, { now }) // 'prospect'
 * @throws AppError `INVALID_INPUT` when thresholds are invalid or a timestamp does not parse.
 */
export function lifecycleStage(customer: LifecycleCustomer, opts: LifecycleOptions): LifecycleStage {
  return plan(customer, opts).stage;
}

/**
 * The instant at which {@link lifecycleStage} will return a different stage if no new order arrives,
 * or null when it never will (`prospect`, `churned`). Schedule a re-evaluation exactly then.
 */
export function lifecycleNextChangeAt(customer: LifecycleCustomer, opts: LifecycleOptions): Date | null {
  const { changesAt } = plan(customer, opts);
  return changesAt === null ? null : new Date(changesAt);
}
