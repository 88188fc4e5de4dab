import { sql } from 'kysely';
import type { EvaluationEvent, EventRow, Page } from '@siyu/core';
import { anyOf, chunk, decodeJson, encodeJson, MAX_PARAMS } from './dialect.ts';
import type { LayerCell } from './audience-index.ts';
import type { SqlStore } from './store.ts';

export { AudienceBitmaps, newBitmap } from './audience-index.ts';
export type { Bitmap, BitmapDelta, LayerCell } from './audience-index.ts';

export const TAG_KINDS = ['manual', 'rule', 'imported'] as const;
export type TagKind = (typeof TAG_KINDS)[number];

/** How an application of a tag came about. */
export const TAG_SOURCES = ['manual', 'api', 'import', 'rule'] as const;
export type TagSource = (typeof TAG_SOURCES)[number];

export interface TagGroupRecord {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export interface TagRecord {
  id: string;
  workspaceId: string;
  groupId: string | null;
  name: string;
  kind: TagKind;
  /** `{ version, condition }` for rule tags, else null. */
  definition: unknown;
  description: string | null;
  defaultTtlDays: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface SegmentRecord {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  definition: unknown;
  version: number;
  createdAt: string;
  updatedAt: string;
  computedAt: string | null;
}

export interface ProfileTagRecord {
  tagId: string;
  profileId: string;
  source: string;
  actor: string;
  appliedAt: string;
  expiresAt: string | null;
}

export interface MembershipHistoryRecord {
  id: string;
  workspaceId: string;
  kind: 'segment' | 'tag';
  refId: string;
  profileId: string;
  action: 'entered' | 'exited';
  reason: string | null;
  at: string;
  /** Who made the change by hand or by API; null for Siyu's own (rules, schedules, expiry, merges). */
  actor?: string | null;
}

/** An event the audience engine writes (`Segment Entered`, `Tag Added`…), attributed to its profile. */
export interface AudienceEventRecord {
  id: string;
  workspaceId: string;
  profileId: string;
  messageId: string;
  event: string;
  properties: Record<string, unknown>;
  timestamp: string;
  /** The profile's bitmap number, when known. */
  profileNum?: number;
}

/** Which events a page of evaluation needs: names as conditions spell them, and how far back. */
export interface EventNeeds {
  /** Event names; "Page Viewed" / "Screen Viewed" also match page and screen calls. */
  names: readonly string[];
  /**
   * Those of `names` whose properties are read (filters, sums); the others are read without them,
   * from events_profile_idx alone (it holds type, event and timestamp), never touching the event rows.
   */
  properties: readonly string[];
  /** Lower bound on `timestamp` as ISO text (already widened for time-zone offsets), or null for all time. */
  since: string | null;
}

/**
 * What a page of evaluation reads besides traits: events (`null`: none), and — when given — only these
 * tag ids and segment ids (default: all the profile's), and layers only when `layers` is not false.
 * Bulk passes over one definition read only what it refers to; incremental passes read everything.
 */
export interface PageNeeds {
  events: EventNeeds | null;
  tags?: readonly string[];
  segments?: readonly string[];
  layers?: boolean;
  /**
   * Top-level keys of `traits` and `computed` to read (undefined: the whole object). A row then holds
   * only those keys that are set: enough for conditions whose paths start with one of them (`address`
   * serves `address.city`), and each row skips decoding the rest.
   */
  traitKeys?: readonly string[];
  computedKeys?: readonly string[];
  /**
   * Reads events only for the rows this accepts, asked once the rest of the row is read (a bulk pass
   * skips the events of profiles whose result the other conditions already decide).
   */
  eventsFor?: (row: EvaluationRow) => boolean;
  /** Give each row its {@link EvaluationRow.version}. */
  versions?: boolean;
  /**
   * Asked of each row once its profile and its segments are read, before its tags, layers and events (which it
   * must not look at): a row it rejects is left out of the page, and none of those is read for it (a bulk pass
   * screening profiles by their traits).
   */
  screen?: (row: EvaluationRow) => boolean;
}

/** Everything the evaluator needs of one profile. */
export interface EvaluationRow {
  id: string;
  num: number;
  traits: Record<string, unknown>;
  computed: Record<string, unknown>;
  tags: { tagId: string; source: string; expiresAt: string | null }[];
  segments: string[];
  layers: LayerCell | null;
  events: EvaluationEvent[];
  /**
   * With `needs.versions`: when the profile row (traits, computed traits, events: the processor sets
   * `updated_at` with each) and, if read, its layers were last written. {@link AudienceStore.profileVersions}
   * answers the same for what is stored now.
   */
  version?: string;
}

/** Which profiles a page reads: the next `limit` after `afterNum`, or exactly these nums/ids. */
export type PageSelector = { afterNum: number; limit: number } | { nums: readonly number[] } | { ids: readonly string[] };

export interface DueRow {
  workspaceId: string;
  profileId: string;
  dueAt: string;
}

const PAGE_EVENT_NAMES: Record<string, string> = { page: 'Page Viewed', screen: 'Screen Viewed' };

/**
 * Storage of tags, tag groups, segments, their memberships and history, and the re-evaluation
 * schedule, written once with Kysely for SQLite and PostgreSQL. Every read and write is scoped to a
 * workspace except the scheduler's claims (which return the workspace of each row).
 */
export class AudienceStore {
  constructor(readonly sql: SqlStore) {}

  private get db() {
    return this.sql.db;
  }

  /**
   * Tag and segment membership writes run in one transaction on SQLite, so the `memberships` counter moves
   * in the same commit as the rows (SqlStore.noteMembershipWrite; a reader between two autocommits could
   * miss the write): `fn` gets this store, or one over a transaction of its own when the caller is not in one.
   */
  private membershipWrite<T>(fn: (store: AudienceStore) => Promise<T>): Promise<T> {
    if (this.sql.dialect !== 'sqlite' || this.sql.isTransaction) return fn(this);
    return this.sql.transaction((tx) => fn(new AudienceStore(tx)));
  }

  /**
   * A column SQLite must not pick an index for (`+col`): queries driven by `profiles.num` should walk
   * the unique num index, but without ANALYZE statistics SQLite prefers the workspace or merged_into
   * index and then sorts the whole workspace. PostgreSQL plans from statistics; it gets the column.
   */
  private noIndex(column: 'profiles.workspace_id' | 'profiles.merged_into' | 'events.workspace_id' | 'profile_layers.workspace_id') {
    return this.sql.dialect === 'sqlite' ? sql<string | null>`+${sql.ref(column)}` : sql<string | null>`${sql.ref(column)}`;
  }

  private anyOf(column: string, values: readonly (string | number)[], type: 'text' | 'bigint' = 'text') {
    return anyOf(this.sql.dialect, column, values, type);
  }

  /** Runs `fn` in one transaction; on PostgreSQL `lockKey` takes a transaction-scoped advisory lock first. */
  transaction<T>(fn: (tx: AudienceStore) => Promise<T>, lockKey?: number): Promise<T> {
    return this.sql.transaction((tx) => fn(new AudienceStore(tx)), lockKey);
  }

  // ---------------------------------------------------------------- tag groups

  async insertTagGroup(g: TagGroupRecord): Promise<void> {
    await this.db.insertInto('tag_groups').values({ id: g.id, workspace_id: g.workspaceId, name: g.name, description: g.description, created_at: g.createdAt }).execute();
  }

  async listTagGroups(workspaceId: string): Promise<TagGroupRecord[]> {
    const rows = await this.db.selectFrom('tag_groups').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute();
    return rows.map(toTagGroup);
  }

  async getTagGroup(workspaceId: string, id: string): Promise<TagGroupRecord | undefined> {
    const row = await this.db.selectFrom('tag_groups').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toTagGroup(row) : undefined;
  }

