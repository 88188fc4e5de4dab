import type { Identifier, NormalizedMessage, Problem, WorkspaceRecord } from '@siyu/core';
import type { Services } from '@siyu/services';
import type { Runtime } from '../runtime.ts';

/**
 * Where imported and demo messages go: the services (for the same `validateEach` + `append` path the
 * HTTP API uses) and a way to run the processor until the inbox is empty. A CLI `Runtime` gives
 * `{ services: rt.services, drain: () => rt.loop.drain() }`; tests give `createTestSiyu(…)` as is.
 */
export interface IngestTarget {
  services: Services;
  drain(): Promise<number>;
}

export interface ChunkResult {
  accepted: number;
  duplicates: number;
  valid: { index: number; message: NormalizedMessage; identifiers: Identifier[] }[];
  invalid: { index: number; problems: Problem[] }[];
}

/** Validates a chunk of Segment-shaped messages and appends the valid ones (unless `dryRun`) in one transaction. */
export async function sendChunk(target: IngestTarget, workspace: WorkspaceRecord, messages: readonly unknown[], opts: { dryRun?: boolean } = {}): Promise<ChunkResult> {
  const { valid, invalid } = await target.services.ingest.validateEach(workspace, messages);
  if (opts.dryRun || valid.length === 0) return { accepted: 0, duplicates: 0, valid, invalid };
  const r = await target.services.ingest.append(workspace, valid);
  return { accepted: r.accepted, duplicates: r.duplicates, valid, invalid };
}

/**
 * The CLI's target: the processor loop's `drain()`, then waiting for the work it triggers (layers,
 * tags, segments) so a command returns with everything derived from its messages up to date — and
 * never closes the database under work still in flight.
 */
export function runtimeTarget(rt: Runtime): IngestTarget {
  return {
    services: rt.services,
    async drain() {
      const n = await rt.loop.drain();
      await rt.services.layers.settled();
      await rt.services.audienceEngine.settled();
      // A server on the same file keeps bitmaps of its own: they are rebuilt before their next use.
      if (n > 0) await rt.services.deps.store.noteSideWrites();
      return n;
    },
  };
}
