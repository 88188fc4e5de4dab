import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { WorkerThread } from '@siyu/cli';
import type { Config } from '@siyu/config';
import type { WorkspaceRecord } from '@siyu/core';
import { silentLogger, type Services } from '@siyu/services';
import { ProcessorLoop, ReevaluationLoop } from '@siyu/worker';
import { CITIES, profileId, Rng, userIdOf } from './generate.ts';

export interface IncrementalOptions {
  workspace: WorkspaceRecord;
  /** Events per second offered to ingestion. */
  rate: number;
  seconds: number;
  /** Milliseconds between ingestion calls (0: send whatever is due as soon as the previous call returns). */
  sendIntervalMs?: number;
  /** Share of the events that are probes (an order by someone outside the probe segment). */
  probeShare: number;
  /** The segment probes enter: `Order Completed` count ≥ 1 in the last 30 days. */
  probeSegmentId: string;
  /** Profile nums known to be outside the probe segment (no order in the last 31 days), shuffled. */
  probeNums: readonly number[];
  /**
   * Nums the other events leave alone, besides this phase's probes: the probes of a later phase, which an
   * order would otherwise put in the segment before they are probed (they would never be seen entering).
   */
  reserveNums?: readonly number[];
  profiles: number;
  processorBatch: number;
  seed: number;
  /**
   * Run the background loops as `siyu start` does, in a worker thread on this configuration (the
   * store of `services` must be opened with the same writer lock on SQLite); otherwise on this thread.
   */
  threaded?: { config: Config; writerLock: SharedArrayBuffer | undefined };
  /** Counters of the database's device (Linux), read at the start of sending and at the end of the drain. */
  deviceIo?: () => { readBytes: number; writeBytes: number } | null;
}

export interface IncrementalResult {
  offered: number;
  accepted: number;
  sendSeconds: number;
  /** Probe latencies, ms: receipt of the order → `Segment Entered` committed and announced. */
  latenciesMs: number[];
  probesSent: number;
  /** Processor latency per message, ms: receipt → profile committed. */
  processorMs: number[];
  /** Seconds from the end of sending until everything sent was processed and evaluated. */
  drainSeconds: number;
  /**
   * CPU time of the phase, ms: the whole process, and the worker thread alone (Linux, threaded). Less
   * noisy than latencies on a VM whose page cache is reclaimed under it: waits for the device are not in it.
   */
  processCpuMs: number;
  /** CPU time of the processor thread (threaded runs, Linux). */
  workerCpuMs: number | null;
  /** CPU time of the audience thread (threaded runs, Linux). */
  audienceCpuMs: number | null;
  membershipChanges: number;
  /** Bytes read from and written to the database's device from the start of sending to the end of the drain ({@link IncrementalOptions.deviceIo}). */
  io: { readBytes: number; writeBytes: number } | null;
  /** Read and write system calls over the phase: the whole process, and the worker thread (Linux). */
  syscalls: { process: SyscallCounts; worker: SyscallCounts | null } | null;
}

const MAX_PER_CALL = 500;

/**
 * Live traffic at a paced rate through the real path — `IngestService.ingest` (validation, inbox
 * commit) → `ProcessorLoop` (identity resolution, profile and computed traits) → `AudienceEngine`
 * (tags, segments, bitmaps) and `LayerService`, with the `ReevaluationLoop` running as in
 * `siyu start` — by default in a worker thread as `siyu start` runs them (`threaded`). Probe orders
 * go to people outside the probe segment, each once; a probe's latency ends when that person's
 * entering is committed and announced (threaded: when its bitmap change reaches this thread, which
 * is what live counts see).
 */
