import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './dialect.ts';

/**
 * Migrations are code, written once for both dialects; `dialect` picks the few types that differ
 * (auto-increment keys, JSON). They run automatically on start (`openStore`) and by `siyu migrate`.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const json = dialect === 'postgres' ? 'jsonb' : 'text';
  return {
    '0001_foundation': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('workspaces')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('time_zone', 'text', (c) => c.notNull())
          .addColumn('write_key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('admin_token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('instance_admin', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('identity_types')
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('priority', 'integer', (c) => c.notNull())
          .addColumn('max_per_profile', 'integer')
          .addColumn('builtin', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('identity_types_pk', ['workspace_id', 'type'])
          .execute();
        await db.schema
          .createTable('inbox')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('received_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('inbox_message_uq').on('inbox').columns(['workspace_id', 'message_id']).unique().execute();
        await db.schema
          .createTable('profiles')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('traits', json, (c) => c.notNull())
          .addColumn('trait_times', json, (c) => c.notNull())
          .addColumn('first_touch', json, (c) => c.notNull())
          .addColumn('computed', json, (c) => c.notNull())
          .addColumn('merged_into', 'text')
          .addColumn('first_seen', 'text')
          .addColumn('last_seen', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('profiles_ws_idx').on('profiles').columns(['workspace_id', 'id']).execute();
        await db.schema.createIndex('profiles_merged_idx').on('profiles').columns(['merged_into']).execute();
        await db.schema
          .createTable('identities')
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('origin_profile_id', 'text', (c) => c.notNull())
          .addColumn('first_seen', 'text', (c) => c.notNull())
          .addColumn('source_message_id', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('identities_pk', ['workspace_id', 'type', 'value'])
          .execute();
        await db.schema.createIndex('identities_profile_idx').on('identities').columns(['profile_id']).execute();
        // Partial: only identities/events that were moved by a merge need finding by origin (for unmerge).
        await db.schema.createIndex('identities_origin_idx').on('identities').columns(['origin_profile_id']).where(sql.ref('origin_profile_id'), '<>', sql.ref('profile_id')).execute();
        await db.schema
          .createTable('events')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('origin_profile_id', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('event', 'text')
          .addColumn('traits', json)
          .addColumn('properties', json)
          .addColumn('context', json)
          .addColumn('timestamp', 'text', (c) => c.notNull())
          .addColumn('received_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_message_uq').on('events').columns(['workspace_id', 'message_id']).unique().execute();
        await db.schema.createIndex('events_profile_idx').on('events').columns(['profile_id', 'timestamp']).execute();
        await db.schema.createIndex('events_origin_idx').on('events').columns(['origin_profile_id']).where(sql.ref('origin_profile_id'), '<>', sql.ref('profile_id')).execute();
        await db.schema.createIndex('events_name_idx').on('events').columns(['workspace_id', 'event', 'timestamp']).execute();
        await db.schema
          .createTable('merges')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('winner_id', 'text', (c) => c.notNull())
          .addColumn('loser_id', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text')
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('undone_at', 'text')
          .execute();
        await db.schema.createIndex('merges_winner_idx').on('merges').columns(['winner_id']).execute();
        await db.schema.createIndex('merges_loser_idx').on('merges').columns(['loser_id']).execute();
        await db.schema
          .createTable('identity_conflicts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('other_profile_id', 'text')
          .addColumn('identifier_type', 'text', (c) => c.notNull())
          .addColumn('identifier_value', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('conflicts_ws_idx').on('identity_conflicts').columns(['workspace_id', 'id']).execute();
        await db.schema
          .createTable('suppressions')
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('identifier_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('suppressions_pk', ['workspace_id', 'identifier_hash'])
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('details', json)
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_ws_idx').on('audit_log').columns(['workspace_id', 'created_at']).execute();
        await db.schema
          .createTable('inbox_dead')
          .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('error', 'text', (c) => c.notNull())
          .addColumn('failed_at', 'text', (c) => c.notNull())
          .execute();
        void sql;
      },
    },
    '0002_audiences': {
      async up(db: Kysely<any>) {
        // A small dense integer per profile: its bit in the roaring audience bitmaps.
        await db.schema.alterTable('profiles').addColumn('num', 'bigint').execute();
        await db.schema.createIndex('profiles_num_uq').on('profiles').columns(['num']).unique().execute();
        await db.schema
          .createTable('tag_groups')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tag_groups_name_uq').on('tag_groups').columns(['workspace_id', 'name']).unique().execute();
        await db.schema
          .createTable('tags')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('group_id', 'text')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('definition', json)
          .addColumn('description', 'text')
          .addColumn('default_ttl_days', 'integer')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tags_name_uq').on('tags').columns(['workspace_id', 'name']).unique().execute();
        await db.schema
          .createTable('profile_tags')
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('tag_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('applied_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addPrimaryKeyConstraint('profile_tags_pk', ['tag_id', 'profile_id'])
          .execute();
        await db.schema.createIndex('profile_tags_profile_idx').on('profile_tags').columns(['profile_id']).execute();
        await db.schema.createIndex('profile_tags_expiry_idx').on('profile_tags').columns(['expires_at']).where(sql.ref('expires_at'), 'is not', null).execute();
        await db.schema
          .createTable('segments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('description', 'text')
          .addColumn('definition', json, (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('computed_at', 'text')
          .execute();
        await db.schema.createIndex('segments_ws_idx').on('segments').columns(['workspace_id', 'id']).execute();
        await db.schema
          .createTable('segment_members')
          .addColumn('segment_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('entered_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('segment_members_pk', ['segment_id', 'profile_id'])
          .execute();
        await db.schema.createIndex('segment_members_profile_idx').on('segment_members').columns(['profile_id']).execute();
        await db.schema
          .createTable('membership_history')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ref_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('membership_history_ref_idx').on('membership_history').columns(['workspace_id', 'ref_id', 'at']).execute();
        await db.schema.createIndex('membership_history_profile_idx').on('membership_history').columns(['profile_id', 'at']).execute();
        await db.schema
          .createTable('profile_layers')
          .addColumn('profile_id', 'text', (c) => c.primaryKey())
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('lifecycle', 'text', (c) => c.notNull())
          .addColumn('rfm_r', 'integer')
          .addColumn('rfm_f', 'integer')
          .addColumn('rfm_m', 'integer')
          .addColumn('rfm_segment', 'text')
          .addColumn('lifecycle_changes_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('profile_layers_ws_idx').on('profile_layers').columns(['workspace_id', 'lifecycle']).execute();
        await db.schema
          .createTable('layer_settings')
          .addColumn('workspace_id', 'text', (c) => c.primaryKey())
          .addColumn('settings', json, (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('reevaluations')
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .addColumn('due_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('reevaluations_pk', ['workspace_id', 'profile_id'])
          .execute();
        await db.schema.createIndex('reevaluations_due_idx').on('reevaluations').columns(['due_at']).execute();
      },
    },
    '0003_layer_due_index': {
      async up(db: Kysely<any>) {
        await db.schema
          .createIndex('profile_layers_due_idx')
          .on('profile_layers')
          .columns(['lifecycle_changes_at'])
          .where(sql.ref('lifecycle_changes_at'), 'is not', null)
          .execute();
      },
    },
    '0004_audience_bulk_paths': {
      async up(db: Kysely<any>) {
        // Audience candidate planning: "which profiles have a track event of this name since then" is
        // answered from this index alone (no row reads), and the catalog's per-type checks are seeks.
        // It starts with the columns of events_name_idx, which it replaces.
        await db.schema.createIndex('events_name_type_idx').on('events').columns(['workspace_id', 'event', 'type', 'timestamp', 'profile_id']).execute();
        await db.schema.dropIndex('events_name_idx').execute();
        // Profile id → bitmap number without reading the (wide) profile row.
        await db.schema.createIndex('profiles_id_num_idx').on('profiles').columns(['id', 'num']).execute();
        // The canonical profiles' numbers in order (the bitmap index's `all`), without reading profile rows.
        await db.schema.createIndex('profiles_canonical_num_idx').on('profiles').columns(['workspace_id', 'num']).where(sql.ref('merged_into'), 'is', null).execute();
        // Memberships carry their profile's number, so the bitmap index loads a tag or segment from one
        // index range (no join per membership) and a recompute lists current members the same way.
        for (const [table, ref] of [
          ['profile_tags', 'tag_id'],
          ['segment_members', 'segment_id'],
        ] as const) {
          await db.schema.alterTable(table).addColumn('profile_num', 'bigint').execute();
          await sql`update ${sql.table(table)} set profile_num = (select p.num from profiles p where p.id = ${sql.ref(`${table}.profile_id`)})`.execute(db);
          await db.schema.createIndex(`${table}_num_idx`).on(table).columns([ref, 'profile_num']).execute();
          // Rows whose profile had no number yet (numbered later by ensureNums, which fills these in).
          await db.schema.createIndex(`${table}_num_missing_idx`).on(table).columns(['profile_id']).where(sql.ref('profile_num'), 'is', null).execute();
        }
      },
    },
    '0005_canonical_num_index': {
      async up(db: Kysely<any>) {
        // 0004's (workspace_id, num) partial index let SQLite answer "these ids of a workspace, by num"
        // by walking the whole workspace in num order instead of looking the ids up; led by num, the index
        // still serves ordered pages of canonical numbers but no longer looks like a way to skip a sort.
        await db.schema.dropIndex('profiles_canonical_num_idx').execute();
        await db.schema.createIndex('profiles_num_canonical_idx').on('profiles').columns(['num', 'workspace_id']).where(sql.ref('merged_into'), 'is', null).execute();
      },
    },
    '0006_events_profile_num': {
      async up(db: Kysely<any>) {
        // Events carry their profile's bitmap number, so "who has an event of this name in this window"
        // (the candidate planner) comes from one index range as numbers, with no id → number lookup per
        // profile (0.76 of 1.07 s at 1M profiles). Kept current where events are written and re-pointed.
        await db.schema.alterTable('events').addColumn('profile_num', 'bigint').execute();
        await sql`update events set profile_num = (select p.num from profiles p where p.id = events.profile_id)`.execute(db);
        await db.schema.createIndex('events_name_num_idx').on('events').columns(['workspace_id', 'event', 'type', 'timestamp', 'profile_num']).execute();
        await db.schema.dropIndex('events_name_type_idx').execute();
        // Events whose profile had no number yet (numbered later by ensureNums, which fills these in).
        await db.schema.createIndex('events_num_missing_idx').on('events').columns(['workspace_id']).where(sql.ref('profile_num'), 'is', null).execute();
      },
    },
    '0007_events_profile_covering': {
      async up(db: Kysely<any>) {
        // Evaluating a profile reads its events of a few names in a window. With (profile_id, timestamp)
        // each of those events cost a read of its row, one random page each; with type and event in the
        // index, conditions that read no property (counts, sequences without filters) are answered from
        // the index alone. The timeline still reads it by (profile_id, timestamp).
        await db.schema.dropIndex('events_profile_idx').execute();
        await db.schema.createIndex('events_profile_idx').on('events').columns(['profile_id', 'timestamp', 'type', 'event']).execute();
      },
    },
    '0008_profiles_fillfactor': {
      async up(db: Kysely<any>) {
        // PostgreSQL: every event rewrites its profile's row (traits, computed traits, last seen), none
        // of them indexed. With full pages the new row version lands on another page and all six
        // profile indexes get an entry for it; with a quarter of each page kept free it stays on its
        // page as a heap-only tuple (HOT) and no index is touched. Pages written from now on keep the
        // room (`VACUUM FULL profiles` gives it to existing ones). SQLite updates rows in place.
        if (dialect === 'postgres') await sql`alter table profiles set (fillfactor = 75)`.execute(db);
      },
    },
    '0009_derivation_log': {
      async up(db: Kysely<any>) {
        // Profiles a committed processor batch changed, one row per consumer (1 audiences, 2 layers), removed
        // by the consumer once its work for them has committed: what a crash takes from the in-memory queues
        // is found here at the next start (see SqlStore.logDerivations). Appended and removed in order, so
        // it costs a few sequential pages per batch. AUTOINCREMENT: a number is never used twice, so a
        // consumer removing the range it was told cannot remove rows added after the table emptied.
        await db.schema
          .createTable('derivation_log')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('consumer', 'smallint', (c) => c.notNull())
          .addColumn('profile_id', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0010_sync_counters': {
      async up(db: Kysely<any>) {
        // `memberships`: bumped, on SQLite, by every transaction that writes tag or segment memberships, in
        // that transaction. The audience engine reads a page outside the write lock and, holding it, checks
        // no membership was written since; the in-process counter (MembershipEpoch) sees only this process's
        // threads, this one also another process's (an import beside the server). One row, one hot page.
        await db.schema
          .createTable('sync_counters')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.insertInto('sync_counters').values({ name: 'memberships', value: 0 }).execute();
      },
    },
    '0011_events_message_key': {
      async up(db: Kysely<any>) {
        // SQLite: events are found by message id through a 53-bit hash of workspace and message id
        // (sqlite/message-key.ts says why) instead of the unique (workspace_id, message_id) index. Events
        // stored before get their key here, from the SQL function every main-file connection registers.
        // PostgreSQL keeps its unique index (its processor checks a whole batch in one `= any($1)`).
        // Each step commits on its own (Kysely runs SQLite migrations outside a transaction), so every step
        // may find itself done already: a start after one that failed midway (the backfill, one statement,
        // rewrites every event through the WAL and needs about the events' size in free disk) goes on from there.
        if (dialect !== 'sqlite') return;
        const columns = await sql<{ name: string }>`select name from pragma_table_info('events')`.execute(db);
        if (!columns.rows.some((c) => c.name === 'message_key')) await db.schema.alterTable('events').addColumn('message_key', 'integer').execute();
        await sql`update events set message_key = siyu_message_key(workspace_id, message_id) where message_key is null`.execute(db);
        await db.schema.dropIndex('events_message_uq').ifExists().execute();
        await db.schema.createIndex('events_message_key_idx').ifNotExists().on('events').column('message_key').execute();
      },
    },
    '0012_membership_history_actor': {
      async up(db: Kysely<any>) {
        // Who made a change to a tag by hand or by API (the admin token's actor); null for Siyu's own changes
        // (rules, schedules, expiry, merges). Rows from before stay null.
        await db.schema.alterTable('membership_history').addColumn('actor', 'text').execute();
      },
    },
    '0013_conflict_review': {
      async up(db: Kysely<any>) {
        // A refused link reviewed by an operator: merged anyway or dismissed, when and by whom. Open ones have none.
        await db.schema.alterTable('identity_conflicts').addColumn('resolution', 'text').execute();
        await db.schema.alterTable('identity_conflicts').addColumn('resolved_at', 'text').execute();
        await db.schema.alterTable('identity_conflicts').addColumn('resolved_by', 'text').execute();
      },
    },
    '0014_merged_index_partial': {
      async up(db: Kysely<any>) {
        // Only merged-away profiles in the index of losers by winner. Holding every canonical profile too (NULL),
        // it let SQLite's planner read `merged_into IS NULL` through it: real statistics (`PRAGMA optimize`)
        // count each NULL as a value of its own, so "is null" looked like ~5 rows, and a lookup of 2,000 profiles
        // by id (`… and merged_into is null and id in (…)`) became a scan of every canonical profile — 3–5× the
        // cost of the id searches at 165k profiles, growing with the workspace. A partial index cannot serve
        // `IS NULL`; `merged_into = ?` still uses it. New profiles also no longer add an entry.
        await db.schema.dropIndex('profiles_merged_idx').execute();
        await db.schema.createIndex('profiles_merged_idx').on('profiles').columns(['merged_into']).where(sql.ref('merged_into'), 'is not', null).execute();
      },
    },
    '0015_one_open_conflict': {
      async up(db: Kysely<any>) {
        // One refusal of the same link is one thing to review: a shared device that keeps sending made a conflict per
        // message (a 50,000-set in each processor's memory held most back, but not across restarts, processes or a
        // rolled-back batch). A dismissed link stays dismissed: its repeats are not raised again. Repeats stored before
        // go — kept: a dismissed one over an open one, else the first.
        // Ranked per link in one sort (a correlated `exists` was quadratic on SQLite: 20,000 rows ~20 s).
        await sql`delete from identity_conflicts where id in (
          select id from (
            select id, row_number() over (
              partition by workspace_id, profile_id, identifier_type, identifier_value, coalesce(other_profile_id, '')
              order by case when resolution is null then 1 else 0 end, id) as dup
            from identity_conflicts where resolution is null or resolution = 'dismissed') as ranked
          where dup > 1)`.execute(db);
        await sql`create unique index identity_conflicts_open_uq on identity_conflicts
          (workspace_id, profile_id, identifier_type, identifier_value, coalesce(other_profile_id, ''))
          where resolution is null or resolution = 'dismissed'`.execute(db);
      },
    },
  };
}

class InlineProvider implements MigrationProvider {
  constructor(private readonly all: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.all;
  }
}

export async function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  return migrateTo(db, dialect);
}

/** Applies migrations up to and including `name` (all of them when omitted); tests use it to build an older schema. */
export async function migrateTo(db: Kysely<any>, dialect: Dialect, name?: string): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineProvider(migrations(dialect)), migrationTableName: 'siyu_migrations', migrationLockTableName: 'siyu_migrations_lock' });
  const { error, results } = name === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(name);
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
