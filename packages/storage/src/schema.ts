import type { Generated } from 'kysely';

/**
 * Table shapes shared by both dialects. Times are ISO-8601 UTC text (`toISOString()`), which sorts
 * correctly as text on both SQLite and PostgreSQL; JSON is TEXT on SQLite and JSONB on PostgreSQL
 * (the adapters encode/decode at the edge).
 */
export interface WorkspacesTable {
  id: string;
  name: string;
  time_zone: string;
  write_key_hash: string;
  admin_token_hash: string;
  instance_admin: number;
  created_at: string;
}

export interface IdentityTypesTable {
  workspace_id: string;
  type: string;
  priority: number;
  max_per_profile: number | null;
  builtin: number;
}

export interface InboxTable {
  seq: Generated<number>;
  workspace_id: string;
  message_id: string;
  payload: string;
  received_at: string;
}

export interface ProfilesTable {
  id: string;
  workspace_id: string;
  traits: unknown;
  trait_times: unknown;
  first_touch: unknown;
  computed: unknown;
  merged_into: string | null;
  /** Dense integer id: the profile's bit in audience bitmaps (assigned on insert, never reused). */
  num?: number | null;
  first_seen: string | null;
  last_seen: string | null;
  created_at: string;
  updated_at: string;
}

export interface IdentitiesTable {
  workspace_id: string;
  type: string;
  value: string;
  profile_id: string;
  origin_profile_id: string;
  first_seen: string;
  source_message_id: string;
}

export interface EventsTable {
  id: string;
  workspace_id: string;
  profile_id: string;
  origin_profile_id: string;
  message_id: string;
  type: string;
  event: string | null;
  traits: unknown;
  properties: unknown;
  context: unknown;
  timestamp: string;
  received_at: string;
  /** The profile's bitmap number (`profiles.num`), kept with `profile_id`: null only until the profile is numbered. */
  profile_num?: number | null;
  /** SQLite only (migration 0011): `messageKey(workspace_id, message_id)`, indexed, to find an event by message id. */
  message_key?: number | null;
}

export interface MergesTable {
  id: string;
  workspace_id: string;
  winner_id: string;
  loser_id: string;
  reason: string;
  message_id: string | null;
  actor: string;
  created_at: string;
  undone_at: string | null;
}

export interface ConflictsTable {
  id: string;
  workspace_id: string;
  message_id: string;
  profile_id: string;
  other_profile_id: string | null;
  identifier_type: string;
  identifier_value: string;
  reason: string;
  created_at: string;
  /** `merged` or `dismissed` once an operator reviewed it (migration 0013); null while open. */
  resolution: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
}

export interface SuppressionsTable {
  workspace_id: string;
  identifier_hash: string;
  created_at: string;
}

export interface AuditLogTable {
  id: string;
  workspace_id: string;
  actor: string;
  action: string;
  target: string;
  details: unknown;
  created_at: string;
}

export interface InboxDeadTable {
  seq: number;
  workspace_id: string;
  message_id: string;
  payload: string;
  error: string;
  failed_at: string;
}

export interface TagGroupsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  created_at: string;
}

export interface TagsTable {
  id: string;
  workspace_id: string;
  group_id: string | null;
  name: string;
  /** manual | rule | imported */
  kind: string;
  definition: unknown;
  description: string | null;
  default_ttl_days: number | null;
  created_at: string;
  updated_at: string;
}

export interface ProfileTagsTable {
  workspace_id: string;
  tag_id: string;
  profile_id: string;
  /** manual | rule | import | api */
  source: string;
  actor: string;
  applied_at: string;
  expires_at: string | null;
  /** The profile's `profiles.num` (its bit in the audience bitmaps); null until it has one. */
  profile_num?: number | null;
}

export interface SegmentsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  definition: unknown;
  version: number;
  created_at: string;
  updated_at: string;
  computed_at: string | null;
}

export interface SegmentMembersTable {
  segment_id: string;
  profile_id: string;
  workspace_id: string;
  entered_at: string;
  /** The profile's `profiles.num`; null until it has one. */
  profile_num?: number | null;
}

export interface MembershipHistoryTable {
  id: string;
  workspace_id: string;
  /** segment | tag */
  kind: string;
  ref_id: string;
  profile_id: string;
  /** entered | exited */
  action: string;
  reason: string | null;
  at: string;
  /** Who changed it by hand or by API; null for Siyu's own changes (migration 0012). */
  actor: string | null;
}

export interface ProfileLayersTable {
  profile_id: string;
  workspace_id: string;
  lifecycle: string;
  rfm_r: number | null;
  rfm_f: number | null;
  rfm_m: number | null;
  rfm_segment: string | null;
  lifecycle_changes_at: string | null;
  updated_at: string;
}

export interface LayerSettingsTable {
  workspace_id: string;
  settings: unknown;
  updated_at: string;
}

export interface ReevaluationsTable {
  workspace_id: string;
  profile_id: string;
  due_at: string;
}

export interface DerivationLogTable {
  seq: Generated<number>;
  /** Who still has work for the profile: 1 the audience engine, 2 the layer service. */
  consumer: number;
  profile_id: string;
}

/** Named counters (see migration 0010): `memberships` counts committed transactions that wrote tag or segment memberships, on SQLite. */
export interface SyncCountersTable {
  name: string;
  value: number;
}

export interface Database {
  derivation_log: DerivationLogTable;
  sync_counters: SyncCountersTable;
  tag_groups: TagGroupsTable;
  tags: TagsTable;
  profile_tags: ProfileTagsTable;
  segments: SegmentsTable;
  segment_members: SegmentMembersTable;
  membership_history: MembershipHistoryTable;
  profile_layers: ProfileLayersTable;
  layer_settings: LayerSettingsTable;
  reevaluations: ReevaluationsTable;
  inbox_dead: InboxDeadTable;
  workspaces: WorkspacesTable;
  identity_types: IdentityTypesTable;
  inbox: InboxTable;
  profiles: ProfilesTable;
  identities: IdentitiesTable;
  events: EventsTable;
  merges: MergesTable;
  identity_conflicts: ConflictsTable;
  suppressions: SuppressionsTable;
  audit_log: AuditLogTable;
}
