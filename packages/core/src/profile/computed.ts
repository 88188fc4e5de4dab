import type { NormalizedMessage } from '../messages/message.ts';

/**
 * Computed traits, kept current on every event. Money is integer fen (分).
 * Every field is an order-independent aggregate (min/max/sum/count), so messages may be folded in any
 * order and a profile can be rebuilt from its events (after an unmerge) with the same result.
 */
export interface ComputedTraits {
  first_seen: string | null;
  last_seen: string | null;
  event_count: number;
  /** Track events by name; page/screen calls count as "Page Viewed" / "Screen Viewed". */
  event_counts: Record<string, number>;
  order_count: number;
  /** Sum of completed orders, fen. */
  total_spent: number;
  avg_order_value: number;
  first_order_at: string | null;
  last_order_at: string | null;
  refund_count: number;
  total_refunded: number;
  /** total_spent − total_refunded, fen. */
  net_spent: number;
}

export interface ProfileState {
  traits: Record<string, unknown>;
  /** When each trait was last set (the message timestamp). */
  traitTimes: Record<string, string>;
  /** First-touch traits, set once: first_source_channel, first_utm_source, first_referrer, first_seen… */
  firstTouch: Record<string, unknown>;
  computed: ComputedTraits;
}

export function emptyComputed(): ComputedTraits {
  return {
    first_seen: null,
    last_seen: null,
    event_count: 0,
    event_counts: {},
    order_count: 0,
    total_spent: 0,
    avg_order_value: 0,
    first_order_at: null,
    last_order_at: null,
    refund_count: 0,
    total_refunded: 0,
    net_spent: 0,
  };
}

export function emptyProfileState(): ProfileState {
  return { traits: {}, traitTimes: {}, firstTouch: {}, computed: emptyComputed() };
}

/** Decimal yuan (Segment e-commerce `total`/`revenue`, may be a numeric string) → integer fen. */
export function toFen(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  return Math.round(n * 100);
}

/** Order value in fen: `total`, else `revenue`, else the sum of products' price × quantity. */
export function orderValueFen(properties: Record<string, unknown>): number {
  const direct = toFen(properties.total) ?? toFen(properties.revenue) ?? toFen(properties.value);
  if (direct !== null) return direct;
  const products = properties.products;
  if (!Array.isArray(products)) return 0;
  let sum = 0;
  for (const p of products) {
    if (typeof p !== 'object' || p === null) continue;
    const price = toFen((p as Record<string, unknown>).price) ?? 0;
    const qty = Number((p as Record<string, unknown>).quantity ?? 1);
    sum += price * (Number.isFinite(qty) ? qty : 1);
  }
  return Math.round(sum);
}

const minIso = (a: string | null, b: string) => (a === null || b < a ? b : a);
const maxIso = (a: string | null, b: string) => (a === null || b > a ? b : a);

function sourceChannel(msg: NormalizedMessage): string | null {
  const ctx = msg.context;
  const campaign = ctx.campaign as Record<string, unknown> | undefined;
  const candidates = [msg.traits.source_channel, ctx.source_channel, campaign?.source, ctx.channel];
  for (const c of candidates) if (typeof c === 'string' && c.trim()) return c.trim();
  return null;
}

/**
 * Folds one message into a profile's state: identify semantics for traits (latest timestamp wins per
 * trait), `$set_once` and first-touch traits (first write wins, by timestamp), computed traits.
 * Mutates and returns `state` (the processor owns it for the batch; this keeps the hot path allocation-free).
 */
