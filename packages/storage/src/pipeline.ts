/** A workspace's messages between acceptance and their profiles. */
export interface PipelineCounts {
  /** Accepted, not yet processed. */
  waiting: number;
  /** Receipt time of the first message in line (arrival order; a retried dead letter keeps its original time). Null: none waiting. */
  oldestWaitingAt: string | null;
  /** Accepted, but processing failed: kept aside until retried. */
  deadLetters: number;
}

/** A message whose processing failed, as stored (the payload is the inbox item: message and identifiers). */
export interface DeadLetterRow {
  seq: number;
  messageId: string;
  payload: string;
  error: string;
  failedAt: string;
}

/** The receipt time recorded in an inbox payload (`message.receivedAt`), else `fallback`. */
export function receivedAtOf(payload: string, fallback: string): string {
  try {
    const at = (JSON.parse(payload) as { message?: { receivedAt?: unknown } }).message?.receivedAt;
    return typeof at === 'string' ? at : fallback;
  } catch {
    return fallback;
  }
}
