import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { WorkspaceRecord } from '@siyu/core';
import { sqliteCacheFor, sqliteTempStoreFor } from '@siyu/cli';
import { createServices, newId, silentLogger, type Services } from '@siyu/services';
import { loadConfig, type Config } from '@siyu/config';
import { openStore, WriterLock, type OpenedStore } from '@siyu/storage';
import { liveCount3Tags } from './audiences/bitmaps.ts';
import { DAY_MS, eventCounts, Rng, tagFractions, tagName, type BenchShape } from './audiences/generate.ts';
import { runIncremental } from './audiences/incremental.ts';
import { loadPostgres } from './audiences/load-postgres.ts';
import { loadSqlite } from './audiences/load-sqlite.ts';
import { createBenchDatabase } from './pg-database.ts';
import type { LoadResult } from './audiences/load-types.ts';
import { fmt, median, percentile } from './audiences/stats.ts';

/**
 * Audience engine at scale (defaults: 1M profiles, 20M events, 200 tags) on SQLite and PostgreSQL:
 *
 * - `load_*`: bulk generation straight into the tables (not through ingestion) — profiles with
 *   traits and computed traits consistent with their events, identities, 180 days of events, tag
 *   applications of 200 tags (1%–30% of profiles each), lifecycle/RFM layers;
 * - `index_load`, `bitmap_memory`: building the roaring index of the loaded workspace;
 * - `live_count_api`: `AudienceService.count` of a 3-tag combination (bitmap path), median;
 * - `segment_full_recompute`: `SegmentService.create` of a trait + tag + 30-day behaviour segment
 *   (first, right after the load; `_warm`: the median of three more, each deleted after);
 * - `incremental_p95`: events at a paced 5,000/s through ingestion → processor → audience engine,
 *   latency from receipt of an order to its `Segment Entered` being committed; `_cpu_per_event`: CPU
 *   time of the phase per event, the whole process, the processor thread (`worker`) and the audience
 *   thread alone (on a VM whose page cache is reclaimed under the benchmark, latencies swing 2×
 *   between runs; CPU time much less);
 * - `incremental_at_2500_*`: the same at a rate the pipeline sustains (`--sustainable-rate`, 0: skipped).
 *   Past what the pipeline gets through (`incremental_sustained_rate`) the backlog, and so the
 *   5,000/s latency, grows for as long as the load lasts; at this rate it is the latency itself;
 * - `live_count_3tags_10M`: the engine's bitmap AND + count over 10M profiles in memory, median.
 *
 * `npm run bench -- audiences --profiles 100000 --events 2000000` takes ~2 min on SQLite and ~3 min
 * on PostgreSQL on a 2-core machine (the defaults: ~18 and ~23 min). PostgreSQL runs in its own
 * database (`siyu_bench_<time>`), created and dropped here; SQLite in a temp directory, removed after
 * (`--keep` keeps either; `--reuse <dir>` runs only the incremental phase again (`--phase recompute`: the mixed
 * segment's full recompute, `--runs-recompute` times) on a kept SQLite
 * directory, or on a kept PostgreSQL database through the state directory `--keep` prints for it —
 * drop that database by hand when done). SIYU_BENCH_QUERY_LOG=1 prints each step's statements by total time to
 * stderr; SIYU_BENCH_PROFILE=<dir> writes a CPU profile of the incremental phase.
 *
 * `--index-max-age-ms` (default 1 h) is passed to the engine so that its periodic index rebuild
 * (60 s by default, see audience-index.service.ts) does not land inside a measured step; the
 * rebuild's own cost is `index_load`.
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      profiles: { type: 'string', default: '1000000' },
      events: { type: 'string', default: '20000000' },
      tags: { type: 'string', default: '200' },
      backend: { type: 'string', default: 'all' },
      rate: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '15' },
      // A second incremental phase at a rate the pipeline can sustain (0: none): at 5,000/s the latency
      // mostly measures the backlog once the load outruns the pipeline; here, the latency itself.
      'sustainable-rate': { type: 'string', default: '2500' },
      'sustainable-seconds': { type: 'string', default: '15' },
      // Milliseconds between ingestion calls of the incremental phase (0: as fast as the rate allows).
      'send-interval-ms': { type: 'string', default: '0' },
      'probe-share': { type: 'string', default: '0.02' },
      'processor-batch': { type: 'string', default: '2000' },
      runs: { type: 'string', default: '50' },
      population: { type: 'string', default: '10000000' },
      seed: { type: 'string', default: '20240601' },
      'index-max-age-ms': { type: 'string', default: '3600000' },
      // thread: the incremental phase runs the background loops in a worker thread, as `siyu start` does.
      worker: { type: 'string', default: 'thread' },
      keep: { type: 'boolean', default: false },
      // A directory kept by `--keep` (SQLite): skip the load and the recomputes, run the incremental phase again.
      reuse: { type: 'string' },
      // With --reuse: `incremental` (the default) or `recompute` (the mixed segment created and deleted --runs-recompute times).
      phase: { type: 'string', default: 'incremental' },
      'runs-recompute': { type: 'string', default: '5' },
    },
  });
  const shape: BenchShape = { profiles: Number(values.profiles), events: Number(values.events), tags: Number(values.tags), seed: Number(values.seed), now: Date.now() };
  if (!(shape.profiles >= 1000) || !(shape.events >= 0) || !(shape.tags >= 3)) throw new Error('need --profiles ≥ 1000, --events ≥ 0, --tags ≥ 3');
  // `--reuse`: the backend the kept state names.
  const keptUrl = values.reuse ? (JSON.parse(readFileSync(join(values.reuse, 'bench-state.json'), 'utf8')) as KeptState).databaseUrl : undefined;
  const backends = values.reuse ? [keptUrl ? 'postgres' : 'sqlite'] : values.backend === 'all' ? ['sqlite', 'postgres'] : [values.backend!];
  const started = performance.now();
  const out = (name: string, value: string, unit: string) => process.stdout.write(`audiences.${name}: ${value} ${unit}\n`);
  const progress = (msg: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(7)} s] ${msg}\n`);
  progress(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ${shape.profiles} profiles, ${shape.events} events, ${shape.tags} tags`);

  // To free the 10M-profile bitmaps before the database phases (`npm run bench` has no --expose-gc).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;

  // The roaring path over 10M profiles, in memory (no database).
  {
    const population = Number(values.population);
    const r = liveCount3Tags(population, Math.max(50, Number(values.runs) * 4));
    const label = population % 1_000_000 === 0 ? `${population / 1_000_000}M` : String(population);
    out(`live_count_3tags_${label}`, fmt(median(r.engineMs), 2), 'ms');
    out(`live_count_3tags_${label}_p95`, fmt(percentile(r.engineMs, 95), 2), 'ms');
    out(`live_count_3tags_${label}_bare_and`, fmt(median(r.bareMs), 2), 'ms');
    out(`live_count_3tags_${label}_result`, String(r.count), 'profiles');
    out(`live_count_3tags_${label}_bitmaps`, fmt(r.serializedBytes / 1048576, 1), 'MB');
    gc();
  }

  const counts = eventCounts(shape);
  const fractions = tagFractions(shape);
  for (const backend of backends) {
    const b0 = performance.now();
    if (values.reuse) {
      await reuseKept(values.reuse, backend, { values, out: (n, v, u) => out(`${backend}.${n}`, v, u), progress });
      continue;
    }
    const target = await prepareTarget(backend, progress).catch((e: unknown) => {
      out(backend, `skipped (${(e as Error).message})`, '');
      return null;
    });
    if (!target) continue;
    const onSignal = () => {
      void target.cleanup().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    try {
      await runBackend(backend, target, shape, counts, fractions, { values, out: (n, v, u) => out(`${backend}.${n}`, v, u), progress });
      out(`${backend}.elapsed`, fmt((performance.now() - b0) / 1000, 0), 's');
    } finally {
      process.off('SIGINT', onSignal);
      if (!values.keep) await target.cleanup();
      else progress(`kept ${target.location}`);
    }
  }
}

interface Target {
  databaseUrl: string | undefined;
  sqliteFile: string;
  location: string;
  cleanup(): Promise<void>;
}

async function prepareTarget(backend: string, progress: (m: string) => void): Promise<Target> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'siyu-bench-audiences-'));
    return { databaseUrl: undefined, sqliteFile: join(dir, 'siyu.db'), location: dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (backend !== 'postgres') throw new Error(`unknown backend "${backend}" (sqlite, postgres or all)`);
  const db = await createBenchDatabase();
  progress(`postgres: created database ${db.name}`);
  return {
    databaseUrl: db.url,
    sqliteFile: '',
    location: db.name,
    async cleanup() {
      await db.drop();
      progress(`postgres: dropped database ${db.name}`);
    },
  };
}

interface RunOpts {
  values: Record<string, string | boolean | undefined>;
  out: (name: string, value: string, unit: string) => void;
  progress: (msg: string) => void;
}

async function runBackend(backend: string, target: Target, shape: BenchShape, counts: Uint32Array, fractions: number[], o: RunOpts): Promise<void> {
  const { out, progress } = o;
  /**
   * Runs a measured step: prints its time, the longest event-loop stall during it (better-sqlite3 runs
   * queries synchronously, so a long query stalls HTTP and ingestion too), and with
   * SIYU_BENCH_QUERY_LOG=1 its statements by total time (stderr).
   */
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    progress(`${backend}: ${name}`);
    queryTimes.clear();
    const stalls = new StallWatch();
    const t = performance.now();
    const r = await fn();
    const ms = performance.now() - t;
    out(name, fmt(ms, 0), 'ms');
    out(`${name}_event_loop_max_stall`, fmt(await stalls.stop(), 0), 'ms');
    dumpQueries(progress);
    return r;
  };
  // SQLite shared with the incremental phase's worker thread: both stores take turns writing.
  const threaded = o.values.worker !== 'inline';
  const writerLock = threaded && backend === 'sqlite' ? WriterLock.create() : undefined;
  const open = async (): Promise<{ opened: OpenedStore; services: Services }> => {
    const opened = await openStore({ databaseUrl: target.databaseUrl, sqliteFile: target.sqliteFile, writerLock, ...inlineCache(target, threaded), ...(process.env.SIYU_BENCH_QUERY_LOG ? { queryLog: logQuery } : {}) });
    const services = createServices({ store: opened.store, clock: () => new Date(), newId, log: silentLogger }, { audiences: { indexMaxAgeMs: Number(o.values['index-max-age-ms']) } });
    return { opened, services };
  };

  // The workspace and the tag catalog through the services; then the store is closed for the bulk load.
  let { opened, services } = await open();
  const { workspace } = await services.workspaces.create({ name: `bench audiences ${backend}` });
  const ws = workspace.id;
  const group = await services.tags.createGroup(ws, { name: '导入标签' });
  const tagIds: string[] = [];
  for (let t = 0; t < shape.tags; t++) tagIds.push((await services.tags.create(ws, { name: tagName(t), kind: 'imported', groupId: group.id })).id);
  await opened.close();

  progress(`${backend}: loading`);
  const ctx = { workspaceId: ws, tagIds, shape, counts, fractions, progress };
  const t0 = performance.now();
  const load: LoadResult = backend === 'sqlite' ? loadSqlite(target.sqliteFile, ctx) : await loadPostgres(target.databaseUrl!, ctx);
  const loadSeconds = (performance.now() - t0) / 1000;
  for (const [phase, s] of load.timings) out(`load_${phase}`, fmt(s, 1), 's');
  out('load_total', fmt(loadSeconds, 1), 's');
  const rows = load.rows.profiles + load.rows.identities + load.rows.events + load.rows.profileTags + load.rows.layers;
  out('load_rate', String(Math.round(rows / loadSeconds)), 'rows/s');
  out('rows_profiles', String(load.rows.profiles), 'rows');
  out('rows_events', String(load.rows.events), 'rows');
  out('rows_profile_tags', String(load.rows.profileTags), 'rows');
  out('rows_identities', String(load.rows.identities), 'rows');
  out('purchasers', String(load.rows.purchasers), 'profiles');

  // Open once and close (as a server start and stop would): on SQLite, close runs `PRAGMA optimize`,
  // which replaces the seeded planner statistics with sampled ones — the state every later start sees.
  ({ opened } = await open());
  await opened.close();
  ({ opened, services } = await open());
  try {
    out('db_size', fmt((await databaseBytes(backend, opened, target)) / 1048576, 0), 'MB');

    // The roaring index of the loaded workspace, built cold from storage.
    const bitmaps = await step('index_load', () => services.audienceEngine.index.bitmaps(ws));
    const all = [bitmaps.all, ...bitmaps.tags.values(), ...bitmaps.segments.values(), ...bitmaps.lifecycle.values(), ...bitmaps.rfmSegments.values(), ...Object.values(bitmaps.rfmScores).flatMap((m) => [...m.values()])];
    // The bitmaps' own size (croaring serialization ≈ their container payload in memory). RSS deltas are
    // useless here: the load's growth is SQLite's page cache and the rows read, not the bitmaps.
    out('bitmap_memory', fmt(all.reduce((s, b) => s + b.getSerializationSizeInBytes('croaring'), 0) / 1048576, 1), 'MB');
    out('bitmaps', String(all.length), 'bitmaps');

    // Live count through the service (bitmap path): cold (first call loads the validation catalog), then median.
    const threeTags = { version: 1, condition: { all: [0, 1, 2].map((i) => ({ tag: tagIds[i]!, has: true })) } };
    const cold = await step('live_count_api_cold', () => services.audiences.count(ws, threeTags));
    const samples: number[] = [];
    for (let i = 0; i < Number(o.values.runs); i++) {
      const s = performance.now();
      await services.audiences.count(ws, threeTags);
      samples.push(performance.now() - s);
    }
    out('live_count_api', fmt(median(samples), 2), 'ms');
    out('live_count_api_p95', fmt(percentile(samples, 95), 2), 'ms');
    out('live_count_api_result', String(cold.count), 'profiles');

    // Full recompute of a segment mixing a trait, a tag and a 30-day behaviour window (the real create path).
    const mixed = {
      all: [
        { trait: 'city', op: 'in', value: ['上海', '杭州'] },
        { tag: tagIds[1]!, has: true },
        { event: 'Order Completed', measure: 'count', op: 'gte', value: 1, window: { last_days: 30 } },
      ],
    };
    const segA = await step('segment_full_recompute', () => services.segments.create(ws, { name: '沪杭高价值近30天下单', definition: { version: 1, condition: mixed } }));
    out('segment_full_recompute_members', String(segA.count), 'profiles');
    if (segA.warnings.length) progress(`warnings: ${JSON.stringify(segA.warnings)}`);
    // The same segment created again (and deleted) three times: the first pass above runs right after
    // the bulk load, when most of what it reads has been pushed out of the OS page cache by 18 GB of
    // writes; these run with the pages a live server would have cached (median reported).
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const again = await services.segments.create(ws, { name: `沪杭高价值近30天下单 ${i + 2}`, definition: { version: 1, condition: mixed } });
      warm.push(performance.now() - t);
      await services.segments.delete(ws, again.id);
    }
    out('segment_full_recompute_warm', fmt(median(warm), 0), 'ms');
    // The same definition counted live: the bulk evaluator reads only the planner's candidates.
    const bulk = await step('segment_count_bulk', () => services.audiences.count(ws, { version: 1, condition: mixed }));
    // Evaluated a little later than the recompute: a purchase may have left the 30-day window meanwhile.
    out('segment_count_bulk_result', String(bulk.count), 'profiles');

    // More definitions for the incremental phase (each computed in full on create).
    const more: [key: string, name: string, condition: unknown, kind: 'segment' | 'tag'][] = [
      ['orders_30d', '近30天下单', { event: 'Order Completed', op: 'gte', value: 1, window: { last_days: 30 } }, 'segment'],
      ['high_value_active', '高消费活跃', { all: [{ computed: 'total_spent', op: 'gte', value: 100_000 }, { lifecycle: ['new', 'active'] }] }, 'segment'],
      ['browsers_7d', '近7天高频浏览', { all: [{ tag: tagIds[2]!, has: true }, { event: 'Product Viewed', op: 'gte', value: 3, window: { last_days: 7 } }] }, 'segment'],
      ['cart_7d', '近7天加购', { event: 'Product Added', op: 'gte', value: 1, window: { last_days: 7 } }, 'tag'],
    ];
    let probeSegmentId = '';
    for (const [key, name, condition, kind] of more) {
      const label = `${kind === 'segment' ? 'segment' : 'rule_tag'}_recompute_${key}`;
      const r = await step<{ id: string; count?: number | null }>(label, async () =>
        kind === 'segment' ? services.segments.create(ws, { name, definition: { version: 1, condition } }) : services.tags.create(ws, { name, kind: 'rule', definition: { version: 1, condition } }),
      );
      out(`${label}_members`, String(r.count), 'profiles');
      if (key === 'orders_30d') probeSegmentId = r.id;
    }

    // Incremental: paced live events, latency of probe orders to `Segment Entered`.
    const cutoff = shape.now - 31 * DAY_MS;
    const candidates: number[] = [];
    for (let i = 0; i < shape.profiles; i++) if (load.stats.orderCount[i] === 0 || load.stats.lastOrderMs[i]! < cutoff) candidates.push(i + 1);
    const rng = new Rng(shape.seed ^ 0x1234);
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    // Beside the SQLite file; for PostgreSQL in a directory of its own (printed), with the database's URL.
    const stateFile = !o.values.keep ? undefined : backend === 'sqlite' ? join(dirname(target.sqliteFile), 'bench-state.json') : join(mkdtempSync(join(tmpdir(), 'siyu-bench-pg-state-')), 'bench-state.json');
    if (stateFile) {
      const state: KeptState = { workspace, probeSegmentId, candidates, usedProbes: 0, ...(target.databaseUrl ? { databaseUrl: target.databaseUrl } : {}) };
      writeFileSync(stateFile, JSON.stringify(state));
      if (backend !== 'sqlite') progress(`kept state in ${dirname(stateFile)} (--reuse ${dirname(stateFile)})`);
    }
    const used = await incrementalPhase(backend, target, services, workspace, probeSegmentId, candidates, shape.profiles, shape.seed, writerLock, o);
    if (stateFile) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as KeptState;
      writeFileSync(stateFile, JSON.stringify({ ...state, usedProbes: used }));
    }
  } finally {
    await services.audienceEngine.settled().catch(() => undefined);
    await services.layers.settled().catch(() => undefined);
    await opened.close();
  }
}

