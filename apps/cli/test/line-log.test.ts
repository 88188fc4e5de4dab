import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { jsonLineAppender } from '../src/line-log.ts';

it('appends JSON lines, and a file that cannot be written is reported once and never throws', () => {
  const dir = mkdtempSync(join(tmpdir(), 'siyu-line-log-'));
  try {
    const errors: unknown[] = [];
    const ok = jsonLineAppender(join(dir, 'heap.log'), (e) => errors.push(e));
    expect(ok({ usedMb: 30 })).toBe(true);
    expect(ok({ usedMb: 31 })).toBe(true);
    expect(readFileSync(join(dir, 'heap.log'), 'utf8')).toBe('{"usedMb":30}\n{"usedMb":31}\n');
    // As when a bench run's directory was removed and the next run's threads still had its path.
    const gone = jsonLineAppender(join(dir, 'removed', 'heap.log'), (e) => errors.push(e));
    expect(gone({ usedMb: 1 })).toBe(false);
    expect(gone({ usedMb: 2 })).toBe(false);
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
