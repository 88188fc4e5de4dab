import { parseArgs } from 'node:util';
import { AppError, type WorkspaceRecord } from '@siyu/core';
import cliProgress from 'cli-progress';
import { IMPORT_KINDS, parseMapArg, type ImportKind } from './import/column-map.ts';
import { importFile, type ImportProgress, type ImportSummary } from './import/import-file.ts';
import { runtimeTarget } from './import/ingest-target.ts';
import type { DateOrder } from './import/local-time.ts';
import { PRESETS, presetAsFlags } from './import/presets.ts';
import { ensureDefaultWorkspace, type Runtime } from './runtime.ts';

export { importFile, type ImportOptions, type ImportProgress, type ImportSummary } from './import/import-file.ts';
export { runtimeTarget, type IngestTarget } from './import/ingest-target.ts';
export type { RowError } from './import/row-messages.ts';

const HELP = `Usage: npx siyu import <orders|profiles|events> FILE.csv[.gz] [options]

Reads a CSV (gzip-compressed too, streamed), turns rows into Segment messages and sends them through
the same validation and inbox as the HTTP API, then updates profiles before returning.

  orders    one row per order LINE; consecutive lines with the same order id become one
            "Order Completed" (properties order_id, products[{sku,name,quantity,price}], total, currency);
            cancellations (--refund-prefix, or all-negative quantities) become "Order Refunded"
  profiles  one identify per row; unmapped columns become traits (phone, email, member_no… identify people)
  events    one track per row; unmapped columns become properties

Options
  --map COL=FIELD       (repeatable) FIELD is userId, anonymousId, messageId, timestamp, event,
                        traits.NAME, properties.NAME, context.PATH, or for orders order_id, quantity,
                        unit_price, sku, product_name, currency, product.NAME; "-" skips the column.
                        Append :number, :boolean or :json to convert (traits.age:number).
                        Headers named like a field (user_id, customer_id, timestamp, order_id, qty,
                        price, sku…) are mapped without --map.
  --preset NAME         a known export format (${Object.keys(PRESETS).join(', ')})
  --workspace-key KEY   import into the workspace with this write key (default: the default workspace)
  --time-zone ZONE      zone of times written without one (default: the preset's, else the workspace's)
  --date-order mdy|dmy  how to read 1/2/2024 (default mdy: January 2)
  --currency CODE       orders: currency when no column gives one (default CNY)
  --refund-prefix P     orders: order ids starting with P are cancellations
  --event NAME          events: event name for rows without one
  --dry-run             validate everything, store nothing
  --report FILE         write every rejected row to FILE as CSV (row,field,message); otherwise the
                        first 20 are printed. Row numbers count the header as row 1.
  --json                print the summary as JSON

Presets
${Object.values(PRESETS)
  .map((p) => `  ${p.name}: ${p.description}\n    same as: ${presetAsFlags(p)}`)
  .join('\n')}

Example
  npx siyu import orders ../shared/datasets/online-retail/online-retail.csv.gz --preset online-retail

Importing the same file again stores nothing twice: message ids come from the order id (orders) or
the row's content (profiles, events), and the inbox keeps one message per id.

Exit code: 0 everything imported, 2 some rows were rejected (the rest were imported), 1 fatal error.
`;

