import { expect, it } from 'vitest';
import { LogWatermarks } from './log-watermarks.ts';

it('bounds a sweep by the last number seen at least the age before', () => {
  const w = new LogWatermarks(600_000);
  expect(w.note(0, 10)).toBeUndefined();
  expect(w.note(300_000, 50)).toBeUndefined();
  expect(w.note(600_000, 90)).toBe(10);
  expect(w.note(899_999, 120)).toBe(10);
  expect(w.note(900_000, 150)).toBe(50);
  expect(w.note(1_200_000, 160)).toBe(90);
  // A long pause: the youngest sample old enough wins.
  expect(w.note(5_000_000, 170)).toBe(160);
});