  async updateTagGroup(workspaceId: string, id: string, change: { name?: string; description?: string | null }): Promise<void> {
    if (change.name === undefined && change.description === undefined) return;
    await this.db
      .updateTable('tag_groups')
      .set({ ...(change.name !== undefined ? { name: change.name } : {}), ...(change.description !== undefined ? { description: change.description } : {}) })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .execute();
  }

  async deleteTagGroup(workspaceId: string, id: string): Promise<void> {
    await this.db.deleteFrom('tag_groups').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
  }

  async tagGroupByName(workspaceId: string, name: string): Promise<TagGroupRecord | undefined> {
    const row = await this.db.selectFrom('tag_groups').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
    return row ? toTagGroup(row) : undefined;
  }

  // ---------------------------------------------------------------- tags

  async insertTag(t: TagRecord): Promise<void> {
    await this.db.insertInto('tags').values(tagValues(t)).execute();
  }

  async updateTag(t: TagRecord): Promise<void> {
    const { id: _id, workspace_id: _ws, created_at: _c, ...set } = tagValues(t);
    await this.db.updateTable('tags').set(set).where('workspace_id', '=', t.workspaceId).where('id', '=', t.id).execute();
  }

  /** Deletes a tag and every application of it. */
  async deleteTag(workspaceId: string, id: string): Promise<void> {
    return this.membershipWrite(async (s) => {
      await s.db.deleteFrom('profile_tags').where('workspace_id', '=', workspaceId).where('tag_id', '=', id).execute();
      await s.sql.noteMembershipWrite();
      await s.db.deleteFrom('tags').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
    });
  }

  async getTag(workspaceId: string, id: string): Promise<TagRecord | undefined> {
    const row = await this.db.selectFrom('tags').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toTag(row) : undefined;
  }

  async tagByName(workspaceId: string, name: string): Promise<TagRecord | undefined> {
    const row = await this.db.selectFrom('tags').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
    return row ? toTag(row) : undefined;
  }

  async listTags(workspaceId: string): Promise<TagRecord[]> {
    const rows = await this.db.selectFrom('tags').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute();
    return rows.map(toTag);
  }

  /** Tag applications of these profiles, with the tag's name, oldest first. */
  async tagsOfProfiles(workspaceId: string, profileIds: readonly string[]): Promise<(ProfileTagRecord & { name: string })[]> {
    const out: (ProfileTagRecord & { name: string })[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      const rows = await this.db
        .selectFrom('profile_tags')
        .innerJoin('tags', 'tags.id', 'profile_tags.tag_id')
        .select(['profile_tags.tag_id', 'profile_tags.profile_id', 'profile_tags.source', 'profile_tags.actor', 'profile_tags.applied_at', 'profile_tags.expires_at', 'tags.name'])
        .where('profile_tags.workspace_id', '=', workspaceId)
        .where('profile_tags.profile_id', 'in', part)
        .orderBy('profile_tags.applied_at')
        .orderBy('tags.name')
        .execute();
      out.push(...rows.map((r) => ({ ...toProfileTag(r), name: r.name })));
    }
    return out;
  }

  /** Applications of one tag among these profiles. */
  async tagApplications(workspaceId: string, tagId: string, profileIds: readonly string[]): Promise<ProfileTagRecord[]> {
    const out: ProfileTagRecord[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 2)) {
      const rows = await this.db.selectFrom('profile_tags').selectAll().where('workspace_id', '=', workspaceId).where('tag_id', '=', tagId).where('profile_id', 'in', part).execute();
      out.push(...rows.map(toProfileTag));
    }
    return out;
  }

  /** `knownNums`: the profiles' numbers when the caller holds them (saves looking them up). */
  async insertProfileTags(workspaceId: string, rows: readonly ProfileTagRecord[], knownNums?: ReadonlyMap<string, number>): Promise<void> {
    return this.membershipWrite(async (s) => {
      const nums = knownNums ?? (await s.numsOf(rows.map((r) => r.profileId)));
      if (s.sql.dialect === 'postgres') {
        // One array per column (see insertHistory).
        if (rows.length) {
          await sql`
            insert into profile_tags (workspace_id, tag_id, profile_id, source, actor, applied_at, expires_at, profile_num)
            select ${workspaceId}, u.tag_id, u.profile_id, u.source, u.actor, u.applied_at, u.expires_at, u.profile_num
            from unnest(${rows.map((r) => r.tagId)}::text[], ${rows.map((r) => r.profileId)}::text[], ${rows.map((r) => r.source)}::text[], ${rows.map((r) => r.actor)}::text[],
              ${rows.map((r) => r.appliedAt)}::text[], ${rows.map((r) => r.expiresAt)}::text[], ${rows.map((r) => nums.get(r.profileId) ?? null)}::bigint[])
              as u(tag_id, profile_id, source, actor, applied_at, expires_at, profile_num)
            on conflict (tag_id, profile_id) do nothing`.execute(s.db);
          await s.sql.noteMembershipWrite();
        }
        return;
      }
      for (const part of chunk(rows, Math.floor(MAX_PARAMS / 8))) {
        await s.db
          .insertInto('profile_tags')
          .values(
            part.map((r) => ({ workspace_id: workspaceId, tag_id: r.tagId, profile_id: r.profileId, source: r.source, actor: r.actor, applied_at: r.appliedAt, expires_at: r.expiresAt, profile_num: nums.get(r.profileId) ?? null })),
          )
          .onConflict((oc) => oc.columns(['tag_id', 'profile_id']).doNothing())
          .execute();
      }
      if (rows.length) await s.sql.noteMembershipWrite();
    });
  }

  /** Changes the expiry of existing applications (re-applying a tag with a new expiry). */
  async setTagExpiry(workspaceId: string, tagId: string, profileIds: readonly string[], expiresAt: string | null): Promise<void> {
    return this.membershipWrite(async (s) => {
      for (const part of chunk(profileIds, MAX_PARAMS - 3)) {
        await s.db.updateTable('profile_tags').set({ expires_at: expiresAt }).where('workspace_id', '=', workspaceId).where('tag_id', '=', tagId).where('profile_id', 'in', part).execute();
      }
      if (profileIds.length) await s.sql.noteMembershipWrite();
    });
  }

  /** Removes applications; `expiredBy` removes only those expired by then. Returns the profiles whose application was removed. */
  async deleteProfileTags(workspaceId: string, tagId: string, profileIds: readonly string[], opts: { expiredBy?: string } = {}): Promise<string[]> {
    return this.membershipWrite(async (s) => {
      const out: string[] = [];
      for (const part of chunk(profileIds, MAX_PARAMS - 3)) {
        let q = s.db.deleteFrom('profile_tags').where('workspace_id', '=', workspaceId).where('tag_id', '=', tagId).where('profile_id', 'in', part);
        if (opts.expiredBy !== undefined) q = q.where('expires_at', 'is not', null).where('expires_at', '<=', opts.expiredBy);
        const rows = await q.returning('profile_id').execute();
        out.push(...rows.map((r) => r.profile_id));
      }
      if (out.length) await s.sql.noteMembershipWrite();
      return out;
    });
  }

  /** Applications whose expiry has passed, oldest expiry first, across workspaces or in one (for the scheduler). */
  async expiredTagApplications(now: string, limit: number, opts: { workspaceId?: string | undefined } = {}): Promise<{ workspaceId: string; tagId: string; profileId: string }[]> {
    let q = this.db.selectFrom('profile_tags').select(['workspace_id', 'tag_id', 'profile_id']).where('expires_at', 'is not', null).where('expires_at', '<=', now);
    if (opts.workspaceId !== undefined) q = q.where('workspace_id', '=', opts.workspaceId);
    const rows = await q.orderBy('expires_at').limit(limit).execute();
    return rows.map((r) => ({ workspaceId: r.workspace_id, tagId: r.tag_id, profileId: r.profile_id }));
  }

