import type { Identifier } from './identity/extract.ts';
import type { IdentityRule } from './identity/rules.ts';
import type { MessageType, NormalizedMessage } from './messages/message.ts';
import type { ComputedTraits, ProfileState } from './profile/computed.ts';

/** Storage ports. Each adapter (SQLite, PostgreSQL) passes the one contract suite in `storage/test`. */

export interface Workspace {
  id: string;
  name: string;
  timeZone: string;
  createdAt: string;
}

export interface WorkspaceRecord extends Workspace {
  /** Whether its admin token may create and list all workspaces (the first workspace of an install). */
  instanceAdmin: boolean;
}

export interface InboxItem {
  seq: number;
  workspaceId: string;
  message: NormalizedMessage;
  identifiers: Identifier[];
}

export interface ProfileRow extends ProfileState {
  id: string;
  workspaceId: string;
  mergedInto: string | null;
  createdAt: string;
  updatedAt: string;
  /** The profile's bitmap number, when read from storage (a profile made in this batch has none yet). */
  num?: number;
}

export interface EventRow {
  id: string;
  workspaceId: string;
  profileId: string;
  originProfileId: string;
  messageId: string;
  type: MessageType;
  event: string | null;
  traits: Record<string, unknown>;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  timestamp: string;
  receivedAt: string;
  /** The profile's bitmap number when the writer knows it (else looked up from the profile). */
  profileNum?: number;
}

export interface IdentityRow extends Identifier {
  workspaceId: string;
  profileId: string;
  originProfileId: string;
  firstSeen: string;
  sourceMessageId: string;
}

export interface MergeRow {
  id: string;
  workspaceId: string;
  winnerId: string;
  loserId: string;
  reason: string;
  messageId: string | null;
  actor: string;
  createdAt: string;
  undoneAt: string | null;
}

export interface ConflictRow {
  id: string;
  workspaceId: string;
  messageId: string;
  profileId: string;
  otherProfileId: string | null;
  identifierType: string;
  identifierValue: string;
  reason: string;
  createdAt: string;
  /** Set once an operator reviewed the refused link: merged anyway, or dismissed (kept apart). */
  resolution?: 'merged' | 'dismissed' | null;
  resolvedAt?: string | null;
  resolvedBy?: string | null;
}

/** Everything one processor batch writes, committed in one transaction. */
export interface ProcessorChanges {
  /** Inbox rows consumed (deleted) by this batch. */
  consumedSeqs: number[];
  /** Profiles created or changed: full state upserted. */
  profiles: ProfileRow[];
  identities: IdentityRow[];
  events: EventRow[];
  merges: MergeRow[];
  conflicts: ConflictRow[];
  /**
   * Stored profiles of `profiles` whose traits (with their set times) and first-touch traits this batch
   * left exactly as stored: a writer may skip those columns (absent from the map: write everything).
   */
  kept?: ReadonlyMap<string, { traits: boolean; firstTouch: boolean }>;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export type { ComputedTraits, IdentityRule };
