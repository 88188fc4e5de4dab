import { z } from 'zod';

/** Every setting Siyu reads, with its env var, description and whether it is a secret. */
export const CONFIG_KEYS = {
  port: { env: 'SIYU_PORT', description: 'HTTP port of the server and console', sensitive: false },
  host: { env: 'SIYU_HOST', description: 'Interface to listen on', sensitive: false },
  dataDir: { env: 'SIYU_DATA_DIR', description: 'Folder for the embedded SQLite database and local credentials', sensitive: false },
  databaseUrl: { env: 'SIYU_DATABASE_URL', description: 'postgres://… to run on PostgreSQL instead of embedded SQLite', sensitive: true },
  logLevel: { env: 'SIYU_LOG_LEVEL', description: 'fatal, error, warn, info, debug or silent', sensitive: false },
  timeZone: { env: 'SIYU_TIME_ZONE', description: 'Time zone of new workspaces (IANA name)', sensitive: false },
  processorBatch: { env: 'SIYU_PROCESSOR_BATCH', description: 'Messages the processor takes per transaction', sensitive: false },
  worker: { env: 'SIYU_WORKER', description: '"on" runs the background processor in this process on its own thread, "inline" on the server\'s thread, "off" serves HTTP only', sensitive: false },
  workerThreads: { env: 'SIYU_WORKER_THREADS', description: 'With SIYU_WORKER=on: 2 runs the processor and the audience engine on threads of their own, 1 both on one (less memory and CPU); default 2 with 4 or more cores, else 1', sensitive: false },
  sqliteCacheMb: { env: 'SIYU_SQLITE_CACHE_MB', description: 'Embedded SQLite: page cache of the background connection in MB, or "auto" (1 % of the database file, 32–128 MB)', sensitive: false },
} as const;

const Schema = z.object({
  port: z.coerce.number().int().min(1).max(65535).default(7070),
  host: z.string().min(1).default('0.0.0.0'),
  dataDir: z.string().min(1).default('./data'),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// (leave it unset for the embedded SQLite default)')
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  timeZone: z
    .string()
    .default('Asia/Shanghai')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'is not an IANA time zone such as Asia/Shanghai'),
  processorBatch: z.coerce.number().int().min(1).max(50_000).default(2000),
  worker: z.enum(['on', 'inline', 'off']).default('on'),
  workerThreads: z.coerce.number().int().min(1).max(2).optional(),
  sqliteCacheMb: z
    .string()
    .default('auto')
    .refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) >= 2 && Number(v) <= 65_536), 'must be "auto" or a whole number of MB from 2 to 65536')
    .transform((v): 'auto' | number => (v === 'auto' ? 'auto' : Number(v))),
});
export type Config = z.infer<typeof Schema>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Pure: reads only the `env` given. All problems are reported at once. No env at all gives a working embedded setup. */
export function loadConfig(env: Record<string, string | undefined>): ConfigResult {
  const input: Record<string, string> = {};
  for (const [key, meta] of Object.entries(CONFIG_KEYS)) {
    const v = env[meta.env];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = Schema.safeParse(input);
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof typeof CONFIG_KEYS;
      const meta = CONFIG_KEYS[key];
      const shown = meta?.sensitive ? '(redacted)' : JSON.stringify(env[meta?.env ?? ''] ?? '');
      return `${meta?.env ?? key}=${shown}: ${i.message}`;
    }),
  };
}

/** The config with secrets replaced, for logs. */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const [key, meta] of Object.entries(CONFIG_KEYS)) if (meta.sensitive && out[key] !== undefined) out[key] = '(redacted)';
  return out;
}