/** What `--keep` leaves beside a SQLite database (or in a directory of its own for PostgreSQL) for `--reuse`. */
interface KeptState {
  /** PostgreSQL: the kept database. */
  databaseUrl?: string;
  workspace: WorkspaceRecord;
  probeSegmentId: string;
  /** Probe candidates (profile nums outside the probe segment at the load), shuffled. */
  candidates: number[];
  /** How many of them earlier runs sent as probes (they are members now). */
  usedProbes: number;
}

/**
 * `--reuse DIR`: the incremental phase again on a database kept by `--keep` (its definitions in place,
 * its OS page cache warm), with probe candidates no earlier run used. Minutes instead of the load's
 * quarter hour when working on the incremental path; each run adds its events to the database.
 */
async function reuseKept(dir: string, backend: string, o: RunOpts): Promise<void> {
  const stateFile = join(dir, 'bench-state.json');
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as KeptState;
  const sqliteFile = state.databaseUrl ? '' : join(dir, 'siyu.db');
  const target: Target = { databaseUrl: state.databaseUrl, sqliteFile, location: dir, cleanup: async () => undefined };
  const threaded = o.values.worker !== 'inline';
  const writerLock = threaded && backend === 'sqlite' ? WriterLock.create() : undefined;
  const opened = await openStore({ databaseUrl: state.databaseUrl, sqliteFile, writerLock, ...inlineCache(target, threaded), ...(process.env.SIYU_BENCH_QUERY_LOG ? { queryLog: logQuery } : {}) });
  const services = createServices({ store: opened.store, clock: () => new Date(), newId, log: silentLogger }, { audiences: { indexMaxAgeMs: Number(o.values['index-max-age-ms']) } });
  try {
    if (o.values.phase === 'recompute') return await recomputeAgain(services, state.workspace.id, Number(o.values['runs-recompute']), o);
    const profiles = Number(o.values.profiles);
    // Earlier runs' other events put some candidates in the probe segment already (a probe then never "enters",
    // and runs on a kept database counted fewer probes each time: 1,490 → 1,333 of 1,500 over a session).
    const members = new Set<number>();
    for (let after = 0; ; ) {
      const page = await services.audienceEngine.store.memberNumPage(state.workspace.id, 'segment', state.probeSegmentId, after, 100_000);
      for (const n of page.nums) members.add(n);
      if (page.last === null || page.nums.length < 100_000) break;
      after = page.last;
    }
    const candidates = state.candidates.slice(state.usedProbes).filter((n) => !members.has(n));
    const used = await incrementalPhase(backend, target, services, state.workspace, state.probeSegmentId, candidates, profiles, Number(o.values.seed) + state.usedProbes, writerLock, o);
    writeFileSync(stateFile, JSON.stringify({ ...state, usedProbes: state.usedProbes + used }));
  } finally {
    await services.audienceEngine.settled().catch(() => undefined);
    await services.layers.settled().catch(() => undefined);
    await opened.close();
  }
}

