import { createHash } from 'node:crypto';
import type { ColumnMapping, ImportKind, OrderField, ValueType } from './column-map.ts';
import { parseLocalTime, type DateOrder } from './local-time.ts';

/** One problem with one CSV row. `row` counts the header as row 1, like a spreadsheet. */
export interface RowError {
  row: number;
  /** The CSV column (or, when no column is involved, the message field). */
  field: string;
  message: string;
}

/** A Segment-shaped message built from one or more rows. */
export interface RowMessage {
  message: Record<string, unknown>;
  /** Every row that went into it (an order has one per line). */
  rows: number[];
  /**
   * Values that could not be converted (left out of `message`): the row is rejected, and `message` is only
   * validated so that the report lists the row's other problems too.
   */
  errors?: RowError[];
}

export interface BuildOptions {
  kind: ImportKind;
  mappings: readonly ColumnMapping[];
  headerLength: number;
  timeZone: string;
  dateOrder: DateOrder;
  /** Orders: currency when no column gives one. */
  currency: string;
  /** Orders: ids starting with this are cancellations; without it, an order whose lines are all negative is one. */
  refundPrefix: string | null;
  /** Events: the event name when no column gives one. */
  event: string | null;
  /** Trait keys that are identifiers (phone, email, member_no…), for rows without userId/anonymousId. */
  identifierTraits: ReadonlySet<string>;
}

/** A row's values, converted and checked. */
interface ParsedRow {
  row: number;
  errors: RowError[];
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  timestamp?: string;
  event?: string;
  traits: Record<string, unknown>;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  product: Record<string, unknown>;
  order: Partial<Record<OrderField, string | number>>;
}

export class RowParser {
  private readonly columnOf = new Map<string, string>();
  private lastTime: { text: string; result: ReturnType<typeof parseLocalTime> } = { text: '', result: { ok: false, error: '' } };

  constructor(readonly opts: BuildOptions) {
    for (const m of opts.mappings) {
      const t = m.target;
      switch (t.kind) {
        case 'order':
          this.columnOf.set(t.field, m.column);
          break;
        case 'traits':
          this.columnOf.set(`traits.${t.path.join('.')}`, m.column);
          this.columnOf.set(`context.traits.${t.path.join('.')}`, m.column);
          break;
        case 'properties':
        case 'context':
        case 'product':
          this.columnOf.set(`${t.kind}.${t.path.join('.')}`, m.column);
          break;
        case 'skip':
          break;
        default:
          this.columnOf.set(t.kind, m.column);
          if (t.kind === 'timestamp') this.columnOf.set('originalTimestamp', m.column);
      }
    }
  }

  /** The CSV column a message path (`traits.phone`, `context.traits.phone`, `userId`) came from, if any. */
  columnForPath(path: string): string | null {
    let p = path;
    for (;;) {
      const hit = this.columnOf.get(p);
      if (hit !== undefined) return hit;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return null;
      p = p.slice(0, cut);
    }
  }

  column(field: string): string {
    return this.columnOf.get(field) ?? field;
  }

