import { AppError, type WorkspaceRecord } from '@siyu/core';
import { openTestStore, type TestBackend } from '@siyu/storage/testing';
import { silentLogger } from './deps.ts';
import { newId } from './ids.ts';
import type { AudienceEngineOptions } from './audiences/audience-engine.service.ts';
import { createServices, type Services } from './siyu.ts';

export interface TestClock {
  (): Date;
  set(iso: string | Date): void;
  advance(ms: number): void;
}

/** A virtual clock for scenario tests. */
export function testClock(start = '2026-01-01T00:00:00.000Z'): TestClock {
  let now = new Date(start).getTime();
  const clock = (() => new Date(now)) as TestClock;
  clock.set = (iso) => {
    now = new Date(iso).getTime();
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

export interface TestSiyu {
  services: Services;
  clock: TestClock;
  /** The SQLite file (tests open a second connection to it, as another thread would). */
  location: string;
  close(): Promise<void>;
  /** A fresh workspace with its keys (each test makes its own, so tests run in parallel). */
  workspace(name?: string, opts?: { instanceAdmin?: boolean }): Promise<{ workspace: WorkspaceRecord; writeKey: string; adminToken: string }>;
  /** Runs the processor until the inbox is empty. */
  drain(): Promise<number>;
}

/** Real storage on the given backend, real services, a virtual clock. */
export async function createTestSiyu(backend: TestBackend, opts: { clock?: TestClock; audiences?: AudienceEngineOptions } = {}): Promise<TestSiyu> {
  const opened = await openTestStore(backend);
  const clock = opts.clock ?? testClock();
  const services = createServices({ store: opened.store, clock, newId, log: silentLogger }, opts.audiences ? { audiences: opts.audiences } : {});
  return {
    services,
    clock,
    location: opened.location,
    close: () => opened.close(),
    workspace: (name = 'test', o = {}) => services.workspaces.create({ name }, o),
    async drain() {
      let total = 0;
      for (;;) {
        const r = await services.processor.processBatch(1000);
        if (r.messages === 0) return total;
        total += r.messages;
      }
    },
  };
}

/** The AppError a promise rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejection(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof AppError)) throw new Error(`expected an AppError, got ${String(e)}`);
  return e;
}
