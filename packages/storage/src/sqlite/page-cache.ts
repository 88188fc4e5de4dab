import { statSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';

/** Page cache sizing of a connection: a fixed size in MB, or `auto` ({@link autoCacheMb}). */
export type CacheSize = number | 'auto';

export const AUTO_CACHE_MIN_MB = 32;
export const AUTO_CACHE_MAX_MB = 128;
/** How often an `auto` cache follows the file's growth. */
const RESIZE_EVERY_MS = 60_000;

/**
 * The page cache an `auto` connection gets for a database file of this size: 1 % of it, between 32 and
 * 128 MB. What it is for is the inner pages of the large B-trees. Every search of an index walks from
 * the root through them to a leaf. The leaves of a large database are read from the OS one at a time,
 * whatever the cache. But when the inner pages do not fit either, each search misses twice.
 *
 * Measured on the 1M-profile / 20M-event audiences bench (22 GB file, 2-core VM): the B-trees searched
 * at random for each event have ~100 MB of inner pages (`dbstat`: events_profile_idx 52 MB,
 * events_message_uq 40 MB, profiles and identities 5 MB — long text keys, so few per page). With a 32 MB
 * cache the worker made 27–28 read calls per event; with 128 MB, 20–21; with 225 MB, 19 (for ~100 MB
 * more resident memory again).
 * A 1M-profile ingest (a 2–3 GB file) stays at 32 MB, within the 500 MB resident memory the
 * foundation issue sets.
 */
export function autoCacheMb(fileBytes: number): number {
  return Math.max(AUTO_CACHE_MIN_MB, Math.min(AUTO_CACHE_MAX_MB, Math.round(fileBytes / 100 / 1048576)));
}

/**
 * Applies `size` to the connection and, for `auto`, follows the file as it grows: checked at most once a
 * minute, on {@link PageCache.maybeResize} (called after commits). `cache_size` only sets a limit: pages are
 * allocated as they are read.
 */
export class PageCache {
  private appliedMb = 0;
  private checkedAt = 0;

  constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly file: string,
    private readonly size: CacheSize,
    private readonly now: () => number = Date.now,
  ) {
    this.apply(size === 'auto' ? autoCacheMb(this.fileBytes()) : size);
    this.checkedAt = this.now();
  }

  /** The limit in force, MB. */
  get mb(): number {
    return this.appliedMb;
  }

  maybeResize(): void {
    if (this.size !== 'auto' || this.now() - this.checkedAt < RESIZE_EVERY_MS) return;
    this.checkedAt = this.now();
    const mb = autoCacheMb(this.fileBytes());
    if (mb !== this.appliedMb) this.apply(mb);
  }

  private apply(mb: number): void {
    this.raw.pragma(`cache_size = -${Math.round(mb * 1024)}`);
    this.appliedMb = mb;
  }

  private fileBytes(): number {
    if (this.file === ':memory:') return 0;
    try {
      return statSync(this.file).size;
    } catch {
      return 0;
    }
  }
}
