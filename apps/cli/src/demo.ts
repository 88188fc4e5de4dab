import type { Runtime } from './runtime.ts';

export async function runDemo(_rt: Runtime, _opts: { log: (line: string) => void; customers?: number }): Promise<void> {
  throw new Error('demo not built yet');
}

export async function demoCommand(_rt: Runtime, _args: string[]): Promise<number> {
  throw new Error('demo not built yet');
}