  // ---------------------------------------------------------------- segments

  async insertSegment(s: SegmentRecord): Promise<void> {
    await this.db.insertInto('segments').values(segmentValues(s)).execute();
  }

  async updateSegment(s: SegmentRecord): Promise<void> {
    const { id: _id, workspace_id: _ws, created_at: _c, ...set } = segmentValues(s);
    await this.db.updateTable('segments').set(set).where('workspace_id', '=', s.workspaceId).where('id', '=', s.id).execute();
  }

  async markSegmentComputed(workspaceId: string, id: string, at: string): Promise<void> {
    await this.db.updateTable('segments').set({ computed_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
  }

  /** Deletes a segment and its current members (history stays). */
  async deleteSegment(workspaceId: string, id: string): Promise<void> {
    return this.membershipWrite(async (s) => {
      await s.db.deleteFrom('segment_members').where('workspace_id', '=', workspaceId).where('segment_id', '=', id).execute();
      await s.sql.noteMembershipWrite();
      await s.db.deleteFrom('segments').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
    });
  }

  async getSegment(workspaceId: string, id: string): Promise<SegmentRecord | undefined> {
    const row = await this.db.selectFrom('segments').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row ? toSegment(row) : undefined;
  }

  async listSegments(workspaceId: string): Promise<SegmentRecord[]> {
    const rows = await this.db.selectFrom('segments').selectAll().where('workspace_id', '=', workspaceId).orderBy('id').execute();
    return rows.map(toSegment);
  }

  /** Current memberships of these profiles (all segments, or only `segmentIds`). */
  async segmentMemberships(workspaceId: string, profileIds: readonly string[], segmentIds?: readonly string[]): Promise<{ segmentId: string; profileId: string }[]> {
    const out: { segmentId: string; profileId: string }[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1 - (segmentIds?.length ?? 0))) {
      let q = this.db.selectFrom('segment_members').select(['segment_id', 'profile_id']).where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part));
      if (segmentIds) q = q.where('segment_id', 'in', segmentIds.length ? segmentIds : ['']);
      const rows = await q.execute();
      out.push(...rows.map((r) => ({ segmentId: r.segment_id, profileId: r.profile_id })));
    }
    return out;
  }

