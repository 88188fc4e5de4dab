import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_IDENTITY_RULES,
  emptyProfileState,
  type ConflictRow,
  type EventRow,
  type IdentityRow,
  type MergeRow,
  type NormalizedMessage,
  type ProcessorChanges,
  type ProfileRow,
} from '@siyu/core';
import type { OpenedStore, SqlStore } from '@siyu/storage';
import { openTestStore, TEST_BACKENDS } from '@siyu/storage/testing';

/**
 * The processor's advisory lock key (services/src/processor.service.ts). On the shared test PostgreSQL,
 * other test files' processors claim the whole inbox; tests that look at the inbox hold this lock so no
 * processor runs meanwhile, and leave nothing behind.
 */
const PROCESSOR_LOCK = 7070_0001;
const NOW = '2026-03-01T00:00:00.000Z';

const EMPTY: ProcessorChanges = { consumedSeqs: [], profiles: [], identities: [], events: [], merges: [], conflicts: [] };
const changes = (c: Partial<ProcessorChanges>): ProcessorChanges => ({ ...EMPTY, ...c });

describe.each(TEST_BACKENDS)('storage contract on $name', (backend) => {
  let opened: OpenedStore;
  let store: SqlStore;
  beforeAll(async () => {
    opened = await openTestStore(backend);
    store = opened.store;
  });
  afterAll(async () => opened.close());

  /** A fresh workspace; ids carry a per-workspace tag so rows of parallel tests never collide. */
  async function workspace() {
    const tag = randomUUID().replace(/-/g, '').slice(0, 12);
    const id = `ws_${tag}`;
    await store.createWorkspace({ id, name: 'contract', timeZone: 'Asia/Shanghai', createdAt: NOW, instanceAdmin: false, writeKeyHash: `wk-${tag}`, adminTokenHash: `sat-${tag}`, rules: DEFAULT_IDENTITY_RULES });
    let n = 0;
    const pad = (i: number) => String(i).padStart(4, '0');
    const ws = {
      id,
      profile(traits: Record<string, unknown> = {}, extra: Partial<ProfileRow> = {}): ProfileRow {
        return { ...emptyProfileState(), id: `prof_${tag}_${pad(++n)}`, workspaceId: id, mergedInto: null, createdAt: NOW, updatedAt: NOW, traits, ...extra };
      },
      identity(profileId: string, type: string, value: string): IdentityRow {
        return { workspaceId: id, type, value, profileId, originProfileId: profileId, firstSeen: NOW, sourceMessageId: `msg_${value}` };
      },
      event(profileId: string, timestamp: string, fields: Partial<EventRow> = {}): EventRow {
        const k = pad(++n);
        return { id: `evt_${tag}_${k}`, workspaceId: id, profileId, originProfileId: profileId, messageId: `m_${k}`, type: 'track', event: 'Product Viewed', traits: {}, properties: {}, context: {}, timestamp, receivedAt: timestamp, ...fields };
      },
      merge(winnerId: string, loserId: string): MergeRow {
        return { id: `mrg_${tag}_${pad(++n)}`, workspaceId: id, winnerId, loserId, reason: 'test', messageId: null, actor: 'identity-resolution', createdAt: NOW, undoneAt: null };
      },
      conflict(profileId: string, otherProfileId: string | null): ConflictRow {
        return { id: `cnf_${tag}_${pad(++n)}`, workspaceId: id, messageId: `m_${pad(n)}`, profileId, otherProfileId, identifierType: 'device_id', identifierValue: `d${n}`, reason: 'limit', createdAt: NOW };
      },
      /** A valid inbox payload: any processor that claims it can process it. */
      inbox(messageId: string) {
        const message: NormalizedMessage = { messageId, type: 'track', userId: `u-${messageId}`, anonymousId: null, previousId: null, groupId: null, event: 'E', traits: {}, properties: {}, context: {}, externalIds: [], timestamp: NOW, originalTimestamp: null, sentAt: null, receivedAt: NOW };
        return { messageId, payload: JSON.stringify({ message, identifiers: [{ type: 'user_id', value: `u-${messageId}` }] }), receivedAt: NOW };
      },
    };
    return ws;
  }

  describe('workspaces and identity rules', () => {
    it('keeps the rules, highest priority first, and updates a type in place', async () => {
      const ws = await workspace();
      const rules = await store.identityRules(ws.id);
      expect(rules.map((r) => r.type)).toEqual(DEFAULT_IDENTITY_RULES.map((r) => r.type));
      expect(rules.find((r) => r.type === 'phone')).toEqual({ type: 'phone', priority: 70, maxPerProfile: null, builtin: true });
      await store.upsertIdentityRule(ws.id, { type: 'crm_id', priority: 95, maxPerProfile: 1, builtin: false });
      await store.upsertIdentityRule(ws.id, { type: 'member_no', priority: 90, maxPerProfile: 2, builtin: true });
      const after = await store.identityRules(ws.id);
      expect(after.map((r) => r.type).slice(0, 3)).toEqual(['user_id', 'crm_id', 'member_no']);
      expect(after.find((r) => r.type === 'member_no')?.maxPerProfile).toBe(2);
      expect(after).toHaveLength(DEFAULT_IDENTITY_RULES.length + 1);
    });

    it('finds a workspace by its key hashes only', async () => {
      const ws = await workspace();
      const tag = ws.id.slice(3);
      expect((await store.findWorkspaceByKey('write', `wk-${tag}`))?.id).toBe(ws.id);
      expect((await store.findWorkspaceByKey('admin', `sat-${tag}`))?.id).toBe(ws.id);
      expect(await store.findWorkspaceByKey('admin', `wk-${tag}`)).toBeUndefined();
    });
  });

  describe('inbox', () => {
    it('appendInbox stores each messageId once and reports the duplicates, also of processed messages', async () => {
      const ws = await workspace();
      await store.transaction(async (tx) => {
        expect(await tx.appendInbox(ws.id, [ws.inbox('a'), ws.inbox('b'), ws.inbox('c')])).toEqual({ duplicates: [] });
        expect(await tx.appendInbox(ws.id, [ws.inbox('b'), ws.inbox('d'), ws.inbox('c')])).toEqual({ duplicates: ['b', 'c'] });
        const p = ws.profile();
        // 'x' was processed earlier: its event exists, the inbox row is gone.
        await tx.applyChanges(changes({ profiles: [p], events: [ws.event(p.id, NOW, { messageId: 'x' })] }));
        expect(await tx.appendInbox(ws.id, [ws.inbox('x'), ws.inbox('e')])).toEqual({ duplicates: ['x'] });
        expect([...(await tx.processedMessageIds(ws.id, ['x', 'a', 'zz']))]).toEqual(['x']);
        const mine = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
        expect(mine.map((i) => i.message.messageId)).toEqual(['a', 'b', 'c', 'd', 'e']);
        await tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq) }));
      }, PROCESSOR_LOCK);
    });

    it('the same messageId in another workspace is not a duplicate', async () => {
      const one = await workspace();
      const two = await workspace();
      await store.transaction(async (tx) => {
        expect(await tx.appendInbox(one.id, [one.inbox('same')])).toEqual({ duplicates: [] });
        expect(await tx.appendInbox(two.id, [two.inbox('same')])).toEqual({ duplicates: [] });
        const mine = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === one.id || i.workspaceId === two.id);
        expect(mine).toHaveLength(2);
        await tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq) }));
      }, PROCESSOR_LOCK);
    });

    it('claimInbox returns messages in arrival order with their identifiers, up to the limit; consumed ones are gone once the batch commits', async () => {
      const one = await workspace();
      const two = await workspace();
      let firstThree: number[] = [];
      await store.transaction(async (tx) => {
        await tx.appendInbox(one.id, [one.inbox('1'), one.inbox('2')]);
        await tx.appendInbox(two.id, [two.inbox('3')]);
        await tx.appendInbox(one.id, [one.inbox('4'), one.inbox('5')]);
        const all = await tx.claimInbox(100_000);
        const mine = all.filter((i) => i.workspaceId === one.id || i.workspaceId === two.id);
        expect(mine.map((i) => `${i.workspaceId === one.id ? 'one' : 'two'}:${i.message.messageId}`)).toEqual(['one:1', 'one:2', 'two:3', 'one:4', 'one:5']);
        expect(mine.map((i) => i.seq)).toEqual([...mine.map((i) => i.seq)].sort((a, b) => a - b));
        expect(new Set(all.map((i) => i.seq)).size).toBe(all.length);
        expect(mine[0]!.identifiers).toEqual([{ type: 'user_id', value: 'u-1' }]);
        expect(await tx.claimInbox(2)).toHaveLength(2);
        // Claiming does not consume: the same messages come back until a batch commits them.
        expect((await tx.claimInbox(100_000)).filter((i) => i.workspaceId === one.id)).toHaveLength(4);
        firstThree = mine.slice(0, 3).map((i) => i.seq);
        await tx.applyChanges(changes({ consumedSeqs: firstThree }));
      }, PROCESSOR_LOCK);
      const left = (await store.claimInbox(100_000)).filter((i) => i.workspaceId === one.id || i.workspaceId === two.id);
      expect(left.map((i) => i.message.messageId)).toEqual(['4', '5']);
      await store.transaction((tx) => tx.applyChanges(changes({ consumedSeqs: left.map((i) => i.seq) })), PROCESSOR_LOCK);
      expect((await store.claimInbox(100_000)).filter((i) => i.workspaceId === one.id || i.workspaceId === two.id)).toEqual([]);
    });

    it('concurrent single-message appends under sustained load each resolve after their messages are stored, duplicates reported to the right caller', async () => {
      const ws = await workspace();
      // Waves of one-message requests, each wave sent while the previous commit has just ended (the
      // spaced group commit), each request then repeated: the repeat is a duplicate, the first is not.
      const ids: string[] = [];
      for (let wave = 0; wave < 5; wave++) {
        const batch = Array.from({ length: 40 }, (_, i) => `w${wave}-${i}`);
        ids.push(...batch);
        const first = await Promise.all(batch.map((id) => store.appendInbox(ws.id, [ws.inbox(id)])));
        expect(first).toEqual(batch.map(() => ({ duplicates: [] })));
        const again = await Promise.all(batch.map((id) => store.appendInbox(ws.id, [ws.inbox(id), ws.inbox(`${id}-new`)])));
        expect(again).toEqual(batch.map((id) => ({ duplicates: [id] })));
        ids.push(...batch.map((id) => `${id}-new`));
      }
      // Concurrent requests carrying the same new id (a client retrying before its first answer): stored once, and exactly one caller is told it was new.
      const racing = await Promise.all([0, 1, 2].map(() => store.appendInbox(ws.id, [ws.inbox('raced')])));
      expect(racing.map((r) => r.duplicates.length).sort()).toEqual([0, 1, 1]);
      ids.push('raced');
      const mine = await store.transaction(async (tx) => (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id), PROCESSOR_LOCK);
      // On PostgreSQL another test file's processor may take some meanwhile: stored ones are processed, never lost.
      const processed = await store.processedMessageIds(ws.id, ids);
      expect(new Set([...mine.map((i) => i.message.messageId), ...processed])).toEqual(new Set(ids));
      await store.transaction((tx) => tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq) })), PROCESSOR_LOCK);
    });

    it('a retry appended while the processor commits that message is reported as a duplicate and not left in the inbox', async () => {
      // PostgreSQL: the retry's check for a stored event runs before the processor commits, and its insert waits
      // on the inbox row the processor is deleting — then succeeds. (SQLite appends and processing take turns.)
      if (backend.name !== 'postgres') return;
      const ws = await workspace();
      const processor = await openTestStore(backend);
      try {
        let retry: Promise<{ duplicates: string[] }> | undefined;
        await processor.store.transaction(async (tx) => {
          // Appended under the processor's lock, so no other test file's processor takes it first.
          expect(await tx.appendInbox(ws.id, [ws.inbox('retried')])).toEqual({ duplicates: [] });
          const mine = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
          expect(mine.map((i) => i.message.messageId)).toEqual(['retried']);
          const p = ws.profile();
          await tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq), profiles: [p], events: [ws.event(p.id, NOW, { messageId: 'retried' })] }));
          // The retry arrives now, and blocks on the row being deleted until this commits.
          retry = store.appendInbox(ws.id, [ws.inbox('retried'), ws.inbox('fresh')]);
          await new Promise((r) => setTimeout(r, 300));
        }, PROCESSOR_LOCK);
        expect(await retry).toEqual({ duplicates: ['retried'] });
        await store.transaction(async (tx) => {
          const left = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
          // Not waiting a second time; 'fresh' waits, unless another test file's processor took it meanwhile.
          const fresh = (await tx.processedMessageIds(ws.id, ['fresh'])).has('fresh');
          expect(left.map((i) => i.message.messageId)).toEqual(fresh ? [] : ['fresh']);
          await tx.applyChanges(changes({ consumedSeqs: left.map((i) => i.seq) }));
        }, PROCESSOR_LOCK);
      } finally {
        await processor.close();
      }
    });

    it('a batch that rolls back consumes nothing: its messages stay in the inbox', async () => {
      const ws = await workspace();
      await store.appendInbox(ws.id, [ws.inbox('kept-1'), ws.inbox('kept-2')]);
      const mine = (await store.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
      const p = ws.profile();
      await expect(
        store.transaction(async (tx) => {
          await tx.applyChanges(changes({ profiles: [p], events: [ws.event(p.id, NOW, { messageId: 'kept-1' })], consumedSeqs: mine.map((i) => i.seq) }));
          throw new Error('processor failed after writing');
        }, PROCESSOR_LOCK),
      ).rejects.toThrow('processor failed after writing');
      expect((await store.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id).map((i) => i.message.messageId)).toEqual(['kept-1', 'kept-2']);
      expect(await store.processedMessageIds(ws.id, ['kept-1'])).toEqual(new Set());
      await store.transaction((tx) => tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq) })), PROCESSOR_LOCK);
    });

    it('a dead-lettered message leaves the inbox', async () => {
      const ws = await workspace();
      await store.transaction(async (tx) => {
        await tx.appendInbox(ws.id, [ws.inbox('bad'), ws.inbox('good')]);
        const mine = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
        await tx.deadLetter(mine[0]!.seq, 'boom', NOW);
        const left = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
        expect(left.map((i) => i.message.messageId)).toEqual(['good']);
        await tx.applyChanges(changes({ consumedSeqs: left.map((i) => i.seq) }));
      }, PROCESSOR_LOCK);
    });

    it('a rolled-back batch leaves its messages in the inbox', async () => {
      const ws = await workspace();
      await store.transaction(async (tx) => {
        await tx.appendInbox(ws.id, [ws.inbox('r1')]);
      }, PROCESSOR_LOCK);
      await store
        .transaction(async (tx) => {
          const mine = (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id);
          const p = ws.profile();
          await tx.applyChanges(changes({ consumedSeqs: mine.map((i) => i.seq), profiles: [p], events: [ws.event(p.id, NOW, { messageId: 'r1' })] }));
          throw new Error('crash before commit');
        }, PROCESSOR_LOCK)
        .catch(() => undefined);
      // On PostgreSQL another test file's processor may have taken it meanwhile; either way it is never lost.
      const inInbox = await store.transaction(async (tx) => (await tx.claimInbox(100_000)).filter((i) => i.workspaceId === ws.id), PROCESSOR_LOCK);
      const processed = await store.processedMessageIds(ws.id, ['r1']);
      expect(inInbox.length + processed.size).toBe(1);
      if (backend.name === 'sqlite') expect(inInbox.map((i) => i.message.messageId)).toEqual(['r1']);
      expect(await store.getProfile(ws.id, `prof_${ws.id.slice(3)}_0001`)).toBeUndefined();
      if (inInbox.length) await store.applyChanges(changes({ consumedSeqs: inInbox.map((i) => i.seq) }));
    });
  });

  describe('processor writes', () => {
    it.runIf(backend.name === 'postgres')('PostgreSQL keeps room on profile pages so profile updates stay heap-only (HOT)', async () => {
      const r = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where relname = 'profiles' and relkind = 'r'`.execute(store.db);
      expect(r.rows.flatMap((row) => row.reloptions ?? [])).toContain('fillfactor=75');
    });

    it('numbers only new profiles: a batch updating existing ones burns no numbers', async () => {
      const ws = await workspace();
      const a = ws.profile();
      await store.applyChanges(changes({ profiles: [a] }));
      const b = ws.profile();
      const c = ws.profile();
      // The existing profile between two new ones, updated in the same batch.
      await store.applyChanges(changes({ profiles: [b, { ...a, traits: { city: '上海' } }, c] }));
      const rows = await store.db.selectFrom('profiles').select(['id', 'num']).where('workspace_id', '=', ws.id).execute();
      const num = new Map(rows.map((r) => [r.id, Number(r.num)]));
      expect(num.get(c.id)! - num.get(b.id)!).toBe(1);
      expect(num.get(b.id)!).toBeGreaterThan(num.get(a.id)!);
      expect((await store.getProfile(ws.id, a.id))?.traits).toEqual({ city: '上海' });
    });

    it('kept columns: a batch that left traits or first-touch traits as stored updates the rest and keeps them', async () => {
      const ws = await workspace();
      const p = ws.profile({ city: '上海' }, { traitTimes: { city: '2026-01-01T00:00:00.000Z' }, firstTouch: { first_seen: '2026-01-01T00:00:00.000Z', first_source_channel: 'wechat' } });
      await store.applyChanges(changes({ profiles: [p] }));
      // A track call: only computed traits moved.
      const tracked = { ...p, computed: { ...p.computed, event_count: 1, last_seen: '2026-01-02T00:00:00.000Z' }, updatedAt: '2026-01-02T00:00:00.000Z' };
      await store.applyChanges(changes({ profiles: [tracked], kept: new Map([[p.id, { traits: true, firstTouch: true }]]) }));
      expect(await store.getProfile(ws.id, p.id)).toEqual(tracked);
      // An identify: traits moved, first-touch traits kept; and a new profile in the same batch (never "kept").
      const identified = { ...tracked, traits: { city: '杭州' }, traitTimes: { city: '2026-01-03T00:00:00.000Z' } };
      const fresh = ws.profile({ city: '北京' });
      await store.applyChanges(changes({ profiles: [identified, fresh], kept: new Map([[p.id, { traits: false, firstTouch: true }]]) }));
      expect(await store.getProfile(ws.id, p.id)).toEqual(identified);
      expect(await store.getProfile(ws.id, fresh.id)).toEqual(fresh);
      if (backend.name === 'postgres') {
        // PostgreSQL does not even send kept columns: what the row says there is not written.
        await store.applyChanges(changes({ profiles: [{ ...identified, traits: { city: 'ignored' } }], kept: new Map([[p.id, { traits: true, firstTouch: true }]]) }));
        expect((await store.getProfile(ws.id, p.id))?.traits).toEqual({ city: '杭州' });
      }
    });

    it('processor writes keep every value as sent: quotes, backslashes, braces, commas, newlines, emoji, nulls', async () => {
      const ws = await workspace();
      const odd = 'a "quoted", {braced} back\\slash \\" NULL\nline 2\t😀 会员';
      const p = ws.profile({ name: odd, nested: { list: [odd, null, 1.5], empty: {} }, nothing: null }, { traitTimes: { name: NOW }, firstTouch: { first_seen: NOW, first_source_channel: odd } });
      const idv = ws.identity(p.id, 'email', `x"{,}\\y@example.com`);
      const ev = ws.event(p.id, NOW, { messageId: `m "${odd}"`, event: odd, traits: { t: odd }, properties: { p: [odd, { q: null }] }, context: { ip: null, userAgent: odd } });
      const bare = ws.event(p.id, NOW, { event: null, type: 'page', traits: null as never, properties: null as never, context: null as never });
      await store.applyChanges(changes({ profiles: [p], identities: [idv], events: [ev, bare] }));
      expect(await store.getProfile(ws.id, p.id)).toEqual(p);
      // An update of the stored row goes the other way through the same columns.
      const updated = { ...p, traits: { ...p.traits, name: `${odd}!` }, computed: { ...p.computed, event_count: 2 }, updatedAt: '2026-01-02T00:00:00.000Z' };
      await store.applyChanges(changes({ profiles: [updated] }));
      expect(await store.getProfile(ws.id, p.id)).toEqual(updated);
      expect(await store.identitiesOf(ws.id, p.id)).toEqual([idv]);
      // SQLite returns JSON columns as text, PostgreSQL as values.
      const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
      const events = await store.db.selectFrom('events').select(['id', 'message_id', 'event', 'traits', 'properties', 'context']).where('workspace_id', '=', ws.id).orderBy('id').execute();
      expect(events.map((e) => ({ ...e, traits: json(e.traits), properties: json(e.properties), context: json(e.context) }))).toEqual([
        { id: ev.id, message_id: ev.messageId, event: odd, traits: { t: odd }, properties: { p: [odd, { q: null }] }, context: { ip: null, userAgent: odd } },
        { id: bare.id, message_id: bare.messageId, event: null, traits: null, properties: null, context: null },
      ]);
    });

    it('applyChanges writes profiles, identities, events and conflicts', async () => {
      const ws = await workspace();
      const p = ws.profile({ city: '上海', name: '李雷' });
      p.computed.order_count = 2;
      p.computed.first_seen = '2026-01-01T00:00:00.000Z';
      await store.applyChanges(
        changes({
          profiles: [p],
          identities: [ws.identity(p.id, 'user_id', 'u1'), ws.identity(p.id, 'phone', '+8613800138000')],
          events: [ws.event(p.id, '2026-01-01T00:00:00.000Z', { properties: { total: 12.5 }, context: { campaign: { source: '微信' } } })],
          conflicts: [ws.conflict(p.id, null)],
        }),
      );
      const read = await store.getProfile(ws.id, p.id);
      expect(read).toEqual(p);
      expect((await store.identitiesOf(ws.id, p.id)).map((i) => `${i.type}=${i.value}`).sort()).toEqual(['phone=+8613800138000', 'user_id=u1']);
      expect(await store.profileIdByIdentifier(ws.id, 'phone', '+8613800138000')).toBe(p.id);
      expect(await store.profileIdByIdentifier(ws.id, 'phone', '+8613900139000')).toBeUndefined();
      const ev = await store.eventsOf(ws.id, p.id, { limit: 10 });
      expect(ev.data[0]).toMatchObject({ properties: { total: 12.5 }, context: { campaign: { source: '微信' } }, traits: {} });
      expect((await store.listConflicts(ws.id, { limit: 10 })).data).toHaveLength(1);
      // Upserting the profile again replaces its state.
      await store.upsertProfiles([{ ...p, traits: { city: '北京' }, updatedAt: '2026-03-02T00:00:00.000Z' }]);
      expect((await store.getProfile(ws.id, p.id))?.traits).toEqual({ city: '北京' });
    });

    it('identitiesByKeys finds exactly the asked identifiers in the workspace', async () => {
      const ws = await workspace();
      const other = await workspace();
      const p = ws.profile();
      const q = other.profile();
      await store.applyChanges(changes({ profiles: [p], identities: [ws.identity(p.id, 'user_id', 'u1'), ws.identity(p.id, 'email', 'a@b.cn')] }));
      await store.applyChanges(changes({ profiles: [q], identities: [other.identity(q.id, 'user_id', 'u1')] }));
      const rows = await store.identitiesByKeys(ws.id, [
        { type: 'user_id', value: 'u1' },
        { type: 'email', value: 'u1' },
        { type: 'email', value: 'a@b.cn' },
      ]);
      expect(rows.map((r) => `${r.type}=${r.value}@${r.profileId}`).sort()).toEqual([`email=a@b.cn@${p.id}`, `user_id=u1@${p.id}`]);
    });

    it('a merge re-points identities and events to the winner, keeps their origin, and can be reversed', async () => {
      const ws = await workspace();
      const winner = ws.profile({ city: '上海' });
      const loser = ws.profile({ city: '北京' });
      const grandchild = ws.profile();
      await store.applyChanges(
        changes({
          profiles: [winner, loser, grandchild],
          identities: [ws.identity(winner.id, 'user_id', 'u1'), ws.identity(loser.id, 'anonymous_id', 'a1'), ws.identity(grandchild.id, 'anonymous_id', 'a2')],
          events: [ws.event(winner.id, '2026-01-02T00:00:00.000Z'), ws.event(loser.id, '2026-01-01T00:00:00.000Z'), ws.event(grandchild.id, '2026-01-03T00:00:00.000Z')],
        }),
      );
      const m1 = ws.merge(loser.id, grandchild.id);
      await store.applyChanges(changes({ merges: [m1] }));
      const m2 = ws.merge(winner.id, loser.id);
      // An event arriving in the same batch for the loser is re-pointed too.
      await store.applyChanges(changes({ merges: [m2], events: [ws.event(loser.id, '2026-01-04T00:00:00.000Z')] }));

      expect((await store.identitiesOf(ws.id, winner.id)).map((i) => `${i.value}<-${i.originProfileId}`).sort()).toEqual([`a1<-${loser.id}`, `a2<-${grandchild.id}`, `u1<-${winner.id}`]);
      expect(await store.identitiesOf(ws.id, loser.id)).toEqual([]);
      expect((await store.eventsOf(ws.id, winner.id, { limit: 10 })).data).toHaveLength(4);
      expect((await store.eventsOf(ws.id, loser.id, { limit: 10 })).data).toEqual([]);
      expect((await store.canonicalProfile(ws.id, grandchild.id))?.id).toBe(winner.id);
      expect((await store.getProfile(ws.id, loser.id))?.mergedInto).toBe(winner.id);
      expect((await store.mergedDescendants(ws.id, winner.id)).sort()).toEqual([loser.id, grandchild.id].sort());
      expect((await store.listProfiles(ws.id, { limit: 10 })).data.map((p) => p.id)).toEqual([winner.id]);
      expect((await store.mergesOf(ws.id, [loser.id])).map((m) => m.id).sort()).toEqual([m1.id, m2.id].sort());
      expect(await store.getMerge(ws.id, m2.id)).toEqual(m2);

      // Reverse the second merge, as unmerge does.
      await store.transaction(async (tx) => {
        await tx.setMergedInto(ws.id, loser.id, null, NOW);
        await tx.repointByOrigin(ws.id, [loser.id, grandchild.id], loser.id);
        await tx.markMergeUndone(ws.id, m2.id, '2026-03-02T00:00:00.000Z');
      });
      expect((await store.identitiesOf(ws.id, loser.id)).map((i) => i.value).sort()).toEqual(['a1', 'a2']);
      expect((await store.identitiesOf(ws.id, winner.id)).map((i) => i.value)).toEqual(['u1']);
      expect((await store.allEventsOf(ws.id, [loser.id])).map((e) => e.timestamp)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z']);
      expect((await store.canonicalProfile(ws.id, grandchild.id))?.id).toBe(loser.id);
      expect((await store.getMerge(ws.id, m2.id))?.undoneAt).toBe('2026-03-02T00:00:00.000Z');
      expect((await store.listProfiles(ws.id, { limit: 10 })).data.map((p) => p.id).sort()).toEqual([winner.id, loser.id].sort());
    });

    it('eraseProfiles removes everything of the given profiles and nothing else; suppressions are idempotent', async () => {
      const ws = await workspace();
      const gone = ws.profile();
      const kept = ws.profile();
      await store.applyChanges(
        changes({
          profiles: [gone, kept],
          identities: [ws.identity(gone.id, 'phone', '+8613800138000'), ws.identity(kept.id, 'user_id', 'k')],
          events: [ws.event(gone.id, NOW), ws.event(kept.id, NOW)],
          conflicts: [ws.conflict(kept.id, gone.id), ws.conflict(kept.id, null)],
        }),
      );
      const removed = await store.eraseProfiles(ws.id, [gone.id]);
      expect(removed.map((i) => i.value)).toEqual(['+8613800138000']);
      expect(await store.getProfile(ws.id, gone.id)).toBeUndefined();
      expect(await store.allEventsOf(ws.id, [gone.id])).toEqual([]);
      expect(await store.allEventsOf(ws.id, [kept.id])).toHaveLength(1);
      expect((await store.listConflicts(ws.id, { limit: 10 })).data.map((c) => c.otherProfileId)).toEqual([null]);

      expect(await store.hasSuppressions(ws.id)).toBe(false);
      await store.addSuppressions(ws.id, ['h1', 'h2'], NOW);
      await store.addSuppressions(ws.id, ['h2', 'h3'], NOW);
      expect(await store.hasSuppressions(ws.id)).toBe(true);
      expect([...(await store.suppressedHashes(ws.id, ['h1', 'h3', 'h4']))].sort()).toEqual(['h1', 'h3']);
      expect((await store.suppressedHashes((await workspace()).id, ['h1'])).size).toBe(0);
    });
  });

  describe('listProfiles', () => {
    it('the cursor walks every canonical profile exactly once, in id order', async () => {
      const ws = await workspace();
      const profiles = Array.from({ length: 23 }, (_, i) => ws.profile({ n: i }));
      const merged = ws.profile({}, { mergedInto: profiles[0]!.id });
      await store.applyChanges(changes({ profiles: [...profiles, merged] }));
      for (const limit of [1, 5, 7, 23, 50]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listProfiles(ws.id, { limit, cursor });
          expect(page.data.length).toBeLessThanOrEqual(limit);
          seen.push(...page.data.map((p) => p.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 100);
        expect(seen).toEqual(profiles.map((p) => p.id));
        expect(pages).toBe(Math.max(1, Math.ceil(23 / limit)));
      }
    });

    it.each<[string, Record<string, string>, number[]]>([
      ['a Chinese value', { city: '上海' }, [0, 2, 4]],
      ['two traits at once', { city: '上海', level: '金卡' }, [2]],
      ['a value nobody has', { city: '广州' }, []],
      ['a number', { age: '30' }, [1]],
      ['a trait key with a space', { 'favourite tea': '龙井' }, [3]],
    ])('filters by %s', async (_name, traits, expected) => {
      const ws = await workspace();
      const profiles = [
        ws.profile({ city: '上海', level: '银卡' }),
        ws.profile({ city: '北京', age: 30 }),
        ws.profile({ city: '上海', level: '金卡' }),
        ws.profile({ city: '杭州', 'favourite tea': '龙井' }),
        ws.profile({ city: '上海' }),
      ];
      await store.applyChanges(changes({ profiles }));
      const page = await store.listProfiles(ws.id, { limit: 100, traits });
      expect(page.data.map((p) => p.id)).toEqual(expected.map((i) => profiles[i]!.id));
    });

    // Regression guard for a fixed bug: a boolean trait compares as 'true' on PostgreSQL (`traits->>'vip'`) but as '1' on SQLite
    // (`cast(json_extract(...) as text)` in storage/src/dialect.ts `jsonText`), so `trait.vip=true`
    // finds the VIP customers on PostgreSQL and nobody on SQLite.
    it('filters by a boolean trait the same way on every backend', async () => {
      const ws = await workspace();
      const vip = ws.profile({ vip: true });
      await store.applyChanges(changes({ profiles: [vip, ws.profile({ vip: false })] }));
      expect((await store.listProfiles(ws.id, { limit: 10, traits: { vip: 'true' } })).data.map((p) => p.id)).toEqual([vip.id]);
    });

    it('pages through a trait filter', async () => {
      const ws = await workspace();
      const profiles = Array.from({ length: 12 }, (_, i) => ws.profile({ city: i % 3 === 0 ? '北京' : '上海' }));
      await store.applyChanges(changes({ profiles }));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listProfiles(ws.id, { limit: 3, cursor, traits: { city: '上海' } });
        seen.push(...page.data.map((p) => p.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual(profiles.filter((_, i) => i % 3 !== 0).map((p) => p.id));
    });

    it('filters by identifier and never returns another workspace’s profiles', async () => {
      const ws = await workspace();
      const other = await workspace();
      const a = ws.profile({ city: '上海' });
      const b = ws.profile({ city: '上海' });
      const x = other.profile({ city: '上海' });
      await store.applyChanges(changes({ profiles: [a, b], identities: [ws.identity(a.id, 'phone', '+8613800138000'), ws.identity(b.id, 'phone', '+8613900139000')] }));
      await store.applyChanges(changes({ profiles: [x], identities: [other.identity(x.id, 'phone', '+8613800138000')] }));
      expect((await store.listProfiles(ws.id, { limit: 10, identifier: { type: 'phone', value: '+8613800138000' } })).data.map((p) => p.id)).toEqual([a.id]);
      expect((await store.listProfiles(ws.id, { limit: 10, traits: { city: '上海' } })).data.map((p) => p.id)).toEqual([a.id, b.id]);
      expect(await store.getProfile(ws.id, x.id)).toBeUndefined();
      expect(await store.canonicalProfile(ws.id, x.id)).toBeUndefined();
    });
  });

  describe('eventsOf', () => {
    it('pages newest first, with equal timestamps in a stable order, each event exactly once', async () => {
      const ws = await workspace();
      const p = ws.profile();
      const other = ws.profile();
      const times = ['2026-01-03', '2026-01-01', '2026-01-02', '2026-01-02', '2026-01-02', '2026-01-03', '2026-01-01', '2026-01-02'].map((d) => `${d}T08:00:00.000Z`);
      const events = times.map((ts) => ws.event(p.id, ts));
      await store.applyChanges(changes({ profiles: [p, other], events: [...events, ws.event(other.id, '2026-01-02T08:00:00.000Z')] }));
      const expected = [...events].sort((a, b) => (a.timestamp === b.timestamp ? b.id.localeCompare(a.id) : b.timestamp.localeCompare(a.timestamp))).map((e) => e.id);
      for (const limit of [1, 2, 3, 8, 20]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.eventsOf(ws.id, p.id, { limit, cursor });
          seen.push(...page.data.map((e) => e.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 100);
        expect(seen).toEqual(expected);
      }
    });
  });

  describe('stats', () => {
    it('counts canonical and merged profiles, events per day and by name, conflicts and identities by type', async () => {
      const ws = await workspace();
      const a = ws.profile();
      const b = ws.profile();
      const c = ws.profile();
      await store.applyChanges(
        changes({
          profiles: [a, b, c],
          identities: [ws.identity(a.id, 'user_id', 'u1'), ws.identity(a.id, 'phone', '+8613800138000'), ws.identity(b.id, 'phone', '+8613900139000'), ws.identity(c.id, 'anonymous_id', 'x')],
          events: [
            ws.event(a.id, '2026-02-27T10:00:00.000Z', { event: 'Order Completed' }),
            ws.event(a.id, '2026-02-27T11:00:00.000Z', { event: 'Order Completed' }),
            ws.event(b.id, '2026-02-28T10:00:00.000Z', { event: 'Product Viewed' }),
            ws.event(b.id, '2026-02-28T10:00:00.000Z', { type: 'identify', event: null }),
            ws.event(c.id, '2025-12-01T10:00:00.000Z', { event: 'Old Event' }),
          ],
          conflicts: [ws.conflict(a.id, b.id)],
        }),
      );
      await store.applyChanges(changes({ merges: [ws.merge(a.id, c.id)] }));
      const stats = await store.stats(ws.id, '2026-02-01T00:00:00.000Z');
      expect(stats).toEqual({
        profiles: 2,
        mergedProfiles: 1,
        events: 5,
        openConflicts: 1,
        eventsPerHour: [
          { hour: '2026-02-27T10', count: 1 },
          { hour: '2026-02-27T11', count: 1 },
          { hour: '2026-02-28T10', count: 2 },
        ],
        eventsByName: [
          { event: 'Order Completed', count: 2 },
          expect.objectContaining({ count: 1 }),
          expect.objectContaining({ count: 1 }),
        ],
        identitiesByType: [
          { type: 'anonymous_id', count: 1 },
          { type: 'phone', count: 2 },
          { type: 'user_id', count: 1 },
        ],
      });
      expect(stats.eventsByName.map((e) => e.event).sort()).toEqual(['Old Event', 'Order Completed', 'Product Viewed']);
      const empty = await store.stats((await workspace()).id, '2026-02-01T00:00:00.000Z');
      expect(empty).toEqual({ profiles: 0, mergedProfiles: 0, events: 0, openConflicts: 0, eventsPerHour: [], eventsByName: [], identitiesByType: [] });
    });
  });
});
