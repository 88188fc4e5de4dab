import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importFile } from '../apps/cli/src/import.ts';
import { createTestSiyu } from '@siyu/services/testing';

/** Import rate of the UCI Online Retail file (541,909 lines) through the ingestion path, processed to profiles. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { backend: { type: 'string', default: 'all' }, file: { type: 'string' } } });
  const file = values.file ?? join(process.cwd(), '../shared/datasets/online-retail/online-retail.csv.gz');
  if (!existsSync(file)) {
    process.stdout.write(`import: skipped (no ${file})\n`);
    return;
  }
  const pgUrl = process.env.SIYU_BENCH_DATABASE_URL ?? process.env.SIYU_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const backends = values.backend === 'all' ? ['sqlite', 'postgres'] : [values.backend!];
  for (const name of backends) {
    const t = await createTestSiyu(name === 'postgres' ? { name: 'postgres', url: pgUrl } : { name: 'sqlite' }, { clock: Object.assign(() => new Date(), { set() {}, advance() {} }) });
    const { workspace } = await t.workspace(`import bench ${name}`);
    const started = performance.now();
    const s = await importFile(t, { kind: 'orders', file, workspace, preset: 'online-retail' });
    const ms = performance.now() - started;
    const stats = await t.services.profiles.stats(workspace.id);
    process.stdout.write(
      [
        `import.${name}.online_retail_rows: ${s.rowsRead} rows`,
        `import.${name}.online_retail_elapsed: ${(ms / 1000).toFixed(1)} s`,
        `import.${name}.online_retail_rate: ${Math.round(s.rowsRead / (ms / 1000))} rows/s`,
        `import.${name}.orders_accepted: ${s.accepted} messages`,
        `import.${name}.rows_rejected: ${s.rowsRejected} rows`,
        `import.${name}.profiles: ${stats.profiles} profiles`,
        '',
      ].join('\n'),
    );
    await t.close();
  }
}
