import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '@siyu/config';
import { createServices, hashSecret, newId, newSecret, type Logger, type Services } from '@siyu/services';
import { openStore, type CacheSize, type OpenedStore } from '@siyu/storage';
import { LayersLoop, ProcessorLoop, ReevaluationLoop, SharedBacklog, StatisticsLoop, type Downstream } from '@siyu/worker';

export interface Runtime {
  config: Config;
  opened: OpenedStore;
  services: Services;
  loop: ProcessorLoop;
  layersLoop: LayersLoop;
  reevaluation: ReevaluationLoop;
  statistics: StatisticsLoop;
  close(): Promise<void>;
}

/**
 * The SQLite page cache of a runtime's connection, MB. Where events are processed (the processor thread,
 * one thread doing all the background work, `SIYU_WORKER=inline`, `siyu import`): `SIYU_SQLITE_CACHE_MB`
 * (default `auto`, storage/src/sqlite/page-cache.ts). A server thread beside a worker only appends to the
 * inbox and serves reads: 8. A server that processes nothing (`SIYU_WORKER=off`) and the audience thread
 * (SQLite empties its cache whenever the processor thread commits; the larger cache was measured with one
 * thread only): 32.
 */
export function sqliteCacheFor(config: Config, opts: { writerLock?: SharedArrayBuffer; role?: 'server' | 'processor' | 'audience' | 'both' }): CacheSize {
  if (opts.role === 'audience') return 32;
  const server = opts.role === 'server' || (opts.role === undefined && opts.writerLock !== undefined);
  if (server) return opts.writerLock ? 8 : 32;
  return config.sqliteCacheMb;
}

/**
 * Where a SQLite connection keeps temporary data (see connectSqlite): in memory for every connection that
 * processes events (statement journals of its multi-row writes), in files for the server thread beside a
 * worker (it serves the dashboard, whose sorts would otherwise be held in memory). `SIYU_WORKER=inline`
 * (no role) processes and serves on one connection: in memory, so there the dashboard's sorts are too.
 */
export function sqliteTempStoreFor(opts: { writerLock?: SharedArrayBuffer; role?: 'server' | 'processor' | 'audience' | 'both' }): 'file' | 'memory' {
  const server = opts.role === 'server' || (opts.role === undefined && opts.writerLock !== undefined);
  return server ? 'file' : 'memory';
}

/**
 * Opens storage (migrating it), wires the services and the background loops (started by the caller).
 * `writerLock`: the SQLite file is shared between the server thread and a worker thread (see
 * worker-thread.ts); `role` says which thread this is.
 */
export async function openRuntime(
  config: Config,
  log: Logger,
  opts: {
    writerLock?: SharedArrayBuffer;
    role?: 'server' | 'processor' | 'audience' | 'both';
    /** Two worker threads: the audience thread publishes its engine's backlog here, the processor thread keeps pace with it. */
    audienceBacklog?: SharedArrayBuffer;
  } = {},
): Promise<Runtime> {
  const dataDir = resolve(config.dataDir);
  const worker = opts.role !== undefined && opts.role !== 'server';
  const opened = await openStore({
    databaseUrl: config.databaseUrl,
    sqliteFile: join(dataDir, 'siyu.db'),
    writerLock: opts.writerLock,
    // The server thread migrates before it starts the worker thread.
    migrate: !worker,
    sqliteCacheMb: sqliteCacheFor(config, opts),
    sqliteTempStore: sqliteTempStoreFor(opts),
  });
  // Definitions are edited on the server thread (and by other processes): every engine reloads them each second.
  const services = createServices({ store: opened.store, clock: () => new Date(), newId, log }, {
    defaultTimeZone: config.timeZone,
    // The processor thread's batches are evaluated by the audience thread (worker-thread.ts relays them).
    // The audience thread reads outside the write lock the processor thread contends for.
    ...(worker ? { audiences: { follow: opts.role !== 'processor', readOutsideLock: opts.role === 'audience' } } : {}),
  });
  // Batches wait for the layer and audience work they queue: in this thread, or on the audience thread of a
  // two-thread worker (whose engine's backlog comes through shared memory; this thread's engine then
  // evaluates nothing and its queue stays empty).
  const shared = opts.audienceBacklog ? new SharedBacklog(opts.audienceBacklog) : undefined;
  const downstream: Downstream[] = [services.layers, services.audienceEngine];
  if (shared && opts.role === 'processor') downstream.push(shared);
  const unpublish = shared && opts.role === 'audience' ? shared.publishFrom(() => services.audienceEngine.backlog()) : undefined;
  const loop = new ProcessorLoop(services.processor, log, { batchSize: config.processorBatch, downstream });
  services.ingest.onAppend(loop.notify);
  const layersLoop = new LayersLoop(services.layers, log);
  const reevaluation = new ReevaluationLoop(services.audienceEngine, log);
  const statistics = new StatisticsLoop(services.pipeline, log);
  return {
    config,
    opened,
    services,
    loop,
    layersLoop,
    reevaluation,
    statistics,
    async close() {
      await loop.stop();
      await layersLoop.stop();
      await services.layers.settled();
      await reevaluation.stop();
      await statistics.stop();
      await services.audienceEngine.settled();
      unpublish?.();
      await opened.close();
    },
  };
}

