import type { Runtime } from './runtime.ts';

export async function importCommand(_rt: Runtime, _args: string[]): Promise<number> {
  throw new Error('import not built yet');
}
