import { sql, type Kysely, type Transaction } from 'kysely';
import type { EventRow, IdentityRow, ProfileRow } from '@siyu/core';
import { encodeJson } from '../dialect.ts';
import type { Database } from '../schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Bulk writes of the processor on PostgreSQL as `INSERT … SELECT FROM unnest(arrays)`: one bound
 * parameter per column instead of one per value, so a 5,000-row batch is parsed and planned once
 * (multi-row VALUES with tens of thousands of parameters spent most of its time there).
 */
export async function pgUpsertProfiles(db: Db, profiles: readonly ProfileRow[]): Promise<void> {
  if (profiles.length === 0) return;
  // Only profiles not stored yet take a number (an update keeps its own): numbering every row of the
  // batch would burn one per update and run the 32-bit bitmap numbers out within days of traffic.
  const existing = await sql<{ id: string }>`select id from profiles where id = any(${profiles.map((p) => p.id)}::text[])`.execute(db);
  const known = new Set(existing.rows.map((r) => r.id));
  const next = await db.selectFrom('profiles').select((eb) => eb.fn.max('num').as('n')).executeTakeFirst();
  let num = Number(next?.n ?? 0);
  const nums = profiles.map((p) => (known.has(p.id) ? null : ++num));
  const col = <T>(f: (p: ProfileRow) => T) => profiles.map(f);
  await sql`
    insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num)
    select * from unnest(
      ${col((p) => p.id)}::text[], ${col((p) => p.workspaceId)}::text[],
      ${col((p) => encodeJson(p.traits))}::jsonb[], ${col((p) => encodeJson(p.traitTimes))}::jsonb[],
      ${col((p) => encodeJson(p.firstTouch))}::jsonb[], ${col((p) => encodeJson(p.computed))}::jsonb[],
      ${col((p) => p.mergedInto)}::text[], ${col((p) => p.computed.first_seen)}::text[], ${col((p) => p.computed.last_seen)}::text[],
      ${col((p) => p.createdAt)}::text[], ${col((p) => p.updatedAt)}::text[], ${nums}::bigint[])
    on conflict (id) do update set traits = excluded.traits, trait_times = excluded.trait_times, first_touch = excluded.first_touch,
      computed = excluded.computed, first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at`.execute(db);
}

export async function pgInsertIdentities(db: Db, rows: readonly IdentityRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: IdentityRow) => T) => rows.map(f);
  await sql`
    insert into identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id)
    select * from unnest(${col((r) => r.workspaceId)}::text[], ${col((r) => r.type)}::text[], ${col((r) => r.value)}::text[],
      ${col((r) => r.profileId)}::text[], ${col((r) => r.originProfileId)}::text[], ${col((r) => r.firstSeen)}::text[], ${col((r) => r.sourceMessageId)}::text[])
    on conflict (workspace_id, type, value) do update set profile_id = excluded.profile_id`.execute(db);
}

export async function pgInsertEvents(db: Db, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: EventRow) => T) => rows.map(f);
  await sql`
    insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num)
    select u.*, (select p.num from profiles p where p.id = u.profile_id)
    from unnest(${col((r) => r.id)}::text[], ${col((r) => r.workspaceId)}::text[], ${col((r) => r.profileId)}::text[],
      ${col((r) => r.originProfileId)}::text[], ${col((r) => r.messageId)}::text[], ${col((r) => r.type)}::text[], ${col((r) => r.event)}::text[],
      ${col((r) => encodeJson(r.traits))}::jsonb[], ${col((r) => encodeJson(r.properties))}::jsonb[], ${col((r) => encodeJson(r.context))}::jsonb[],
      ${col((r) => r.timestamp)}::text[], ${col((r) => r.receivedAt)}::text[])
      as u(id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at)
    on conflict (workspace_id, message_id) do nothing`.execute(db);
}

export async function pgDeleteInbox(db: Db, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await sql`delete from inbox where seq = any(${[...seqs]}::bigint[])`.execute(db);
}
