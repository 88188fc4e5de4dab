// The console keeps its own copies of a few closed sets from core (it may only `import type` from
// core, so the browser bundle does not pull in core's runtime). This test keeps the copies honest.
import { COMPARISON_OPS as CORE_OPS, LIFECYCLE_STAGES as CORE_STAGES, RFM_SEGMENTS as CORE_RFM } from '@siyu/core';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_STAGES, RFM_SEGMENTS } from './api';
import { COMPARISON_OPS } from './conditions';

describe('console copies of core constants', () => {
  it('comparison ops, lifecycle stages and RFM segments match core', () => {
    expect([...COMPARISON_OPS]).toEqual([...CORE_OPS]);
    expect([...LIFECYCLE_STAGES]).toEqual([...CORE_STAGES]);
    expect([...RFM_SEGMENTS]).toEqual([...CORE_RFM]);
  });
});