  parse(record: readonly string[], row: number): ParsedRow {
    const out: ParsedRow = { row, errors: [], traits: {}, properties: {}, context: {}, product: {}, order: {} };
    if (record.length > this.opts.headerLength) {
      out.errors.push({ row, field: '(row)', message: `row has ${record.length} columns but the header has ${this.opts.headerLength}; quote values that contain commas` });
      return out;
    }
    for (const m of this.opts.mappings) {
      const raw = record[m.index] ?? '';
      const value = raw.trim();
      if (value === '') continue;
      const t = m.target;
      let error: string | null = null;
      switch (t.kind) {
        case 'userId':
        case 'anonymousId':
          out[t.kind] = cleanId(value);
          break;
        case 'messageId':
          out.messageId = value;
          break;
        case 'event':
          out.event = value;
          break;
        case 'timestamp': {
          // Exports repeat the same time on every line of an order: parse each distinct text once.
          if (value !== this.lastTime.text) this.lastTime = { text: value, result: parseLocalTime(value, { timeZone: this.opts.timeZone, dateOrder: this.opts.dateOrder }) };
          const r = this.lastTime.result;
          if (r.ok) out.timestamp = r.iso;
          else error = r.error;
          break;
        }
        case 'order': {
          if (t.field === 'quantity' || t.field === 'unit_price') {
            const n = parseDecimal(value);
            if (n === null) error = `${t.field === 'quantity' ? 'quantity' : 'unit price'} "${raw}" is not a number`;
            else if (t.field === 'unit_price' && n < 0) error = `unit price ${value} is negative; a refund is a cancellation order with negative quantities`;
            else out.order[t.field] = n;
          } else {
            out.order[t.field] = t.field === 'order_id' ? cleanId(value) : value;
          }
          break;
        }
        case 'traits':
        case 'properties':
        case 'context':
        case 'product': {
          const v = convert(value, t.type);
          if (!v.ok) error = v.error;
          else setPath(out[t.kind], t.path, v.value);
          break;
        }
        case 'skip':
          break;
      }
      if (error !== null) out.errors.push({ row, field: m.column, message: error });
    }
    return out;
  }

  /** profiles → identify, events → track. */
  buildSingle(p: ParsedRow, record: readonly string[]): RowMessage | RowError[] {
    const { kind } = this.opts;
    const ids = this.identity(p);
    if (!ids) return [...p.errors, this.noIdentifier(p.row)];
    const built = this.buildMessage(p, record, ids);
    if (p.errors.length === 0) return built;
    return Array.isArray(built) ? [...p.errors, ...built] : { ...built, errors: p.errors };
  }

  private buildMessage(p: ParsedRow, record: readonly string[], ids: { userId?: string; anonymousId?: string }): RowMessage | RowError[] {
    const { kind } = this.opts;
    const messageId = p.messageId ?? deterministicId(kind, record.join('\u001f'));
    if (kind === 'profiles') {
      const message = { type: 'identify', messageId, ...ids, ...(p.timestamp ? { timestamp: p.timestamp } : {}), traits: p.traits, ...(Object.keys(p.properties).length ? { properties: p.properties } : {}), context: p.context };
      return { message, rows: [p.row] };
    }
    const event = p.event ?? this.opts.event;
    if (!event) return [{ row: p.row, field: this.column('event'), message: 'event name is empty; fill the column or pass --event NAME for rows without one' }];
    const context = Object.keys(p.traits).length ? { ...p.context, traits: p.traits } : p.context;
    const message = { type: 'track', event, messageId, ...ids, ...(p.timestamp ? { timestamp: p.timestamp } : {}), properties: p.properties, context };
    return { message, rows: [p.row] };
  }

  identity(p: Pick<ParsedRow, 'userId' | 'anonymousId' | 'traits'>): { userId?: string; anonymousId?: string } | null {
    if (p.userId || p.anonymousId) return { ...(p.userId ? { userId: p.userId } : {}), ...(p.anonymousId ? { anonymousId: p.anonymousId } : {}) };
    // Segment needs a userId or anonymousId; a row known only by phone/email/member_no gets a stable one from them.
    const keys = Object.keys(p.traits)
      .filter((k) => this.opts.identifierTraits.has(k) && p.traits[k] !== undefined && p.traits[k] !== '')
      .sort()
      .map((k) => `${k}=${String(p.traits[k])}`);
    if (keys.length === 0) return null;
    return { anonymousId: `import-${createHash('sha256').update(keys.join('\u0000')).digest('hex').slice(0, 24)}` };
  }

  noIdentifier(row: number): RowError {
    return {
      row,
      field: this.columnOf.get('userId') ?? this.columnOf.get('anonymousId') ?? 'userId',
      message: 'row has no userId, anonymousId or identifier trait (phone, email, member_no, unionid…); map a column to one of them',
    };
  }
}

interface OrderGroup {
  orderId: string;
  part: number;
  lines: ParsedRow[];
  lastRow: number;
}

