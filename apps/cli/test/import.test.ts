import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';
import { AppError } from '@siyu/core';
import { createTestSiyu, type TestSiyu } from '@siyu/services/testing';
import { tempDirs, TEST_BACKENDS } from '@siyu/storage/testing';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFile } from '../src/import.ts';

/** Temp directories of this file, removed when it is done. */
const tempDir = tempDirs();

const ONLINE_RETAIL = join(import.meta.dirname, '../../../../shared/datasets/online-retail/online-retail.csv.gz');

// Rows are numbered like a spreadsheet: the header is row 1.
const ORDERS = `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom
536365,71053,"METAL LANTERN, WHITE",6,12/1/2010 8:26,3.39,17850.0,United Kingdom
536366,22633,"HAND WARMER, UNION JACK",6,12/1/2010 8:28,1.85,,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.50,17850.0,United Kingdom
536380,22728,ALARM CLOCK PINK,4,31/12/2010 10:00,3.75,12583.0,France
536380,22727,ALARM CLOCK RED,4,12/1/2010 10:00,3.75,12583.0,France
536381,22726,ALARM CLOCK GREEN,2,12/1/2010 10:05,-3.75,12583.0,France
536382,22725,ALARM CLOCK BLUE,two,12/1/2010 10:06,3.75,12583.0,France
536383,21756,BATH BUILDING BLOCK WORD,3,6/15/2011 14:30,5.95,12583.0,France
`;

function tempFile(name: string, content: string | Buffer): string {
  const file = join(tempDir('siyu-import-'), name);
  writeFileSync(file, content);
  return file;
}