  /** Current tag applications of these profiles (all tags, or only `tagIds`). */
  async tagMemberships(workspaceId: string, profileIds: readonly string[], tagIds?: readonly string[]): Promise<ProfileTagRecord[]> {
    const out: ProfileTagRecord[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1 - (tagIds?.length ?? 0))) {
      let q = this.db.selectFrom('profile_tags').selectAll().where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part));
      if (tagIds) q = q.where('tag_id', 'in', tagIds.length ? tagIds : ['']);
      const rows = await q.execute();
      out.push(...rows.map(toProfileTag));
    }
    return out;
  }

  /** `knownNums`: the profiles' numbers when the caller holds them (saves looking them up). */
  async insertSegmentMembers(workspaceId: string, segmentId: string, profileIds: readonly string[], at: string, knownNums?: ReadonlyMap<string, number>): Promise<void> {
    return this.membershipWrite(async (s) => {
      const nums = knownNums ?? (await s.numsOf(profileIds));
      if (s.sql.dialect === 'postgres') {
        // One array per column (see insertHistory).
        if (profileIds.length) {
          await sql`
            insert into segment_members (segment_id, profile_id, workspace_id, entered_at, profile_num)
            select ${segmentId}, u.profile_id, ${workspaceId}, ${at}, u.profile_num
            from unnest(${[...profileIds]}::text[], ${profileIds.map((p) => nums.get(p) ?? null)}::bigint[]) as u(profile_id, profile_num)
            on conflict (segment_id, profile_id) do nothing`.execute(s.db);
          await s.sql.noteMembershipWrite();
        }
        return;
      }
      for (const part of chunk(profileIds, Math.floor(MAX_PARAMS / 5))) {
        await s.db
          .insertInto('segment_members')
          .values(part.map((p) => ({ segment_id: segmentId, profile_id: p, workspace_id: workspaceId, entered_at: at, profile_num: nums.get(p) ?? null })))
          .onConflict((oc) => oc.columns(['segment_id', 'profile_id']).doNothing())
          .execute();
      }
      if (profileIds.length) await s.sql.noteMembershipWrite();
    });
  }

  async deleteSegmentMembers(workspaceId: string, segmentId: string, profileIds: readonly string[]): Promise<void> {
    return this.membershipWrite(async (s) => {
      for (const part of chunk(profileIds, MAX_PARAMS - 2)) {
        await s.db.deleteFrom('segment_members').where('workspace_id', '=', workspaceId).where('segment_id', '=', segmentId).where('profile_id', 'in', part).execute();
      }
      if (profileIds.length) await s.sql.noteMembershipWrite();
    });
  }

  /** A page of a segment's current members (canonical profiles), by profile id. */
  async segmentMemberIds(workspaceId: string, segmentId: string, q: { limit: number; cursor?: string | undefined }): Promise<Page<string>> {
    let query = this.db
      .selectFrom('segment_members')
      .innerJoin('profiles', 'profiles.id', 'segment_members.profile_id')
      .select('segment_members.profile_id')
      .where('segment_members.workspace_id', '=', workspaceId)
      .where('segment_members.segment_id', '=', segmentId)
      .where('profiles.merged_into', 'is', null);
    if (q.cursor) query = query.where('segment_members.profile_id', '>', q.cursor);
    const rows = await query.orderBy('segment_members.profile_id').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map((r) => r.profile_id);
    return { data, nextCursor: rows.length > q.limit ? (data[data.length - 1] ?? null) : null };
  }

  /** Profile ids of every current member of a segment (for diffs on recompute). */
  async allSegmentMemberIds(workspaceId: string, segmentId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('segment_members').select('profile_id').where('workspace_id', '=', workspaceId).where('segment_id', '=', segmentId).execute();
    return rows.map((r) => r.profile_id);
  }

  /** Profile ids holding a tag. */
  async allTagMemberIds(workspaceId: string, tagId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('profile_tags').select('profile_id').where('workspace_id', '=', workspaceId).where('tag_id', '=', tagId).execute();
    return rows.map((r) => r.profile_id);
  }

  // ---------------------------------------------------------------- history and events

  async insertHistory(rows: readonly MembershipHistoryRecord[]): Promise<void> {
    if (this.sql.dialect === 'postgres') {
      // One bound array per column rather than nine parameters a row: a recompute's page of ~900 changes was an
      // 8,000-parameter statement, parsed and bound each time (at 1M profiles 25.8 against 13.6 ms a page, median).
      if (rows.length === 0) return;
      await sql`
        insert into membership_history (id, workspace_id, kind, ref_id, profile_id, action, reason, at, actor)
        select * from unnest(${rows.map((h) => h.id)}::text[], ${rows.map((h) => h.workspaceId)}::text[], ${rows.map((h) => h.kind)}::text[], ${rows.map((h) => h.refId)}::text[],
          ${rows.map((h) => h.profileId)}::text[], ${rows.map((h) => h.action)}::text[], ${rows.map((h) => h.reason)}::text[], ${rows.map((h) => h.at)}::text[], ${rows.map((h) => h.actor ?? null)}::text[])`.execute(this.db);
      return;
    }
    for (const part of chunk(rows, Math.floor(MAX_PARAMS / 9))) {
      await this.db
        .insertInto('membership_history')
        .values(part.map((h) => ({ id: h.id, workspace_id: h.workspaceId, kind: h.kind, ref_id: h.refId, profile_id: h.profileId, action: h.action, reason: h.reason, at: h.at, actor: h.actor ?? null })))
        .execute();
    }
  }

  /** Membership history of one tag or segment (optionally one profile), newest first. */
  async history(workspaceId: string, refId: string, q: { limit: number; cursor?: string | undefined; profileId?: string | undefined }): Promise<Page<MembershipHistoryRecord>> {
    let query = this.db.selectFrom('membership_history').selectAll().where('workspace_id', '=', workspaceId).where('ref_id', '=', refId);
    if (q.profileId) query = query.where('profile_id', '=', q.profileId);
    if (q.cursor) {
      const i = q.cursor.lastIndexOf('|');
      const at = i < 0 ? q.cursor : q.cursor.slice(0, i);
      const id = i < 0 ? '' : q.cursor.slice(i + 1);
      query = query.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map(toHistory);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > q.limit && last ? `${last.at}|${last.id}` : null };
  }

  /**
   * Membership events, through the processor's event writes without a message key (SqlStore.insertGeneratedEvents;
   * on SQLite its prepared statement, one
   * run per row, instead of a 13,000-parameter statement compiled per page; on PostgreSQL one unnest
   * insert). The profile's number comes from its row, which the caller's transaction holds.
   */
  async insertEvents(rows: readonly AudienceEventRecord[]): Promise<void> {
    if (rows.length === 0) return;
    const context = { library: { name: 'siyu-audiences' } };
    const events: EventRow[] = rows.map((e) => ({
      id: e.id,
      workspaceId: e.workspaceId,
      profileId: e.profileId,
      originProfileId: e.profileId,
      messageId: e.messageId,
      type: 'track',
      event: e.event,
      traits: {},
      properties: e.properties,
      context,
      timestamp: e.timestamp,
      receivedAt: e.timestamp,
      ...(e.profileNum !== undefined ? { profileNum: e.profileNum } : {}),
    }));
    await this.sql.insertGeneratedEvents(events);
  }


  // ---------------------------------------------------------------- re-evaluation schedule

  /** Sets each profile's next re-evaluation (null: none). */
  async setDue(workspaceId: string, rows: readonly { profileId: string; dueAt: string | null }[]): Promise<void> {
    const clear = rows.filter((r) => r.dueAt === null).map((r) => r.profileId);
    for (const part of chunk(clear, MAX_PARAMS - 1)) {
      await this.db.deleteFrom('reevaluations').where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part)).execute();
    }
    const set = rows.filter((r): r is { profileId: string; dueAt: string } => r.dueAt !== null);
    if (this.sql.dialect === 'postgres') {
      // Two bound arrays, not three parameters a row (see anyOf).
      if (set.length === 0) return;
      await sql`
        insert into reevaluations (workspace_id, profile_id, due_at)
        select ${workspaceId}, u.profile_id, u.due_at from unnest(${set.map((r) => r.profileId)}::text[], ${set.map((r) => r.dueAt)}::text[]) as u(profile_id, due_at)
        on conflict (workspace_id, profile_id) do update set due_at = excluded.due_at where reevaluations.due_at is distinct from excluded.due_at`.execute(this.db);
      return;
    }
    for (const part of chunk(set, Math.floor(MAX_PARAMS / 3))) {
      await this.db
        .insertInto('reevaluations')
        .values(part.map((r) => ({ workspace_id: workspaceId, profile_id: r.profileId, due_at: r.dueAt })))
        // An unchanged time is not rewritten: most re-evaluations keep their schedule, and every rewrite
        // moves an entry of reevaluations_due_idx.
        .onConflict((oc) =>
          oc
            .columns(['workspace_id', 'profile_id'])
            .doUpdateSet((eb) => ({ due_at: eb.ref('excluded.due_at') }))
            .where(sql`reevaluations.due_at`, 'is distinct from', sql`excluded.due_at`),
        )
        .execute();
    }
  }

  /** Brings each profile's next re-evaluation forward to `dueAt` if that is earlier (never later). */
  async advanceDue(workspaceId: string, rows: readonly { profileId: string; dueAt: string }[]): Promise<void> {
    if (this.sql.dialect === 'postgres') {
      if (rows.length === 0) return;
      await sql`
        insert into reevaluations (workspace_id, profile_id, due_at)
        select ${workspaceId}, u.profile_id, u.due_at from unnest(${rows.map((r) => r.profileId)}::text[], ${rows.map((r) => r.dueAt)}::text[]) as u(profile_id, due_at)
        on conflict (workspace_id, profile_id) do update set due_at = least(reevaluations.due_at, excluded.due_at) where excluded.due_at < reevaluations.due_at`.execute(this.db);
      return;
    }
    const earlier = sql<string>`min(reevaluations.due_at, excluded.due_at)`;
    for (const part of chunk(rows, Math.floor(MAX_PARAMS / 3))) {
      await this.db
        .insertInto('reevaluations')
        .values(part.map((r) => ({ workspace_id: workspaceId, profile_id: r.profileId, due_at: r.dueAt })))
        // Only an earlier time is written: an unchanged row keeps its page and its reevaluations_due_idx entry.
        .onConflict((oc) => oc.columns(['workspace_id', 'profile_id']).doUpdateSet({ due_at: earlier }).where(sql`excluded.due_at`, '<', sql`reevaluations.due_at`))
        .execute();
    }
  }

  /**
   * Claims up to `limit` re-evaluations due by `now` (any workspace), pushing their due time to
   * `leaseUntil` so another worker skips them; the evaluation then sets the real next time. A worker
   * that dies mid-way leaves them due again at `leaseUntil`.
   */
  async claimDue(now: string, leaseUntil: string, limit: number, opts: { workspaceId?: string | undefined } = {}): Promise<DueRow[]> {
    return this.transaction(async (tx) => {
      let q = tx.db.selectFrom('reevaluations').select(['workspace_id', 'profile_id', 'due_at']).where('due_at', '<=', now).orderBy('due_at').limit(limit);
      if (opts.workspaceId !== undefined) q = q.where('workspace_id', '=', opts.workspaceId);
      if (this.sql.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      const byWs = new Map<string, string[]>();
      for (const r of rows) byWs.set(r.workspace_id, [...(byWs.get(r.workspace_id) ?? []), r.profile_id]);
      for (const [ws, ids] of byWs) {
        for (const part of chunk(ids, MAX_PARAMS - 2)) {
          await tx.db.updateTable('reevaluations').set({ due_at: leaseUntil }).where('workspace_id', '=', ws).where('profile_id', 'in', part).execute();
        }
      }
      return rows.map((r) => ({ workspaceId: r.workspace_id, profileId: r.profile_id, dueAt: r.due_at }));
    });
  }

  async dueOf(workspaceId: string, profileIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('reevaluations').select(['profile_id', 'due_at']).where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part)).execute();
      for (const r of rows) out.set(r.profile_id, r.due_at);
    }
    return out;
  }

  // ---------------------------------------------------------------- profiles for evaluation

  /**
   * Gives every profile of the workspace a `num` (its bit in the bitmaps) if some lack one (profiles
   * written before numbers existed). Takes the processor's lock, which also guards new numbers.
   */
  async ensureNums(workspaceId: string, processorLock: number): Promise<number> {
    const missing = await this.db.selectFrom('profiles').select('id').where('workspace_id', '=', workspaceId).where('num', 'is', null).limit(1).executeTakeFirst();
    if (!missing) {
      await this.fillMembershipNums(workspaceId);
      return 0;
    }
    const numbered = await this.transaction(async (tx) => {
      const ids = await tx.db.selectFrom('profiles').select('id').where('workspace_id', '=', workspaceId).where('num', 'is', null).orderBy('id').execute();
      const max = await tx.db.selectFrom('profiles').select((eb) => eb.fn.max('num').as('n')).executeTakeFirst();
      let num = Number(max?.n ?? 0);
      for (const r of ids) await tx.db.updateTable('profiles').set({ num: ++num }).where('id', '=', r.id).execute();
      return ids.length;
    }, processorLock);
    await this.fillMembershipNums(workspaceId);
    return numbered;
  }

  /** Copies profile numbers into memberships and events written before their profile had one (partial indexes make the check a seek). */
  private async fillMembershipNums(workspaceId: string): Promise<void> {
    for (const table of ['profile_tags', 'segment_members', 'events'] as const) {
      const stale = await this.db.selectFrom(table).select('profile_id').where('profile_num', 'is', null).where('workspace_id', '=', workspaceId).limit(1).executeTakeFirst();
      if (!stale) continue;
      await this.db
        .updateTable(table)
        .set({ profile_num: sql<number | null>`(select p.num from profiles p where p.id = ${sql.ref(`${table}.profile_id`)})` })
        .where('profile_num', 'is', null)
        .where('workspace_id', '=', workspaceId)
        .execute();
    }
  }

  /**
   * Numbers of these profiles for membership rows (absent: no number yet, or no such profile), from
   * profiles_id_num_idx alone. Numbers never change once given, so reading them first is safe.
   */
  private async numsOf(profileIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const part of chunk([...new Set(profileIds)], MAX_PARAMS)) {
      const rows = await this.db.selectFrom('profiles').select(['id', 'num']).where('id', 'in', part).execute();
      for (const r of rows) if (r.num != null) out.set(r.id, Number(r.num));
    }
    return out;
  }

  /** Nums and canonical state of these profiles (merged-away ones have `mergedInto`). */
  async profileNums(workspaceId: string, profileIds: readonly string[]): Promise<{ id: string; num: number | null; mergedInto: string | null }[]> {
    const out: { id: string; num: number | null; mergedInto: string | null }[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('profiles').select(['id', 'num', 'merged_into']).where('workspace_id', '=', workspaceId).where(this.anyOf('id', part)).execute();
      out.push(...rows.map((r) => ({ id: r.id, num: r.num == null ? null : Number(r.num), mergedInto: r.merged_into })));
    }
    return out;
  }

  /**
   * Those of these profiles that are still canonical (not merged away, not erased). On PostgreSQL their rows stay
   * locked (`FOR SHARE`) until the transaction ends, so a merge cannot commit between this read and the writes that
   * follow: memberships and `Segment Entered` events written for a profile merged meanwhile were left behind on the
   * merged-away profile (the merge had re-pointed its events already). On SQLite the transaction is the only writer.
   */
  async lockCanonical(workspaceId: string, profileIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunk([...new Set(profileIds)].sort(), MAX_PARAMS - 1)) {
      let q = this.db.selectFrom('profiles').select('id').where('workspace_id', '=', workspaceId).where(this.anyOf('id', part)).where('merged_into', 'is', null);
      if (this.sql.dialect === 'postgres') q = q.orderBy('id').forShare();
      for (const r of await q.execute()) out.add(r.id);
    }
    return out;
  }

  /** Canonical profile ids for these nums, in num order. */
  async idsOfNums(workspaceId: string, nums: readonly number[]): Promise<string[]> {
    const out: { id: string; num: number }[] = [];
    for (const part of chunk(nums, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('profiles').select(['id', 'num']).where(this.noIndex('profiles.workspace_id'), '=', workspaceId).where(this.anyOf('num', part, 'bigint')).where(this.noIndex('profiles.merged_into'), 'is', null).execute();
      out.push(...rows.map((r) => ({ id: r.id, num: Number(r.num) })));
    }
    return out.sort((a, b) => a.num - b.num).map((r) => r.id);
  }

  /**
   * One page of canonical profiles with everything the evaluator reads: traits, computed traits, tag
   * applications, segment memberships, layers and (when `events` is given) the needed events — five
   * queries per page whatever its size, never one per profile.
   */
  async evaluationPage(workspaceId: string, selector: PageSelector, needs: PageNeeds): Promise<EvaluationRow[]> {
    const traits = this.jsonPart('traits', needs.traitKeys);
    const computed = this.jsonPart('computed', needs.computedKeys);
    let q = this.db.selectFrom('profiles').select(['id', 'num', 'updated_at', ...traits.select, ...computed.select]);
    if ('ids' in selector) {
      q = q
        .where(this.noIndex('profiles.workspace_id'), '=', workspaceId)
        .where(this.noIndex('profiles.merged_into'), 'is', null)
        .where(this.anyOf('id', selector.ids.length ? selector.ids : ['']))
        .where('num', 'is not', null)
        .orderBy('num');
    } else {
      q = q.where(this.noIndex('profiles.workspace_id'), '=', workspaceId).where(this.noIndex('profiles.merged_into'), 'is', null);
      if ('afterNum' in selector) q = q.where('num', '>', selector.afterNum).orderBy('num').limit(selector.limit);
      else q = q.where(this.anyOf('num', selector.nums.length ? selector.nums : [-1], 'bigint')).orderBy('num');
    }
    const profiles = await q.execute();
    if (profiles.length === 0) return [];
    const rows = new Map<string, EvaluationRow>();
    for (const p of profiles) {
      const r = p as unknown as Record<string, unknown>;
      rows.set(p.id, { id: p.id, num: Number(p.num), traits: traits.read(r), computed: computed.read(r), tags: [], segments: [], layers: null, events: [], ...(needs.versions ? { version: `${p.updated_at}|` } : {}) });
    }
    const ids = [...rows.keys()];
    const tagIds = needs.tags === undefined ? undefined : [...new Set(needs.tags)];
    const segmentIds = needs.segments === undefined ? undefined : [...new Set(needs.segments)];
    for (let part of chunk(ids, MAX_PARAMS - 1 - Math.max(tagIds?.length ?? 0, segmentIds?.length ?? 0))) {
      if (segmentIds === undefined || segmentIds.length > 0) {
        let sq = this.db.selectFrom('segment_members').select(['profile_id', 'segment_id']).where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part));
        if (segmentIds) sq = sq.where('segment_id', 'in', segmentIds);
        for (const s of await sq.execute()) rows.get(s.profile_id)?.segments.push(s.segment_id);
      }
      if (needs.screen) {
        const screen = needs.screen;
        part = part.filter((id) => (screen(rows.get(id)!) ? true : (rows.delete(id), false)));
        if (part.length === 0) continue;
      }
      if (tagIds === undefined || tagIds.length > 0) {
        let tq = this.db.selectFrom('profile_tags').select(['profile_id', 'tag_id', 'source', 'expires_at']).where('workspace_id', '=', workspaceId).where(this.anyOf('profile_id', part));
        if (tagIds) tq = tq.where('tag_id', 'in', tagIds);
        for (const t of await tq.execute()) rows.get(t.profile_id)?.tags.push({ tagId: t.tag_id, source: t.source, expiresAt: t.expires_at });
      }
      if (needs.layers !== false) {
        // By primary key: sampled statistics (`PRAGMA optimize`) make SQLite prefer (workspace_id, lifecycle) and read the whole workspace.
        const layers = await this.db.selectFrom('profile_layers').selectAll().where(this.noIndex('profile_layers.workspace_id'), '=', workspaceId).where(this.anyOf('profile_id', part)).execute();
        for (const l of layers) {
          const row = rows.get(l.profile_id);
          if (!row) continue;
          row.layers = toLayerCell(l);
          if (needs.versions) row.version += l.updated_at;
        }
      }
      if (needs.events && needs.events.names.length > 0) {
        const accept = needs.eventsFor;
        const want = accept ? part.filter((id) => accept(rows.get(id)!)) : part;
        if (want.length > 0) for (const e of await this.eventsFor(want, needs.events)) rows.get(e.profileId)?.events.push(e.event);
      }
    }
    return [...rows.values()];
  }

  /**
   * The {@link EvaluationRow.version} of each of these canonical profiles as stored now (`layers`: as
   * read with layers). A profile merged away or erased is absent.
   */
  async profileVersions(workspaceId: string, ids: readonly string[], layers: boolean): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunk(ids, MAX_PARAMS - 1)) {
      const rows = await this.db
        .selectFrom('profiles')
        .leftJoin('profile_layers', 'profile_layers.profile_id', 'profiles.id')
        .select(['profiles.id', 'profiles.updated_at', 'profile_layers.updated_at as layers_at'])
        .where(this.noIndex('profiles.workspace_id'), '=', workspaceId)
        .where(this.noIndex('profiles.merged_into'), 'is', null)
        .where(this.anyOf('profiles.id', part))
        .where('profiles.num', 'is not', null)
        .execute();
      for (const r of rows) out.set(r.id, `${r.updated_at}|${layers ? (r.layers_at ?? '') : ''}`);
    }
    return out;
  }

  /**
   * How a page reads a JSON column: whole, or (`keys`) one JSON value per key, extracted by the
   * database (`->` on both; SQL NULL when the key is absent) and decoded here. A key SQLite would read
   * as a path rather than a name (leading `$`, a double quote) falls back to the whole column.
   */
  private jsonPart(column: 'traits' | 'computed', keys: readonly string[] | undefined) {
    const plain = keys !== undefined && keys.every((k) => !k.startsWith('$') && !k.includes('"'));
    if (!plain) {
      return { select: [sql.ref(column).as(column)], read: (r: Record<string, unknown>) => decodeJson<Record<string, unknown>>(r[column]) ?? {} };
    }
    const alias = (i: number) => `${column}_${i}`;
    const select = keys.map((k, i) => (this.sql.dialect === 'postgres' ? sql<string | null>`(${sql.ref(column)} -> ${k}::text)::text` : sql<string | null>`${sql.ref(column)} -> ${k}`).as(alias(i)));
    const read = (r: Record<string, unknown>): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      keys.forEach((k, i) => {
        const v = r[alias(i)];
        if (typeof v === 'string') out[k] = JSON.parse(v);
      });
      return out;
    };
    return { select, read };
  }

  /**
   * Completes rows read earlier without events (a recompute screens profiles outside any transaction,
   * then evaluates those left inside the transaction that writes their memberships): drops the rows of
   * profiles merged away or erased since, and adds the needed events (those `needs.eventsFor` accepts,
   * all when unset) to the others, in place. Returns the rows kept.
   */
  async completeRows(workspaceId: string, rows: readonly EvaluationRow[], needs: PageNeeds): Promise<EvaluationRow[]> {
    // Still canonical, by number: read from profiles_num_canonical_idx alone, in order (by id, each
    // check read its profile's row for the workspace and merged_into columns).
    const live = new Set<number>();
    for (const part of chunk([...new Set(rows.map((r) => r.num))].sort((a, b) => a - b), MAX_PARAMS - 1)) {
      const found = await sql<{ num: number | string }>`select num from profiles ${this.canonicalNums()} where workspace_id = ${workspaceId} and merged_into is null and ${this.anyOf('num', part, 'bigint')}`.execute(this.db);
      for (const r of found.rows) live.add(Number(r.num));
    }
    const kept = rows.filter((r) => live.has(r.num));
    if (!needs.events || needs.events.names.length === 0) return kept;
    const accept = needs.eventsFor;
    const byId = new Map<string, EvaluationRow>();
    for (const r of kept) if (!accept || accept(r)) byId.set(r.id, r);
    for (const part of chunk([...byId.keys()], MAX_PARAMS - 1)) {
      for (const e of await this.eventsFor(part, needs.events)) byId.get(e.profileId)?.events.push(e.event);
    }
    return kept;
  }

  private async eventsFor(profileIds: readonly string[], needs: EventNeeds): Promise<{ profileId: string; event: EvaluationEvent }[]> {
    const withProperties = new Set(needs.properties);
    const bare = needs.names.filter((n) => !withProperties.has(n));
    const full = needs.names.filter((n) => withProperties.has(n));
    const out: { profileId: string; event: EvaluationEvent }[] = [];
    // Appended one by one: a chunk's events can be hundreds of thousands, past what a spread's arguments may
    // hold on the main thread's stack (`siyu import` beside a server hit "Maximum call stack size exceeded").
    if (bare.length) for (const e of await this.eventsOfNames(profileIds, bare, needs.since, false)) out.push(e);
    if (full.length) for (const e of await this.eventsOfNames(profileIds, full, needs.since, true)) out.push(e);
    return out;
  }

  /**
   * By events_profile_idx alone when `properties` is false. No workspace condition: profile ids are
   * unique across workspaces and callers pass ids read from one workspace's profiles, so these events
   * are that workspace's; a workspace_id condition would send every event back to its row for that column.
   */
  private async eventsOfNames(profileIds: readonly string[], names: readonly string[], since: string | null, properties: boolean): Promise<{ profileId: string; event: EvaluationEvent }[]> {
    const types = Object.entries(PAGE_EVENT_NAMES).filter(([, name]) => names.includes(name)).map(([type]) => type);
    let q = this.db
      .selectFrom('events')
      .select(['profile_id', 'type', 'event', 'timestamp'])
      .where(this.anyOf('profile_id', profileIds))
      .where((eb) => eb.or([eb.and([eb('type', '=', 'track'), eb('event', 'in', names)]), ...(types.length ? [eb('type', 'in', types)] : [])]));
    if (since !== null) q = q.where('timestamp', '>=', since);
    if (properties) {
      const rows = await q.select('properties').execute();
      return rows.map((r) => ({ profileId: r.profile_id, event: toEvaluationEvent(r, decodeJson(r.properties) ?? {}) }));
    }
    // Everything selected is in events_profile_idx (profile_id, timestamp, type, event): a covering read.
    const rows = await q.execute();
    return rows.map((r) => ({ profileId: r.profile_id, event: toEvaluationEvent(r, {}) }));
  }

  /** Layer cells of these profiles (absent: no row yet). */
  async layersOf(workspaceId: string, profileIds: readonly string[]): Promise<Map<string, LayerCell>> {
    const out = new Map<string, LayerCell>();
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      const rows = await this.db.selectFrom('profile_layers').selectAll().where(this.noIndex('profile_layers.workspace_id'), '=', workspaceId).where(this.anyOf('profile_id', part)).execute();
      for (const r of rows) out.set(r.profile_id, toLayerCell(r));
    }
    return out;
  }

  // ---------------------------------------------------------------- bitmap index loading and candidates

  /** Canonical profile nums after `afterNum`, ascending (keyset pages over profiles_num_canonical_idx). */
  async profileNumPage(workspaceId: string, afterNum: number, limit: number): Promise<number[]> {
    const r = await sql<{ num: number | string }>`select num from profiles ${this.canonicalNums()} where workspace_id = ${workspaceId} and merged_into is null and num > ${afterNum} order by num limit ${limit}`.execute(this.db);
    return r.rows.map((row) => Number(row.num));
  }

  /**
   * SQLite walks the canonical profiles in number order only when told to: without it, it sorts the
   * whole workspace from profiles_ws_idx or profiles_merged_idx. PostgreSQL plans from statistics.
   */
  private canonicalNums() {
    return this.sql.dialect === 'sqlite' ? sql`indexed by profiles_num_canonical_idx` : sql``;
  }

  /**
   * Profile nums of one tag's (or segment's) current memberships above `afterNum` (the lowest `limit`
   * of them, in no particular order; `last` is the highest, for the next page): one range of the
   * (tag_id, profile_num) index, aggregated to one text value in SQL so that a page of 100,000 costs
   * one row, not 100,000. Includes rows of merged-away profiles (none normally
   * exist); callers intersect with the canonical profiles.
   */
  async memberNumPage(workspaceId: string, kind: 'tag' | 'segment', refId: string, afterNum: number, limit: number): Promise<{ nums: Uint32Array; last: number | null }> {
    // The owner check keeps the read scoped to the workspace at the cost of one primary-key seek.
    const page =
      kind === 'tag'
        ? sql`select profile_num as n from profile_tags where tag_id = (select id from tags where workspace_id = ${workspaceId} and id = ${refId}) and profile_num > ${afterNum} order by profile_num limit ${limit}`
        : sql`select profile_num as n from segment_members where segment_id = (select id from segments where workspace_id = ${workspaceId} and id = ${refId}) and profile_num > ${afterNum} order by profile_num limit ${limit}`;
    const r = await sql<{ nums: string | null; last: number | string | null }>`select ${this.numAgg(sql.ref('n'))} as nums, max(n) as last from (${page}) page`.execute(this.db);
    const last = r.rows[0]?.last;
    return { nums: parseNumList(r.rows[0]?.nums ?? null), last: last == null ? null : Number(last) };
  }

  /**
   * One keyset page (by profile id, `limit` rows) of the workspace's layer rows, grouped by cell: each
   * distinct cell with the nums of its profiles. `last` is the page's last profile id (null: no rows);
   * `rows` how many layer rows the page held. Nums of merged-away profiles are included.
   */
  async layerCellPage(workspaceId: string, afterProfileId: string, limit: number): Promise<{ cells: { cell: LayerCell; nums: Uint32Array }[]; last: string | null; rows: number }> {
    const page = sql`select profile_id, lifecycle, rfm_r, rfm_f, rfm_m, rfm_segment from profile_layers where ${this.noIndex('profile_layers.workspace_id')} = ${workspaceId} and profile_id > ${afterProfileId} order by profile_id limit ${limit}`;
    const r = await sql<{ lifecycle: string; rfm_r: number | null; rfm_f: number | null; rfm_m: number | null; rfm_segment: string | null; nums: string | null; last: string; c: number | string }>`
      select pl.lifecycle, pl.rfm_r, pl.rfm_f, pl.rfm_m, pl.rfm_segment, ${this.numAgg(sql.ref('p.num'))} as nums, max(pl.profile_id) as last, count(*) as c
      from (${page}) pl left join profiles p on p.id = pl.profile_id
      group by pl.lifecycle, pl.rfm_r, pl.rfm_f, pl.rfm_m, pl.rfm_segment`.execute(this.db);
    let last: string | null = null;
    let rows = 0;
    const cells: { cell: LayerCell; nums: Uint32Array }[] = [];
    for (const g of r.rows) {
      rows += Number(g.c);
      if (last === null || g.last > last) last = g.last;
      cells.push({ cell: toLayerCell(g), nums: parseNumList(g.nums) });
    }
    return { cells, last, rows };
  }

  /**
   * Profile numbers of one lifecycle stage, as one aggregate over `profile_layers_ws_idx (workspace_id, lifecycle)`:
   * for a plan that names stages and no RFM, read instead of every profile's layer row ({@link layerCellPage}).
   * Profiles merged away or erased since may be in it: callers intersect with the canonical profiles.
   */
  async lifecycleStageNums(workspaceId: string, stage: string): Promise<Uint32Array> {
    const r = await sql<{ nums: string | null }>`
      select ${this.numAgg(sql.ref('p.num'))} as nums
      from profile_layers pl join profiles p on p.id = pl.profile_id
      where pl.workspace_id = ${workspaceId} and pl.lifecycle = ${stage} and p.num is not null`.execute(this.db);
    return parseNumList(r.rows[0]?.nums ?? null);
  }

  /** `nums` joined with commas as one text value (null for no rows), in no particular order. */
  private numAgg(column: ReturnType<typeof sql.ref>) {
    return this.sql.dialect === 'postgres' ? sql<string | null>`string_agg(${column}::text, ',')` : sql<string | null>`group_concat(${column})`;
  }

  /**
   * Profile nums with a track event named `event` in `[since, until]` (ISO text bounds, null: open), in
   * pages of `limit` events in index order (events_name_num_idx holds every column read here, the
   * profile's number included). Pass the returned `next` to continue; null means done. A profile may
   * appear more than once (callers add to a bitmap); events of a profile not numbered yet are left out
   * (`ensureNums` numbers them before the index is loaded or a definition recomputed).
   */
  /**
   * Profile numbers of the track events `event` with `since ≤ timestamp < before` (text order; null:
   * unbounded), one per event, as one aggregate over a range of events_name_num_idx. Callers keep a
   * range to tens of thousands of events (see the candidate planner's slices). Events whose profile
   * has no number yet are left out (`ensureNums` numbers them).
   */
  async eventProfileNums(workspaceId: string, event: string, range: { since: string | null; before: string | null }): Promise<Uint32Array> {
    const conds = [sql`workspace_id = ${workspaceId}`, sql`event = ${event}`, sql`type = 'track'`];
    if (range.since !== null) conds.push(sql`timestamp >= ${range.since}`);
    if (range.before !== null) conds.push(sql`timestamp < ${range.before}`);
    // A plain range scan with an aggregate: a keyset page (ORDER BY … LIMIT in a subquery, a row-value
    // cursor, an ordered group_concat) cost ~10× as much per event on SQLite (measured at 1M profiles:
    // 361k events in 400 ms as 20k-event pages, 36 ms as day ranges).
    const agg = this.sql.dialect === 'postgres' ? sql<string | null>`string_agg(profile_num::text, ',')` : sql<string | null>`group_concat(profile_num)`;
    const r = await sql<{ nums: string | null }>`select ${agg} as nums from events where ${sql.join(conds, sql` and `)}`.execute(this.db);
    return parseNumList(r.rows[0]?.nums ?? null);
  }

  /** The first and last timestamps (text order) of the track events `event`, or null when there are none. */
  async eventTimeBounds(workspaceId: string, event: string): Promise<{ first: string; last: string } | null> {
    const r = await sql<{ first: string | null; last: string | null }>`
      select (select min(timestamp) from events where workspace_id = ${workspaceId} and event = ${event} and type = 'track') as first,
             (select max(timestamp) from events where workspace_id = ${workspaceId} and event = ${event} and type = 'track') as last`.execute(this.db);
    const row = r.rows[0];
    return row?.first && row.last ? { first: row.first, last: row.last } : null;
  }

  // ---------------------------------------------------------------- catalog

  /**
   * Traits of the newest canonical profiles (highest numbers, from profiles_num_canonical_idx), to
   * learn trait names and types. Newest rather than most recently updated: `updated_at` has no index,
   * and sorting a million profiles by it took ~0.75 s on SQLite.
   */
  async sampleTraits(workspaceId: string, limit: number): Promise<Record<string, unknown>[]> {
    const r = await sql<{ traits: unknown }>`select traits from profiles ${this.canonicalNums()} where workspace_id = ${workspaceId} and merged_into is null order by num desc limit ${limit}`.execute(this.db);
    return r.rows.map((row) => decodeJson<Record<string, unknown>>(row.traits) ?? {});
  }

  /** Properties of the latest `limit` track events of this name (by events_name_num_idx), to learn their types. */
  async sampleEventProperties(workspaceId: string, event: string, limit: number): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('events')
      .select('properties')
      .where('workspace_id', '=', workspaceId)
      .where('event', '=', event)
      .where('type', '=', 'track')
      .orderBy('timestamp', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => decodeJson<Record<string, unknown>>(r.properties) ?? {});
  }

  /**
   * Event names seen in the workspace (page and screen calls as "Page Viewed" / "Screen Viewed"): a
   * skip scan over events_name_num_idx — one seek per distinct `event` value (track names and page
   * names) plus a seek per (value, type) checked — instead of reading every event.
   */
  async eventNames(workspaceId: string): Promise<string[]> {
    const has = (event: ReturnType<typeof sql>, type: string) =>
      // Ordered by the index's next column: with a bare LIMIT 1, PostgreSQL (estimating from an average
      // name) may scan the table expecting an early match, and a page name has no track rows at all —
      // 11 s at 20M events. The order makes the index the only cheap plan; it is one seek either way.
      sql<number>`coalesce((select 1 from events x where x.workspace_id = ${workspaceId} and ${event} and x.type = ${type} order by x.timestamp limit 1), 0)`;
    const r = await sql<{ event: string; track: number; page: number; screen: number }>`
      with recursive names(event) as (
        select (select e.event from events e where e.workspace_id = ${workspaceId} and e.event >= '' order by e.event limit 1)
        union all
        select (select e.event from events e where e.workspace_id = ${workspaceId} and e.event > names.event order by e.event limit 1) from names where names.event is not null
      )
      select n.event, ${has(sql`x.event = n.event`, 'track')} as track, ${has(sql`x.event = n.event`, 'page')} as page, ${has(sql`x.event = n.event`, 'screen')} as screen
      from names n where n.event is not null`.execute(this.db);
    const unnamed = await sql<{ page: number; screen: number }>`select ${has(sql`x.event is null`, 'page')} as page, ${has(sql`x.event is null`, 'screen')} as screen`.execute(this.db);
    const names = new Set<string>();
    let page = Number(unnamed.rows[0]?.page ?? 0) === 1;
    let screen = Number(unnamed.rows[0]?.screen ?? 0) === 1;
    for (const row of r.rows) {
      if (Number(row.track) === 1) names.add(row.event);
      page ||= Number(row.page) === 1;
      screen ||= Number(row.screen) === 1;
    }
    if (page) names.add(PAGE_EVENT_NAMES.page!);
    if (screen) names.add(PAGE_EVENT_NAMES.screen!);
    return [...names].sort();
  }

  // ---------------------------------------------------------------- merges

  /**
   * Moves a merged-away profile's tag applications to the survivor (keeping the survivor's own where
   * both have the tag) and drops the loser's segment memberships and schedule. Returns what the
   * loser held, for history and the bitmaps.
   */
  async moveMergedMemberships(workspaceId: string, loserId: string, winnerId: string): Promise<{ movedTags: ProfileTagRecord[]; droppedTags: string[]; droppedSegments: string[] }> {
    return this.membershipWrite(async (s) => {
      const loserTags = await s.tagMemberships(workspaceId, [loserId]);
      const winnerTags = new Set((await s.tagMemberships(workspaceId, [winnerId])).map((t) => t.tagId));
      // Rule tags are re-derived for the survivor; manual and imported ones travel with the person.
      const moved = loserTags.filter((t) => t.source !== 'rule' && !winnerTags.has(t.tagId));
      await s.insertProfileTags(workspaceId, moved.map((t) => ({ ...t, profileId: winnerId })));
      await s.db.deleteFrom('profile_tags').where('workspace_id', '=', workspaceId).where('profile_id', '=', loserId).execute();
      const segments = await s.segmentMemberships(workspaceId, [loserId]);
      await s.db.deleteFrom('segment_members').where('workspace_id', '=', workspaceId).where('profile_id', '=', loserId).execute();
      await s.sql.noteMembershipWrite();
      await s.db.deleteFrom('reevaluations').where('workspace_id', '=', workspaceId).where('profile_id', '=', loserId).execute();
      return { movedTags: moved.map((t) => ({ ...t, profileId: winnerId })), droppedTags: loserTags.map((t) => t.tagId), droppedSegments: segments.map((s) => s.segmentId) };
    });
  }
}

