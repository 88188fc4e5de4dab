import { appendFileSync } from 'node:fs';

/**
 * Appends JSON lines to a diagnostics file (SIYU_WORKER_HEAP_LOG). A file that cannot be written is reported once
 * through `onError` and then left alone: the appender returns false from then on and never throws, since a
 * diagnostic must not take down the thread that writes it (a throw from a GC observer killed the worker thread,
 * which was restarted and died again at its next full collection, for as long as the file could not be written).
 */
export function jsonLineAppender(file: string, onError: (err: unknown) => void): (line: unknown) => boolean {
  let broken = false;
  return (line) => {
    if (broken) return false;
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
      return true;
    } catch (err) {
      broken = true;
      onError(err);
      return false;
    }
  };
}