export async function runIncremental(services: Services, o: IncrementalOptions): Promise<IncrementalResult> {
  const rng = new Rng(o.seed);
  const probeTarget = Math.ceil(o.rate * o.seconds * o.probeShare);
  const probeNums = o.probeNums.slice(0, probeTarget);
  const reserved = new Set([...probeNums, ...(o.reserveNums ?? [])]);
  let nextProbe = 0;
  const probeSentAt = new Map<string, number>();
  const profileIdByNum = new Map<number, string>();
  const latenciesMs: number[] = [];
  const probeLog: [sentAtMs: number, latencyMs: number][] = [];
  let phaseStart = Date.now();
  let membershipChanges = 0;
  services.audienceEngine.onMembershipChanged((ws, changes) => {
    if (ws !== o.workspace.id) return;
    const t = Date.now();
    membershipChanges += changes.length;
    for (const c of changes) {
      if (c.kind !== 'segment' || c.refId !== o.probeSegmentId || c.action !== 'entered') continue;
      const sentAt = probeSentAt.get(c.profileId);
      if (sentAt === undefined) continue;
      latenciesMs.push(t - sentAt);
      probeLog.push([sentAt - phaseStart, -(t - sentAt)]);
      probeSentAt.delete(c.profileId);
    }
  });
  // Probe profiles by id: the listener reports profile ids, the messages carry user ids.
  for (const num of probeNums) profileIdByNum.set(num, profileId(num));

  const processorMs: number[] = [];
  let processed = 0;
  let lastIndexOpAt = Date.now();
  let worker: WorkerThread | undefined;
  let loop: ProcessorLoop | undefined;
  let reevaluation: ReevaluationLoop | undefined;
  if (o.threaded) {
    // Memberships are committed in the worker thread; they reach this thread as bitmap changes.
    worker = new WorkerThread(o.threaded.config, services, silentLogger, o.threaded.writerLock);
    worker.observe((messages, latencies) => {
      processed += messages;
      for (const l of latencies) processorMs.push(l);
    });
    worker.observeIndex((ws, ops) => {
      if (ws !== o.workspace.id) return;
      const t = Date.now();
      lastIndexOpAt = t;
      for (const op of ops) {
        if (op.op !== 'member') continue;
        membershipChanges++;
        if (op.kind !== 'segment' || op.refId !== o.probeSegmentId || op.action !== 'add') continue;
        const id = profileIdByNum.get(op.num);
        const sentAt = id === undefined ? undefined : probeSentAt.get(id);
        if (sentAt === undefined) continue;
        latenciesMs.push(t - sentAt);
        probeLog.push([sentAt - phaseStart, t - sentAt]);
        probeSentAt.delete(id!);
      }
    });
    await worker.start();
    // Steady state, as on a running server: the thread preloads its audience index at start (seconds at
    // 1M profiles); events sent before it is built would measure the start, not incremental updates.
    await worker.warm();
    services.ingest.onAppend(worker.notify);
  } else {
    // As `siyu start` with SIYU_WORKER=inline (runtime.ts): batches keep pace with the work they queue.
    const inline = new ProcessorLoop(services.processor, silentLogger, { batchSize: o.processorBatch, downstream: [services.layers, services.audienceEngine] });
    inline.observe((r) => {
      processed += r.messages;
      for (const l of r.latenciesMs) processorMs.push(l);
    });
    services.ingest.onAppend(inline.notify);
    inline.start();
    loop = inline;
    reevaluation = new ReevaluationLoop(services.audienceEngine, silentLogger);
    reevaluation.start();
  }

  let seq = 0;
  // Random UUIDs, as the SDKs send: each lands at a random place in the events' message-id index (a
  // run-stamp prefix, used before, kept a run's ids together in one small, hot range of it). Not seeded:
  // runs on a kept database must never send ids an earlier run stored. A seeded generator's 32-bit state
  // (bench/uuid.ts) walks one cycle that each run enters at a point of its own, and one `--reuse` run had
  // all 50,000 of its messages (rightly) taken for duplicates — most likely it started on an earlier run's
  // stretch of that cycle.
  const message = (num: number, probe: boolean): object => {
    const base = { messageId: randomUUID(), userId: userIdOf(num), timestamp: new Date().toISOString(), context: { library: { name: 'bench-live' } } };
    const r = probe ? 0 : rng.next();
    if (probe || r < 0.08) {
      const total = (1800 + rng.int(30_000)) / 100;
      return { ...base, type: 'track', event: 'Order Completed', properties: { order_id: `lo-${seq}`, total, currency: 'CNY', category: '茶饮' } };
    }
    if (r < 0.11) return { ...base, type: 'identify', traits: { city: CITIES[rng.int(CITIES.length)]![0] } };
    if (r < 0.36) return { ...base, type: 'page', name: '商品详情', properties: { path: '/p', title: '商品详情' } };
    if (r < 0.46) return { ...base, type: 'track', event: 'Product Added', properties: { product_id: `SKU-${rng.int(400)}`, category: '茶饮', quantity: 1 } };
    return { ...base, type: 'track', event: 'Product Viewed', properties: { product_id: `SKU-${rng.int(400)}`, category: '茶饮', price: 26 } };
  };

  // SIYU_BENCH_PROFILE=<dir>: a CPU profile of this phase only (open it in Chrome DevTools).
  const profileDir = process.env.SIYU_BENCH_PROFILE;
  const session = profileDir ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }

  phaseStart = Date.now();
  const io0 = o.deviceIo?.() ?? null;
  const cpu0 = process.cpuUsage();
  const workerCpu0 = threadCpuMs(worker?.osThreadId);
  const audienceCpu0 = threadCpuMs(worker?.audienceOsThreadId);
  const sys0 = syscallCounts();
  const workerSys0 = worker?.osThreadId !== undefined ? syscallCounts(worker.osThreadId) : null;
  const total = Math.round(o.rate * o.seconds);
  const probeEvery = o.probeShare > 0 ? Math.max(1, Math.round(1 / o.probeShare)) : Number.POSITIVE_INFINITY;
  let offered = 0;
  let accepted = 0;
  const started = performance.now();
  let lastSendAt = 0;
  while (offered < total) {
    const target = Math.min(total, Math.floor(((performance.now() - started) / 1000) * o.rate));
    const due = Math.min(MAX_PER_CALL, target - offered);
    if (due <= 0 || (o.sendIntervalMs && performance.now() - lastSendAt < o.sendIntervalMs)) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const batch: object[] = [];
    const probes: string[] = [];
    for (let i = 0; i < due; i++) {
      const isProbe = (offered + i) % probeEvery === probeEvery - 1 && nextProbe < probeNums.length;
      if (isProbe) {
        const num = probeNums[nextProbe++]!;
        probes.push(profileIdByNum.get(num)!);
        batch.push(message(num, true));
      } else {
        let num = 1 + rng.int(o.profiles);
        while (reserved.has(num)) num = 1 + rng.int(o.profiles);
        batch.push(message(num, false));
      }
    }
    const body = { batch };
    const sentAt = Date.now();
    lastSendAt = performance.now();
    for (const id of probes) probeSentAt.set(id, sentAt);
    const res = await services.ingest.ingest(o.workspace, 'batch', body, JSON.stringify(body).length * 2);
    accepted += res.accepted;
    offered += due;
  }
  const sendSeconds = (performance.now() - started) / 1000;
  const drainStart = Date.now();
  const deadline = Date.now() + 300_000;
  while (processed < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  let drainEnd: number;
  if (worker) {
    const processedAt = Date.now();
    // The worker's evaluations follow its batches: done when its bitmap changes have gone quiet for a
    // second; the drain ends at the last of them (or when the processor finished, if later).
    while (Date.now() - lastIndexOpAt < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    drainEnd = Math.max(processedAt, lastIndexOpAt);
  } else {
    await services.audienceEngine.settled();
    await services.layers.settled();
    await services.audienceEngine.settled();
    drainEnd = Date.now();
  }
  const drainSeconds = Math.max(0, drainEnd - drainStart) / 1000;
  const io1 = o.deviceIo?.() ?? null;
  const cpu = process.cpuUsage(cpu0);
  const workerCpu1 = threadCpuMs(worker?.osThreadId);
  const audienceCpu1 = threadCpuMs(worker?.audienceOsThreadId);
  const sys1 = syscallCounts();
  const workerSys1 = worker?.osThreadId !== undefined ? syscallCounts(worker.osThreadId) : null;
  if (session && profileDir) {
    const { profile } = await session.post('Profiler.stop');
    const file = join(profileDir, `audiences-incremental-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    process.stderr.write(`cpu profile of the incremental phase: ${file}\n`);
  }
  // SIYU_BENCH_LATENCIES=<file>: each probe's send time (ms into the phase) and latency, to see when they were slow.
  if (process.env.SIYU_BENCH_LATENCIES) writeFileSync(process.env.SIYU_BENCH_LATENCIES, probeLog.map(([at, ms]) => `${at} ${ms}`).join('\n') + '\n');
  await worker?.stop();
  await loop?.stop();
  await reevaluation?.stop();
  await services.audienceEngine.settled();
  return {
    offered,
    accepted,
    sendSeconds,
    latenciesMs,
    probesSent: nextProbe,
    processorMs,
    drainSeconds,
    membershipChanges,
    processCpuMs: (cpu.user + cpu.system) / 1000,
    workerCpuMs: workerCpu0 !== null && workerCpu1 !== null ? workerCpu1 - workerCpu0 : null,
    audienceCpuMs: audienceCpu0 !== null && audienceCpu1 !== null ? audienceCpu1 - audienceCpu0 : null,
    io: io0 && io1 ? { readBytes: io1.readBytes - io0.readBytes, writeBytes: io1.writeBytes - io0.writeBytes } : null,
    syscalls: sys0 && sys1 ? { process: diffSyscalls(sys0, sys1), worker: workerSys0 && workerSys1 ? diffSyscalls(workerSys0, workerSys1) : null } : null,
  };
}

export interface SyscallCounts {
  reads: number;
  writes: number;
}

/**
 * Read and write system calls made so far (Linux `syscr`/`syscw`: read, pread, readv…; write, pwrite…)
 * by this process, or by one of its threads. A count, so far steadier from run to run than CPU time on a
 * shared VM, and on this one each call is most of the cost: SQLite reads a page it does not hold with one
 * `pread`, writes each dirty page to the WAL with two `pwrite`s and copies it at the checkpoint with a
 * `pread` and a `pwrite`.
 */
export function syscallCounts(tid?: number): SyscallCounts | null {
  try {
    const text = readFileSync(tid === undefined ? '/proc/self/io' : `/proc/self/task/${tid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1]);
    const reads = field('syscr');
    const writes = field('syscw');
    return Number.isFinite(reads) && Number.isFinite(writes) ? { reads, writes } : null;
  } catch {
    return null;
  }
}

export function diffSyscalls(a: SyscallCounts, b: SyscallCounts): SyscallCounts {
  return { reads: b.reads - a.reads, writes: b.writes - a.writes };
}

/** CPU time (user + system) of one thread of this process so far, ms, from `/proc` (Linux); null elsewhere. */
export function threadCpuMs(tid: number | undefined): number | null {
  if (tid === undefined) return null;
  try {
    // Fields after the command name (which ends at the last ')'): utime and stime are the 12th and 13th, in ticks of 10 ms.
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}
