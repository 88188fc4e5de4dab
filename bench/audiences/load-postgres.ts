import pg from 'pg';
import { computeLayers, ProfileGenerator, profileId, tagMembers, userIdOf } from './generate.ts';
import { BULK_TABLES, EVENT_CONTEXT, seconds, TAG_ACTOR, TAG_SOURCE, tagAppliedAt, type LoadContext, type LoadResult } from './load-types.ts';

/**
 * `COPY … FROM STDIN` (text format) through node-postgres' submittable interface — the same
 * protocol messages pg-copy-streams sends, without the dependency. One call sends one buffer.
 */
class CopyFrom {
  callback: ((err: Error | null) => void) | undefined;
  private finished = false;
  constructor(
    private readonly sql: string,
    private readonly data: Buffer,
  ) {}
  submit(connection: { query(text: string): void }): void {
    connection.query(this.sql);
  }
  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    const CHUNK = 1 << 20;
    for (let i = 0; i < this.data.length; i += CHUNK) connection.sendCopyFromChunk(this.data.subarray(i, i + CHUNK));
    connection.endCopyFrom();
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handleReadyForQuery(): void {
    this.finish(null);
  }
  handleError(err: Error): void {
    this.finish(err);
  }
  private finish(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.callback?.(err);
  }
}

function copy(client: pg.PoolClient, sql: string, rows: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new CopyFrom(sql, Buffer.from(rows));
    c.callback = (err) => (err ? reject(err) : resolve());
    (client as unknown as { query(q: CopyFrom): void }).query(c);
  });
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;
/** A COPY text-format field (`\N` for null). */
function f(v: string | number | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : v;
}

/** Runs async jobs with at most `limit` in flight (generation overlaps with the server's work). */
class Pipeline {
  private readonly inflight = new Set<Promise<void>>();
  private failure: unknown = null;
  constructor(private readonly limit: number) {}
  async push(job: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inflight.size >= this.limit) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
    const p: Promise<void> = job().then(
      () => void this.inflight.delete(p),
      (e: unknown) => {
        this.inflight.delete(p);
        this.failure ??= e;
      },
    );
    this.inflight.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
  }
}

/**
 * Bulk load into PostgreSQL with COPY: secondary indexes dropped and rebuilt from `pg_indexes`
 * afterwards, rows in primary-key order, two COPY streams in flight while the next batch is generated,
 * `synchronous_commit = off` for the loading sessions only; then `VACUUM (ANALYZE)` so planner
 * statistics and the visibility map are what autovacuum would leave after such a load.
 */
