/**
 * A 53-bit hash of `workspace \0 messageId` (cyrb53: two 32-bit multiply–xorshift lanes mixed at the end),
 * stored with each event on SQLite (`events.message_key`, migration 0011) and indexed in place of a unique
 * `(workspace_id, message_id)` index.
 *
 * Why: every accepted message is checked against the stored events (on accept and again by the processor),
 * and every event adds an entry. With the text key (~70 bytes: workspace id and a UUID) the index's inner
 * pages alone were ~40 MB at 20M events, more than the processing connection's page cache holds next to the
 * others, so a check often read two pages from the OS; an integer key is ~5× smaller. Keys are not unique:
 * a match is confirmed on the event's own workspace and message id, so a collision (likely somewhere among
 * 100M messages, never a problem) costs one row read and is never taken for a duplicate.
 *
 * A whole number below 2^53, so JavaScript and SQLite agree on it exactly. Registered on every main-file
 * connection as the SQL function `siyu_message_key(workspace_id, message_id)` (connect.ts), which the
 * migration uses to key the events stored before it.
 */
export function messageKey(workspaceId: string, messageId: string): number {
  // Written out rather than through a helper closure: one is allocated per call (and named, under tsx).
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < workspaceId.length; i++) {
    const c = workspaceId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1, 2654435761);
  h2 = Math.imul(h2, 1597334677);
  for (let i = 0; i < messageId.length; i++) {
    const c = messageId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Registers `siyu_message_key(workspace_id, message_id)` on a connection (connect.ts does it for every main-file connection). */
export function registerMessageKey(raw: import('better-sqlite3').Database): void {
  raw.function('siyu_message_key', { deterministic: true }, (workspaceId, messageId) => messageKey(String(workspaceId), String(messageId)));
}

/**
 * The events with a message id not seen earlier in the list (per workspace). Nothing in the SQLite schema keeps
 * out a second event of a message: the processor checks stored events, and writers drop repeats with this.
 */
export function firstPerMessage<T extends { workspaceId: string; messageId: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const k = `${e.workspaceId}\u0000${e.messageId}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
