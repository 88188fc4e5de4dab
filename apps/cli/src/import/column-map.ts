/**
 * How CSV columns become message fields: `--map col=field`, defaults from header names, presets.
 */

export const IMPORT_KINDS = ['orders', 'profiles', 'events'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export const ORDER_FIELDS = ['order_id', 'quantity', 'unit_price', 'sku', 'product_name', 'currency'] as const;
export type OrderField = (typeof ORDER_FIELDS)[number];

export const VALUE_TYPES = ['string', 'number', 'boolean', 'json'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** Where one column goes. */
export type FieldTarget =
  | { kind: 'userId' | 'anonymousId' | 'messageId' | 'timestamp' | 'event' }
  | { kind: 'order'; field: OrderField }
  /** `traits.*` (on track: context.traits), `properties.*`, `context.*`, or (orders) `product.*` on each line's product. */
  | { kind: 'traits' | 'properties' | 'context' | 'product'; path: string[]; type: ValueType }
  | { kind: 'skip' };

export interface ColumnMapping {
  column: string;
  index: number;
  /** The field as written (`traits.city`), for messages. */
  field: string;
  target: FieldTarget;
}

export type FieldParse = { ok: true; target: FieldTarget } | { ok: false; error: string };

const SIMPLE = ['userId', 'anonymousId', 'messageId', 'timestamp', 'event'] as const;
const PATH_SEGMENT = /^[A-Za-z0-9_$\u4e00-\u9fff-]+$/;

/** Parses the right-hand side of `--map col=field` (`traits.age:number`, `order_id`, `-` to skip). */
export function parseField(spec: string, kind: ImportKind): FieldParse {
  const text = spec.trim();
  if (text === '' || text === '-') return { ok: true, target: { kind: 'skip' } };
  if ((SIMPLE as readonly string[]).includes(text)) {
    if (text === 'event' && kind !== 'events') return { ok: false, error: `"event" is only for events imports (orders are "Order Completed"/"Order Refunded", profiles are identify calls)` };
    return { ok: true, target: { kind: text as (typeof SIMPLE)[number] } };
  }
  if ((ORDER_FIELDS as readonly string[]).includes(text)) {
    if (kind !== 'orders') return { ok: false, error: `"${text}" is an order-line field; use it with \`siyu import orders\`, or map to properties.${text}` };
    return { ok: true, target: { kind: 'order', field: text as OrderField } };
  }
  const [pathText = '', typeText, ...extra] = text.split(':');
  const type = (typeText ?? 'string') as ValueType;
  if (extra.length || !(VALUE_TYPES as readonly string[]).includes(type)) {
    return { ok: false, error: `unknown value type in "${text}"; append one of :${VALUE_TYPES.join(', :')} (default string)` };
  }
  const [root, ...path] = pathText.split('.');
  if ((root === 'traits' || root === 'properties' || root === 'context' || root === 'product') && path.length > 0 && path.every((p) => PATH_SEGMENT.test(p))) {
    if (root === 'product' && kind !== 'orders') return { ok: false, error: `"${text}": product.* fields are for orders imports (one product per line)` };
    if (root === 'context' && path[0] === 'externalIds') return { ok: false, error: `"${text}": map identifiers to traits instead (traits.phone, traits.unionid, traits.member_no…)` };
    return { ok: true, target: { kind: root, path, type } };
  }
  return {
    ok: false,
    error: `unknown field "${text}"; use userId, anonymousId, messageId, timestamp${kind === 'events' ? ', event' : ''}, traits.<name>, properties.<name>, context.<path>${kind === 'orders' ? `, ${ORDER_FIELDS.join(', ')}, product.<name>` : ''} (or - to skip the column)`,
  };
}

const norm = (header: string) => header.toLowerCase().replace(/[^a-z0-9\u4e00-\u9fff]/g, '');

/** Header names (normalised: lower case, letters and digits only) that map to a field without `--map`. */
const DEFAULTS: Record<string, string> = {
  userid: 'userId',
  customerid: 'userId',
  anonymousid: 'anonymousId',
  messageid: 'messageId',
  timestamp: 'timestamp',
  time: 'timestamp',
  datetime: 'timestamp',
  date: 'timestamp',
  createdat: 'timestamp',
  occurredat: 'timestamp',
  eventtime: 'timestamp',
  orderdate: 'timestamp',
  ordertime: 'timestamp',
  invoicedate: 'timestamp',
};
const EVENT_DEFAULTS: Record<string, string> = { event: 'event', eventname: 'event' };
const ORDER_DEFAULTS: Record<string, string> = {
  orderid: 'order_id',
  orderno: 'order_id',
  ordernumber: 'order_id',
  invoiceno: 'order_id',
  invoice: 'order_id',
  quantity: 'quantity',
  qty: 'quantity',
  unitprice: 'unit_price',
  price: 'unit_price',
  sku: 'sku',
  productid: 'sku',
  stockcode: 'sku',
  productname: 'product_name',
  description: 'product_name',
  currency: 'currency',
};

const IDENTIFIER_HEADERS = new Set(['phone', 'mobile', 'phonenumber', 'email', 'memberno', 'memberid', 'unionid', 'wechatunionid', 'openid', 'wechatopenid', 'externaluserid', 'wecomexternaluserid', 'deviceid']);

/** The field a header maps to when `--map` does not name it. */
export function defaultField(header: string, kind: ImportKind): string | null {
  const key = norm(header);
  const hit = DEFAULTS[key] ?? (kind === 'events' ? EVENT_DEFAULTS[key] : undefined) ?? (kind === 'orders' ? ORDER_DEFAULTS[key] : undefined);
  if (hit) return hit;
  if (!key) return null;
  // Other columns: traits of a profile, properties of an event; order files keep only what is mapped,
  // except columns that identify the customer (phone, email, member_no…), which are traits everywhere.
  const name = header.trim().replace(/\s+/g, '_');
  if (!PATH_SEGMENT.test(name)) return null;
  if (IDENTIFIER_HEADERS.has(key)) return `traits.${name}`;
  if (kind === 'profiles') return `traits.${name}`;
  if (kind === 'events') return `properties.${name}`;
  return null;
}

/**
 * Resolves the mapping for a header row: explicit `--map` entries first, then defaults by header
 * name. Returns every problem at once (unknown columns, bad fields, a field mapped twice).
 */
export function resolveMapping(
  header: readonly string[],
  kind: ImportKind,
  explicit: readonly { column: string; field: string }[],
): { ok: true; mappings: ColumnMapping[]; ignored: string[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const byColumn = new Map<string, string>();
  const indexOf = new Map<string, number>();
  header.forEach((h, i) => {
    if (!indexOf.has(h.trim())) indexOf.set(h.trim(), i);
  });
  for (const e of explicit) {
    if (!indexOf.has(e.column.trim())) problems.push(`--map ${e.column}=${e.field}: the file has no column "${e.column}" (columns: ${header.join(', ')})`);
    byColumn.set(e.column.trim(), e.field);
  }
  const mappings: ColumnMapping[] = [];
  const ignored: string[] = [];
  const taken = new Map<string, string>();
  header.forEach((raw, index) => {
    const column = raw.trim();
    if (indexOf.get(column) !== index) return;
    const explicitField = byColumn.get(column);
    let field = explicitField ?? defaultField(column, kind);
    if (field === null) {
      if (column) ignored.push(column);
      return;
    }
    const parsed = parseField(field, kind);
    if (!parsed.ok) {
      if (explicitField !== undefined) problems.push(`--map ${column}=${field}: ${parsed.error}`);
      else ignored.push(column);
      return;
    }
    if (parsed.target.kind === 'skip') {
      ignored.push(column);
      return;
    }
    field = field.split(':')[0]!;
    const other = taken.get(field);
    if (other !== undefined) {
      // A default that collides with an explicit mapping steps aside; two explicit ones are an error.
      if (explicitField === undefined) return void ignored.push(column);
      if (byColumn.has(other)) return void problems.push(`columns "${other}" and "${column}" both map to ${field}; map one of them elsewhere (or to -)`);
      const i = mappings.findIndex((m) => m.column === other);
      if (i >= 0) mappings.splice(i, 1);
      ignored.push(other);
    }
    taken.set(field, column);
    mappings.push({ column, index, field, target: parsed.target });
  });
  if (kind === 'orders' && !mappings.some((m) => m.target.kind === 'order' && m.target.field === 'order_id')) {
    problems.push(`no column maps to order_id; name one with --map COLUMN=order_id (columns: ${header.join(', ')})`);
  }
  if (kind === 'orders' && !mappings.some((m) => m.target.kind === 'order' && m.target.field === 'unit_price')) {
    problems.push(`no column maps to unit_price; name one with --map COLUMN=unit_price (columns: ${header.join(', ')})`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, mappings, ignored };
}

/** Parses `col=field`; the last `=` splits, so a column name may contain `=`. */
export function parseMapArg(arg: string): { column: string; field: string } | null {
  const at = arg.lastIndexOf('=');
  if (at <= 0) return null;
  return { column: arg.slice(0, at).trim(), field: arg.slice(at + 1).trim() };
}