describe.each(TEST_BACKENDS)('siyu import on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
  });
  afterAll(async () => t.close());

  it('turns order lines into orders and refunds, reports bad rows by row number, and re-imports nothing twice', async () => {
    const { workspace } = await t.workspace('orders');
    const file = tempFile('orders.csv', ORDERS);
    const reportFile = join(tempDir('siyu-report-'), 'report.csv');

    const s = await importFile(t, { kind: 'orders', file, workspace, preset: 'online-retail', reportFile });
    expect(s).toMatchObject({ rowsRead: 9, messages: 4, accepted: 4, duplicates: 0, rowsRejected: 4, messagesRejected: 0 });
    // A bad line takes its whole order down: row 7 is fine but belongs to order 536380 with row 6.
    expect(s.errors.map((e) => [e.row, e.field])).toEqual([
      [6, 'InvoiceDate'],
      [7, 'InvoiceNo'],
      [8, 'UnitPrice'],
      [9, 'Quantity'],
    ]);
    expect(s.errors[0]!.message).toContain('--date-order dmy');
    expect(s.errors[1]!.message).toContain('row 6');
    expect(s.errors[2]!.message).toContain('negative');
    expect(s.errors[3]!.message).toContain('"two" is not a number');

    const report = parse(readFileSync(reportFile, 'utf8'), { columns: true }) as { row: string; field: string; message: string }[];
    expect(report.map((r) => Number(r.row)).sort((a, b) => a - b)).toEqual([6, 7, 8, 9]);
    expect(report.find((r) => r.row === '8')?.field).toBe('UnitPrice');

    // 6 × 2.55 + 6 × 3.39 = 35.64 spent; the cancellation C536379 refunds 27.50.
    const member = await t.services.profiles.lookup(workspace.id, 'user_id', '17850');
    expect(member.computed).toMatchObject({ order_count: 1, total_spent: 3564, refund_count: 1, total_refunded: 2750, net_spent: 814, first_order_at: '2010-12-01T08:26:00.000Z' });
    expect(member.traits.country).toBe('United Kingdom');
    const events = await t.services.profiles.events(workspace.id, member.id, { limit: 10 });
    const order = events.data.find((e) => e.event === 'Order Completed')!;
    expect(order.properties).toMatchObject({ order_id: '536365', total: 35.64, currency: 'GBP' });
    expect(order.properties.products).toEqual([
      { sku: '85123A', name: 'WHITE HANGING HEART T-LIGHT HOLDER', quantity: 6, price: 2.55 },
      { sku: '71053', name: 'METAL LANTERN, WHITE', quantity: 6, price: 3.39 },
    ]);
    expect(events.data.find((e) => e.event === 'Order Refunded')?.properties).toMatchObject({ order_id: 'C536379', total: 27.5 });

    // London local time: 14:30 in June is 13:30 UTC (summer time).
    const french = await t.services.profiles.lookup(workspace.id, 'user_id', '12583');
    expect(french.computed).toMatchObject({ order_count: 1, total_spent: 1785, last_order_at: '2011-06-15T13:30:00.000Z' });

    // A line without a customer is an anonymous order with a stable id per invoice.
    const guest = await t.services.profiles.lookup(workspace.id, 'anonymous_id', 'guest-order-536366');
    expect(guest.computed).toMatchObject({ order_count: 1, total_spent: 1110 });

    const again = await importFile(t, { kind: 'orders', file, workspace, preset: 'online-retail' });
    expect(again).toMatchObject({ rowsRead: 9, accepted: 0, duplicates: 4, rowsRejected: 4 });
    expect((await t.services.profiles.lookup(workspace.id, 'user_id', '17850')).computed).toMatchObject({ order_count: 1, total_spent: 3564, refund_count: 1 });
    expect((await t.services.profiles.stats(workspace.id)).events).toBe(4);
  });

  it('maps headers named like fields without --map and keeps an order whole when another order interleaves', async () => {
    const { workspace } = await t.workspace('generic-orders');
    const csv = `order_id,user_id,phone,created_at,sku,product_name,qty,price
SO-1,c1,13800138001,2025-05-01 12:00,T01,桂花乌龙奶茶,2,18
SO-2,c2,,2025-05-01 12:01,T04,杨枝甘露,1,22
SO-1,c1,13800138001,2025-05-01 12:00,S01,桃酥,1,12.5
`;
    const s = await importFile(t, { kind: 'orders', file: tempFile('shop.csv', csv), workspace });
    expect(s).toMatchObject({ rowsRead: 3, accepted: 2, rowsRejected: 0 });
    const p = await t.services.profiles.lookup(workspace.id, 'phone', '13800138001');
    expect(p.identities.map((i) => i.type).sort()).toEqual(['phone', 'user_id']);
    // Asia/Shanghai by default; CNY by default; 2 × 18 + 12.50.
    expect(p.computed).toMatchObject({ order_count: 1, total_spent: 4850, first_order_at: '2025-05-01T04:00:00.000Z' });
    const [order] = (await t.services.profiles.events(workspace.id, p.id, { limit: 5 })).data;
    expect(order!.properties).toMatchObject({ order_id: 'SO-1', currency: 'CNY', total: 48.5 });
    expect((order!.properties.products as unknown[]).length).toBe(2);
  });

  it('a dry run validates and reports but stores nothing', async () => {
    const { workspace } = await t.workspace('dry');
    const s = await importFile(t, { kind: 'orders', file: tempFile('orders.csv', ORDERS), workspace, preset: 'online-retail', dryRun: true });
    expect(s).toMatchObject({ dryRun: true, rowsRead: 9, valid: 4, accepted: 0, rowsRejected: 4 });
    expect((await t.services.profiles.stats(workspace.id)).profiles).toBe(0);
  });

  it('imports profiles as identify calls: headers become traits, identifier problems point at their column', async () => {
    const { workspace } = await t.workspace('profiles');
    const csv = `user_id,name,phone,email,city,age
u1,张婷,138 0013 8000,TING@Example.com,上海,28
u2,李强,12,li@example.com,北京,35
,王敏,13900139000,,杭州,
`;
    const s = await importFile(t, { kind: 'profiles', file: tempFile('people.csv', csv), workspace, map: [{ column: 'age', field: 'traits.age:number' }] });
    expect(s).toMatchObject({ rowsRead: 3, accepted: 2, rowsRejected: 1 });
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatchObject({ row: 3, field: 'phone' });
    expect(s.errors[0]!.message).toContain('"12" is not a valid phone number');

    const ting = await t.services.profiles.lookup(workspace.id, 'user_id', 'u1');
    expect(ting.traits).toMatchObject({ name: '张婷', phone: '+8613800138000', email: 'ting@example.com', city: '上海', age: 28 });
    // A row known only by its phone still lands on a profile found by that phone.
    expect((await t.services.profiles.lookup(workspace.id, 'phone', '13900139000')).traits.name).toBe('王敏');
  });

  it('a row with a value that cannot be converted is reported with all its other problems too', async () => {
    const { workspace } = await t.workspace('profiles, every problem');
    const csv = `user_id,phone,email,age
q1,12345,bad-email,xx
q2,13800138001,q2@example.com,41
`;
    const s = await importFile(t, { kind: 'profiles', file: tempFile('people-bad.csv', csv), workspace, map: [{ column: 'age', field: 'traits.age:number' }] });
    expect(s).toMatchObject({ rowsRead: 2, accepted: 1, rowsRejected: 1 });
    expect(s.errors.map((e) => [e.row, e.field])).toEqual([
      [2, 'age'],
      [2, 'phone'],
      [2, 'email'],
    ]);
    await expect(t.services.profiles.lookup(workspace.id, 'user_id', 'q1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('imports events as track calls in the workspace time zone', async () => {
    const { workspace } = await t.workspace('events');
    const csv = `user_id,event,timestamp,plan,amount
u9,Signed Up,2025-03-01T08:00:00Z,pro,
u9,Order Completed,2025-03-02 10:00,,12.50
u9,,2025-03-03 10:00,,
`;
    const s = await importFile(t, { kind: 'events', file: tempFile('events.csv', csv), workspace, map: [{ column: 'amount', field: 'properties.total:number' }] });
    expect(s).toMatchObject({ rowsRead: 3, accepted: 2, rowsRejected: 1 });
    expect(s.errors[0]).toMatchObject({ row: 4, field: 'event' });
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', 'u9');
    // Asia/Shanghai (the workspace zone): 10:00 local is 02:00 UTC.
    expect(p.computed).toMatchObject({ order_count: 1, total_spent: 1250, last_order_at: '2025-03-02T02:00:00.000Z', event_counts: { 'Signed Up': 1, 'Order Completed': 1 } });
  });

  it('stops with a clear error for a missing file or a column that does not exist', async () => {
    const { workspace } = await t.workspace('fatal');
    const missing = importFile(t, { kind: 'orders', file: '/nonexistent/orders.csv', workspace });
    await expect(missing).rejects.toBeInstanceOf(AppError);
    await expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('/nonexistent/orders.csv') });
    const badMap = importFile(t, { kind: 'orders', file: tempFile('o.csv', ORDERS), workspace, preset: 'online-retail', map: [{ column: 'Phone', field: 'traits.phone' }] });
    await expect(badMap).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('no column "Phone"') });
  });

  it.skipIf(!existsSync(ONLINE_RETAIL))('imports a gzip slice of the real online-retail file with the preset and sane totals', async () => {
    const { workspace } = await t.workspace('online-retail');
    // 2,500 lines reach the file's first stock adjustment (row 2408: a negative line outside a cancellation).
    const lines = await headLines(ONLINE_RETAIL, 2500);
    const file = tempFile('slice.csv.gz', gzipSync(`${lines.join('\n')}\n`));
    const s = await importFile(t, { kind: 'orders', file, workspace, preset: 'online-retail' });

    // Expected figures computed straight from the slice.
    const rows = parse(lines.join('\n'), { columns: true }) as Record<string, string>[];
    const badInvoices = new Set(rows.filter((r) => !r.InvoiceNo!.startsWith('C') && (Number(r.Quantity) < 0 || Number(r.UnitPrice) < 0)).map((r) => r.InvoiceNo!));
    const invoices = new Set(rows.map((r) => r.InvoiceNo!));
    const rejectedRows = rows.filter((r) => badInvoices.has(r.InvoiceNo!)).length;
    expect(rejectedRows).toBeGreaterThan(0);
    expect(s.errors.map((e) => e.row)).toContain(2408);
    expect(s).toMatchObject({ rowsRead: 2499, rowsRejected: rejectedRows, accepted: invoices.size - badInvoices.size, duplicates: 0, messagesRejected: 0 });

    let spent = 0;
    const orders = new Set<string>();
    for (const r of rows.filter((x) => x.CustomerID === '17850.0' && !x.InvoiceNo!.startsWith('C'))) {
      spent += Math.round(Number(r.Quantity) * Number(r.UnitPrice) * 10_000);
      orders.add(r.InvoiceNo!);
    }
    const p = await t.services.profiles.lookup(workspace.id, 'user_id', '17850');
    expect(p.computed.order_count).toBe(orders.size);
    expect(p.computed.total_spent).toBe(Math.round(spent / 100));
    expect(p.computed.first_order_at).toBe('2010-12-01T08:26:00.000Z');
    const customers = new Set(rows.filter((r) => r.CustomerID && !badInvoices.has(r.InvoiceNo!)).map((r) => r.CustomerID!));
    const anonymous = new Set(rows.filter((r) => !r.CustomerID && !badInvoices.has(r.InvoiceNo!)).map((r) => r.InvoiceNo!));
    expect((await t.services.profiles.stats(workspace.id)).profiles).toBe(customers.size + anonymous.size);
  });
});

/** The first `n` lines of a gzip file, read as a stream (the file is never loaded whole). */
async function headLines(file: string, n: number): Promise<string[]> {
  const input = createReadStream(file);
  const rl = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity });
  const out: string[] = [];
  for await (const line of rl) {
    out.push(line);
    if (out.length >= n) break;
  }
  rl.close();
  input.destroy();
  return out;
}
