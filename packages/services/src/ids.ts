import { createHash, randomBytes } from 'node:crypto';
import { ID_PREFIXES, type IdKind, type NewId } from '@siyu/core';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastMs = 0;
// Random bytes drawn in blocks: one syscall per 4 KB instead of one per id.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomByte(): number {
  if (poolAt >= pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  return pool[poolAt++]!;
}
let counter = 0;

/**
 * Sortable ids: `prof_` + 10 chars of milliseconds + 4 chars of in-millisecond counter + 10 random chars
 * (Crockford base32). Ids made by one process sort by creation order.
 */
export const newId: NewId = (kind: IdKind) => {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
  } else {
    lastMs = ms;
    counter = 0;
  }
  let time = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  let seq = '';
  for (let i = 0, c = counter; i < 4; i++, c = Math.floor(c / 32)) seq = CROCKFORD[c % 32] + seq;
  let tail = '';
  for (let i = 0; i < 10; i++) tail += CROCKFORD[randomByte() % 32];
  return `${ID_PREFIXES[kind]}_${time}${seq}${tail}`;
};

/** A secret key: prefix + 32 url-safe random characters. Only its hash is stored. */
export function newSecret(prefix: 'wk' | 'sat'): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Suppression records keep a hash, not the identifier itself. */
export function hashIdentifier(workspaceId: string, type: string, value: string): string {
  return createHash('sha256').update(`${workspaceId}\u0000${type}\u0000${value}`).digest('hex');
}