/**
 * Groups order lines into orders as they stream by. Lines of one order are usually adjacent, but real
 * exports interleave a few (a cancellation printed in the middle of an invoice), so an order stays
 * open until `window` rows have passed without a line for it. An order id that comes back after its
 * order was closed becomes a second part (its own message), so no line is ever dropped.
 */
export class OrderAssembler {
  private readonly open = new Map<string, OrderGroup>();
  private readonly parts = new Map<string, number>();
  /** The most recently touched open order (the last entry of `open`). */
  private last: OrderGroup | null = null;

  constructor(
    private readonly parser: RowParser,
    private readonly emit: (result: RowMessage | { rejected: number[]; errors: RowError[] }) => void,
    private readonly window = 1000,
  ) {}

  /** Orders split because their lines were further apart than the window. */
  splitOrders = 0;

  add(p: ParsedRow): void {
    const orderId = typeof p.order.order_id === 'string' ? p.order.order_id : undefined;
    if (!orderId) {
      const errors = p.errors.length ? p.errors : [{ row: p.row, field: this.parser.column('order_id'), message: 'order id is empty; every order line needs one' }];
      this.emit({ rejected: [p.row], errors });
      this.flushBefore(p.row);
      return;
    }
    let group = this.last?.orderId === orderId ? this.last : this.open.get(orderId);
    if (group !== this.last) {
      // Keep `open` ordered by last use: re-inserting moves an order to the end.
      if (group) {
        this.open.delete(orderId);
      } else {
        const part = (this.parts.get(orderId) ?? 0) + 1;
        this.parts.set(orderId, part);
        if (part > 1) this.splitOrders++;
        group = { orderId, part, lines: [], lastRow: p.row };
      }
      this.open.set(orderId, group);
      this.last = group;
    }
    group!.lines.push(p);
    group!.lastRow = p.row;
    this.flushBefore(p.row);
  }

  finish(): void {
    for (const g of this.open.values()) this.close(g);
    this.open.clear();
    this.last = null;
  }

  private flushBefore(row: number): void {
    for (const g of this.open.values()) {
      if (row - g.lastRow < this.window && this.open.size <= this.window) break;
      this.open.delete(g.orderId);
      if (g === this.last) this.last = null;
      this.close(g);
    }
  }

