import { sql, type RawBuilder } from 'kysely';
import { anyOf, chunk, decodeJson, encodeJson, jsonText, MAX_PARAMS, type Dialect } from './dialect.ts';
import type { Database } from './schema.ts';
import type { DerivationRange, SqlStore } from './store.ts';

/** What layering reads of a profile: its order computed traits (money in fen). */
export interface OrderStats {
  profileId: string;
  orderCount: number;
  totalSpent: number;
  firstOrderAt: string | null;
  lastOrderAt: string | null;
  firstSeen: string | null;
}

/** One row of `profile_layers`: a profile's lifecycle stage and RFM cell (null while not scored). */
export interface LayerRow {
  profileId: string;
  workspaceId: string;
  lifecycle: string;
  rfmR: number | null;
  rfmF: number | null;
  rfmM: number | null;
  rfmSegment: string | null;
  /** When the lifecycle stage changes with no new order (null: never). */
  lifecycleChangesAt: string | null;
  updatedAt: string;
}

/** Customers and revenue (fen) of one group of layer rows. */
export interface LayerGroupTotal<K> {
  key: K;
  customers: number;
  revenue: number;
}

/** A numeric field of a JSON column: `numeric` on PostgreSQL, the native JSON number on SQLite. */
function jsonNumber(dialect: Dialect, column: string, key: string): RawBuilder<number | string | null> {
  if (dialect === 'postgres') return sql<string | null>`cast(${sql.ref(column)}->>${key} as numeric)`;
  return sql<number | null>`json_extract(${sql.ref(column)}, ${'$."' + key.replace(/"/g, '""') + '"'})`;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Storage of layering (RFM and lifecycle): `profile_layers` rows, per-workspace `layer_settings`, and the
 * order statistics of canonical profiles it scores. Written once with Kysely for both dialects; a
 * `LayerStore` made by `transaction()` runs its queries in that transaction.
 */
export class LayerStore {
  constructor(private readonly store: SqlStore) {}

  private get db() {
    return this.store.db;
  }

  private get dialect(): Dialect {
    return this.store.dialect;
  }

  /** Runs `fn` in one transaction; on PostgreSQL `lockKey` takes a transaction-scoped advisory lock first. */
  transaction<T>(fn: (tx: LayerStore) => Promise<T>, lockKey?: number): Promise<T> {
    return this.store.transaction((tx) => fn(new LayerStore(tx)), lockKey);
  }

  /** See SqlStore.logDerivations (in this store's transaction). */
  logDerivations(consumer: 'audiences' | 'layers', profileIds: readonly string[]): Promise<DerivationRange | null> {
    return this.store.logDerivations(consumer, profileIds);
  }

  // ---------------------------------------------------------------- settings

  /** The workspace's stored settings document, or undefined when never written. */
  async getSettings(workspaceId: string): Promise<{ settings: unknown; updatedAt: string } | undefined> {
    const row = await this.db.selectFrom('layer_settings').select(['settings', 'updated_at']).where('workspace_id', '=', workspaceId).executeTakeFirst();
    return row ? { settings: decodeJson<unknown>(row.settings), updatedAt: row.updated_at } : undefined;
  }

  async putSettings(workspaceId: string, settings: unknown, at: string): Promise<void> {
    const value = encodeJson(settings);
    await this.db
      .insertInto('layer_settings')
      .values({ workspace_id: workspaceId, settings: value, updated_at: at })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ settings: value, updated_at: at }))
      .execute();
  }

  /** Every workspace with its stored settings document (undefined when never written). */
  async allSettings(): Promise<Array<{ workspaceId: string; settings: unknown }>> {
    const rows = await this.db
      .selectFrom('workspaces')
      .leftJoin('layer_settings', 'layer_settings.workspace_id', 'workspaces.id')
      .select(['workspaces.id', 'layer_settings.settings'])
      .orderBy('workspaces.id')
      .execute();
    return rows.map((r) => ({ workspaceId: r.id, settings: r.settings === null || r.settings === undefined ? undefined : decodeJson<unknown>(r.settings) }));
  }

  // ---------------------------------------------------------------- order statistics

  private statsQuery(workspaceId: string) {
    const c = 'profiles.computed';
    return this.db
      .selectFrom('profiles')
      .select([
        'profiles.id',
        'profiles.first_seen',
        jsonNumber(this.dialect, c, 'order_count').as('order_count'),
        jsonNumber(this.dialect, c, 'total_spent').as('total_spent'),
        jsonText(this.dialect, c, 'first_order_at').as('first_order_at'),
        jsonText(this.dialect, c, 'last_order_at').as('last_order_at'),
      ])
      .where('profiles.workspace_id', '=', workspaceId)
      .where('profiles.merged_into', 'is', null);
  }

  /**
   * One page of the canonical profiles with at least one order, by id: pass the last id of the previous
   * page as `afterId`. An empty page means the end.
   */
  async purchasersPage(workspaceId: string, opts: { afterId?: string | undefined; limit: number }): Promise<OrderStats[]> {
    let q = this.statsQuery(workspaceId).where(jsonNumber(this.dialect, 'profiles.computed', 'order_count'), '>=', 1);
    if (opts.afterId !== undefined) q = q.where('profiles.id', '>', opts.afterId);
    const rows = await q.orderBy('profiles.id').limit(opts.limit).execute();
    return rows.map(toStats);
  }

  /** Order statistics of those of `profileIds` that are canonical profiles of the workspace (merged-away and erased ones are absent). */
  async statsOf(workspaceId: string, profileIds: readonly string[]): Promise<OrderStats[]> {
    if (profileIds.length === 0) return [];
    if (this.dialect === 'sqlite') {
      // The ids as one bound JSON array: the same short statement for any number of ids, where an `in (?, ?, …)`
      // list of a batch's ~1,000 ids was built by Kysely and compiled by SQLite on every batch. Measured in the
      // ingest bench's processor-thread profile: statsOf 4.2 → 3.8 %, layersOf 1.2 → 0.8 % (the rest is SQLite's
      // searches). Still searched by id with sampled statistics (migrations.test.ts, 0014).
      const rows = await this.statsQuery(workspaceId).where('profiles.id', 'in', sql<string>`(select value from json_each(${JSON.stringify(profileIds)}))`).execute();
      return rows.map(toStats);
    }
    const out: OrderStats[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      if (part.length === 0) continue;
      const rows = await this.statsQuery(workspaceId).where(anyOf(this.dialect, 'profiles.id', part)).execute();
      out.push(...rows.map(toStats));
    }
    return out;
  }

  // ---------------------------------------------------------------- layer rows

  /**
   * `profile_layers.workspace_id` hidden from SQLite's planner (`+col`): reads by profile id must use the
   * primary key, but the sampled statistics `PRAGMA optimize` writes make (workspace_id, lifecycle) look
   * selective and SQLite then reads the whole workspace for each batch. PostgreSQL gets the column.
   */
  private layersWs() {
    return this.dialect === 'sqlite' ? sql<string>`+${sql.ref('profile_layers.workspace_id')}` : sql<string>`${sql.ref('profile_layers.workspace_id')}`;
  }

  async layersOf(workspaceId: string, profileIds: readonly string[]): Promise<LayerRow[]> {
    if (profileIds.length === 0) return [];
    if (this.dialect === 'sqlite') {
      // As statsOf: one JSON array for the ids.
      const rows = await this.db.selectFrom('profile_layers').selectAll().where(this.layersWs(), '=', workspaceId).where('profile_id', 'in', sql<string>`(select value from json_each(${JSON.stringify(profileIds)}))`).execute();
      return rows.map(toLayer);
    }
    const out: LayerRow[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      if (part.length === 0) continue;
      const rows = await this.db.selectFrom('profile_layers').selectAll().where(this.layersWs(), '=', workspaceId).where(anyOf(this.dialect, 'profile_id', part)).execute();
      out.push(...rows.map(toLayer));
    }
    return out;
  }

  /** Like {@link layersOf}, but only rows whose profile is still canonical (not merged away, not erased). */
  async canonicalLayersOf(workspaceId: string, profileIds: readonly string[]): Promise<LayerRow[]> {
    const out: LayerRow[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      if (part.length === 0) continue;
      const rows = await this.db
        .selectFrom('profile_layers')
        .innerJoin('profiles', 'profiles.id', 'profile_layers.profile_id')
        .selectAll('profile_layers')
        .where(this.layersWs(), '=', workspaceId)
        .where(anyOf(this.dialect, 'profile_layers.profile_id', part))
        .where('profiles.merged_into', 'is', null)
        .execute();
      out.push(...rows.map(toLayer));
    }
    return out;
  }

  async upsertLayers(rows: readonly LayerRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.dialect === 'postgres') {
      // One bound array per column (as the processor's writes, postgres-bulk.ts): a 2,000-row multi-row VALUES
      // is 18,000 parameters that PostgreSQL parses and plans on every batch.
      const col = <T>(f: (r: LayerRow) => T): T[] => rows.map(f);
      await sql`
        insert into profile_layers (profile_id, workspace_id, lifecycle, rfm_r, rfm_f, rfm_m, rfm_segment, lifecycle_changes_at, updated_at)
        select * from unnest(${col((r) => r.profileId)}::text[], ${col((r) => r.workspaceId)}::text[], ${col((r) => r.lifecycle)}::text[], ${col((r) => r.rfmR)}::integer[],
          ${col((r) => r.rfmF)}::integer[], ${col((r) => r.rfmM)}::integer[], ${col((r) => r.rfmSegment)}::text[], ${col((r) => r.lifecycleChangesAt)}::text[], ${col((r) => r.updatedAt)}::text[])
        on conflict (profile_id) do update set workspace_id = excluded.workspace_id, lifecycle = excluded.lifecycle, rfm_r = excluded.rfm_r,
          rfm_f = excluded.rfm_f, rfm_m = excluded.rfm_m, rfm_segment = excluded.rfm_segment,
          lifecycle_changes_at = excluded.lifecycle_changes_at, updated_at = excluded.updated_at`.execute(this.db);
      return;
    }
    // SQLite: the rows as one bound JSON array too. A multi-row VALUES of 2,000 rows took Kysely as long
    // to build, and SQLite to parse, as the inserts themselves. (`where true`: SQLite's grammar needs it
    // between a SELECT and ON CONFLICT.)
    const json = JSON.stringify(rows.map((r) => [r.profileId, r.workspaceId, r.lifecycle, r.rfmR, r.rfmF, r.rfmM, r.rfmSegment, r.lifecycleChangesAt, r.updatedAt]));
    await sql`
      insert into profile_layers (profile_id, workspace_id, lifecycle, rfm_r, rfm_f, rfm_m, rfm_segment, lifecycle_changes_at, updated_at)
      select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8 from json_each(${json}) where true
      on conflict (profile_id) do update set workspace_id = excluded.workspace_id, lifecycle = excluded.lifecycle, rfm_r = excluded.rfm_r,
        rfm_f = excluded.rfm_f, rfm_m = excluded.rfm_m, rfm_segment = excluded.rfm_segment,
        lifecycle_changes_at = excluded.lifecycle_changes_at, updated_at = excluded.updated_at`.execute(this.db);
  }

  /** Deletes the layer rows of `profileIds`; returns the ids that had one. */
  async deleteLayers(workspaceId: string, profileIds: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const part of chunk(profileIds, MAX_PARAMS - 1)) {
      if (part.length === 0) continue;
      const rows = await this.db.deleteFrom('profile_layers').where(this.layersWs(), '=', workspaceId).where('profile_id', 'in', part).returning('profile_id').execute();
      out.push(...rows.map((r) => r.profile_id));
    }
    return out;
  }

  /**
   * Deletes layer rows whose profile is gone (erased) or merged away; returns their ids. A full
   * recompute calls it to catch changes that did not pass through the processor.
   */
  async deleteOrphanLayers(workspaceId: string): Promise<string[]> {
    const rows = await this.db
      .deleteFrom('profile_layers')
      .where('profile_layers.workspace_id', '=', workspaceId)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('profiles')
              .select('profiles.id')
              .whereRef('profiles.id', '=', 'profile_layers.profile_id')
              .where('profiles.merged_into', 'is', null),
          ),
        ),
      )
      .returning('profile_layers.profile_id')
      .execute();
    return rows.map((r) => r.profile_id);
  }

  /** Profiles holding an RFM score although they no longer have an order (e.g. after an unmerge). */
  async scoredWithoutOrders(workspaceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('profile_layers')
      .innerJoin('profiles', 'profiles.id', 'profile_layers.profile_id')
      .select('profile_layers.profile_id')
      .where('profile_layers.workspace_id', '=', workspaceId)
      .where('profile_layers.rfm_r', 'is not', null)
      .where((eb) => eb.or([eb(jsonNumber(this.dialect, 'profiles.computed', 'order_count'), '<', 1), eb(jsonNumber(this.dialect, 'profiles.computed', 'order_count'), 'is', null)]))
      .execute();
    return rows.map((r) => r.profile_id);
  }

  /** Rows of every workspace whose lifecycle stage is due to change at or before `now`, earliest first. */
  async dueLayers(now: string, limit: number): Promise<Array<{ workspaceId: string; profileId: string }>> {
    const rows = await this.db
      .selectFrom('profile_layers')
      .select(['workspace_id', 'profile_id'])
      .where('lifecycle_changes_at', 'is not', null)
      .where('lifecycle_changes_at', '<=', now)
      .orderBy('lifecycle_changes_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ workspaceId: r.workspace_id, profileId: r.profile_id }));
  }

  // ---------------------------------------------------------------- aggregates (canonical profiles only)

  private layeredProfiles(workspaceId: string) {
    return this.db
      .selectFrom('profile_layers')
      .innerJoin('profiles', 'profiles.id', 'profile_layers.profile_id')
      .where('profile_layers.workspace_id', '=', workspaceId)
      .where('profiles.merged_into', 'is', null);
  }

  /** Customers and revenue (their `total_spent`, fen) per R × F cell of the scored profiles. */
  async rfmCellTotals(workspaceId: string): Promise<Array<LayerGroupTotal<{ r: number; f: number }>>> {
    const revenue = jsonNumber(this.dialect, 'profiles.computed', 'total_spent');
    const rows = await this.layeredProfiles(workspaceId)
      .select(['profile_layers.rfm_r', 'profile_layers.rfm_f', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum(revenue).as('revenue')])
      .where('profile_layers.rfm_r', 'is not', null)
      .groupBy(['profile_layers.rfm_r', 'profile_layers.rfm_f'])
      .execute();
    return rows.map((r) => ({ key: { r: num(r.rfm_r), f: num(r.rfm_f) }, customers: num(r.n), revenue: num(r.revenue) }));
  }

  /** Customers and revenue (fen) per named RFM segment of the scored profiles. */
  async rfmSegmentTotals(workspaceId: string): Promise<Array<LayerGroupTotal<string>>> {
    const revenue = jsonNumber(this.dialect, 'profiles.computed', 'total_spent');
    const rows = await this.layeredProfiles(workspaceId)
      .select(['profile_layers.rfm_segment', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum(revenue).as('revenue')])
      .where('profile_layers.rfm_segment', 'is not', null)
      .groupBy('profile_layers.rfm_segment')
      .execute();
    return rows.map((r) => ({ key: r.rfm_segment ?? '', customers: num(r.n), revenue: num(r.revenue) }));
  }

  /** Profiles per lifecycle stage. */
  async lifecycleCounts(workspaceId: string): Promise<Array<{ stage: string; customers: number }>> {
    const rows = await this.layeredProfiles(workspaceId)
      .select(['profile_layers.lifecycle', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('profile_layers.lifecycle')
      .execute();
    return rows.map((r) => ({ stage: r.lifecycle, customers: num(r.n) }));
  }
}

function toStats(r: { id: string; first_seen: string | null; order_count: unknown; total_spent: unknown; first_order_at: string | null; last_order_at: string | null }): OrderStats {
  return {
    profileId: r.id,
    orderCount: num(r.order_count),
    totalSpent: num(r.total_spent),
    firstOrderAt: r.first_order_at,
    lastOrderAt: r.last_order_at,
    firstSeen: r.first_seen,
  };
}

function toLayer(r: Database['profile_layers']): LayerRow {
  return {
    profileId: r.profile_id,
    workspaceId: r.workspace_id,
    lifecycle: r.lifecycle,
    rfmR: int(r.rfm_r),
    rfmF: int(r.rfm_f),
    rfmM: int(r.rfm_m),
    rfmSegment: r.rfm_segment,
    lifecycleChangesAt: r.lifecycle_changes_at,
    updatedAt: r.updated_at,
  };
}
