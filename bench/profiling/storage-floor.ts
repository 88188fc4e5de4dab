// The storage write floor on SQLite: what the processor's writes alone cost per event. Reads the rows an ingest run
// stored (a directory kept by `npm run bench -- ingest --backend sqlite --rate 0 --keep`) and writes them again into
// a fresh database through the processor's own write path — SqlStore.applyChanges, one transaction per 2,000 events
// as the processor batches, each batch's stored profiles read first as the processor reads them — with no HTTP,
// inbox, parsing, identity resolution or folding. Prints CPU (this process: SQLite runs on this thread) and wall
// time per event. What the pipeline costs above it is the rest of the work; what it costs is the bound any
// arrangement of that work meets on this schema.
//
//   npx tsx bench/profiling/storage-floor.ts <kept dir> [--drop index,index] [--no-read] [--now]
//
// --drop     drops these indexes from the fresh database first (what each index costs)
// --no-read  skips the read of stored profiles before each batch's writes
// --now      stamps the events with consecutive times from now on (live traffic) instead of as stored
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { EventRow, IdentityRow, MessageType, ProfileRow } from '@siyu/core';
import { openStore } from '@siyu/storage';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { drop: { type: 'string' }, 'no-read': { type: 'boolean', default: false }, now: { type: 'boolean', default: false } },
});
const src = positionals[0];
if (!src) {
  process.stderr.write('usage: npx tsx bench/profiling/storage-floor.ts <kept ingest dir> [--drop index,index] [--no-read] [--now]\n');
  process.exit(64);
}
const BATCH = 2000;

type DbRow = Record<string, string | number | null>;
const str = (v: string | number | null | undefined): string => String(v);
const json = (v: string | number | null | undefined) => JSON.parse(String(v)) as Record<string, unknown>;

const from = new Database(join(src, 'siyu.db'), { readonly: true });
const dir = mkdtempSync(join(tmpdir(), 'siyu-floor-'));
const file = join(dir, 'siyu.db');
try {
  // The fresh database: migrated as the server does, the kept run's workspaces copied, the chosen indexes dropped.
  await (await openStore({ sqliteFile: file })).close();
  const to = new Database(file);
  for (const w of from.prepare('select * from workspaces').all() as DbRow[]) {
    const cols = Object.keys(w);
    to.prepare(`insert into workspaces (${cols.join(', ')}) values (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => w[c]));
  }
  for (const name of values.drop?.split(',').filter(Boolean) ?? []) to.exec(`drop index ${name}`);
  to.close();

  const profiles = new Map<string, ProfileRow>();
  for (const r of from.prepare('select * from profiles').iterate() as Iterable<DbRow>) {
    profiles.set(str(r.id), {
      id: str(r.id),
      workspaceId: str(r.workspace_id),
      mergedInto: r.merged_into === null ? null : str(r.merged_into),
      createdAt: str(r.created_at),
      updatedAt: str(r.updated_at),
      traits: json(r.traits),
      traitTimes: json(r.trait_times) as ProfileRow['traitTimes'],
      firstTouch: json(r.first_touch) as ProfileRow['firstTouch'],
      computed: json(r.computed) as unknown as ProfileRow['computed'],
    } as ProfileRow);
  }
  // Each identity goes with the batch of the message that first attached it.
  const identities = new Map<string, IdentityRow[]>();
  for (const r of from.prepare('select * from identities').iterate() as Iterable<DbRow>) {
    const list = identities.get(str(r.source_message_id)) ?? [];
    list.push({ workspaceId: str(r.workspace_id), type: str(r.type), value: str(r.value), profileId: str(r.profile_id), originProfileId: str(r.origin_profile_id), firstSeen: str(r.first_seen), sourceMessageId: str(r.source_message_id) });
    identities.set(str(r.source_message_id), list);
  }
  // The ingested events (with a message key) in the order they were stored.
  const events: EventRow[] = [];
  for (const r of from.prepare('select * from events where message_key is not null order by rowid').iterate() as Iterable<DbRow>) {
    events.push({
      id: str(r.id),
      workspaceId: str(r.workspace_id),
      profileId: str(r.profile_id),
      originProfileId: str(r.origin_profile_id),
      messageId: str(r.message_id),
      type: str(r.type) as MessageType,
      event: r.event === null ? null : str(r.event),
      traits: json(r.traits),
      properties: json(r.properties),
      context: json(r.context),
      timestamp: str(r.timestamp),
      receivedAt: str(r.received_at),
    });
  }
  if (values.now) {
    const base = Date.now();
    events.forEach((e, i) => (e.timestamp = new Date(base + Math.floor(i / 10)).toISOString()));
  }
  process.stderr.write(`${events.length} events, ${profiles.size} profiles\n`);

  const opened = await openStore({ sqliteFile: file });
  const written = new Set<string>();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    const ids = [...new Set(batch.map((e) => e.profileId))];
    await opened.store.transaction(async (tx) => {
      const stored = ids.filter((id) => written.has(id));
      if (!values['no-read'] && stored.length) await tx.profilesByIds(stored);
      await tx.applyChanges({
        consumedSeqs: [],
        profiles: ids.map((id) => profiles.get(id)).filter((p): p is ProfileRow => p !== undefined),
        identities: batch.flatMap((e) => identities.get(e.messageId) ?? []),
        events: batch,
        merges: [],
        conflicts: [],
      });
    });
    for (const id of ids) written.add(id);
  }
  const cpu = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  await opened.close();
  // The part of it that is JSON encoding (the JSON columns of those rows), for scale.
  const c1 = process.cpuUsage();
  for (const e of events) JSON.stringify(e.traits) + JSON.stringify(e.properties) + JSON.stringify(e.context);
  for (const id of new Set(events.map((e) => e.profileId))) {
    const p = profiles.get(id);
    if (p) JSON.stringify(p.traits) + JSON.stringify(p.traitTimes) + JSON.stringify(p.firstTouch) + JSON.stringify(p.computed);
  }
  const enc = process.cpuUsage(c1);
  const per = (us: number) => (us / events.length).toFixed(1);
  process.stdout.write(`storage_floor.events: ${events.length} events\n`);
  process.stdout.write(`storage_floor.cpu_per_event: ${per(cpu.user + cpu.system)} µs\n`);
  process.stdout.write(`storage_floor.system_cpu_per_event: ${per(cpu.system)} µs\n`);
  process.stdout.write(`storage_floor.wall_per_event: ${per(ms * 1000)} µs\n`);
  process.stdout.write(`storage_floor.rate: ${Math.round((events.length * 1000) / ms)} events/s\n`);
  process.stdout.write(`storage_floor.json_encode_per_event: ${per(enc.user + enc.system)} µs\n`);
} finally {
  from.close();
  rmSync(dir, { recursive: true, force: true });
}
