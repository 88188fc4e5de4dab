import { sql, type Kysely, type Transaction } from 'kysely';
import type { EventRow, IdentityRow, ProcessorChanges, ProfileRow } from '@siyu/core';
import type { Database } from '../schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Bulk writes of the processor on PostgreSQL as `INSERT … SELECT FROM unnest($1::text[], …)`: one bound
 * array per column, JSON columns as text cast to jsonb in the select, so a 5,000-row batch is parsed and
 * planned once (multi-row VALUES with tens of thousands of parameters spent most of its time there).
 * Until a later session the rows went over as one JSON document (`json_to_recordset`), which costs node-pg
 * less (one `JSON.stringify`, ~2 µs a row against ~8 µs for its escaping pass over every array element) but
 * the server far more: 880 event rows were taken apart in 30–40 ms against 10–20 ms for the arrays (escaping
 * included), and the membership events of a 1M-profile recompute went from 672–1,296 to 446–583 ms.
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
  type Row = ReturnType<typeof row>;
  // One array per column (JSON columns as text, cast where used): see the note above.
  const arrays = (rs: Row[]) => sql`unnest(${rs.map((r) => r.id)}::text[], ${rs.map((r) => r.workspace_id)}::text[], ${rs.map((r) => jsonText(r.traits))}::text[],
    ${rs.map((r) => jsonText(r.trait_times))}::text[], ${rs.map((r) => jsonText(r.first_touch))}::text[], ${rs.map((r) => jsonText(r.computed))}::text[],
    ${rs.map((r) => r.merged_into)}::text[], ${rs.map((r) => r.first_seen)}::text[], ${rs.map((r) => r.last_seen)}::text[], ${rs.map((r) => r.created_at)}::text[],
    ${rs.map((r) => r.updated_at)}::text[], ${rs.map((r) => r.num)}::bigint[])
    as x(id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num)`;
  // Stored profiles: the columns folding messages changes, none of them indexed (so with room on the
  // page the new row version is heap-only). Traits and first-touch traits the batch kept as stored go
  // as null and stay (a track call changes only computed traits): PostgreSQL then parses a quarter of
  // the JSON (100k-profile audiences bench: the update of a 2,000-message batch ~110 → ~65 ms).
  if (updates.length) {
    await sql`
      update profiles p set traits = coalesce(x.traits::jsonb, p.traits), trait_times = coalesce(x.trait_times::jsonb, p.trait_times),
        first_touch = coalesce(x.first_touch::jsonb, p.first_touch), computed = x.computed::jsonb, first_seen = x.first_seen, last_seen = x.last_seen, updated_at = x.updated_at
      from ${arrays(updates)}
      where p.id = x.id`.execute(db);
  }
  if (inserts.length) {
    await sql`
      insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num)
      select x.id, x.workspace_id, x.traits::jsonb, x.trait_times::jsonb, x.first_touch::jsonb, x.computed::jsonb, x.merged_into, x.first_seen, x.last_seen, x.created_at, x.updated_at, x.num
      from ${arrays(inserts)}`.execute(db);
  }
}

export async function pgInsertIdentities(db: Db, rows: readonly IdentityRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = (f: (r: IdentityRow) => string) => rows.map(f);
  await sql`
    insert into identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id)
    select * from unnest(${col((r) => r.workspaceId)}::text[], ${col((r) => r.type)}::text[], ${col((r) => r.value)}::text[], ${col((r) => r.profileId)}::text[],
      ${col((r) => r.originProfileId)}::text[], ${col((r) => r.firstSeen)}::text[], ${col((r) => r.sourceMessageId)}::text[])
    on conflict (workspace_id, type, value) do update set profile_id = excluded.profile_id`.execute(db);
}

export async function pgInsertEvents(db: Db, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  // One array per column (JSON columns as text, cast in the select): see the note above on what each form costs.
  const col = <T>(f: (r: EventRow) => T): T[] => rows.map(f);
  await sql`
    insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num)
    select u.id, u.workspace_id, u.profile_id, u.origin_profile_id, u.message_id, u.type, u.event, u.traits::jsonb, u.properties::jsonb, u.context::jsonb, u.timestamp, u.received_at,
      coalesce(u.profile_num, (select p.num from profiles p where p.id = u.profile_id))
    from unnest(${col((r) => r.id)}::text[], ${col((r) => r.workspaceId)}::text[], ${col((r) => r.profileId)}::text[], ${col((r) => r.originProfileId)}::text[],
      ${col((r) => r.messageId)}::text[], ${col((r) => r.type)}::text[], ${col((r) => r.event ?? null)}::text[], ${col((r) => jsonText(r.traits))}::text[],
      ${col((r) => jsonText(r.properties))}::text[], ${col((r) => jsonText(r.context))}::text[], ${col((r) => r.timestamp)}::text[], ${col((r) => r.receivedAt)}::text[],
      ${col((r) => r.profileNum ?? null)}::bigint[])
      as u(id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num)
    on conflict (workspace_id, message_id) do nothing`.execute(db);
}

/** A JSON column's value as the text an unnest array carries (null stays SQL NULL). */
function jsonText(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export async function pgDeleteInbox(db: Db, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await sql`delete from inbox where seq = any(${[...seqs]}::bigint[])`.execute(db);
}
