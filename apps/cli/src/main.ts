import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { CONFIG_KEYS, loadConfig, redactConfig, type Config } from '@siyu/config';
import { createApp } from '@siyu/server';
import { pino } from 'pino';
import { WriterLock } from '@siyu/storage';
import { tuneHeap } from './heap.ts';
import { ensureDefaultWorkspace, missingKeysHint, openRuntime, rotateKeys, type Runtime } from './runtime.ts';
import { WorkerThread } from './worker-thread.ts';

/** Usage; the environment part is every setting `loadConfig` reads, so it cannot fall behind. */
export const HELP = `siyu — private-domain customer operations platform (私域)

Usage: npx siyu <command> [options]

  start [--demo]        Run server + worker + console on http://localhost:7070 (SIYU_PORT)
  credentials [--rotate] Print the default workspace's write key and admin token
  demo [--customers N]  Create a demo workspace filled with a believable brand's customers
  import <orders|profiles|events> FILE.csv [--map col=field …] [--workspace-key WRITE_KEY]
                        Import a CSV (or .csv.gz) through the ingestion path, with an error report
  migrate               Apply database migrations and exit
  help                  This text

Environment (defaults and details in docs/config.md):
${Object.values(CONFIG_KEYS)
  .map((k) => `  ${k.env.padEnd(22)}${k.description}`)
  .join('\n')}
`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  tuneHeap();
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`Siyu cannot start — fix these settings:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 78;
  }
  const config = loaded.config;
  switch (command) {
    case 'start':
      return start(config, rest);
    case 'credentials':
      return credentials(config, rest);
    case 'demo': {
      const { demoCommand } = await import('./demo.ts');
      return withRuntime(config, (rt) => demoCommand(rt, rest));
    }
    case 'import': {
      const { importCommand } = await import('./import.ts');
      return withRuntime(config, (rt) => importCommand(rt, rest));
    }
    case 'migrate':
      return withRuntime(config, async (rt) => {
        process.stdout.write(`database ready (${rt.opened.dialect}: ${rt.opened.location})\n`);
        return 0;
      });
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}`);
      return 64;
  }
}

function cliLogger(config: Config) {
  return pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
}

async function withRuntime(config: Config, fn: (rt: Runtime) => Promise<number>): Promise<number> {
  const rt = await openRuntime(config, cliLogger(config));
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

async function credentials(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { rotate: { type: 'boolean' }, json: { type: 'boolean' } } });
  return withRuntime(config, async (rt) => {
    const found = await ensureDefaultWorkspace(rt);
    let creds = found.creds;
    if (values.rotate && !found.created) creds = await rotateKeys(rt, found.workspaceId, found.workspaceName);
    if (!creds) {
      process.stderr.write(`${missingKeysHint(found.workspaceName)}\n`);
      return 1;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(creds, null, 2)}\n`);
    else process.stdout.write(`workspace:   ${creds.workspaceName} (${creds.workspaceId})\nwrite key:   ${creds.writeKey}\nadmin token: ${creds.adminToken}\n`);
    return 0;
  });
}

async function start(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { demo: { type: 'boolean' } } });
  const log = pino({ level: config.logLevel });
  // SIYU_WORKER=on (default): the processor and the other background loops run in a worker thread,
  // so ingestion and processing use two cores; on SQLite the two threads take turns writing.
  const writerLock = config.worker === 'on' && !config.databaseUrl ? WriterLock.create() : undefined;
  // The server thread: it processes events itself only with SIYU_WORKER=inline.
  const rt = await openRuntime(config, log, { ...(writerLock ? { writerLock } : {}), ...(config.worker === 'inline' ? {} : { role: 'server' as const }) });
  const { creds, created, workspaceName } = await ensureDefaultWorkspace(rt);
  const worker = config.worker === 'on' ? new WorkerThread(config, rt.services, log, writerLock) : undefined;
  let shuttingDown = false;
  const consoleDir = join(dirname(fileURLToPath(import.meta.url)), '../../console/dist');
  const app = createApp({
    services: rt.services,
    consoleDir,
    log,
    isReady: async () => !shuttingDown && (await rt.opened.store.listWorkspaces()).length > 0,
  });
  if (worker) {
    await worker.start();
    rt.services.ingest.onAppend(worker.notify);
    rt.services.audienceEngine.onDefinitionsChanged(worker.definitionsChanged);
  } else if (config.worker === 'inline') {
    rt.loop.start();
    rt.layersLoop.start();
    rt.reevaluation.start();
    rt.statistics.start();
  }
  // Live counts (and, inline, membership updates) answer from the audience index: build it now, in the
  // background, not on the first request after a start.
  void rt.services.audienceEngine.warm();
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch((e: unknown) => {
    process.stderr.write(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message} (set SIYU_PORT to use another port)\n`);
    throw e;
  });
  log.info({ config: redactConfig(config), dialect: rt.opened.dialect, database: rt.opened.location }, 'siyu started');
  const url = `http://localhost:${config.port}`;
  const lines = [
    '',
    `  Siyu 私域 is running at ${url}  (${rt.opened.dialect}: ${rt.opened.location})`,
    created && creds
      ? `  Created workspace "${workspaceName}" — keep these:`
      : creds
        ? `  Workspace "${workspaceName}" — \`npx siyu credentials\` prints the keys again`
        : `  Workspace "${workspaceName}": ${missingKeysHint(workspaceName)}`,
    ...(created && creds ? [`    write key   (tracking API, HTTP Basic user): ${creds.writeKey}`, `    admin token (console and admin API, Bearer):  ${creds.adminToken}`] : []),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  if (values.demo) {
    const { runDemo } = await import('./demo.ts');
    void runDemo(rt, { log: (m) => process.stdout.write(`${m}\n`) }).catch((e: unknown) => log.error({ err: String(e) }, 'demo failed'));
  }

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      // Keep the process alive until the drain below has finished (its timers are unref'd).
      const keepAlive = setInterval(() => {}, 1000);
      log.info({ signal }, 'shutting down: finishing in-flight requests and the current batch');
      server.close(() => {
        void (worker?.stop() ?? Promise.resolve()).then(() => rt.close()).then(
          () => {
            log.info({}, 'stopped cleanly');
            clearInterval(keepAlive);
            resolve(0);
          },
          (e: unknown) => {
            log.error({ err: String(e) }, 'error while stopping');
            clearInterval(keepAlive);
            resolve(1);
          },
        );
      });
      (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      setTimeout(() => (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(), 10_000).unref();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
