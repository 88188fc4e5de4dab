import { computeRfm, DEFAULT_LIFECYCLE_THRESHOLDS, lifecycleNextChangeAt, lifecycleStage, type RfmCustomer } from '@siyu/core';
import { deriveCutpoints } from '@siyu/services';
import { seededUuids } from '../uuid.ts';

/**
 * Deterministic synthetic data for the audiences benchmark: a tea/retail brand's customers with
 * traits, 180 days of behaviour, computed traits consistent with those events, 200 imported tags of
 * varied sizes, and lifecycle/RFM layers scored by the real core functions. Rows come out as plain
 * strings, already in the storage encoding (ISO text, JSON text), in primary-key order so that the
 * loaders append rather than insert into the middle of b-trees.
 */

export const DAY_MS = 86_400_000;
export const WINDOW_DAYS = 180;

/** Small fast PRNG (sfc32), seeded: the same sizes give the same data on every backend. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed | 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

export const CITIES: readonly [string, number][] = [
  ['上海', 0.15],
  ['北京', 0.14],
  ['杭州', 0.1],
  ['深圳', 0.12],
  ['广州', 0.1],
  ['成都', 0.1],
  ['南京', 0.08],
  ['武汉', 0.08],
  ['西安', 0.07],
  ['重庆', 0.06],
];
const CITY_CDF = (() => {
  let acc = 0;
  return CITIES.map(([name, w]) => ((acc += w), [name, acc] as const));
})();
const CATEGORIES = ['茶饮', '咖啡', '烘焙', '礼盒', '周边'];
const PAGES = [
  ['首页', '/'],
  ['商品详情', '/p'],
  ['会员中心', '/member'],
  ['活动页', '/campaign'],
] as const;

const dayPrefix = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
/** `new Date(ms).toISOString()` for whole-millisecond UTC instants, ~10× faster (the day part is cached). */
export function iso(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefix.get(day);
  if (prefix === undefined) dayPrefix.set(day, (prefix = new Date(day * DAY_MS).toISOString().slice(0, 11)));
  let r = ms - day * DAY_MS;
  const h = Math.floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = Math.floor(r / 60_000);
  r -= m * 60_000;
  const sec = Math.floor(r / 1000);
  const milli = r - sec * 1000;
  return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(sec)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Dense profile number → id; same length and prefix as real ids, sorted like `num`. */
export function profileId(num: number): string {
  return `prof_0B${String(num).padStart(22, '0')}`;
}
export function userIdOf(num: number): string {
  return `u${num}`;
}

export interface BenchShape {
  profiles: number;
  events: number;
  tags: number;
  seed: number;
  /** The generation clock: events happen in `(now − 180 days, now − 1 min]`. */
  now: number;
}

/**
 * Per-profile activity: a long-tailed (log-normal) share of the events, at least one event each
 * when there are enough events, summing exactly to `shape.events`.
 */
export function eventCounts(shape: BenchShape): Uint32Array {
  const rng = new Rng(shape.seed ^ 0x51ed);
  const w = new Float64Array(shape.profiles);
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += w[i] = Math.exp(0.9 * rng.normal());
  const base = shape.events >= shape.profiles ? 1 : 0;
  const spread = shape.events - base * shape.profiles;
  const counts = new Uint32Array(shape.profiles);
  let total = 0;
  for (let i = 0; i < w.length; i++) total += counts[i] = base + Math.floor((w[i]! / sum) * spread);
  for (let i = 0; total < shape.events; i = (i + 1) % counts.length, total++) counts[i]!++;
  return counts;
}

/**
 * Tag sizes as a share of profiles: tag 0 30%, tag 1 20% (the segment's tag), tag 2 10%; the rest
 * log-uniform between 1% and 30% (most tags small, a few large).
 */
export function tagFractions(shape: BenchShape): number[] {
  const rng = new Rng(shape.seed ^ 0x7a65);
  const out: number[] = [];
  for (let t = 0; t < shape.tags; t++) {
    if (t === 0) out.push(0.3);
    else if (t === 1) out.push(0.2);
    else if (t === 2) out.push(0.1);
    else out.push(Math.exp(Math.log(0.01) + rng.next() * (Math.log(0.3) - Math.log(0.01))));
  }
  return out;
}

export function tagName(t: number): string {
  const names = ['高价值会员', '近期活跃', '小程序用户', '咖啡爱好者', '企微好友', '礼盒买家', '夜猫子', '宝妈', '学生', '白领'];
  return t < names.length ? names[t]! : `导入标签-${String(t).padStart(3, '0')}`;
}

/** What the generator keeps per profile for layers and for the incremental phase (index = num − 1). */
export interface ProfileStats {
  orderCount: Uint32Array;
  totalSpent: Float64Array;
  firstOrderMs: Float64Array;
  lastOrderMs: Float64Array;
  firstSeenMs: Float64Array;
}

export interface ProfileRowOut {
  num: number;
  id: string;
  traits: string;
  traitTimes: string;
  firstTouch: string;
  computed: string;
  firstSeen: string;
  lastSeen: string;
  phone: string | null;
}

/** One event row: columns in storage order minus the constants (workspace, traits, context). */
export interface EventRowsOut {
  id: string[];
  messageId: string[];
  type: string[];
  event: (string | null)[];
  properties: string[];
  timestamp: string[];
}

/**
 * Generates profiles with their events in `num` order, a range at a time (so async loaders can
 * interleave generation with inserts): `generate(count, onProfile)` calls `onProfile` once per
 * profile with the profile row and its events in timestamp order (the event arrays are reused).
 */
export class ProfileGenerator {
  readonly stats: ProfileStats;
  private readonly rng: Rng;
  private next = 0;
  private eventSeq = 0;
  // Stored events' message ids as the SDKs send them (random UUIDs, see bench/uuid.ts).
  private readonly uuid: () => string;
  private readonly ev: EventRowsOut = { id: [], messageId: [], type: [], event: [], properties: [], timestamp: [] };
  private readonly times: number[] = [];

  constructor(
    private readonly shape: BenchShape,
    private readonly counts: Uint32Array,
  ) {
    this.rng = new Rng(shape.seed);
    this.uuid = seededUuids(shape.seed);
    const P = shape.profiles;
    this.stats = { orderCount: new Uint32Array(P), totalSpent: new Float64Array(P), firstOrderMs: new Float64Array(P), lastOrderMs: new Float64Array(P), firstSeenMs: new Float64Array(P) };
  }

  get done(): boolean {
    return this.next >= this.shape.profiles;
  }

  /** Generates up to `count` more profiles; returns how many events they had. */
  generate(count: number, onProfile: (p: ProfileRowOut, ev: EventRowsOut) => void): number {
    const { rng, shape, stats, ev, times } = this;
    const span = WINDOW_DAYS * DAY_MS - 60_000;
    const start = shape.now - WINDOW_DAYS * DAY_MS;
    const end = Math.min(shape.profiles, this.next + count);
    let events = 0;
    for (let i = this.next; i < end; i++) {
      const num = i + 1;
      const n = this.counts[i]!;
      events += n;
      times.length = 0;
      for (let k = 0; k < n; k++) times.push(start + rng.next() * span);
      times.sort((a, b) => a - b);
      // A profile's propensity to buy varies: some only browse.
      const buyer = rng.next();
      const orderShare = buyer < 0.3 ? 0.02 : buyer < 0.8 ? 0.1 : 0.22;
      ev.id.length = ev.messageId.length = ev.type.length = ev.event.length = ev.properties.length = ev.timestamp.length = 0;
      const eventCounts: Record<string, number> = {};
      let orders = 0;
      let spent = 0;
      let refunds = 0;
      let refunded = 0;
      let firstOrder = 0;
      let lastOrder = 0;
      for (let k = 0; k < n; k++) {
        const ts = iso(Math.floor(times[k]!));
        const seq = ++this.eventSeq;
        ev.id.push(`evt_0B${String(seq).padStart(22, '0')}`);
        ev.messageId.push(this.uuid());
        ev.timestamp.push(ts);
        const r = rng.next();
        const category = CATEGORIES[rng.int(CATEGORIES.length)]!;
        const sku = `SKU-${String(rng.int(400)).padStart(4, '0')}`;
        let name: string;
        if (r < orderShare) {
          const yuan = (1800 + rng.int(48_200)) / 100;
          ev.type.push('track');
          ev.event.push((name = 'Order Completed'));
          ev.properties.push(`{"order_id":"o-${seq}","total":${yuan},"currency":"CNY","category":"${category}","products":[{"product_id":"${sku}","quantity":1}]}`);
          orders++;
          spent += Math.round(yuan * 100);
          if (orders === 1) firstOrder = Math.floor(times[k]!);
          lastOrder = Math.floor(times[k]!);
        } else if (r < orderShare + 0.004 && orders > 0) {
          const yuan = (1800 + rng.int(10_000)) / 100;
          ev.type.push('track');
          ev.event.push((name = 'Order Refunded'));
          ev.properties.push(`{"order_id":"o-r${seq}","total":${yuan},"currency":"CNY"}`);
          refunds++;
          refunded += Math.round(yuan * 100);
        } else if (r < 0.35) {
          const [title, path] = PAGES[rng.int(PAGES.length)]!;
          ev.type.push('page');
          ev.event.push(title);
          ev.properties.push(`{"path":"${path}","title":"${title}","referrer":"https://mp.weixin.qq.com/"}`);
          name = 'Page Viewed';
        } else if (r < 0.82) {
          ev.type.push('track');
          ev.event.push((name = 'Product Viewed'));
          ev.properties.push(`{"product_id":"${sku}","category":"${category}","price":${18 + rng.int(150)}}`);
        } else if (r < 0.93) {
          ev.type.push('track');
          ev.event.push((name = 'Product Added'));
          ev.properties.push(`{"product_id":"${sku}","category":"${category}","quantity":${1 + rng.int(3)}}`);
        } else {
          ev.type.push('track');
          ev.event.push((name = 'Coupon Applied'));
          ev.properties.push(`{"coupon_id":"C-${rng.int(50)}","category":"${category}"}`);
        }
        eventCounts[name] = (eventCounts[name] ?? 0) + 1;
      }
      const firstMs = n > 0 ? Math.floor(times[0]!) : start + Math.floor(rng.next() * span);
      const lastMs = n > 0 ? Math.floor(times[n - 1]!) : firstMs;
      const firstSeen = iso(firstMs);
      const lastSeen = iso(lastMs);
      const cityDraw = rng.next();
      const city = CITY_CDF.find(([, acc]) => cityDraw < acc)?.[0] ?? CITIES[CITIES.length - 1]![0];
      const year = 1965 + rng.int(40);
      const birthday = `${year}-${String(1 + rng.int(12)).padStart(2, '0')}-${String(1 + rng.int(28)).padStart(2, '0')}`;
      const gender = rng.next() < 0.58 ? 'female' : 'male';
      const phone = rng.next() < 0.6 ? `+86139${String(num % 100_000_000).padStart(8, '0')}` : null;
      const traits: Record<string, unknown> = { name: `客户${num}`, city, gender, birthday, ...(phone ? { phone } : {}), member_level: orders >= 5 ? 'gold' : orders >= 1 ? 'silver' : 'none' };
      const traitTimes: Record<string, string> = {};
      for (const k of Object.keys(traits)) traitTimes[k] = firstSeen;
      const computed = {
        first_seen: firstSeen,
        last_seen: lastSeen,
        event_count: n,
        event_counts: eventCounts,
        order_count: orders,
        total_spent: spent,
        avg_order_value: orders ? Math.round(spent / orders) : 0,
        first_order_at: orders ? iso(firstOrder) : null,
        last_order_at: orders ? iso(lastOrder) : null,
        refund_count: refunds,
        total_refunded: refunded,
        net_spent: spent - refunded,
      };
      stats.orderCount[i] = orders;
      stats.totalSpent[i] = spent;
      stats.firstOrderMs[i] = firstOrder;
      stats.lastOrderMs[i] = lastOrder;
      stats.firstSeenMs[i] = firstMs;
      onProfile(
        {
          num,
          id: profileId(num),
          traits: JSON.stringify(traits),
          traitTimes: JSON.stringify(traitTimes),
          firstTouch: JSON.stringify({ first_seen: firstSeen, first_source_channel: rng.next() < 0.7 ? 'wechat' : 'miniprogram', first_source_channel_at: firstSeen }),
          computed: JSON.stringify(computed),
          firstSeen,
          lastSeen,
          phone,
        },
        ev,
      );
    }
    this.next = end;
    return events;
  }
}

/**
 * Members of tag `t` (a `fraction` of profiles) in `num` order, by geometric skips: O(members), not
 * O(profiles). Each tag has its own random stream, so tags can be generated in any order.
 */
export function tagMembers(shape: BenchShape, fraction: number, t: number, onMember: (num: number) => void): number {
  const rng = new Rng(shape.seed ^ 0x3c6e ^ Math.imul(t + 1, 0x9e3779b1));
  const logq = Math.log(1 - fraction);
  let rows = 0;
  for (let num = 0; ; ) {
    num += 1 + Math.floor(Math.log(1 - rng.next()) / logq);
    if (num > shape.profiles) break;
    onMember(num);
    rows++;
  }
  return rows;
}

export interface LayerRowOut {
  num: number;
  lifecycle: string;
  r: number | null;
  f: number | null;
  m: number | null;
  segment: string | null;
  changesAt: string | null;
}

/**
 * Lifecycle stage and RFM cell of every profile, scored by the same core functions the layer service
 * uses (quintiles over all purchasers), and the settings document with the recompute's cut points —
 * so the layer service scores new orders against them instead of recomputing 1M profiles inline.
 */
export function computeLayers(shape: BenchShape, stats: ProfileStats): { rows: (i: number) => LayerRowOut; settings: unknown; purchasers: number } {
  const now = new Date(shape.now);
  const customers: RfmCustomer[] = [];
  for (let i = 0; i < shape.profiles; i++) {
    if (stats.orderCount[i]! > 0) customers.push({ id: String(i + 1), lastOrderAt: iso(stats.lastOrderMs[i]!), orderCount: stats.orderCount[i]!, totalSpent: stats.totalSpent[i]! });
  }
  const scores = computeRfm(customers, { now });
  const byNum = new Map<number, (typeof scores)[number]>();
  for (const s of scores) byNum.set(Number(s.id), s);
  const cuts = deriveCutpoints(scores, customers);
  const opts = { now, thresholds: DEFAULT_LIFECYCLE_THRESHOLDS };
  const rows = (i: number): LayerRowOut => {
    const orders = stats.orderCount[i]!;
    const customer = {
      firstOrderAt: orders ? iso(stats.firstOrderMs[i]!) : null,
      lastOrderAt: orders ? iso(stats.lastOrderMs[i]!) : null,
      orderCount: orders,
      firstSeen: iso(stats.firstSeenMs[i]!),
    };
    const s = byNum.get(i + 1);
    const changes = lifecycleNextChangeAt(customer, opts);
    return { num: i + 1, lifecycle: lifecycleStage(customer, opts), r: s?.r ?? null, f: s?.f ?? null, m: s?.m ?? null, segment: s?.segment ?? null, changesAt: changes ? changes.toISOString() : null };
  };
  const settings = {
    version: 1,
    rfm: { thresholds: null },
    lifecycle: DEFAULT_LIFECYCLE_THRESHOLDS,
    rfmState: { computedAt: now.toISOString(), customers: customers.length, cuts, stale: false },
  };
  return { rows, settings, purchasers: customers.length };
}
