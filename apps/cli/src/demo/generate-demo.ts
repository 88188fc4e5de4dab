import {
  CITIES,
  DRINK_OPTIONS,
  FEMALE_NAMES,
  FOLLOW_SCENES,
  MALE_NAMES,
  MENU,
  MP_APP_ID,
  MP_SCREENS,
  OA_APP_ID,
  OA_ARTICLES,
  PHONE_PREFIXES,
  STAFF,
  STORES,
  SURNAMES,
  type Store,
} from './brand.ts';
import { mulberry32, type Rng } from './prng.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SHANGHAI = 8 * HOUR;
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const HEX = '0123456789abcdef';

export interface DemoHistoryOptions {
  customers: number;
  seed: number;
  /** The history ends just before this instant and reaches `days` back. */
  now: Date;
  days?: number;
}

export interface DemoHistory {
  /** Segment-shaped messages, oldest first. */
  messages: Record<string, unknown>[];
  customers: number;
  /** Pairs of members who used the same device (each must give identity conflicts, not one fused profile). */
  sharedDevicePairs: number;
}

interface Customer {
  index: number;
  name: string;
  gender: 'female' | 'male';
  birthday: string;
  city: string;
  store: Store;
  phone: string;
  memberNo: string;
  userId: string;
  unionid: string;
  oaOpenid: string;
  mpOpenid: string;
  devices: string[];
  wecomId: string;
}

/** What one customer does, as instants (ms). The renderer turns it into messages. */
interface Plan {
  follow: number | null;
  articles: number[];
  /** Store membership sign-up (first store visit), then POS orders. */
  signup: number | null;
  storeOrders: number[];
  /** Mini-program sessions; `register` is the session index where the member signs up (phone authorised). */
  sessions: number[];
  register: number | null;
  /** First session whose messages carry the unionid (the mini program learns it at or after sign-up). */
  unionidFrom: number;
  /** The sign-up also links the store membership (same member_no). */
  linkMember: boolean;
  /** Session index from which the customer uses a second phone. */
  newDeviceFrom: number;
  wecom: { at: number; bindMember: boolean } | null;
}

/**
 * A believable, seeded history of a tea-drink brand's customers across its official account, mini
 * program, stores and WeCom — with the identity situations a real private domain has: a phone seen by
 * the mini program and the store, OA and mini-program openids tied by one unionid, shared devices.
 * Deterministic for a seed and `now`; every timestamp is before `now`.
 */