/**
 * `--reuse DIR --phase recompute`: the full recompute of the mixed segment again, `runs` times (each created, timed,
 * then deleted), on a kept database. Prints each time and the median; SIYU_BENCH_QUERY_LOG prints the statements
 * of the last run.
 */
async function recomputeAgain(services: Services, ws: string, runs: number, o: RunOpts): Promise<void> {
  const tag = (await services.tags.list(ws)).data.find((t) => t.name === tagName(1));
  if (!tag) throw new Error(`no tag named ${tagName(1)} in the kept workspace`);
  const mixed = { all: [{ trait: 'city', op: 'in', value: ['上海', '杭州'] }, { tag: tag.id, has: true }, { event: 'Order Completed', measure: 'count', op: 'gte', value: 1, window: { last_days: 30 } }] };
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    queryTimes.clear();
    const t = performance.now();
    const seg = await services.segments.create(ws, { name: `沪杭高价值近30天下单 reuse ${Date.now()}`, definition: { version: 1, condition: mixed } });
    times.push(performance.now() - t);
    o.progress(`recompute ${i + 1}: ${fmt(times[i]!, 0)} ms, ${seg.count} members`);
    await services.segments.delete(ws, seg.id);
  }
  if (process.env.SIYU_BENCH_QUERY_LOG) dumpQueries(o.progress);
  o.out('segment_full_recompute_again', fmt(median(times), 0), 'ms');
  o.out('segment_full_recompute_again_runs', times.map((t) => fmt(t, 0)).join(','), 'ms');
}

