import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AppError, type WorkspaceRecord } from '@siyu/core';
import { parse } from 'csv-parse';
import { resolveMapping, type ImportKind } from './column-map.ts';
import { sendChunk, type IngestTarget } from './ingest-target.ts';
import { isTimeZone, type DateOrder } from './local-time.ts';
import { PRESETS } from './presets.ts';
import { OrderAssembler, RowParser, type RowError, type RowMessage } from './row-messages.ts';

export interface ImportOptions {
  kind: ImportKind;
  /** A .csv or gzip-compressed .csv(.gz) file. */
  file: string;
  workspace: WorkspaceRecord;
  /** `col=field` pairs; they override the preset's and the defaults taken from header names. */
  map?: readonly { column: string; field: string }[];
  preset?: string;
  /** Zone of times written without one; default: the preset's, else the workspace's. */
  timeZone?: string;
  dateOrder?: DateOrder;
  /** Orders: currency when no column gives one (default: the preset's, else CNY). */
  currency?: string;
  /** Orders: order ids starting with this are cancellations (`Order Refunded`). */
  refundPrefix?: string;
  /** Events: event name for rows whose event column is empty (or when there is none). */
  event?: string;
  /** Validate everything, store nothing. */
  dryRun?: boolean;
  /** Write every row error to this CSV file (`row,field,message`). */
  reportFile?: string;
  /** Messages per validate + append transaction. */
  chunkSize?: number;
  /** Run the processor after this many accepted messages, so the inbox stays small. */
  drainEvery?: number;
  /** Row errors kept in the returned summary (all of them go to `reportFile`). */
  keepErrors?: number;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportProgress {
  phase: 'reading' | 'processing' | 'done';
  bytesRead: number;
  totalBytes: number;
  rowsRead: number;
  accepted: number;
  rowsRejected: number;
}

export interface ImportSummary {
  kind: ImportKind;
  file: string;
  workspaceId: string;
  dryRun: boolean;
  /** Data rows (the header not counted). */
  rowsRead: number;
  /** Rows that produced no message: their own errors, or (orders) another line of their order had one. */
  rowsRejected: number;
  /** Messages built from the rows (orders: one per order). */
  messages: number;
  /** Messages that passed validation. */
  valid: number;
  /** Messages newly stored (0 in a dry run). */
  accepted: number;
  /** Messages already stored by an earlier import (same messageId). */
  duplicates: number;
  /** Messages refused by validation. */
  messagesRejected: number;
  /** Row problems; the first `keepErrors`, sorted by row. */
  errors: RowError[];
  errorCount: number;
  /** Things worth knowing that are not errors (ignored columns, split orders…). */
  notes: string[];
  /** Messages the processor handled at the end (and along the way). */
  processed: number;
  elapsedMs: number;
  rowsPerSecond: number;
}

const IDENTIFIER_TRAIT_ALIASES = ['mobile', 'phone_number', 'phoneNumber', 'memberNo', 'member_id', 'unionid', 'unionId', 'openid', 'openId', 'external_userid', 'externalUserId', 'deviceId'];

/**
 * Imports one CSV file through the ingestion path: streams it (gzip too), maps columns to Segment
 * messages, validates and appends them in chunks, runs the processor so profiles are current when it
 * returns, and reports every bad row without stopping the good ones. Throws `AppError` only for
 * problems that stop the whole import (missing file, unknown column in `--map`, unreadable CSV).
 */
export async function importFile(target: IngestTarget, opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const preset = opts.preset ? PRESETS[opts.preset] : undefined;
  if (opts.preset && !preset) throw new AppError('INVALID_INPUT', `unknown preset "${opts.preset}"; known presets: ${Object.keys(PRESETS).join(', ')}`);
  if (preset && preset.kind !== opts.kind) throw new AppError('INVALID_INPUT', `preset "${preset.name}" is for ${preset.kind} imports, not ${opts.kind}`);
  const timeZone = opts.timeZone ?? preset?.timeZone ?? opts.workspace.timeZone;
  if (!isTimeZone(timeZone)) throw new AppError('INVALID_INPUT', `time zone "${timeZone}" is not an IANA zone name such as Asia/Shanghai or Europe/London`);
  const chunkSize = opts.chunkSize ?? 500;
  const drainEvery = opts.drainEvery ?? 20_000;
  const keepErrors = opts.keepErrors ?? 1000;
  const dryRun = opts.dryRun ?? false;

  const info = await stat(opts.file).catch(() => null);
  if (!info) throw new AppError('NOT_FOUND', `file "${opts.file}" does not exist; give the path of a .csv or .csv.gz file`);
  if (!info.isFile()) throw new AppError('INVALID_INPUT', `"${opts.file}" is not a file`);
  const gz = await isGzip(opts.file);

  const rules = await target.services.workspaces.identityRules(opts.workspace.id);
  const identifierTraits = new Set([...rules.keys(), ...IDENTIFIER_TRAIT_ALIASES].filter((k) => k !== 'user_id' && k !== 'anonymous_id'));

  const summary: ImportSummary = {
    kind: opts.kind,
    file: opts.file,
    workspaceId: opts.workspace.id,
    dryRun,
    rowsRead: 0,
    rowsRejected: 0,
    messages: 0,
    valid: 0,
    accepted: 0,
    duplicates: 0,
    messagesRejected: 0,
    errors: [],
    errorCount: 0,
    notes: [],
    processed: 0,
    elapsedMs: 0,
    rowsPerSecond: 0,
  };
  const report = opts.reportFile ? await openReport(opts.reportFile) : null;
  const recordErrors = async (errors: readonly RowError[], rejectedRows: number) => {
    summary.rowsRejected += rejectedRows;
    for (const e of errors) {
      summary.errorCount++;
      if (summary.errors.length < keepErrors) summary.errors.push(e);
      if (report) await report.write(e);
    }
  };

  const input = createReadStream(opts.file);
  const csv = parse({ bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: false });
  // An error in any stage destroys the parser, which makes the loop below throw it.
  const ignore = () => {};
  if (gz) pipeline(input, createGunzip(), csv, ignore);
  else pipeline(input, csv, ignore);
  const progress = (phase: ImportProgress['phase']) =>
    opts.onProgress?.({ phase, bytesRead: input.bytesRead, totalBytes: info.size, rowsRead: summary.rowsRead, accepted: dryRun ? summary.valid : summary.accepted, rowsRejected: summary.rowsRejected });

  let pending: RowMessage[] = [];
  const rejectedNow: { errors: RowError[]; rows: number }[] = [];
  let sinceDrain = 0;
  let rowParser: RowParser | null = null;
  let assembler: OrderAssembler | null = null;

  // Rows with values that could not be converted: validated without storing, so the report has all their problems.
  let checkOnly: RowMessage[] = [];
  const flush = async () => {
    for (const r of rejectedNow.splice(0)) await recordErrors(r.errors, r.rows);
    if (checkOnly.length) {
      const check = checkOnly;
      checkOnly = [];
      const res = await sendChunk(target, opts.workspace, check.map((b) => b.message), { dryRun: true });
      const more = new Map(res.invalid.map((inv) => [inv.index, inv.problems]));
      for (const [i, b] of check.entries()) {
        const extra = (more.get(i) ?? []).map((p) => ({ row: b.rows[0]!, field: rowParser!.columnForPath(p.path) ?? p.path, message: p.message }));
        await recordErrors([...b.errors!, ...extra], 1);
      }
    }
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const res = await sendChunk(target, opts.workspace, batch.map((b) => b.message), { dryRun });
    summary.messages += batch.length;
    summary.valid += res.valid.length;
    summary.accepted += res.accepted;
    summary.duplicates += res.duplicates;
    summary.messagesRejected += res.invalid.length;
    for (const inv of res.invalid) {
      const rows = batch[inv.index]!.rows;
      const errors: RowError[] = inv.problems.map((p) => ({ row: rows[0]!, field: rowParser!.columnForPath(p.path) ?? p.path, message: p.message }));
      for (const r of rows.slice(1)) errors.push({ row: r, field: rowParser!.column('order_id'), message: `order not imported because row ${rows[0]} has errors` });
      await recordErrors(errors, rows.length);
    }
    sinceDrain += res.accepted;
    if (!dryRun && sinceDrain >= drainEvery) {
      progress('processing');
      summary.processed += await target.drain();
      sinceDrain = 0;
    }
    progress('reading');
  };

  let row = 0;
  try {
    for await (const record of csv as AsyncIterable<string[]>) {
      row++;
      if (!rowParser) {
        const mapping = resolveMapping(record, opts.kind, [...(preset?.map ?? []), ...(opts.map ?? [])]);
        if (!mapping.ok) throw new AppError('INVALID_INPUT', `cannot map the columns of ${opts.file}:\n  - ${mapping.problems.join('\n  - ')}`, { problems: mapping.problems });
        if (mapping.ignored.length) summary.notes.push(`columns not imported: ${mapping.ignored.join(', ')} (map them with --map COLUMN=traits.x / properties.x)`);
        if (!mapping.mappings.some((m) => m.target.kind === 'timestamp')) summary.notes.push('no timestamp column: messages are dated at the time of import (map one with --map COLUMN=timestamp)');
        rowParser = new RowParser({
          kind: opts.kind,
          mappings: mapping.mappings,
          headerLength: record.length,
          timeZone,
          dateOrder: opts.dateOrder ?? preset?.dateOrder ?? 'mdy',
          currency: opts.currency ?? preset?.currency ?? 'CNY',
          refundPrefix: opts.refundPrefix ?? preset?.refundPrefix ?? null,
          event: opts.event ?? null,
          identifierTraits,
        });
        const parser = rowParser;
        if (opts.kind === 'orders') {
          assembler = new OrderAssembler(parser, (r) => {
            if ('message' in r) pending.push(r);
            else rejectedNow.push({ errors: r.errors, rows: r.rejected.length });
          });
        }
        continue;
      }
      if (record.length === 1 && record[0]!.trim() === '') continue;
      summary.rowsRead++;
      const parsed = rowParser.parse(record, row);
      if (assembler) assembler.add(parsed);
      else {
        const built = rowParser.buildSingle(parsed, record);
        if (Array.isArray(built)) rejectedNow.push({ errors: built, rows: 1 });
        else if (built.errors) checkOnly.push(built);
        else pending.push(built);
      }
      if (pending.length >= chunkSize || rejectedNow.length >= chunkSize || checkOnly.length >= chunkSize) await flush();
    }
  } catch (e) {
    await report?.close();
    if (e instanceof AppError) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' ? `${opts.file} is not a valid gzip file (${err.message})` : `cannot read ${opts.file} at row ${row + 1}: ${err.message}`;
    throw new AppError('INVALID_INPUT', what, undefined, { cause: e });
  }
  if (!rowParser) {
    await report?.close();
    throw new AppError('INVALID_INPUT', `${opts.file} is empty; the first row must be a header naming the columns`);
  }
  assembler?.finish();
  await flush();
  if (assembler?.splitOrders) summary.notes.push(`${assembler.splitOrders} order id(s) came back after other orders' lines; each return was imported as its own message`);
  if (!dryRun) {
    progress('processing');
    summary.processed += await target.drain();
  }
  await report?.close();
  summary.errors.sort((a, b) => a.row - b.row);
  summary.elapsedMs = Math.round(performance.now() - started);
  summary.rowsPerSecond = summary.elapsedMs > 0 ? Math.round((summary.rowsRead * 1000) / summary.elapsedMs) : summary.rowsRead;
  progress('done');
  return summary;
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

async function openReport(file: string): Promise<{ write(e: RowError): Promise<void>; close(): Promise<void> }> {
  const out: WriteStream = createWriteStream(file);
  await once(out, 'open').catch((e: unknown) => {
    throw new AppError('INVALID_INPUT', `cannot write the report to ${file}: ${(e as Error).message}`);
  });
  out.write('row,field,message\n');
  let closed = false;
  return {
    async write(e) {
      if (!out.write(`${e.row},${csvCell(e.field)},${csvCell(e.message)}\n`)) await once(out, 'drain');
    },
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    },
  };
}

export function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