export interface LocalCredentials {
  workspaceId: string;
  workspaceName: string;
  writeKey: string;
  adminToken: string;
  createdAt: string;
}

/** Where this install keeps the default workspace's plaintext keys (the database holds only hashes). */
export function credentialsFile(config: Config): string {
  const dataDir = resolve(config.dataDir);
  if (!config.databaseUrl) return join(dataDir, 'credentials.json');
  const tag = createHash('sha256').update(config.databaseUrl).digest('hex').slice(0, 10);
  return join(dataDir, `credentials-pg-${tag}.json`);
}

export function readCredentials(config: Config): LocalCredentials | undefined {
  const file = credentialsFile(config);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalCredentials;
}

function writeCredentials(config: Config, creds: LocalCredentials): void {
  const file = credentialsFile(config);
  mkdirSync(resolve(config.dataDir), { recursive: true });
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
}

/** The default workspace, with its keys when this machine has them. */
export interface DefaultWorkspace {
  workspaceId: string;
  workspaceName: string;
  /**
   * The plaintext keys, when this install created them (or rotated them) and they still work. Undefined when
   * the database was set up from another machine or data directory (a shared PostgreSQL): the database holds
   * only hashes, so they can be printed only where they were made — or replaced with `siyu credentials --rotate`.
   */
  creds: LocalCredentials | undefined;
  created: boolean;
}

/**
 * First start: creates the default workspace (whose admin token is the instance admin) and saves its
 * keys. Later starts reuse them. Keys are never replaced here: a process that finds the workspace but not
 * its keys (another data directory, another spelling of the database URL, another machine sharing the
 * PostgreSQL database) goes on without them, since new keys would cut off every client using the old ones.
 */
export async function ensureDefaultWorkspace(rt: Runtime): Promise<DefaultWorkspace> {
  const saved = readCredentials(rt.config);
  const store = rt.opened.store;
  const existing = (await store.listWorkspaces()).find((w) => w.instanceAdmin);
  if (existing) {
    const valid = saved?.workspaceId === existing.id && (await rt.services.workspaces.authenticate('admin', saved.adminToken))?.id === existing.id;
    return { workspaceId: existing.id, workspaceName: existing.name, creds: valid ? saved : undefined, created: false };
  }
  const created = await rt.services.workspaces.create({ name: '默认工作区' }, { instanceAdmin: true });
  const creds: LocalCredentials = { workspaceId: created.workspace.id, workspaceName: created.workspace.name, writeKey: created.writeKey, adminToken: created.adminToken, createdAt: created.workspace.createdAt };
  writeCredentials(rt.config, creds);
  return { workspaceId: creds.workspaceId, workspaceName: creds.workspaceName, creds, created: true };
}

/** What to tell someone whose install has no working keys for the default workspace. */
export function missingKeysHint(name: string): string {
  return (
    `the keys of workspace "${name}" are not saved in this data directory (SIYU_DATA_DIR): the database keeps only their hashes, ` +
    'so they are printed only where they were made. Run `npx siyu credentials` there, or `npx siyu credentials --rotate` to issue new ones (clients using the old keys then stop working).'
  );
}

export async function rotateKeys(rt: Runtime, workspaceId: string, name: string): Promise<LocalCredentials> {
  const writeKey = newSecret('wk');
  const adminToken = newSecret('sat');
  await rt.opened.store.rotateWorkspaceKeys(workspaceId, hashSecret(writeKey), hashSecret(adminToken));
  const creds: LocalCredentials = { workspaceId, workspaceName: name, writeKey, adminToken, createdAt: new Date().toISOString() };
  writeCredentials(rt.config, creds);
  return creds;
}
