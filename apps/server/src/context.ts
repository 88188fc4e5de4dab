import type { WorkspaceRecord } from '@siyu/core';
import type { Services } from '@siyu/services';

export interface AppEnv {
  Variables: {
    requestId: string;
    workspace: WorkspaceRecord;
    actor: string;
  };
}

export interface AppOptions {
  services: Services;
  /** Built console to serve at `/` (skipped when missing). */
  consoleDir?: string | undefined;
  /** Readiness: database reachable and migrated, not shutting down. */
  isReady?: () => Promise<boolean>;
  log?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Extra admin routes registered by later capabilities. */
  extend?: Array<(app: import('hono').Hono<AppEnv>, services: Services) => void>;
}
