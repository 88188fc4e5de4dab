import { describe, expect, test } from 'vitest';
import { AppError } from '../errors.ts';
import { DEFAULT_LIFECYCLE_THRESHOLDS, lifecycleNextChangeAt, lifecycleStage } from './lifecycle.ts';
import type { LifecycleCustomer, LifecycleStage, LifecycleThresholdsInput } from './lifecycle.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2024-06-30T00:00:00Z');
const now = new Date(NOW);
const daysAgo = (d: number): string => new Date(NOW - d * DAY).toISOString();
const buyer = (firstDaysAgo: number, lastDaysAgo: number, orderCount: number): LifecycleCustomer => ({
  firstOrderAt: daysAgo(firstDaysAgo),
  lastOrderAt: daysAgo(lastDaysAgo),
  orderCount,
  firstSeen: daysAgo(firstDaysAgo + 3),
});

interface Row {
  name: string;
  customer: LifecycleCustomer;
  stage: LifecycleStage;
  /** Days from now until the stage changes, or null. */
  changesInDays: number | null;
  thresholds?: LifecycleThresholdsInput;
}

describe('lifecycleStage', () => {
  test.each<Row>([
    { name: 'never purchased → prospect', customer: { firstOrderAt: null, lastOrderAt: null, orderCount: 0, firstSeen: daysAgo(5) }, stage: 'prospect', changesInDays: null },
    { name: 'one order 10 days ago → new until day 30', customer: buyer(10, 10, 1), stage: 'new', changesInDays: 20 },
    // One order: default interval 60 days → active < 90, silent < 180, at_risk < 360.
    { name: 'one order 40 days ago → active', customer: buyer(40, 40, 1), stage: 'active', changesInDays: 50 },
    { name: 'one order 100 days ago → silent', customer: buyer(100, 100, 1), stage: 'silent', changesInDays: 80 },
    { name: 'one order 200 days ago → at_risk', customer: buyer(200, 200, 1), stage: 'at_risk', changesInDays: 160 },
    { name: 'one order 400 days ago → churned', customer: buyer(400, 400, 1), stage: 'churned', changesInDays: null },
    // 8 orders over 70 days → every 10 days: active < 15, silent < 30, at_risk < 60.
    { name: 'weekly-ish buyer 12 days after the last order → active', customer: buyer(82, 12, 8), stage: 'active', changesInDays: 3 },
    { name: 'same buyer 20 days after → silent', customer: buyer(90, 20, 8), stage: 'silent', changesInDays: 10 },
    { name: 'same buyer 45 days after → at_risk', customer: buyer(115, 45, 8), stage: 'at_risk', changesInDays: 15 },
    { name: 'same buyer 60 days after → churned (boundary is exclusive)', customer: buyer(130, 60, 8), stage: 'churned', changesInDays: null },
    { name: 'two orders within the new period are not "new"', customer: buyer(10, 2, 2), stage: 'active', changesInDays: 10 }, // interval 8 days → active for 12 days after the last order
    // Interval of 1 day is clamped up to 7: at_risk from 21 to 42 days.
    { name: 'interval clamped to minInterval', customer: buyer(29, 27, 3), stage: 'at_risk', changesInDays: 15 },
    // Interval of 4 years is clamped down to 180 days: active until 270.
    { name: 'interval clamped to maxInterval', customer: buyer(1642, 181, 2), stage: 'active', changesInDays: 89 },
    {
      name: 'custom thresholds',
      customer: buyer(40, 40, 1),
      thresholds: { singleOrderIntervalDays: 20, activeMultiple: 1, silentMultiple: 2, atRiskMultiple: 4 },
      stage: 'at_risk',
      changesInDays: 40,
    },
    { name: 'custom newDays', customer: buyer(40, 40, 1), thresholds: { newDays: 45 }, stage: 'new', changesInDays: 5 },
  ])('$name', ({ customer, stage, changesInDays, thresholds }) => {
    const opts = { now, ...(thresholds ? { thresholds } : {}) };
    expect(lifecycleStage(customer, opts)).toBe(stage);
    const next = lifecycleNextChangeAt(customer, opts);
    expect(next === null ? null : (next.getTime() - NOW) / DAY).toBe(changesInDays);
    if (next) {
      expect(lifecycleStage(customer, { ...opts, now: new Date(next.getTime() - 1) })).toBe(stage);
      expect(lifecycleStage(customer, { ...opts, now: next })).not.toBe(stage);
    }
  });

  test('defaults', () => {
    expect(DEFAULT_LIFECYCLE_THRESHOLDS).toEqual({
      newDays: 30,
      minIntervalDays: 7,
      maxIntervalDays: 180,
      singleOrderIntervalDays: 60,
      activeMultiple: 1.5,
      silentMultiple: 3,
      atRiskMultiple: 6,
    });
  });

  test('invalid thresholds are refused with every problem', () => {
    try {
      lifecycleStage(buyer(1, 1, 1), { now, thresholds: { minIntervalDays: 200, activeMultiple: 4, newDays: -1 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      const problems = (e as AppError).details?.['problems'] as Array<{ path: string }>;
      expect(problems.map((p) => p.path).sort()).toEqual(['thresholds.maxIntervalDays', 'thresholds.newDays', 'thresholds.silentMultiple']);
    }
  });
});