export function generateDemoHistory(opts: DemoHistoryOptions): DemoHistory {
  const rng = mulberry32(opts.seed);
  const days = opts.days ?? 180;
  const latest = opts.now.getTime() - 5 * MINUTE;
  const first = latest - days * DAY;
  let seq = 0;
  const out: Record<string, unknown>[] = [];
  const emit = (at: number, m: Record<string, unknown>) => {
    out.push({ ...m, messageId: `demo-${opts.seed}-${(seq++).toString(36)}`, timestamp: new Date(Math.min(at, latest)).toISOString() });
  };

  /** A time in opening hours (Shanghai) between `from` and `to`. */
  const between = (from: number, to: number): number => {
    if (to <= from) return from;
    const t = from + rng.next() * (to - from);
    const localDay = Math.floor((t + SHANGHAI) / DAY) * DAY - SHANGHAI;
    const hour = rng.weighted<number>([[8, 2], [10, 4], [12, 8], [13, 6], [15, 7], [17, 5], [19, 6], [21, 3]]);
    const snapped = localDay + hour * HOUR + rng.int(0, 59) * MINUTE + rng.int(0, 59) * 1000;
    return snapped >= from && snapped <= to ? snapped : t;
  };

  const customers = Array.from({ length: opts.customers }, (_, i) => makeCustomer(rng, i, opts.seed));
  const plans = customers.map(() => randomPlan(rng, between, first, latest - 30 * MINUTE));
  // The first customers follow scripted journeys, so even a small demo shows each identity situation.
  const shared: { user: Customer; device: string; at: number }[] = [];
  if (opts.customers >= 5) {
    const d = (n: number) => between(latest - n * DAY, latest - n * DAY + 10 * HOUR);
    const none = { follow: null, articles: [], signup: null, storeOrders: [], sessions: [], register: null, unionidFrom: Infinity, linkMember: false, newDeviceFrom: Infinity, wecom: null };
    // Phone merge: OA follower, then a store member, then signs up in the mini program with the same phone.
    const s0 = d(120);
    plans[0] = { ...none, follow: d(150), signup: s0, storeOrders: [s0 + 4 * MINUTE, d(60)], sessions: [d(100), d(90), d(30)], register: 1, unionidFrom: 1 };
    // unionid merge: store member and OA follower, tied when a store assistant adds them on WeCom and binds the membership.
    const s1 = d(140);
    plans[1] = { ...none, signup: s1, storeOrders: [s1 + 3 * MINUTE], follow: d(120), wecom: { at: d(60), bindMember: true } };
    // OA + mini program: openids of two apps, one unionid (learnt after sign-up).
    plans[2] = { ...none, follow: d(100), sessions: [d(80), d(70), d(50)], register: 1, unionidFrom: 2 };
    // Shared device: customer 4 logs in on customer 3's phone.
    plans[3] = { ...none, sessions: [d(60), d(40)], register: 0, unionidFrom: 0 };
    plans[4] = { ...none, sessions: [d(50), d(30)], register: 0, unionidFrom: 0 };
    shared.push({ user: customers[4]!, device: customers[3]!.devices[0]!, at: d(20) });
  }

  // More shared devices: couples and colleagues in the same city sharing a phone or tablet.
  const registered = customers.filter((c, i) => i >= 5 && plans[i]!.register !== null);
  const pairs = Math.round(opts.customers * 0.02);
  for (let k = 0; k < pairs && registered.length > 1; k++) {
    const a = rng.pick(registered);
    const b = rng.pick(registered);
    if (a === b) continue;
    const regA = plans[a.index]!.sessions[plans[a.index]!.register!]!;
    const regB = plans[b.index]!.sessions[plans[b.index]!.register!]!;
    const from = Math.max(regA, regB) + HOUR;
    if (from >= latest - HOUR) continue;
    shared.push({ user: b, device: a.devices[0]!, at: between(from, latest - HOUR) });
  }

  for (const c of customers) render(rng, c, plans[c.index]!, emit, latest);
  for (const s of shared) session(rng, s.user, s.at, s.device, { loggedIn: true, unionid: true, order: rng.chance(0.5) }, emit, latest);

  out.sort((a, b) => (a.timestamp as string).localeCompare(b.timestamp as string));
  return { messages: out, customers: opts.customers, sharedDevicePairs: shared.length };
}

function makeCustomer(rng: Rng, index: number, seed: number): Customer {
  const gender = rng.chance(0.68) ? 'female' : 'male';
  const name = rng.pick(SURNAMES) + rng.pick(gender === 'female' ? FEMALE_NAMES : MALE_NAMES);
  const year = rng.weighted<number>([[1978, 1], [1985, 3], [1992, 6], [1997, 8], [2001, 5], [2005, 1]]) + rng.int(0, 4);
  const month = rng.int(1, 12);
  const day = rng.int(1, new Date(Date.UTC(year, month, 0)).getUTCDate());
  const city = rng.weighted(CITIES);
  const stores = STORES.filter((s) => s.city === city);
  // Unique by construction: index ↦ (index·7919 + k) mod 10^8 is one-to-one.
  const suffix = String((index * 7919 + seed * 104_729) % 100_000_000).padStart(8, '0');
  return {
    index,
    name,
    gender,
    birthday: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    city,
    store: rng.pick(stores.length ? stores : STORES),
    phone: `${PHONE_PREFIXES[(index * 7 + seed) % PHONE_PREFIXES.length]}${suffix}`,
    memberNo: `QH${String(20_000_000 + index).padStart(9, '0')}`,
    userId: `u${String(1_000_000 + index)}`,
    unionid: `oQh${rng.chars(25, ID_CHARS)}`,
    oaOpenid: `oFw${rng.chars(25, ID_CHARS)}`,
    mpOpenid: `oMp${rng.chars(25, ID_CHARS)}`,
    devices: [`dev-${rng.chars(16, HEX)}`, `dev-${rng.chars(16, HEX)}`],
    wecomId: `wmQh${rng.chars(28, ID_CHARS)}`,
  };
}

