import type { SqlStore } from '@siyu/storage';
import type { NewId } from '@siyu/core';

/** A structured logger (pino-compatible subset). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** What every service gets: storage, a clock and an id generator (fakes of the last two in tests). */
export interface ServiceDeps {
  store: SqlStore;
  clock: () => Date;
  newId: NewId;
  log: Logger;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
