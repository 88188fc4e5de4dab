import { seededUuids } from './uuid.ts';

/**
 * When the messages of a batch happened. `spread` (the default, as every earlier run sent): each at a random time
 * of the last 30 days, so every time-ordered index takes its entries at random places — closer to a backfill than
 * to live traffic. `live`: as SDKs send live traffic — they queue events and flush every 10–30 s — 95 % within the
 * 30 s before the batch is sent, 5 % from up to 30 days before (an app's offline queue, a late retry). See
 * ARCHITECTURE, "The storage floor", for what the difference costs.
 */
export type Timestamps = 'live' | 'spread';

const DAY_MS = 86_400_000;

/** Realistic Segment batches for benchmarks: a brand's customers browsing, identifying, ordering. */
export function buildBatches(opts: { batches: number; batchSize: number; people: number; seed?: number; idPrefix?: string; timestamps?: Timestamps }): string[] {
  let s = opts.seed ?? 42;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const cities = ['上海', '北京', '杭州', '深圳', '成都', '广州', '南京', '武汉'];
  const products = [
    { sku: 'TEA-001', name: '茉莉绿茶', price: 18 },
    { sku: 'TEA-002', name: '杨枝甘露', price: 26 },
    { sku: 'CUP-010', name: '随行杯', price: 89 },
    { sku: 'GIFT-01', name: '节日礼盒', price: 168 },
  ];
  const now = Date.now();
  // Message ids as the SDKs make them (random UUIDs), from their own sequence so the workload is unchanged.
  const uuid = seededUuids((opts.seed ?? 42) ^ 0x5bd1e995);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < opts.batches; b++) {
    const batch: object[] = [];
    for (let i = 0; i < opts.batchSize; i++, n++) {
      const person = Math.floor(rand() * opts.people);
      const anonymousId = `${opts.idPrefix ?? ''}dev-${person}`;
      const userId = `${opts.idPrefix ?? ''}u-${person}`;
      const known = rand() < 0.7;
      // One draw either way, so both kinds send the same people, calls and properties.
      const t = rand();
      const ago = opts.timestamps !== 'live' ? t * DAY_MS * 30 : t < 0.05 ? (t / 0.05) * DAY_MS * 30 : ((t - 0.05) / 0.95) * 30_000;
      const ts = new Date(now - Math.floor(ago)).toISOString();
      const r = rand();
      const base = { messageId: `${opts.idPrefix ?? ''}${uuid()}`, anonymousId, ...(known ? { userId } : {}), timestamp: ts, context: { library: { name: 'bench' }, ip: '10.0.0.1', userAgent: 'Mozilla/5.0 (iPhone) MicroMessenger/8.0' } };
      if (r < 0.1) {
        batch.push({ ...base, type: 'identify', userId, traits: { name: `客户${person}`, city: cities[person % cities.length], phone: `1380000${String(person).padStart(4, '0').slice(-4)}`, email: `c${person}@example.com`, gender: person % 2 ? 'female' : 'male' } });
      } else if (r < 0.35) {
        batch.push({ ...base, type: 'page', name: '商品详情', properties: { path: `/p/${person % 50}`, referrer: 'https://mp.weixin.qq.com/' } });
      } else if (r < 0.9) {
        const p = products[Math.floor(rand() * products.length)]!;
        batch.push({ ...base, type: 'track', event: 'Product Viewed', properties: { product_id: p.sku, name: p.name, price: p.price, category: '饮品' } });
      } else {
        const p = products[Math.floor(rand() * products.length)]!;
        const qty = 1 + Math.floor(rand() * 3);
        batch.push({ ...base, type: 'track', event: 'Order Completed', properties: { order_id: `o-${n}`, total: p.price * qty, currency: 'CNY', products: [{ product_id: p.sku, name: p.name, price: p.price, quantity: qty }] } });
      }
    }
    out.push(JSON.stringify({ batch, sentAt: new Date(now).toISOString() }));
  }
  return out;
}