function randomPlan(rng: Rng, between: (a: number, b: number) => number, first: number, last: number): Plan {
  // The brand grows: more customers arrived recently.
  const arrived = first + Math.sqrt(rng.next()) * (last - first - DAY);
  // Not everyone stays: about a third lapse somewhere after arriving (a few weeks in, or months), so the
  // history holds silent, at-risk and lost customers beside the active ones, as a real brand's does.
  const end = rng.chance(0.35) ? arrived + DAY + (last - arrived - DAY) * (0.15 + 0.7 * rng.next()) : last;
  const followsOA = rng.chance(0.55);
  const usesMP = rng.chance(0.7);
  const storeMember = rng.chance(0.45);
  const follow = followsOA ? between(arrived, arrived + (end - arrived) * 0.6) : null;
  const articles = follow === null ? [] : Array.from({ length: rng.int(0, 3) }, () => between(follow, end));
  const signup = storeMember ? between(arrived, end) : null;
  const storeOrders = signup === null ? [] : [signup + rng.int(1, 6) * MINUTE, ...Array.from({ length: rng.int(0, 5) }, () => between(signup, end))];
  const sessions = usesMP ? Array.from({ length: rng.int(1, 10) }, () => between(arrived, end)).sort((a, b) => a - b) : [];
  const register = sessions.length && rng.chance(0.75) ? rng.int(0, sessions.length - 1) : null;
  const unionidFrom = register === null ? Infinity : rng.chance(0.6) ? register : register + 1;
  const linkMember = register !== null && signup !== null && signup < sessions[register]! && rng.chance(0.3);
  const newDeviceFrom = register !== null && sessions.length > 4 && rng.chance(0.2) ? Math.max(register + 1, Math.floor(sessions.length / 2)) : Infinity;
  const addsWeCom = rng.chance(storeMember ? 0.45 : 0.1);
  const wecomAt = addsWeCom ? between(signup ?? arrived, end) : null;
  return {
    follow,
    articles,
    signup,
    storeOrders,
    sessions,
    register,
    unionidFrom,
    linkMember,
    newDeviceFrom,
    wecom: wecomAt === null ? null : { at: wecomAt, bindMember: signup !== null && signup < wecomAt && rng.chance(0.7) },
  };
}

type Emit = (at: number, m: Record<string, unknown>) => void;

function render(rng: Rng, c: Customer, p: Plan, emit: Emit, latest: number): void {
  const oa = { source_channel: 'wechat_oa', app: { name: '青禾茶饮服务号' }, externalIds: [{ type: 'wechat_openid', id: c.oaOpenid, appId: OA_APP_ID }, { type: 'wechat_unionid', id: c.unionid }] };
  if (p.follow !== null) {
    emit(p.follow, { type: 'track', event: 'Followed Official Account', anonymousId: c.oaOpenid, properties: { scene: rng.weighted(FOLLOW_SCENES), app_id: OA_APP_ID }, context: oa });
    for (const at of p.articles) emit(at, { type: 'track', event: 'Article Read', anonymousId: c.oaOpenid, properties: { title: rng.pick(OA_ARTICLES) }, context: oa });
  }
  if (p.signup !== null) {
    const pos = `pos-${c.memberNo}`;
    emit(p.signup, {
      type: 'identify',
      anonymousId: pos,
      traits: { name: c.name, gender: c.gender, birthday: c.birthday, city: c.city, phone: c.phone, member_no: c.memberNo, signup_store: c.store.name },
      context: { source_channel: 'store' },
    });
    p.storeOrders.forEach((at, k) => {
      const store = rng.chance(0.85) ? c.store : rng.pick(STORES);
      const order = basket(rng);
      emit(at, {
        type: 'track',
        event: 'Order Completed',
        anonymousId: pos,
        properties: { order_id: `POS-${store.id}-${ymd(at)}-${String(c.index).padStart(5, '0')}${k}`, channel: 'store', store_id: store.id, store_name: store.name, products: order.products, total: order.total, currency: 'CNY', payment_method: rng.weighted([['微信支付', 7], ['支付宝', 2], ['会员储值', 1]] as const) },
        context: { source_channel: 'store', traits: { phone: c.phone, member_no: c.memberNo } },
      });
    });
  }
  p.sessions.forEach((at, i) => {
    const loggedIn = p.register !== null && i >= p.register;
    if (i === p.register) {
      emit(at, {
        type: 'identify',
        userId: c.userId,
        anonymousId: c.devices[i >= p.newDeviceFrom ? 1 : 0],
        traits: { name: c.name, gender: c.gender, birthday: c.birthday, city: c.city, phone: c.phone, ...(p.linkMember ? { member_no: c.memberNo } : {}) },
        context: mpContext(c, i >= p.unionidFrom),
      });
    }
    session(rng, c, at + 5000, c.devices[i >= p.newDeviceFrom ? 1 : 0]!, { loggedIn, unionid: i >= p.unionidFrom, order: loggedIn && rng.chance(0.45) }, emit, latest);
  });
  if (p.wecom) {
    emit(p.wecom.at, {
      type: 'track',
      event: 'Added WeCom Contact',
      anonymousId: c.wecomId,
      properties: { staff_name: rng.pick(STAFF), store_name: c.store.name },
      context: {
        source_channel: 'wecom',
        externalIds: [{ type: 'wecom_external_userid', id: c.wecomId }, { type: 'wechat_unionid', id: c.unionid }],
        ...(p.wecom.bindMember ? { traits: { member_no: c.memberNo } } : {}),
      },
    });
  }
}

