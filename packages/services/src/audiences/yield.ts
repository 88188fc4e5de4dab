/** Lets other work (HTTP requests, the processor) run between pages of a long bulk pass: better-sqlite3 is synchronous. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
