import { invalidInput, type Page } from '@siyu/core';
import type { ServiceDeps } from './deps.ts';
import type { IngestService } from './ingest.service.ts';

/** Where a workspace's accepted messages stand between the tracking API and its profiles. */
export interface PipelineStatus {
  /** Accepted and durably stored, waiting for the processor. */
  waiting: number;
  /** How long the first message in line has waited, ms (0 when none waits): the profiles' freshness. */
  lagMs: number;
  oldestWaitingAt: string | null;
  /** Accepted, but processing failed: kept aside (nothing is dropped) until retried. */
  deadLetters: number;
}

export interface DeadLetterView {
  seq: number;
  messageId: string;
  /** `track`, `identify`…, and for track calls the event name. */
  type: string | null;
  event: string | null;
  receivedAt: string | null;
  /** Why processing failed. */
  error: string;
  failedAt: string;
  /** The message as accepted (normalized). */
  message: Record<string, unknown> | null;
}

const MAX_RETRY = 1000;

/**
 * The processing pipeline as an operator sees it: how far behind the profiles are, and the messages
 * that could not be processed — listed with their error and put back in line once the cause is fixed.
 */
export class PipelineService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly ingest: IngestService,
  ) {}

  /** Keeps the database planner's statistics current as tables grow (PostgreSQL; see SqlStore.refreshPlannerStatistics). */
  refreshPlannerStatistics(opts: { minIntervalMs?: number } = {}): Promise<string[]> {
    return this.deps.store.refreshPlannerStatistics(opts);
  }

  async status(workspaceId: string): Promise<PipelineStatus> {
    const c = await this.deps.store.pipelineStatus(workspaceId);
    const oldest = c.oldestWaitingAt === null ? Number.NaN : Date.parse(c.oldestWaitingAt);
    return { waiting: c.waiting, lagMs: Number.isNaN(oldest) ? 0 : Math.max(0, this.deps.clock().getTime() - oldest), oldestWaitingAt: c.oldestWaitingAt, deadLetters: c.deadLetters };
  }

  /** Dead letters, oldest first; `cursor` is the last seq of the previous page. */
  async deadLetters(workspaceId: string, q: { limit: number; cursor?: string | undefined }): Promise<Page<DeadLetterView>> {
    const after = q.cursor === undefined ? 0 : Number(q.cursor);
    if (!Number.isSafeInteger(after) || after < 0) throw invalidInput(`cursor "${q.cursor}" is not one this endpoint returned; omit it for the first page`, [{ path: 'cursor', message: 'expected the nextCursor of a previous page' }]);
    const rows = await this.deps.store.deadLetters(workspaceId, after, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return {
      data: page.map((r) => {
        let message: Record<string, unknown> | null = null;
        try {
          message = ((JSON.parse(r.payload) as { message?: Record<string, unknown> }).message ?? null);
        } catch {
          message = null;
        }
        const str = (v: unknown) => (typeof v === 'string' ? v : null);
        return { seq: r.seq, messageId: r.messageId, type: str(message?.type), event: str(message?.event), receivedAt: str(message?.receivedAt), error: r.error, failedAt: r.failedAt, message };
      }),
      nextCursor: rows.length > q.limit ? String(page[page.length - 1]!.seq) : null,
    };
  }

  /**
   * Puts dead letters back in line (`seqs`, or all of the workspace's when omitted) and wakes the
   * processor. A message that fails again returns to the dead letters with its new error; one whose
   * event was stored meanwhile (a client resent it) is recognised by its messageId and not stored twice.
   */
  async retry(workspaceId: string, body: unknown): Promise<{ retried: number }> {
    const seqs = parseSeqs(body);
    const retried = await this.deps.store.retryDeadLetters(workspaceId, seqs);
    if (retried > 0) this.ingest.announceAppended();
    return { retried };
  }
}

function parseSeqs(body: unknown): number[] | null {
  if (body === null || body === undefined || (typeof body === 'object' && !Array.isArray(body) && !('seqs' in body))) return null;
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidInput('send { "seqs": [ … ] } with the seq of each dead letter to retry, or {} to retry them all', [{ path: '', message: 'expected an object' }]);
  const seqs = (body as { seqs: unknown }).seqs;
  if (!Array.isArray(seqs)) throw invalidInput('"seqs" must be an array of dead-letter seqs (from GET /api/v1/pipeline/dead-letters); omit it to retry all', [{ path: 'seqs', message: 'expected an array of whole numbers' }]);
  const problems = seqs.flatMap((s, i) => (Number.isSafeInteger(s) && (s as number) > 0 ? [] : [{ path: `seqs[${i}]`, message: `expected a positive whole number, got ${JSON.stringify(s)}` }]));
  if (seqs.length > MAX_RETRY) problems.push({ path: 'seqs', message: `at most ${MAX_RETRY} per request, got ${seqs.length}; omit seqs to retry all` });
  if (problems.length) throw invalidInput(`${problems.length} problem(s) in "seqs"`, problems);
  return seqs as number[];
}
