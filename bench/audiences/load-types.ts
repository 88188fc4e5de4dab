import type { BenchShape, ProfileStats } from './generate.ts';

/** What a loader needs: the workspace and tags already created through the services. */
export interface LoadContext {
  workspaceId: string;
  /** Tag ids in the order of `tagFractions`. */
  tagIds: readonly string[];
  shape: BenchShape;
  counts: Uint32Array;
  fractions: readonly number[];
  /** Progress lines (stderr), so a 10-minute load is not silent. */
  progress: (msg: string) => void;
}

export interface LoadResult {
  stats: ProfileStats;
  /** Seconds per phase, in the order they ran. */
  timings: [phase: string, seconds: number][];
  rows: { profiles: number; identities: number; events: number; profileTags: number; layers: number; purchasers: number };
}

/** Tables the loaders fill; their secondary indexes are dropped during the load and rebuilt after. */
export const BULK_TABLES = ['profiles', 'identities', 'events', 'profile_tags', 'profile_layers'] as const;

export const EVENT_CONTEXT = '{"library":{"name":"siyu-bench-loader"}}';
export const TAG_SOURCE = 'import';
export const TAG_ACTOR = 'bench';

export function seconds(fromMs: number): number {
  return (performance.now() - fromMs) / 1000;
}

/** When tag `t` was applied: a per-tag import time in the last 90 days. */
export function tagAppliedAt(shape: BenchShape, t: number): string {
  return new Date(shape.now - ((t * 7919) % 90) * 86_400_000).toISOString();
}