/** How many probes an incremental phase sends (as runIncremental counts them). */
function probesOf(rate: unknown, seconds: unknown, share: unknown): number {
  return Math.ceil(Number(rate) * Number(seconds) * Number(share));
}

/** The incremental phase and its figures; returns how many probe candidates it used. */
async function incrementalPhase(
  backend: string,
  target: Target,
  services: Services,
  workspace: WorkspaceRecord,
  probeSegmentId: string,
  candidates: readonly number[],
  profiles: number,
  seed: number,
  writerLock: SharedArrayBuffer | undefined,
  o: RunOpts,
): Promise<number> {
  const { out, progress } = o;
  const threaded = o.values.worker !== 'inline';
  progress(`${backend}: incremental at ${o.values.rate} events/s for ${o.values.seconds} s`);
  queryTimes.clear();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const incStalls = new StallWatch();
  // What both phases share (the second, at a sustainable rate, follows below).
  const shared = {
    workspace,
    sendIntervalMs: Number(o.values['send-interval-ms']),
    probeShare: Number(o.values['probe-share']),
    probeSegmentId,
    profiles,
    processorBatch: Number(o.values['processor-batch']),
    ...(threaded ? { threaded: { config: workerConfig(target, Number(o.values['processor-batch'])), writerLock } } : {}),
  };
  const inc = await runIncremental(services, {
    ...shared,
    rate: Number(o.values.rate),
    seconds: Number(o.values.seconds),
    probeNums: candidates,
    // And the sustainable phase's probes, which come next.
    reserveNums: candidates.slice(0, probesOf(o.values.rate, o.values.seconds, o.values['probe-share']) + probesOf(o.values['sustainable-rate'], o.values['sustainable-seconds'], o.values['probe-share'])),
    seed,
    deviceIo: () => deviceIo(target.sqliteFile ? dirname(target.sqliteFile) : tmpdir()),
  });
  out('incremental_p50', fmt(percentile(inc.latenciesMs, 50), 0), 'ms');
  out('incremental_p95', fmt(percentile(inc.latenciesMs, 95), 0), 'ms');
  out('incremental_p99', fmt(percentile(inc.latenciesMs, 99), 0), 'ms');
  out('incremental_max', fmt(percentile(inc.latenciesMs, 100), 0), 'ms');
  out('incremental_probes', `${inc.latenciesMs.length}/${inc.probesSent}`, 'entered/sent');
  out('incremental_offered_rate', String(Math.round(inc.offered / inc.sendSeconds)), 'events/s');
  out('incremental_accepted', String(inc.accepted), 'events');
  out('incremental_processor_p95', fmt(percentile(inc.processorMs, 95), 0), 'ms');
  out('incremental_drain_after_send', fmt(inc.drainSeconds, 1), 's');
  // What the pipeline got through, send and drain together: below the offered rate, the queue (and the
  // latency) grows for as long as the load lasts.
  out('incremental_sustained_rate', String(Math.round(inc.accepted / (inc.sendSeconds + inc.drainSeconds))), 'events/s');
  out('incremental_membership_changes', String(inc.membershipChanges), 'changes');
  if (inc.accepted > 0) {
    out('incremental_process_cpu_per_event', fmt((inc.processCpuMs * 1000) / inc.accepted, 0), 'µs');
    // The most the machine's cores could get through at that CPU per event, every core busy with the server alone
    // (the load generator takes its share too; on PostgreSQL its own processes' work is not counted here).
    if (backend === 'sqlite' && inc.processCpuMs > 0) out('incremental_cpu_ceiling_rate', String(Math.round((availableParallelism() * 1000 * inc.accepted) / inc.processCpuMs)), 'events/s');
    if (inc.workerCpuMs !== null) out('incremental_worker_cpu_per_event', fmt((inc.workerCpuMs * 1000) / inc.accepted, 0), 'µs');
    if (inc.audienceCpuMs !== null) out('incremental_audience_cpu_per_event', fmt((inc.audienceCpuMs * 1000) / inc.accepted, 0), 'µs');
  }
  // PostgreSQL's data may be on another device: reported for SQLite only.
  if (backend === 'sqlite' && inc.io && inc.accepted > 0) {
    // What reached the device holding the database from the start of sending to the end of the drain:
    // WAL frames, checkpoint copies, the inbox.
    out('incremental_disk_write_per_event', fmt(inc.io.writeBytes / inc.accepted / 1024, 1), 'KB');
    out('incremental_disk_read_per_event', fmt(inc.io.readBytes / inc.accepted / 1024, 1), 'KB');
  }
  // SQLite only: PostgreSQL's reads and writes happen in its own processes.
  if (backend === 'sqlite' && inc.syscalls && inc.accepted > 0) {
    const per = (n: number) => fmt(n / inc.accepted, 1);
    out('incremental_read_syscalls_per_event', per(inc.syscalls.process.reads), 'calls');
    out('incremental_write_syscalls_per_event', per(inc.syscalls.process.writes), 'calls');
    if (inc.syscalls.worker) {
      out('incremental_worker_read_syscalls_per_event', per(inc.syscalls.worker.reads), 'calls');
      out('incremental_worker_write_syscalls_per_event', per(inc.syscalls.worker.writes), 'calls');
    }
  }
  loopDelay.disable();
  out('incremental_event_loop_p99_delay', fmt(loopDelay.percentile(99) / 1e6, 0), 'ms');
  out('incremental_event_loop_max_stall', fmt(await incStalls.stop(), 0), 'ms');
  out('rss', fmt(process.memoryUsage().rss / 1048576, 0), 'MB');
  dumpQueries(progress);
  let used = inc.probesSent;
  const sustainable = Number(o.values['sustainable-rate']);
  if (sustainable > 0) {
    progress(`${backend}: incremental at ${sustainable} events/s for ${o.values['sustainable-seconds']} s`);
    const at = await runIncremental(services, { ...shared, rate: sustainable, seconds: Number(o.values['sustainable-seconds']), probeNums: candidates.slice(used), seed: seed + used });
    const b = `incremental_at_${sustainable}`;
    out(`${b}_p50`, fmt(percentile(at.latenciesMs, 50), 0), 'ms');
    out(`${b}_p95`, fmt(percentile(at.latenciesMs, 95), 0), 'ms');
    out(`${b}_p99`, fmt(percentile(at.latenciesMs, 99), 0), 'ms');
    out(`${b}_probes`, `${at.latenciesMs.length}/${at.probesSent}`, 'entered/sent');
    out(`${b}_processor_p95`, fmt(percentile(at.processorMs, 95), 0), 'ms');
    out(`${b}_sustained_rate`, String(Math.round(at.accepted / (at.sendSeconds + at.drainSeconds))), 'events/s');
    used += at.probesSent;
  }
  return used;
}

