import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/index.ts';

describe('loadConfig', () => {
  it('gives a working embedded setup with no environment at all', () => {
    const r = loadConfig({});
    expect(r).toMatchObject({ ok: true, config: { port: 7070, dataDir: './data', timeZone: 'Asia/Shanghai', worker: 'on', sqliteCacheMb: 'auto' } });
  });

  it('reads SIYU_SQLITE_CACHE_MB as "auto" or a whole number of MB', () => {
    expect(loadConfig({ SIYU_SQLITE_CACHE_MB: 'auto' })).toMatchObject({ ok: true, config: { sqliteCacheMb: 'auto' } });
    expect(loadConfig({ SIYU_SQLITE_CACHE_MB: '128' })).toMatchObject({ ok: true, config: { sqliteCacheMb: 128 } });
    for (const bad of ['1', '12.5', 'lots', '-5', '100000']) {
      expect(loadConfig({ SIYU_SQLITE_CACHE_MB: bad })).toEqual({ ok: false, problems: [`SIYU_SQLITE_CACHE_MB=${JSON.stringify(bad)}: must be "auto" or a whole number of MB from 2 to 65536`] });
    }
  });

  it('reports every problem at once, naming the variable, with secrets redacted', () => {
    const r = loadConfig({ SIYU_PORT: '99999', SIYU_SQLITE_CACHE_MB: 'big', SIYU_DATABASE_URL: 'mysql://root:secret@db/x' });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toHaveLength(3);
    expect(problems.find((p) => p.startsWith('SIYU_PORT="99999"'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('SIYU_SQLITE_CACHE_MB="big"'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('SIYU_DATABASE_URL=(redacted)'))).toBeDefined();
    expect(problems.join('\n')).not.toContain('secret');
  });
});

describe('docs/config.md', () => {
  it('documents every setting loadConfig reads', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
    const { CONFIG_KEYS } = await import('../src/index.ts');
    const missing = Object.values(CONFIG_KEYS)
      .map((k) => k.env)
      .filter((env) => !doc.includes(`| \`${env}\` |`));
    expect(missing).toEqual([]);
  });
});