function mpContext(c: Customer, withUnionid: boolean): Record<string, unknown> {
  return {
    source_channel: 'mini_program',
    app: { name: '青禾茶饮小程序' },
    externalIds: [{ type: 'wechat_openid', id: c.mpOpenid, appId: MP_APP_ID }, ...(withUnionid ? [{ type: 'wechat_unionid', id: c.unionid }] : [])],
  };
}

/** One mini-program visit: a screen, products viewed, maybe an order (and sometimes its refund). */
function session(rng: Rng, c: Customer, at: number, device: string, o: { loggedIn: boolean; unionid: boolean; order: boolean }, emit: Emit, latest: number): void {
  const who = { anonymousId: device, ...(o.loggedIn ? { userId: c.userId } : {}) };
  const context = mpContext(c, o.unionid);
  emit(at, { type: 'screen', name: rng.pick(MP_SCREENS), ...who, properties: {}, context });
  const views = rng.int(1, 3);
  for (let v = 0; v < views; v++) {
    const item = pickItem(rng);
    emit(at + (v + 1) * 35_000, { type: 'track', event: 'Product Viewed', ...who, properties: { product_id: item.sku, sku: item.sku, name: item.name, price: item.price, category: item.category }, context });
  }
  if (!o.order) return;
  const order = basket(rng);
  const orderAt = at + (views + 2) * 35_000;
  const orderId = `MP${ymd(orderAt)}${rng.chars(8, '0123456789')}`;
  const pickup = rng.chance(0.6);
  const coupon = rng.chance(0.2) ? { coupon: '会员日立减5元', discount: 5 } : {};
  const total = Math.max(0, order.total - (coupon.discount ?? 0));
  emit(orderAt, {
    type: 'track',
    event: 'Order Completed',
    ...who,
    properties: { order_id: orderId, channel: 'mini_program', fulfillment: pickup ? 'pickup' : 'delivery', store_id: c.store.id, store_name: c.store.name, products: order.products, ...coupon, total, currency: 'CNY' },
    context,
  });
  if (rng.chance(0.05)) {
    const refundAt = Math.min(latest, orderAt + rng.int(10, 180) * MINUTE);
    emit(refundAt, { type: 'track', event: 'Order Refunded', ...who, properties: { order_id: orderId, total, currency: 'CNY', reason: rng.pick(['制作超时', '口味不符', '重复下单', '配送延迟']) }, context });
  }
}

function pickItem(rng: Rng) {
  return rng.weighted(MENU.map((m) => [m, m.weight] as const));
}

function basket(rng: Rng): { products: Record<string, unknown>[]; total: number } {
  const lines = rng.weighted<number>([[1, 6], [2, 3], [3, 1]]);
  const products: Record<string, unknown>[] = [];
  let total = 0;
  for (let i = 0; i < lines; i++) {
    const item = pickItem(rng);
    const quantity = rng.chance(0.15) ? 2 : 1;
    const isDrink = item.category !== '小食' && item.category !== '茶礼' && item.category !== '周边';
    products.push({ product_id: item.sku, sku: item.sku, name: item.name, category: item.category, price: item.price, quantity, ...(isDrink ? { variant: rng.pick(DRINK_OPTIONS) } : {}) });
    total += item.price * quantity;
  }
  return { products, total };
}

function ymd(ms: number): string {
  const d = new Date(ms + SHANGHAI);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
