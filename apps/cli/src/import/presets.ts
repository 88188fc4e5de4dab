import type { ImportKind } from './column-map.ts';

/** Settings for a known export format, so `--preset NAME` replaces a list of `--map` flags. */
export interface ImportPreset {
  name: string;
  kind: ImportKind;
  description: string;
  map: readonly { column: string; field: string }[];
  timeZone?: string;
  currency?: string;
  /** Order ids starting with this are cancellations (`Order Refunded`). */
  refundPrefix?: string;
  dateOrder?: 'mdy' | 'dmy';
}

export const PRESETS: Record<string, ImportPreset> = {
  'online-retail': {
    name: 'online-retail',
    kind: 'orders',
    description: 'UCI Online Retail (a UK gift shop, 2010–2011): invoice lines, C-prefixed cancellations, float CustomerID, London local times',
    map: [
      { column: 'InvoiceNo', field: 'order_id' },
      { column: 'StockCode', field: 'sku' },
      { column: 'Description', field: 'product_name' },
      { column: 'Quantity', field: 'quantity' },
      { column: 'InvoiceDate', field: 'timestamp' },
      { column: 'UnitPrice', field: 'unit_price' },
      { column: 'CustomerID', field: 'userId' },
      { column: 'Country', field: 'traits.country' },
    ],
    timeZone: 'Europe/London',
    currency: 'GBP',
    refundPrefix: 'C',
    dateOrder: 'mdy',
  },
};

/** The flags a preset stands for, as a user would type them. */
export function presetAsFlags(p: ImportPreset): string {
  const parts = p.map.map((m) => `--map ${m.column}=${m.field}`);
  if (p.timeZone) parts.push(`--time-zone ${p.timeZone}`);
  if (p.currency) parts.push(`--currency ${p.currency}`);
  if (p.refundPrefix) parts.push(`--refund-prefix ${p.refundPrefix}`);
  if (p.dateOrder) parts.push(`--date-order ${p.dateOrder}`);
  return parts.join(' ');
}
