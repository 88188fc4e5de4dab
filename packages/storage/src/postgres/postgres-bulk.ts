import { sql, type Kysely, type Transaction } from 'kysely';
import type { EventRow, IdentityRow, ProcessorChanges, ProfileRow } from '@siyu/core';
import { encodeJson } from '../dialect.ts';
import type { Database } from '../schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Bulk writes of the processor on PostgreSQL as `INSERT … SELECT FROM json_to_recordset($1)`: the
 * batch is one bound JSON document, so a 5,000-row batch is parsed and planned once (multi-row VALUES
 * with tens of thousands of parameters spent most of its time there). Rows go over as one
 * `JSON.stringify`: arrays per column (`unnest($1::jsonb[], …)`) cost node-pg an escaping pass over
 * every character of every JSON value (~7 µs per event in the worker).
 */
export async function pgUpsertProfiles(db: Db, profiles: readonly ProfileRow[], kept?: ProcessorChanges['kept']): Promise<void> {
  if (profiles.length === 0) return;
  // Only profiles not stored yet take a number (an update keeps its own): numbering every row of the
  // batch would burn one per update and run the 32-bit bitmap numbers out within days of traffic.
  const existing = await sql<{ id: string }>`select id from profiles where id = any(${profiles.map((p) => p.id)}::text[])`.execute(db);
  const known = new Set(existing.rows.map((r) => r.id));
  const next = await db.selectFrom('profiles').select((eb) => eb.fn.max('num').as('n')).executeTakeFirst();
  let num = Number(next?.n ?? 0);
  const row = (p: ProfileRow, num: number | null, keep?: { traits: boolean; firstTouch: boolean }) => ({
    id: p.id,
    workspace_id: p.workspaceId,
    traits: keep?.traits ? null : p.traits,
    trait_times: keep?.traits ? null : p.traitTimes,
    first_touch: keep?.firstTouch ? null : p.firstTouch,
    computed: p.computed,
    merged_into: p.mergedInto,
    first_seen: p.computed.first_seen,
    last_seen: p.computed.last_seen,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    num,
  });
  const updates = profiles.filter((p) => known.has(p.id)).map((p) => row(p, null, kept?.get(p.id)));
  const inserts = profiles.filter((p) => !known.has(p.id)).map((p) => row(p, ++num));
  const columns = sql`id text, workspace_id text, traits jsonb, trait_times jsonb, first_touch jsonb, computed jsonb, merged_into text, first_seen text, last_seen text, created_at text, updated_at text, num bigint`;
  // Stored profiles: the columns folding messages changes, none of them indexed (so with room on the
  // page the new row version is heap-only). Traits and first-touch traits the batch kept as stored go
  // as null and stay (a track call changes only computed traits): PostgreSQL then parses a quarter of
  // the JSON (100k-profile audiences bench: the update of a 2,000-message batch ~110 → ~65 ms).
  if (updates.length) {
    await sql`
      update profiles p set traits = coalesce(x.traits, p.traits), trait_times = coalesce(x.trait_times, p.trait_times),
        first_touch = coalesce(x.first_touch, p.first_touch), computed = x.computed, first_seen = x.first_seen, last_seen = x.last_seen, updated_at = x.updated_at
      from json_to_recordset(${encodeJson(updates)}::json) as x(${columns})
      where p.id = x.id`.execute(db);
  }
  if (inserts.length) {
    await sql`
      insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num)
      select * from json_to_recordset(${encodeJson(inserts)}::json) as x(${columns})`.execute(db);
  }
}

export async function pgInsertIdentities(db: Db, rows: readonly IdentityRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = rows.map((r) => ({ workspace_id: r.workspaceId, type: r.type, value: r.value, profile_id: r.profileId, origin_profile_id: r.originProfileId, first_seen: r.firstSeen, source_message_id: r.sourceMessageId }));
  await sql`
    insert into identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id)
    select * from json_to_recordset(${encodeJson(json)}::json) as x(workspace_id text, type text, value text, profile_id text, origin_profile_id text, first_seen text, source_message_id text)
    on conflict (workspace_id, type, value) do update set profile_id = excluded.profile_id`.execute(db);
}

export async function pgInsertEvents(db: Db, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = rows.map((r) => ({
    id: r.id,
    workspace_id: r.workspaceId,
    profile_id: r.profileId,
    origin_profile_id: r.originProfileId,
    message_id: r.messageId,
    type: r.type,
    event: r.event,
    traits: r.traits ?? null,
    properties: r.properties ?? null,
    context: r.context ?? null,
    timestamp: r.timestamp,
    received_at: r.receivedAt,
    profile_num: r.profileNum ?? null,
  }));
  await sql`
    insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num)
    select u.id, u.workspace_id, u.profile_id, u.origin_profile_id, u.message_id, u.type, u.event, u.traits, u.properties, u.context, u.timestamp, u.received_at,
      coalesce(u.profile_num, (select p.num from profiles p where p.id = u.profile_id))
    from json_to_recordset(${encodeJson(json)}::json) as u(id text, workspace_id text, profile_id text, origin_profile_id text, message_id text, type text, event text,
      traits jsonb, properties jsonb, context jsonb, timestamp text, received_at text, profile_num bigint)
    on conflict (workspace_id, message_id) do nothing`.execute(db);
}

export async function pgDeleteInbox(db: Db, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await sql`delete from inbox where seq = any(${[...seqs]}::bigint[])`.execute(db);
}