export async function loadPostgres(url: string, ctx: LoadContext): Promise<LoadResult> {
  // Session settings for the loading connections only (startup options; the app's own pool is untouched).
  const pool = new pg.Pool({ connectionString: url, max: 3, options: '-c synchronous_commit=off -c maintenance_work_mem=1GB' });
  const timings: LoadResult['timings'] = [];
  const run = async (fn: (c: pg.PoolClient) => Promise<void>) => {
    const c = await pool.connect();
    try {
      await fn(c);
    } finally {
      c.release();
    }
  };
  try {
    const { rows: indexes } = await pool.query<{ indexname: string; indexdef: string }>(
      `select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = any($1::text[])
         and indexname not in (select conname from pg_constraint)`,
      [[...BULK_TABLES]],
    );
    for (const i of indexes) await pool.query(`drop index "${i.indexname}"`);

    const ws = ctx.workspaceId;
    const pipe = new Pipeline(2);
    let t0 = performance.now();
    const gen = new ProfileGenerator(ctx.shape, ctx.counts);
    let events = 0;
    let identities = 0;
    let nextReport = 1_000_000;
    while (!gen.done) {
      let profiles = '';
      let ids = '';
      let evs = '';
      events += gen.generate(2000, (p, ev) => {
        profiles += `${p.id}\t${ws}\t${f(p.traits)}\t${f(p.traitTimes)}\t${f(p.firstTouch)}\t${f(p.computed)}\t${p.firstSeen}\t${p.lastSeen}\t${p.firstSeen}\t${p.lastSeen}\t${p.num}\n`;
        const source = ev.messageId[0] ?? `bench-profile-${p.num}`;
        ids += `${ws}\tuser_id\t${userIdOf(p.num)}\t${p.id}\t${p.id}\t${p.firstSeen}\t${source}\n`;
        identities++;
        if (p.phone) {
          ids += `${ws}\tphone\t${p.phone}\t${p.id}\t${p.id}\t${p.firstSeen}\t${source}\n`;
          identities++;
        }
        for (let k = 0; k < ev.id.length; k++) {
          const ts = ev.timestamp[k]!;
          evs += `${ev.id[k]}\t${ws}\t${p.id}\t${p.id}\t${ev.messageId[k]}\t${ev.type[k]}\t${f(ev.event[k]!)}\t{}\t${f(ev.properties[k]!)}\t${EVENT_CONTEXT}\t${ts}\t${ts}\t${p.num}\n`;
        }
      });
      await pipe.push(() =>
        run(async (c) => {
          await copy(c, 'copy profiles (id, workspace_id, traits, trait_times, first_touch, computed, first_seen, last_seen, created_at, updated_at, num) from stdin', profiles);
          await copy(c, 'copy identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id) from stdin', ids);
          if (evs) await copy(c, 'copy events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num) from stdin', evs);
        }),
      );
      if (events >= nextReport) {
        ctx.progress(`postgres: ${events} events, ${Math.round(events / seconds(t0))} events/s`);
        nextReport += 2_000_000;
      }
    }
    await pipe.drain();
    timings.push(['profiles_events', seconds(t0)]);

    t0 = performance.now();
    let profileTags = 0;
    for (let t = 0; t < ctx.tagIds.length; t++) {
      const head = `${ws}\t${ctx.tagIds[t]}\t`;
      const tail = `\t${TAG_SOURCE}\t${TAG_ACTOR}\t${tagAppliedAt(ctx.shape, t)}\t\\N\t`;
      let rows = '';
      profileTags += tagMembers(ctx.shape, ctx.fractions[t]!, t, (num) => {
        rows += head + profileId(num) + tail + num + '\n';
      });
      await pipe.push(() => run((c) => copy(c, 'copy profile_tags (workspace_id, tag_id, profile_id, source, actor, applied_at, expires_at, profile_num) from stdin', rows)));
    }
    await pipe.drain();
    timings.push(['profile_tags', seconds(t0)]);

    t0 = performance.now();
    const layers = computeLayers(ctx.shape, gen.stats);
    const now = new Date(ctx.shape.now).toISOString();
    for (let from = 0; from < ctx.shape.profiles; from += 50_000) {
      let rows = '';
      for (let i = from; i < Math.min(ctx.shape.profiles, from + 50_000); i++) {
        const l = layers.rows(i);
        rows += `${profileId(l.num)}\t${ws}\t${l.lifecycle}\t${f(l.r)}\t${f(l.f)}\t${f(l.m)}\t${f(l.segment)}\t${f(l.changesAt)}\t${now}\n`;
      }
      await pipe.push(() => run((c) => copy(c, 'copy profile_layers (profile_id, workspace_id, lifecycle, rfm_r, rfm_f, rfm_m, rfm_segment, lifecycle_changes_at, updated_at) from stdin', rows)));
    }
    await pipe.drain();
    await pool.query(
      'insert into layer_settings (workspace_id, settings, updated_at) values ($1, $2::jsonb, $3) on conflict (workspace_id) do update set settings = excluded.settings, updated_at = excluded.updated_at',
      [ws, JSON.stringify(layers.settings), now],
    );
    timings.push(['layers', seconds(t0)]);

    t0 = performance.now();
    // Two index builds at a time (one per core).
    const queue = [...indexes];
    await Promise.all(
      [0, 1].map(() =>
        run(async (c) => {
          for (let i = queue.shift(); i; i = queue.shift()) {
            const ti = performance.now();
            await c.query(i.indexdef);
            ctx.progress(`postgres: index ${i.indexname} ${seconds(ti).toFixed(1)} s`);
          }
        }),
      ),
    );
    timings.push(['indexes', seconds(t0)]);

    t0 = performance.now();
    for (const t of BULK_TABLES) await pool.query(`vacuum (analyze) ${t}`);
    timings.push(['vacuum_analyze', seconds(t0)]);
    // The load's dirty pages written out now (as SQLite's bench checkpoints on close), not by a
    // checkpoint that lands in a measured phase: a spread checkpoint of gigabytes made the 100k
    // incremental p95 swing between 1.2 and 2.4 s from run to run. Needs superuser or pg_checkpoint.
    t0 = performance.now();
    await pool.query('checkpoint').catch((e: unknown) => ctx.progress(`postgres: no checkpoint after the load (${(e as Error).message})`));
    timings.push(['checkpoint', seconds(t0)]);
    return { stats: gen.stats, timings, rows: { profiles: ctx.shape.profiles, identities, events, profileTags, layers: ctx.shape.profiles, purchasers: layers.purchasers } };
  } finally {
    await pool.end();
  }
}
