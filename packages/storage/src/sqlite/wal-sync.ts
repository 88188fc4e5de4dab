import { close, closeSync, fdatasync, open } from 'node:fs';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';

/** Flushes a file to the device (`fdatasync`) without blocking the thread; injectable for tests. */
export interface Flush {
  (): Promise<void>;
  /** Releases what the flush holds (a file descriptor). */
  close?(): void;
}

/**
 * Group flush of a SQLite WAL file, for a connection in `synchronous = NORMAL` (commits write their
 * frames to the WAL but do not flush it).
 *
 * `synchronous = FULL` flushes the WAL inside every commit: the thread blocks on the device while
 * holding the write lock, and three commits a cycle (processor, layers, audiences) pay three flushes.
 * Here a transaction commits, releases the write lock, then awaits {@link sync}: one `fdatasync` of
 * the WAL on libuv's thread pool, shared by every commit that finished before it started, while the
 * thread goes on with other work. The caller resolves only after that flush, so a transaction is as
 * durable when it returns as under FULL (and the processor removes messages from the inbox only then).
 *
 * Why flushing the WAL is enough: every committed frame is either still in the WAL (now on the device)
 * or was copied into the database file by a checkpoint, and SQLite only reuses WAL space after a
 * complete checkpoint, which flushes the database file first. `fdatasync` acts on the file, not the
 * descriptor, so our own read-only descriptor flushes what SQLite's wrote.
 */
export class WalSync {
  private current: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  /** Flushes started (tests and benchmarks read it). */
  flushes = 0;

  constructor(private readonly flush: Flush) {}

  /** For the WAL of the database at `dbFile` (`<dbFile>-wal`). */
  static forDatabase(dbFile: string): WalSync {
    return new WalSync(walFlush(`${dbFile}-wal`));
  }

  /** After the database is closed. */
  close(): void {
    this.flush.close?.();
  }

  /** Resolves once everything written to the WAL before this call is on the device. */
  sync(): Promise<void> {
    // A flush queued but not started yet covers this caller's writes.
    if (this.next) return this.next;
    // None running: start one now.
    if (!this.current) return this.start();
    // One is running, possibly started before this caller's commit: queue one more after it.
    const after = this.current.catch(() => undefined);
    this.next = after.then(() => {
      this.next = null;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<void> {
    this.flushes++;
    const p = this.flush().finally(() => {
      if (this.current === p) this.current = null;
    });
    this.current = p;
    return p;
  }
}

/**
 * `fdatasync` of `path` through a descriptor opened on first use and kept (SQLite keeps the WAL file
 * while any connection is open; opening per flush would cost a syscall pair each time). No WAL file
 * yet means nothing was written through it: nothing to flush.
 */
function walFlush(path: string): Flush {
  let fd: number | null = null;
  const ensure = (): Promise<number | null> =>
    fd !== null
      ? Promise.resolve(fd)
      : new Promise((resolve, reject) =>
          open(path, 'r', (err, opened) => {
            if (err) return err.code === 'ENOENT' ? resolve(null) : reject(err);
            // Another flush may have opened it meanwhile: keep one descriptor.
            if (fd !== null) close(opened, () => undefined);
            else fd = opened;
            resolve(fd);
          }),
        );
  const flush: Flush = async () => {
    const d = await ensure();
    if (d === null) return;
    await new Promise<void>((resolve, reject) => fdatasync(d, (err) => (err ? reject(err) : resolve())));
  };
  flush.close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  return flush;
}

/**
 * Makes statements outside a transaction (autocommit writes through Kysely: a tag group created by the
 * admin API, for instance) as durable as under `synchronous = FULL`: after a write that ran with the
 * connection out of a transaction, the result is returned only once a {@link WalSync} flush covers it.
 * Statements inside a transaction are left to the transaction's own flush (see `SqlStore.transaction`).
 */
export class FlushAutocommitWrites implements KyselyPlugin {
  private readonly writes = new WeakSet<object>();

  constructor(
    private readonly walSync: WalSync,
    private readonly inTransaction: () => boolean,
  ) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (isWrite(args.node)) this.writes.add(args.queryId);
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.writes.has(args.queryId) && !this.inTransaction()) await this.walSync.sync();
    return args.result;
  }
}

/** Whether a statement may write: anything but a select (raw SQL: unless it starts with select, explain or pragma). */
function isWrite(node: RootOperationNode): boolean {
  if (node.kind === 'SelectQueryNode') return false;
  if (node.kind === 'RawNode') return !/^\s*(select|explain|pragma)\b/i.test(node.sqlFragments[0] ?? '');
  return true;
}
