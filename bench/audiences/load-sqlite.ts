import BetterSqlite3 from 'better-sqlite3';
import { messageKey } from '@siyu/storage';
import { computeLayers, ProfileGenerator, profileId, tagMembers, userIdOf } from './generate.ts';
import { BULK_TABLES, EVENT_CONTEXT, seconds, TAG_ACTOR, TAG_SOURCE, tagAppliedAt, type LoadContext, type LoadResult } from './load-types.ts';

const TX_ROWS = 250_000;

/**
 * Bulk load straight into the SQLite file (the store must be closed: this takes the file
 * exclusively): prepared statements in large transactions, journal off, secondary indexes dropped
 * and rebuilt from their own `CREATE INDEX` text afterwards, rows in primary-key order.
 */
export function loadSqlite(file: string, ctx: LoadContext): LoadResult {
  const db = new BetterSqlite3(file);
  const timings: LoadResult['timings'] = [];
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('cache_size = -1048576');
    db.pragma('temp_store = FILE');
    const tables = BULK_TABLES.map((t) => `'${t}'`).join(',');
    const indexes = db.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${tables})`).all() as { name: string; sql: string }[];
    for (const i of indexes) db.exec(`drop index "${i.name}"`);

    const ws = ctx.workspaceId;
    const insProfile = db.prepare(
      'insert into profiles (id, workspace_id, traits, trait_times, first_touch, computed, merged_into, first_seen, last_seen, created_at, updated_at, num) values (?, ?, ?, ?, ?, ?, null, ?, ?, ?, ?, ?)',
    );
    const insIdentity = db.prepare('insert into identities (workspace_id, type, value, profile_id, origin_profile_id, first_seen, source_message_id) values (?, ?, ?, ?, ?, ?, ?)');
    const insEvent = db.prepare(
      'insert into events (id, workspace_id, profile_id, origin_profile_id, message_id, type, event, traits, properties, context, timestamp, received_at, profile_num, message_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const begin = db.prepare('begin');
    const commit = db.prepare('commit');

    // Profiles, identities and events, profile by profile (each profile's events are generated with it).
    let t0 = performance.now();
    const gen = new ProfileGenerator(ctx.shape, ctx.counts);
    let events = 0;
    let identities = 0;
    let inTx = 0;
    let nextReport = 1_000_000;
    begin.run();
    while (!gen.done) {
      gen.generate(1000, (p, ev) => {
        insProfile.run(p.id, ws, p.traits, p.traitTimes, p.firstTouch, p.computed, p.firstSeen, p.lastSeen, p.firstSeen, p.lastSeen, p.num);
        const source = ev.messageId[0] ?? `bench-profile-${p.num}`;
        insIdentity.run(ws, 'user_id', userIdOf(p.num), p.id, p.id, p.firstSeen, source);
        identities++;
        if (p.phone) {
          insIdentity.run(ws, 'phone', p.phone, p.id, p.id, p.firstSeen, source);
          identities++;
        }
        for (let k = 0; k < ev.id.length; k++) {
          const ts = ev.timestamp[k]!;
          insEvent.run(ev.id[k]!, ws, p.id, p.id, ev.messageId[k]!, ev.type[k]!, ev.event[k]!, '{}', ev.properties[k]!, EVENT_CONTEXT, ts, ts, p.num, messageKey(ws, ev.messageId[k]!));
        }
        events += ev.id.length;
        inTx += ev.id.length + 2;
      });
      if (inTx >= TX_ROWS) {
        commit.run();
        begin.run();
        inTx = 0;
      }
      if (events >= nextReport) {
        ctx.progress(`sqlite: ${events} events, ${Math.round(events / seconds(t0))} events/s`);
        nextReport += 2_000_000;
      }
    }
    commit.run();
    timings.push(['profiles_events', seconds(t0)]);

    // Tag applications, tag by tag (the (tag_id, profile_id) primary key grows at its end).
    t0 = performance.now();
    const insTag = db.prepare('insert into profile_tags (workspace_id, tag_id, profile_id, source, actor, applied_at, expires_at, profile_num) values (?, ?, ?, ?, ?, ?, null, ?)');
    const appliedAt = ctx.tagIds.map((_, t) => tagAppliedAt(ctx.shape, t));
    begin.run();
    inTx = 0;
    let profileTags = 0;
    ctx.fractions.forEach((f, t) => {
      profileTags += tagMembers(ctx.shape, f, t, (num) => {
        insTag.run(ws, ctx.tagIds[t]!, profileId(num), TAG_SOURCE, TAG_ACTOR, appliedAt[t]!, num);
        if (++inTx >= TX_ROWS) {
          commit.run();
          begin.run();
          inTx = 0;
        }
      });
    });
    commit.run();
    timings.push(['profile_tags', seconds(t0)]);

    // Layers: lifecycle and RFM of everyone, scored by the core functions; the settings document.
    t0 = performance.now();
    const layers = computeLayers(ctx.shape, gen.stats);
    const insLayer = db.prepare('insert into profile_layers (profile_id, workspace_id, lifecycle, rfm_r, rfm_f, rfm_m, rfm_segment, lifecycle_changes_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const now = new Date(ctx.shape.now).toISOString();
    begin.run();
    for (let i = 0; i < ctx.shape.profiles; i++) {
      const l = layers.rows(i);
      insLayer.run(profileId(l.num), ws, l.lifecycle, l.r, l.f, l.m, l.segment, l.changesAt, now);
    }
    db.prepare('insert into layer_settings (workspace_id, settings, updated_at) values (?, ?, ?) on conflict (workspace_id) do update set settings = excluded.settings, updated_at = excluded.updated_at').run(ws, JSON.stringify(layers.settings), now);
    commit.run();
    timings.push(['layers', seconds(t0)]);

    t0 = performance.now();
    for (const i of indexes) {
      const ti = performance.now();
      db.exec(i.sql);
      ctx.progress(`sqlite: index ${i.name} ${seconds(ti).toFixed(1)} s`);
    }
    timings.push(['indexes', seconds(t0)]);
    return { stats: gen.stats, timings, rows: { profiles: ctx.shape.profiles, identities, events, profileTags, layers: ctx.shape.profiles, purchasers: layers.purchasers } };
  } finally {
    db.close();
  }
}