/**
 * The longest time the event loop did not run timers (HTTP requests wait as long). A 5 ms interval
 * notes each gap; `stop()` first yields to the loop so a stall still in progress is counted too (a
 * chain of synchronous SQLite queries joined by promise continuations never yields, and
 * `monitorEventLoopDelay` records nothing for it).
 */
class StallWatch {
  private last = performance.now();
  private max = 0;
  private readonly timer = setInterval(() => this.note(), 5);
  private note(): void {
    const now = performance.now();
    this.max = Math.max(this.max, now - this.last);
    this.last = now;
  }
  async stop(): Promise<number> {
    await new Promise((r) => setTimeout(r, 0));
    this.note();
    clearInterval(this.timer);
    return this.max;
  }
}

const queryTimes = new Map<string, { n: number; ms: number }>();
/** SIYU_BENCH_QUERY_LOG=1: the Kysely statements since the last dump, by total time. */
function dumpQueries(progress: (msg: string) => void): void {
  for (const [k, v] of [...queryTimes].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) progress(`${v.ms.toFixed(0).padStart(7)} ms ${String(v.n).padStart(6)}× ${k}`);
  queryTimes.clear();
}
function logQuery(e: import('kysely').LogEvent): void {
  const key = e.query.sql.replace(/\s+/g, ' ').replace(/(\?, )+\?/g, '?…').slice(0, 150);
  const t = queryTimes.get(key) ?? { n: 0, ms: 0 };
  t.n++;
  t.ms += e.queryDurationMillis;
  queryTimes.set(key, t);
}