export async function importCommand(rt: Runtime, args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        map: { type: 'string', multiple: true, short: 'm' },
        'workspace-key': { type: 'string' },
        'dry-run': { type: 'boolean' },
        report: { type: 'string' },
        preset: { type: 'string' },
        'time-zone': { type: 'string' },
        'date-order': { type: 'string' },
        currency: { type: 'string' },
        'refund-prefix': { type: 'string' },
        event: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [kindArg, file, ...extra] = positionals;
  const usage = (message: string) => {
    process.stderr.write(`${message}\n\n${HELP}`);
    return 1;
  };
  if (!kindArg || !(IMPORT_KINDS as readonly string[]).includes(kindArg)) return usage(kindArg ? `unknown import kind "${kindArg}"; use orders, profiles or events` : 'say what to import: orders, profiles or events');
  if (!file) return usage('give the CSV file to import');
  if (extra.length) return usage(`unexpected arguments: ${extra.join(' ')} (repeat --map for each column)`);
  const map: { column: string; field: string }[] = [];
  for (const m of values.map ?? []) {
    const parsed = parseMapArg(m);
    if (!parsed) return usage(`--map ${m}: expected COLUMN=FIELD, e.g. --map CustomerID=userId`);
    map.push(parsed);
  }
  const dateOrder = values['date-order'];
  if (dateOrder !== undefined && dateOrder !== 'mdy' && dateOrder !== 'dmy') return usage(`--date-order must be mdy or dmy, not "${dateOrder}"`);

  let workspace: WorkspaceRecord | undefined;
  let createdDefault = false;
  if (values['workspace-key']) {
    workspace = await rt.services.workspaces.authenticate('write', values['workspace-key']);
    if (!workspace) {
      process.stderr.write('no workspace has this write key; check it with `npx siyu credentials` or the console\n');
      return 1;
    }
  } else {
    const ensured = await ensureDefaultWorkspace(rt);
    createdDefault = ensured.created;
    workspace = await rt.opened.store.getWorkspace(ensured.workspaceId);
    if (!workspace) throw new Error(`default workspace ${ensured.workspaceId} vanished`);
  }

  const kind = kindArg as ImportKind;
  const progress = values.json ? undefined : progressReporter(file);
  let summary: ImportSummary;
  try {
    summary = await importFile(
      runtimeTarget(rt),
      {
        kind,
        file,
        workspace,
        map,
        ...(values.preset ? { preset: values.preset } : {}),
        ...(values['time-zone'] ? { timeZone: values['time-zone'] } : {}),
        ...(dateOrder ? { dateOrder: dateOrder as DateOrder } : {}),
        ...(values.currency ? { currency: values.currency } : {}),
        ...(values['refund-prefix'] ? { refundPrefix: values['refund-prefix'] } : {}),
        ...(values.event ? { event: values.event } : {}),
        dryRun: values['dry-run'] ?? false,
        ...(values.report ? { reportFile: values.report } : {}),
        keepErrors: 20,
        ...(progress ? { onProgress: progress.update } : {}),
      },
    );
  } catch (e) {
    progress?.stop();
    if (e instanceof AppError) {
      process.stderr.write(`import failed: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  progress?.stop();
  if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(formatSummary(summary, { workspace, createdDefault, reportFile: values.report }));
  return summary.rowsRejected > 0 ? 2 : 0;
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatSummary(s: ImportSummary, ctx: { workspace: WorkspaceRecord; createdDefault?: boolean; reportFile?: string | undefined }): string {
  const lines: string[] = [];
  lines.push(`${s.dryRun ? 'Dry run (nothing stored): ' : ''}${s.kind} from ${s.file} → workspace "${ctx.workspace.name}" (${ctx.workspace.id})`);
  if (ctx.createdDefault) lines.push('  (created the default workspace; `npx siyu credentials` prints its keys)');
  const unit = s.kind === 'orders' ? 'orders' : s.kind === 'profiles' ? 'identify calls' : 'events';
  lines.push(`  rows read          ${n(s.rowsRead)}`);
  if (s.dryRun) lines.push(`  messages valid     ${n(s.valid)} ${unit} (of ${n(s.messages)} built)`);
  else lines.push(`  messages accepted  ${n(s.accepted)} ${unit}`);
  if (!s.dryRun) lines.push(`  duplicates         ${n(s.duplicates)}${s.duplicates ? ' (already imported before: skipped)' : ''}`);
  lines.push(`  rows rejected      ${n(s.rowsRejected)}${s.rowsRejected ? ` (${n(s.errorCount)} problems${ctx.reportFile ? `, all in ${ctx.reportFile}` : ''})` : ''}`);
  lines.push(`  elapsed            ${(s.elapsedMs / 1000).toFixed(1)} s (${n(s.rowsPerSecond)} rows/s)`);
  for (const note of s.notes) lines.push(`  note: ${note}`);
  if (s.errors.length && !ctx.reportFile) {
    lines.push('', `First ${s.errors.length} of ${n(s.errorCount)} problems (row: column: what is wrong) — pass --report FILE for all of them:`);
    for (const e of s.errors) lines.push(`  row ${e.row}: ${e.field}: ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A progress bar on a terminal; elsewhere (CI, pipes) a line every ~10%. */
function progressReporter(file: string): { update: (p: ImportProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: ' {bar} {percentage}% | {rows} rows | {accepted} accepted | {rejected} rejected | {phase} | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = { rows: n(p.rowsRead), accepted: n(p.accepted), rejected: n(p.rowsRejected), phase: p.phase === 'processing' ? 'updating profiles' : p.phase };
        if (!started) {
          bar.start(p.totalBytes || 1, 0, payload);
          started = true;
        }
        bar.update(Math.min(p.bytesRead, p.totalBytes), payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let nextStep = 10;
  const started = Date.now();
  return {
    update(p) {
      const pct = p.totalBytes ? Math.floor((p.bytesRead / p.totalBytes) * 100) : 0;
      // Quick imports need no progress lines; long ones get one per ~10% read.
      if (p.phase === 'reading' && pct >= nextStep && Date.now() - started > 1000) {
        process.stderr.write(`import ${file}: ${pct}% read, ${n(p.rowsRead)} rows, ${n(p.accepted)} accepted, ${n(p.rowsRejected)} rejected\n`);
        nextStep = Math.floor(pct / 10) * 10 + 10;
      }
    },
    stop() {},
  };
}
