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
  /** The starter rule tags and segments, with how many people each holds once computed. */
  audiences: { kind: 'tag' | 'segment'; name: string; count: number }[];
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
  const audiences = await createStarterAudiences(target, ws.id);
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
    audiences,
    sharedDevicePairs: history.sharedDevicePairs,
    elapsedMs: Math.round(performance.now() - started),
  };
}

/**
 * Rule tags and segments a 私域 team starts with, so the 标签 and 分群 pages open on something to read and edit
 * (each kept current by the audience engine like any other): spend and engagement tags, recent buyers, members
 * to win back, birthdays coming up, valuable customers slipping away.
 */
async function createStarterAudiences(target: IngestTarget, workspaceId: string): Promise<DemoSummary['audiences']> {
  const { tags, segments } = target.services;
  const rule = (condition: unknown) => ({ version: 1, condition });
  const group = await tags.createGroup(workspaceId, { name: '运营标签', description: '演示：规则标签，随事件自动更新' });
  const made: DemoSummary['audiences'] = [];
  for (const t of [
    { name: '高价值客户', description: '累计消费满 200 元（约前 20% 的购买客户）', definition: rule({ computed: 'total_spent', op: 'gte', value: 20_000 }) },
    { name: '近期浏览活跃', description: '近 14 天在小程序浏览商品 3 次及以上', definition: rule({ event: 'Product Viewed', measure: 'count', op: 'gte', value: 3, window: { last_days: 14 } }) },
    { name: '企微好友', description: '已添加门店导购企业微信', definition: rule({ event: 'Added WeCom Contact', measure: 'count', op: 'gte', value: 1, window: 'ever' }) },
  ]) {
    const tag = await tags.create(workspaceId, { ...t, kind: 'rule', groupId: group.id });
    made.push({ kind: 'tag', name: tag.name, count: tag.count });
  }
  for (const s of [
    { name: '近 30 天下单客户', description: '近 30 天至少完成 1 笔订单', definition: rule({ event: 'Order Completed', measure: 'count', op: 'gte', value: 1, window: { last_days: 30 } }) },
    { name: '待唤醒会员', description: '门店会员，已沉默或有流失风险：适合发券召回', definition: rule({ all: [{ trait: 'member_no', op: 'exists' }, { lifecycle: ['silent', 'at_risk'] }] }) },
    { name: '下月生日会员', description: '30 天内过生日的会员：生日礼券', definition: rule({ all: [{ trait: 'member_no', op: 'exists' }, { trait: 'birthday', op: 'anniversary_within_next', value: { days: 30 } }] }) },
    { name: '高价值流失预警', description: '高价值客户中 RFM 为「流失风险」或「不能失去」', definition: rule({ all: [{ tag: '高价值客户', has: true }, { rfm_segment: ['At Risk', "Can't Lose Them"] }] }) },
  ]) {
    const segment = await segments.create(workspaceId, s);
    made.push({ kind: 'segment', name: segment.name, count: segment.count });
  }
  return made;
}