/** Parses "3,1,2" (a comma-joined list of non-negative integers) into a typed array. */
function toEvaluationEvent(r: { type: string; event: string | null; timestamp: string }, properties: Record<string, unknown>): EvaluationEvent {
  return { event: r.type === 'track' ? (r.event ?? '') : (PAGE_EVENT_NAMES[r.type] ?? r.type), type: r.type, timestamp: r.timestamp, properties };
}

export function parseNumList(text: string | null): Uint32Array {
  if (!text) return new Uint32Array(0);
  let n = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) n++;
  const out = new Uint32Array(n);
  let k = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out[k++] = v;
      v = 0;
    } else v = v * 10 + (c - 48);
  }
  out[k] = v;
  return out;
}

function toTagGroup(r: { id: string; workspace_id: string; name: string; description: string | null; created_at: string }): TagGroupRecord {
  return { id: r.id, workspaceId: r.workspace_id, name: r.name, description: r.description, createdAt: r.created_at };
}

function toTag(r: {
  id: string;
  workspace_id: string;
  group_id: string | null;
  name: string;
  kind: string;
  definition: unknown;
  description: string | null;
  default_ttl_days: number | null;
  created_at: string;
  updated_at: string;
}): TagRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    groupId: r.group_id,
    name: r.name,
    kind: r.kind as TagKind,
    definition: r.definition == null ? null : decodeJson(r.definition),
    description: r.description,
    defaultTtlDays: r.default_ttl_days == null ? null : Number(r.default_ttl_days),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function tagValues(t: TagRecord) {
  return {
    id: t.id,
    workspace_id: t.workspaceId,
    group_id: t.groupId,
    name: t.name,
    kind: t.kind,
    definition: t.definition == null ? null : encodeJson(t.definition),
    description: t.description,
    default_ttl_days: t.defaultTtlDays,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

function toSegment(r: { id: string; workspace_id: string; name: string; description: string | null; definition: unknown; version: number; created_at: string; updated_at: string; computed_at: string | null }): SegmentRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    description: r.description,
    definition: decodeJson(r.definition),
    version: Number(r.version),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    computedAt: r.computed_at,
  };
}