  private close(g: OrderGroup): void {
    const opts = this.parser.opts;
    const rows = g.lines.map((l) => l.row);
    const errors: RowError[] = g.lines.flatMap((l) => l.errors);
    const first = g.lines[0]!;
    const isRefund = opts.refundPrefix ? g.orderId.startsWith(opts.refundPrefix) : g.lines.every((l) => typeof l.order.quantity === 'number' && l.order.quantity < 0);
    const customer = g.lines.find((l) => l.userId)?.userId;
    for (const l of g.lines) {
      if (l.errors.length) continue;
      if (l.userId && customer && l.userId !== customer) {
        const firstRow = g.lines.find((x) => x.userId === customer)!.row;
        errors.push({ row: l.row, field: this.parser.column('userId'), message: `order ${g.orderId} has lines for different customers (${customer} on row ${firstRow}, ${l.userId} here)` });
      }
      if (typeof l.order.quantity !== 'number') {
        errors.push({ row: l.row, field: this.parser.column('quantity'), message: 'quantity is empty' });
      } else if (!isRefund && l.order.quantity < 0) {
        const why = opts.refundPrefix ? `order ${g.orderId} is not a cancellation (cancellation ids start with "${opts.refundPrefix}"); a negative line outside one looks like a stock adjustment, not a customer order` : `order ${g.orderId} mixes negative and positive quantities`;
        errors.push({ row: l.row, field: this.parser.column('quantity'), message: `quantity ${l.order.quantity} is negative but ${why}` });
      }
      if (typeof l.order.unit_price !== 'number') errors.push({ row: l.row, field: this.parser.column('unit_price'), message: 'unit price is empty' });
    }
    if (errors.length) {
      const bad = new Set(errors.map((e) => e.row));
      const badList = [...bad].sort((a, b) => a - b);
      const because = `order ${g.orderId} was not imported because row${badList.length > 1 ? 's' : ''} ${listRows(badList)} ${badList.length > 1 ? 'have' : 'has'} errors`;
      for (const r of rows) if (!bad.has(r)) errors.push({ row: r, field: this.parser.column('order_id'), message: because });
      this.emit({ rejected: rows, errors });
      return;
    }

    let total10k = 0;
    const products = g.lines.map((l) => {
      const qty = Math.abs(l.order.quantity as number);
      const price = l.order.unit_price as number;
      total10k += Math.round(qty * price * 10_000);
      return {
        ...(l.order.sku !== undefined ? { sku: String(l.order.sku) } : {}),
        ...(l.order.product_name !== undefined ? { name: String(l.order.product_name) } : {}),
        quantity: qty,
        price,
        ...l.product,
      };
    });
    const traits: Record<string, unknown> = {};
    const properties: Record<string, unknown> = {};
    for (const l of g.lines) {
      for (const [k, v] of Object.entries(l.traits)) traits[k] ??= v;
      for (const [k, v] of Object.entries(l.properties)) properties[k] ??= v;
    }
    const timestamps = g.lines.map((l) => l.timestamp).filter((t): t is string => t !== undefined);
    const timestamp = timestamps.length ? timestamps.reduce((a, b) => (b < a ? b : a)) : undefined;
    const ids = this.parser.identity({ userId: customer, anonymousId: g.lines.find((l) => l.anonymousId)?.anonymousId, traits }) ?? { anonymousId: `guest-order-${g.orderId}` };
    const currency = g.lines.find((l) => l.order.currency)?.order.currency ?? opts.currency;
    const context = Object.keys(traits).length ? { ...first.context, traits } : first.context;
    const message = {
      type: 'track',
      event: isRefund ? 'Order Refunded' : 'Order Completed',
      messageId: first.messageId ?? deterministicId('orders', g.part > 1 ? `${g.orderId}\u0000${g.part}` : g.orderId),
      ...ids,
      ...(timestamp ? { timestamp } : {}),
      properties: { ...properties, order_id: g.orderId, products, total: Math.round(total10k / 100) / 100, currency: String(currency) },
      context,
    };
    this.emit({ message, rows });
  }
}

function listRows(rows: number[]): string {
  return rows.length <= 5 ? rows.join(', ') : `${rows.slice(0, 5).join(', ')} and ${rows.length - 5} more`;
}

/** Same input, same id: re-importing a file stores nothing twice (the inbox dedupes on workspace + messageId). */
export function deterministicId(kind: ImportKind, key: string): string {
  return `import-${kind}-${createHash('sha256').update(`${kind}\u0000${key}`).digest('hex').slice(0, 32)}`;
}

/** Spreadsheets write integer ids as floats (`17850.0`); an id is text, so the `.0` goes. */
export function cleanId(value: string): string {
  const m = /^(-?\d+)\.0+$/.exec(value);
  return m ? m[1]! : value;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** `12.5`, `-3`, `1,234.50`, `¥18`, `£2.55` → number; anything else → null. */
export function parseDecimal(raw: string): number | null {
  let text = raw.trim().replace(/^[¥￥$£€]\s*/, '');
  if (/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(text)) text = text.replace(/,/g, '');
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function convert(value: string, type: ValueType): { ok: true; value: unknown } | { ok: false; error: string } {
  switch (type) {
    case 'string':
      return { ok: true, value };
    case 'number': {
      const n = parseDecimal(value);
      return n === null ? { ok: false, error: `"${value}" is not a number` } : { ok: true, value: n };
    }
    case 'boolean': {
      const v = value.toLowerCase();
      if (['true', '1', 'yes', 'y', '是'].includes(v)) return { ok: true, value: true };
      if (['false', '0', 'no', 'n', '否'].includes(v)) return { ok: true, value: false };
      return { ok: false, error: `"${value}" is not a boolean (true/false, 1/0, yes/no)` };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(value) as unknown };
      } catch (e) {
        return { ok: false, error: `"${value.slice(0, 50)}" is not JSON: ${(e as Error).message}` };
      }
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  node[path[path.length - 1]!] = value;
}
