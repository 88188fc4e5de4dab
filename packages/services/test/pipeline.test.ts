import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '@siyu/core';
import { createTestSiyu, rejection, type TestSiyu } from '@siyu/services/testing';
import { TEST_BACKENDS } from '@siyu/storage/testing';

describe.each(TEST_BACKENDS)('processing pipeline on $name', (backend) => {
  let t: TestSiyu;
  beforeAll(async () => {
    t = await createTestSiyu(backend);
    t.clock.set('2026-05-01T08:00:00.000Z');
  });
  afterAll(async () => t.close());

  const ingest = (ws: WorkspaceRecord, body: Record<string, unknown>) => t.services.ingest.ingest(ws, 'identify', body, JSON.stringify(body).length);
  /** The inbox seq of a waiting message (claiming reads without consuming). */
  async function seqOf(messageId: string): Promise<number> {
    const item = (await t.services.deps.store.claimInbox(10_000)).find((i) => i.message.messageId === messageId);
    if (!item) throw new Error(`${messageId} is not waiting`);
    return item.seq;
  }
  /** Runs the processor as its loop does: a failing batch is narrowed to the failing message, which is dead-lettered. */
  async function processAll(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      try {
        if ((await t.services.processor.processBatch(1000)).messages === 0) return;
      } catch (e) {
        await t.services.processor.isolateFailure(e);
      }
    }
  }

  it('waiting messages show as lag; a failed one is kept aside with its error and processed once retried', async () => {
    const { workspace: ws } = await t.workspace('pipeline retry');
    await ingest(ws, { userId: 'p1', messageId: 'pm-1', traits: { city: '杭州' } });
    t.clock.advance(5000);
    expect(await t.services.pipeline.status(ws.id)).toEqual({ waiting: 1, lagMs: 5000, oldestWaitingAt: '2026-05-01T08:00:00.000Z', deadLetters: 0 });

    // A failure outside the message (a full disk, say) dead-letters it: nothing is dropped.
    await t.services.deps.store.deadLetter(await seqOf('pm-1'), 'SQLITE_FULL: database or disk is full', t.clock().toISOString());
    expect(await t.services.pipeline.status(ws.id)).toMatchObject({ waiting: 0, lagMs: 0, deadLetters: 1 });
    const dead = await t.services.pipeline.deadLetters(ws.id, { limit: 50 });
    expect(dead.data).toEqual([
      expect.objectContaining({ messageId: 'pm-1', type: 'identify', event: null, receivedAt: '2026-05-01T08:00:00.000Z', error: 'SQLITE_FULL: database or disk is full', failedAt: '2026-05-01T08:00:05.000Z' }),
    ]);
    expect(dead.data[0]!.message).toMatchObject({ userId: 'p1', traits: { city: '杭州' } });
    expect((await t.services.profiles.stats(ws.id)).profiles).toBe(0);

    // Retried: back in line with its original receipt time, then on a profile.
    let woken = 0;
    t.services.ingest.onAppend(() => woken++);
    expect(await t.services.pipeline.retry(ws.id, {})).toEqual({ retried: 1 });
    expect(woken).toBe(1);
    expect(await t.services.pipeline.status(ws.id)).toMatchObject({ waiting: 1, lagMs: 5000, deadLetters: 0 });
    await processAll();
    expect(await t.services.pipeline.status(ws.id)).toEqual({ waiting: 0, lagMs: 0, oldestWaitingAt: null, deadLetters: 0 });
    const found = await t.services.profiles.lookup(ws.id, 'user_id', 'p1');
    expect(found.traits).toMatchObject({ city: '杭州' });
  });

  it('a message whose retry meets a busy database stays in the inbox and is processed later, not dead-lettered', async () => {
    const { workspace: ws } = await t.workspace('pipeline busy');
    await ingest(ws, { userId: 'b1', messageId: 'bm-1' });
    // Another writer holds the database (an import's processor beside the server's), as the driver reports it.
    const busy = Object.assign(new Error(backend.name === 'sqlite' ? 'database is locked' : 'could not serialize access'), { code: backend.name === 'sqlite' ? 'SQLITE_BUSY_SNAPSHOT' : '40001' });
    const processor = t.services.processor;
    const real = processor.processBatch.bind(processor);
    processor.processBatch = async () => {
      throw busy;
    };
    try {
      await processor.isolateFailure(busy);
    } finally {
      processor.processBatch = real;
    }
    expect(await t.services.pipeline.status(ws.id)).toMatchObject({ waiting: 1, deadLetters: 0 });
    await processAll();
    expect(await t.services.pipeline.status(ws.id)).toMatchObject({ waiting: 0, deadLetters: 0 });
    expect((await t.services.profiles.lookup(ws.id, 'user_id', 'b1')).id).toMatch(/^prof_/);
  });

  it('a message the processor cannot handle is isolated from its batch, fails again on retry, and stays visible to its workspace only', async () => {
    const { workspace: a } = await t.workspace('pipeline A');
    const { workspace: b } = await t.workspace('pipeline B');
    await ingest(a, { userId: 'q1', messageId: 'qm-ok-1' });
    // A stored payload the processor trips over (as a processing bug would).
    const at = t.clock().toISOString();
    await t.services.deps.store.appendInbox(a.id, [{ messageId: 'qm-bad', payload: JSON.stringify({ message: { type: 'identify', messageId: 'qm-bad', receivedAt: at }, identifiers: null }), receivedAt: at }]);
    await ingest(a, { userId: 'q2', messageId: 'qm-ok-2' });
    await processAll();
    // The good messages of the same batch are processed; the bad one waits aside.
    expect((await t.services.profiles.stats(a.id)).profiles).toBe(2);
    const first = await t.services.pipeline.deadLetters(a.id, { limit: 50 });
    expect(first.data.map((d) => [d.messageId, d.receivedAt])).toEqual([['qm-bad', at]]);
    expect(first.data[0]!.error).not.toBe('');

    // Workspace B sees none of it and cannot retry it.
    expect(await t.services.pipeline.status(b.id)).toMatchObject({ waiting: 0, deadLetters: 0 });
    expect((await t.services.pipeline.deadLetters(b.id, { limit: 50 })).data).toEqual([]);
    expect(await t.services.pipeline.retry(b.id, { seqs: [first.data[0]!.seq] })).toEqual({ retried: 0 });
    expect(await t.services.pipeline.status(a.id)).toMatchObject({ deadLetters: 1 });

    // Retried while the cause remains: back among the dead letters, once.
    expect(await t.services.pipeline.retry(a.id, { seqs: [first.data[0]!.seq] })).toEqual({ retried: 1 });
    await processAll();
    const again = await t.services.pipeline.deadLetters(a.id, { limit: 50 });
    expect(again.data.map((d) => d.messageId)).toEqual(['qm-bad']);
    expect(await t.services.pipeline.status(a.id)).toMatchObject({ waiting: 0, deadLetters: 1 });
  });

  it('dead letters page by cursor, oldest first', async () => {
    const { workspace: ws } = await t.workspace('pipeline pages');
    for (const n of [1, 2, 3]) await ingest(ws, { userId: `r${n}`, messageId: `rm-${n}` });
    for (const n of [1, 2, 3]) await t.services.deps.store.deadLetter(await seqOf(`rm-${n}`), `failure ${n}`, t.clock().toISOString());
    const p1 = await t.services.pipeline.deadLetters(ws.id, { limit: 2 });
    expect(p1.data.map((d) => d.messageId)).toEqual(['rm-1', 'rm-2']);
    const p2 = await t.services.pipeline.deadLetters(ws.id, { limit: 2, cursor: p1.nextCursor! });
    expect(p2.data.map((d) => [d.messageId, d.error])).toEqual([['rm-3', 'failure 3']]);
    expect(p2.nextCursor).toBeNull();
    expect(await t.services.pipeline.retry(ws.id, { seqs: [p1.data[1]!.seq] })).toEqual({ retried: 1 });
    expect((await t.services.pipeline.deadLetters(ws.id, { limit: 10 })).data.map((d) => d.messageId)).toEqual(['rm-1', 'rm-3']);
  });

  it('bad retry bodies and cursors say what to send', async () => {
    const { workspace: ws } = await t.workspace('pipeline errors');
    const notArray = await rejection(t.services.pipeline.retry(ws.id, { seqs: '12' }));
    expect(notArray.code).toBe('INVALID_INPUT');
    expect(notArray.details?.problems).toEqual([{ path: 'seqs', message: expect.stringContaining('array') }]);
    const badItems = await rejection(t.services.pipeline.retry(ws.id, { seqs: [3, 0, 1.5, 'x'] }));
    expect((badItems.details?.problems as { path: string }[]).map((p) => p.path)).toEqual(['seqs[1]', 'seqs[2]', 'seqs[3]']);
    expect((await rejection(t.services.pipeline.retry(ws.id, [1]))).code).toBe('INVALID_INPUT');
    const cursor = await rejection(t.services.pipeline.deadLetters(ws.id, { limit: 10, cursor: 'abc' }));
    expect(cursor.details?.problems).toEqual([{ path: 'cursor', message: expect.any(String) }]);
  });
});