export function applyMessage(state: ProfileState, msg: NormalizedMessage): ProfileState {
  const ts = msg.timestamp;
  for (const [key, value] of Object.entries(msg.traits)) {
    if (key === '$set_once') continue;
    const prev = state.traitTimes[key];
    if (prev === undefined || ts >= prev) {
      state.traits[key] = value;
      state.traitTimes[key] = ts;
    }
  }
  const once = msg.traits.$set_once;
  if (typeof once === 'object' && once !== null && !Array.isArray(once)) {
    for (const [key, value] of Object.entries(once)) setFirst(state, key, value, ts);
  }
  setFirst(state, 'first_seen', ts, ts);
  const channel = sourceChannel(msg);
  if (channel) setFirst(state, 'first_source_channel', channel, ts);
  const campaign = msg.context.campaign as Record<string, unknown> | undefined;
  if (typeof campaign?.source === 'string') setFirst(state, 'first_utm_source', campaign.source, ts);
  if (typeof campaign?.name === 'string') setFirst(state, 'first_utm_campaign', campaign.name, ts);
  const page = msg.context.page as Record<string, unknown> | undefined;
  if (typeof page?.referrer === 'string' && page.referrer) setFirst(state, 'first_referrer', page.referrer, ts);

  const c = state.computed;
  c.first_seen = minIso(c.first_seen, ts);
  c.last_seen = maxIso(c.last_seen, ts);
  if (msg.type === 'track' || msg.type === 'page' || msg.type === 'screen') {
    c.event_count += 1;
    const name = msg.type === 'track' ? msg.event! : msg.type === 'page' ? 'Page Viewed' : 'Screen Viewed';
    c.event_counts[name] = (c.event_counts[name] ?? 0) + 1;
  }
  if (msg.type === 'track' && msg.event === 'Order Completed') {
    c.order_count += 1;
    c.total_spent += orderValueFen(msg.properties);
    c.first_order_at = minIso(c.first_order_at, ts);
    c.last_order_at = maxIso(c.last_order_at, ts);
  } else if (msg.type === 'track' && msg.event === 'Order Refunded') {
    c.refund_count += 1;
    c.total_refunded += Math.abs(orderValueFen(msg.properties));
  }
  c.avg_order_value = c.order_count ? Math.round(c.total_spent / c.order_count) : 0;
  c.net_spent = c.total_spent - c.total_refunded;
  return state;
}

/** Merges `from` into `into` (the merge winner): the same result as folding both profiles' messages. */
export function mergeProfileStates(into: ProfileState, from: ProfileState): ProfileState {
  for (const [key, value] of Object.entries(from.traits)) {
    const theirs = from.traitTimes[key] ?? '';
    const ours = into.traitTimes[key];
    if (ours === undefined || theirs > ours) {
      into.traits[key] = value;
      into.traitTimes[key] = theirs;
    }
  }
  // First-touch keys are compared one by one, each by the time it was set (`<key>_at`; first_seen is its own time).
  const touchedAt = (ft: Record<string, unknown>, key: string) => {
    const at = key === 'first_seen' ? ft.first_seen : ft[`${key}_at`];
    return typeof at === 'string' ? at : null;
  };
  for (const [key, value] of Object.entries(from.firstTouch)) {
    if (key.endsWith('_at') && key !== 'first_seen') continue;
    const theirs = touchedAt(from.firstTouch, key);
    const ours = touchedAt(into.firstTouch, key);
    if (into.firstTouch[key] === undefined || (theirs !== null && (ours === null || theirs < ours))) {
      into.firstTouch[key] = value;
      if (key !== 'first_seen' && theirs !== null) into.firstTouch[`${key}_at`] = theirs;
    }
  }
  const a = into.computed;
  const b = from.computed;
  if (b.first_seen) a.first_seen = minIso(a.first_seen, b.first_seen);
  if (b.last_seen) a.last_seen = maxIso(a.last_seen, b.last_seen);
  a.event_count += b.event_count;
  for (const [name, n] of Object.entries(b.event_counts)) a.event_counts[name] = (a.event_counts[name] ?? 0) + n;
  a.order_count += b.order_count;
  a.total_spent += b.total_spent;
  if (b.first_order_at) a.first_order_at = minIso(a.first_order_at, b.first_order_at);
  if (b.last_order_at) a.last_order_at = maxIso(a.last_order_at, b.last_order_at);
  a.refund_count += b.refund_count;
  a.total_refunded += b.total_refunded;
  a.avg_order_value = a.order_count ? Math.round(a.total_spent / a.order_count) : 0;
  a.net_spent = a.total_spent - a.total_refunded;
  return into;
}

function setFirst(state: ProfileState, key: string, value: unknown, ts: string): void {
  // First-touch is "earliest message wins", so a late-arriving older message still takes it.
  const timeKey = `${key}_at`;
  const prevAt = key === 'first_seen' ? state.firstTouch.first_seen : state.firstTouch[timeKey];
  if (state.firstTouch[key] === undefined || (typeof prevAt === 'string' && ts < prevAt)) {
    state.firstTouch[key] = value;
    if (key !== 'first_seen') state.firstTouch[timeKey] = ts;
  }
}