async function databaseBytes(backend: string, opened: OpenedStore, target: Target): Promise<number> {
  if (backend === 'sqlite') {
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(target.sqliteFile + suffix).size;
      } catch {
        // no WAL yet
      }
    }
    return bytes;
  }
  const { sql } = await import('kysely');
  const r = await sql<{ n: number }>`select pg_database_size(current_database())::bigint as n`.execute(opened.store.db);
  return Number(r.rows[0]?.n ?? 0);
}

/** What the worker thread of the incremental phase opens: the same database as the bench. */
/** `--worker inline`: this thread's store processes the events, with the page cache and temporary storage `siyu start` gives that connection (`sqliteCacheFor`, `sqliteTempStoreFor`). */
function inlineCache(target: Target, threaded: boolean): { sqliteCacheMb?: Config['sqliteCacheMb']; sqliteTempStore?: 'file' | 'memory' } {
  return threaded ? {} : { sqliteCacheMb: sqliteCacheFor(workerConfig(target, 1), {}), sqliteTempStore: sqliteTempStoreFor({}) };
}

function workerConfig(target: Target, processorBatch: number): Config {
  const r = loadConfig({
    SIYU_DATA_DIR: target.sqliteFile ? dirname(target.sqliteFile) : tmpdir(),
    SIYU_LOG_LEVEL: 'silent',
    SIYU_PROCESSOR_BATCH: String(processorBatch),
    // As `siyu start` reads it: 2 (default) or 1 background threads.
    SIYU_WORKER_THREADS: process.env.SIYU_WORKER_THREADS,
    // As `siyu start` reads it: the background connection's page cache (default auto).
    SIYU_SQLITE_CACHE_MB: process.env.SIYU_SQLITE_CACHE_MB,
    ...(target.databaseUrl ? { SIYU_DATABASE_URL: target.databaseUrl } : {}),
  });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

/**
 * Linux: bytes read from and written to the block device holding `dir` so far (`/sys/dev/block/<dev>/stat`,
 * 512-byte sectors), or null elsewhere. The device's, not this process's: other writers count too (the
 * benchmark should run alone). `/proc/self/io` was used before and counted 260 KB per event at 1M profiles
 * against ~45 KB that reached the device: it counts a page each time it is dirtied again after being
 * written back, and the WAL rewrites the same 64 MB over and over.
 */
function deviceIo(dir: string): { readBytes: number; writeBytes: number } | null {
  try {
    const dev = statSync(dir).dev;
    // Linux dev_t: major in bits 8–19 (and 32+), minor in bits 0–7 and 20–31.
    const major = Math.floor(dev / 256) % 4096;
    const minor = (dev % 256) + Math.floor(dev / 1048576) % 4096 * 256;
    const fields = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/).map(Number);
    return { readBytes: fields[2]! * 512, writeBytes: fields[6]! * 512 };
  } catch {
    return null;
  }
}