function segmentValues(s: SegmentRecord) {
  return {
    id: s.id,
    workspace_id: s.workspaceId,
    name: s.name,
    description: s.description,
    definition: encodeJson(s.definition),
    version: s.version,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    computed_at: s.computedAt,
  };
}

function toProfileTag(r: { tag_id: string; profile_id: string; source: string; actor: string; applied_at: string; expires_at: string | null }): ProfileTagRecord {
  return { tagId: r.tag_id, profileId: r.profile_id, source: r.source, actor: r.actor, appliedAt: r.applied_at, expiresAt: r.expires_at };
}

function toHistory(r: { id: string; workspace_id: string; kind: string; ref_id: string; profile_id: string; action: string; reason: string | null; at: string; actor: string | null }): MembershipHistoryRecord {
  return { id: r.id, workspaceId: r.workspace_id, kind: r.kind as 'segment' | 'tag', refId: r.ref_id, profileId: r.profile_id, action: r.action as 'entered' | 'exited', reason: r.reason, at: r.at, actor: r.actor };
}

function toLayerCell(r: { lifecycle: string; rfm_r: number | null; rfm_f: number | null; rfm_m: number | null; rfm_segment: string | null }): LayerCell {
  const rfm = r.rfm_r != null && r.rfm_f != null && r.rfm_m != null && r.rfm_segment != null ? { r: Number(r.rfm_r), f: Number(r.rfm_f), m: Number(r.rfm_m), segment: r.rfm_segment } : null;
  return { lifecycle: r.lifecycle || null, rfm };
}
