import { identifierKey, type WorkspaceRecord } from '@siyu/core';
import { sendChunk, type IngestTarget } from '../import/ingest-target.ts';
import { BRAND_NAME } from './brand.ts';
import { generateDemoHistory } from './generate-demo.ts';

export interface DemoOptions {
  /** Customers to invent (default 3,000). */
  customers?: number;
  /** Same seed, same history (default 7070). */
  seed?: number;
  name?: string;
  log?: (line: string) => void;
}

export interface DemoSummary {
  workspace: WorkspaceRecord;
  writeKey: string;
  adminToken: string;
  customers: number;
  messagesSent: number;
  accepted: number;
  /** Messages refused by validation (a demo bug if ever > 0). */
  rejected: number;
  /** Distinct identifiers (type + value) the messages carried. */
  identifiersSent: number;
  /** Profiles after identity resolution (merged-away ones not counted). */
  profiles: number;
  merges: number;
  /** Merges by the identifier type that linked the two profiles (`phone`, `wechat_unionid`…). */
  mergesVia: Record<string, number>;
  /** Links refused by the identity rules (shared devices), kept for review. */
  conflicts: number;
  sharedDevicePairs: number;
  elapsedMs: number;
}

const CHUNK = 500;
const DRAIN_EVERY = 20_000;

/**
 * Creates a new workspace for a tea-drink brand and fills it through the public ingestion path
 * (`validateEach` + `append`, then the processor), so profiles, merges and conflicts are exactly what
 * real traffic would produce.
 */
export async function createDemoWorkspace(target: IngestTarget, opts: DemoOptions = {}): Promise<DemoSummary> {
  const started = performance.now();
  const customers = opts.customers ?? 3000;
  const seed = opts.seed ?? 7070;
  const log = opts.log ?? (() => {});
  const { services } = target;
  const created = await services.workspaces.create({ name: opts.name ?? BRAND_NAME, timeZone: 'Asia/Shanghai' });
  const ws = created.workspace;
  const history = generateDemoHistory({ customers, seed, now: services.deps.clock() });
  log(`demo: ${customers.toLocaleString('en-US')} customers, ${history.messages.length.toLocaleString('en-US')} messages over 180 days → "${ws.name}"`);

  const identifiers = new Set<string>();
  let accepted = 0;
  let rejected = 0;
  let sinceDrain = 0;
  for (let i = 0; i < history.messages.length; i += CHUNK) {
    const res = await sendChunk(target, ws, history.messages.slice(i, i + CHUNK));
    for (const v of res.valid) for (const id of v.identifiers) identifiers.add(identifierKey(id.type, id.value));
    accepted += res.accepted;
    sinceDrain += res.accepted;
    if (res.invalid.length) {
      rejected += res.invalid.length;
      const first = res.invalid[0]!;
      log(`demo: ${res.invalid.length} message(s) rejected, e.g. ${first.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    }
    if (sinceDrain >= DRAIN_EVERY) {
      await target.drain();
      sinceDrain = 0;
    }
  }
  await target.drain();

  const stats = await services.profiles.stats(ws.id);
  const rows = await services.deps.store.db.selectFrom('merges').select('reason').where('workspace_id', '=', ws.id).where('undone_at', 'is', null).execute();
  const mergesVia: Record<string, number> = {};
  for (const r of rows) {
    // Reasons read "one message carried <a> <x> and <type> <y>, held by …" (or "shared <type> <value>").
    const type = /and (\S+) \S+, held by/.exec(r.reason)?.[1] ?? /^shared (\S+)/.exec(r.reason)?.[1] ?? 'other';
    mergesVia[type] = (mergesVia[type] ?? 0) + 1;
  }
  return {
    workspace: ws,
    writeKey: created.writeKey,
    adminToken: created.adminToken,
    customers,
    messagesSent: history.messages.length,
    accepted,
    rejected,
    identifiersSent: identifiers.size,
    profiles: stats.profiles,
    merges: rows.length,
    mergesVia,
    conflicts: stats.openConflicts,
    sharedDevicePairs: history.sharedDevicePairs,
    elapsedMs: Math.round(performance.now() - started),
  };
}
