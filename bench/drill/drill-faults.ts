/**
 * The drill's faults, one at a time: the seeded schedule (which fault next, for how long) and how
 * each is injected, recorded in the history (`recordFault`, its target and when it was lifted),
 * and lifted. Between two faults the cluster must settle (every node up, one leader agreed by all,
 * none catching up) within `settleTimeoutMs`; then a seeded pause follows.
 *
 * The schedule: first every fault kind once, in a seeded order (so that a default run meets each),
 * then seeded draws weighted towards the leader's kill, until the run's time is spent; or, with
 * `--faults`, exactly the list given. A fault starts only when the time left can hold it.
 *
 * What is expected of the cluster, beyond the history's checks (each miss is an `expectations`
 * line and fails the drill): a node stopped with SIGTERM exits 0; a node restarted on a damaged WAL
 * does what docs/wal-format.md says (wal-damage.ts); the cluster settles after every fault.
 *
 * Runs on: the drill runner's process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBetween, type SeededRandom } from '../../src/raft/random.js';
import type { DrillCluster } from './drill-cluster.js';
import type { WorkerPool } from './drill-workers.js';
import type { DrillHistory, FaultKind } from './history.js';
import { damageNewestSegment, expectedOnRestart, walDamageKinds } from './wal-damage.js';

export const scheduledFaultKinds = [
  'kill-leader', 'kill-follower', 'kill-worker', 'sigstop', 'partition', 'partition-one-way', 'latency', 'wal-damage', 'restart',
] as const satisfies readonly FaultKind[];
export type ScheduledFault = (typeof scheduledFaultKinds)[number];

/** Draw weights after the first pass: the leader's kill is the fault that matters most. */
const faultWeights: Readonly<Record<ScheduledFault, number>> = {
  'kill-leader': 5, 'kill-follower': 2, 'kill-worker': 2, sigstop: 2, partition: 2, 'partition-one-way': 1, latency: 1, 'wal-damage': 1, restart: 1,
};
/** Time a fault needs at least, to start it (its hold, a restart, the settling after it). */
const faultSecondsMin: Readonly<Record<ScheduledFault, number>> = {
  'kill-leader': 8, 'kill-follower': 8, 'kill-worker': 4, sigstop: 6, partition: 8, 'partition-one-way': 8, latency: 8, 'wal-damage': 12, restart: 25,
};
/** After a fault is lifted, the cluster must settle within this (slow machine, a catch-up included). */
export const settleTimeoutMs = 30_000;
/** A stopping node drains within supervisor.shutdownTimeoutMs; this bounds the wait for its exit. */
const stopTimeoutMs = 20_000;
/** How long the drill waits for a killed worker's jobs to be leased by others (its TTL, then a pull). */
const rebalanceWaitMs = 15_000;
/** How long a worker holding leases is looked for before one is killed anyway. */
const heldLeasesWaitMs = 3_000;

export interface FaultContext {
  readonly cluster: DrillCluster;
  readonly workers: WorkerPool;
  readonly history: DrillHistory;
  readonly random: SeededRandom;
  /** A line for the live output. */
  readonly say: (line: string) => void;
  /** Broken expectations: each fails the drill. */
  readonly expectations: string[];
}

function pick<T>(random: SeededRandom, items: readonly T[]): T {
  const item = items[randomBetween(random, 0, items.length - 1)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** The seeded sequence of faults: each kind once, shuffled, then weighted draws. */
export function* faultSchedule(random: SeededRandom): Generator<ScheduledFault> {
  const firstPass = [...scheduledFaultKinds];
  for (let position = firstPass.length - 1; position > 0; position -= 1) {
    const other = randomBetween(random, 0, position);
    [firstPass[position], firstPass[other]] = [firstPass[other] as ScheduledFault, firstPass[position] as ScheduledFault];
  }
  yield* firstPass;
  const total = scheduledFaultKinds.reduce((sum, kind) => sum + faultWeights[kind], 0);
  for (;;) {
    let draw = randomBetween(random, 0, total - 1);
    for (const kind of scheduledFaultKinds) {
      draw -= faultWeights[kind];
      if (draw < 0) {
        yield kind;
        break;
      }
    }
  }
}

export function faultFits(kind: ScheduledFault, msLeft: number): boolean {
  return msLeft >= faultSecondsMin[kind] * 1000;
}

async function leaderNow(context: FaultContext): Promise<string> {
  const leader = await context.cluster.settled(settleTimeoutMs);
  if (leader === undefined) throw new Error(`no settled leader before a fault: ${context.cluster.describe()}`);
  return leader;
}

function followerOf(context: FaultContext, leader: string): string {
  return pick(context.random, context.cluster.ids.filter((id) => id !== leader));
}

/** kill -9 of `target`, restarted after a seeded pause. */
async function killNode(context: FaultContext, kind: 'kill-leader' | 'kill-follower', target: string): Promise<void> {
  const fault = context.history.recordFault({ fault: kind, target, startMs: Date.now() });
  await context.cluster.kill9(target);
  await sleep(randomBetween(context.random, 1_000, 3_000));
  context.cluster.start(target);
  fault.end(Date.now());
}

async function pauseLeader(context: FaultContext, leader: string): Promise<void> {
  const fault = context.history.recordFault({ fault: 'sigstop', target: leader, startMs: Date.now() });
  context.cluster.signal(leader, 'SIGSTOP');
  // Beyond electionTimeoutMsMax (500 ms by default): the others elect a new leader meanwhile.
  await sleep(randomBetween(context.random, 1_200, 2_500));
  context.cluster.signal(leader, 'SIGCONT');
  fault.end(Date.now());
}

async function networkFault(context: FaultContext, kind: 'partition' | 'partition-one-way' | 'latency', leader: string): Promise<void> {
  const { network } = context.cluster;
  let target = leader;
  if (kind === 'partition') {
    network.isolate(leader);
  } else if (kind === 'partition-one-way') {
    const follower = followerOf(context, leader);
    target = `${leader}->${follower}`;
    network.oneWay(leader, follower);
  } else {
    const meanMs = randomBetween(context.random, 10, 60);
    target = `all +${meanMs}±${Math.floor(meanMs / 2)} ms`;
    network.setLatency('all', { meanMs, jitterMs: Math.floor(meanMs / 2) });
  }
  const fault = context.history.recordFault({ fault: kind, target, startMs: Date.now() });
  await sleep(randomBetween(context.random, 2_000, 4_000));
  network.heal();
  fault.end(Date.now());
}

async function killWorker(context: FaultContext): Promise<void> {
  const { workers } = context;
  const holding = await context.cluster.until(() => {
    const candidates = workers.running.filter((id) => workers.held(id) > 0);
    return candidates.length === 0 ? undefined : candidates;
  }, heldLeasesWaitMs);
  const target = pick(context.random, holding ?? workers.running);
  const killMs = Date.now();
  const fault = context.history.recordFault({ fault: 'kill-worker', target, startMs: killMs });
  await workers.kill9(target);
  const held = workers.heldJobs(target);
  const replacement = workers.start();
  fault.end(Date.now());
  // Recovery from this fault is the rebalance: every job it held leased by another worker.
  const moved = await context.cluster.until(() => (workers.notMovedFrom(target, held, killMs).length === 0 ? true : undefined), rebalanceWaitMs);
  context.say(`  killed worker ${target} holding ${held.length} leases; started ${replacement}; ` +
    `${moved === true ? `its jobs leased elsewhere within ${Date.now() - killMs} ms` : `${workers.notMovedFrom(target, held, killMs).length} not leased elsewhere within ${rebalanceWaitMs} ms`}`);
}

/** A follower killed, its newest WAL segment damaged, then restarted: it must do what the WAL's documentation says. */
async function walDamage(context: FaultContext, leader: string): Promise<void> {
  const { cluster } = context;
  const target = followerOf(context, leader);
  const fault = context.history.recordFault({ fault: 'wal-damage', target, startMs: Date.now() });
  await cluster.kill9(target);
  let kind = pick(context.random, walDamageKinds);
  let damage = await damageNewestSegment(cluster.walDir(target), kind, context.random);
  if (damage === null && kind === 'flip-inner') {
    kind = 'flip-last';
    damage = await damageNewestSegment(cluster.walDir(target), kind, context.random);
  }
  if (damage === null) {
    context.say(`  ${target}: no WAL record to damage; restarted as it was`);
    cluster.start(target);
    fault.end(Date.now());
    return;
  }
  context.say(`  ${target}: ${kind} at byte ${damage.offset} of ${damage.segment.split('/').pop() ?? ''} (${damage.records} records)`);
  const expected = expectedOnRestart(kind);
  cluster.start(target);
  if (expected.refusesToStart) {
    const code = await cluster.exitOf(target, stopTimeoutMs);
    const log = cluster.process(target)?.output() ?? '';
    if (code !== 2 || !/corrupt/i.test(log)) {
      context.expectations.push(`wal-damage ${kind} on ${target}: expected a refusal to start (exit 2, CORRUPTION in the log), got ${String(code ?? 'still running')}: ${cluster.logTail(target, 5)}`);
      if (code === null) await cluster.kill9(target);
    }
    cluster.start(target, { repairCorruption: true });
  }
  // Caught up: out of the catch-up state, and holding what the leader had committed when the node came back.
  const commitAtRestart = cluster.view(leader)?.commit ?? 0;
  let catchingUpSeen = false;
  const caughtUp = await cluster.until(() => {
    const view = cluster.view(target);
    if (view?.catchingUp === true) catchingUpSeen = true;
    return view !== undefined && !view.catchingUp && view.applied >= commitAtRestart ? view : undefined;
  }, settleTimeoutMs);
  context.say(`  ${target} ${caughtUp === undefined ? 'NOT caught up' : `caught up to ${caughtUp.applied}`}; catching-up state ${catchingUpSeen ? 'seen' : 'not seen'} by /status polls`);
  if (catchingUpSeen && !expected.catchesUp) context.expectations.push(`wal-damage ${kind} on ${target}: a torn tail must not put the node in the catch-up state`);
  if (!cluster.isRunning(target)) {
    context.expectations.push(`wal-damage ${kind} on ${target}: the node exited (${String(await cluster.exitOf(target, 0))}) instead of starting: ${cluster.logTail(target, 5)}`);
    cluster.start(target, { repairCorruption: true });
  } else if (caughtUp === undefined) {
    context.expectations.push(`wal-damage ${kind} on ${target}: not caught up within ${settleTimeoutMs} ms: ${cluster.describe()}`);
  }
  fault.end(Date.now());
}

/** A rolling restart: each node in turn SIGTERMed (it must exit 0), started again and settled; the leader last. */
async function rollingRestart(context: FaultContext, leader: string): Promise<void> {
  const { cluster } = context;
  const order = [...cluster.ids.filter((id) => id !== leader), leader];
  for (const id of order) {
    const fault = context.history.recordFault({ fault: 'restart', target: id, startMs: Date.now() });
    cluster.signal(id, 'SIGTERM');
    const code = await cluster.exitOf(id, stopTimeoutMs);
    if (code !== 0) {
      context.expectations.push(`restart of ${id}: SIGTERM should drain and exit 0, got ${String(code ?? `no exit within ${stopTimeoutMs} ms`)}: ${cluster.logTail(id, 5)}`);
      await cluster.kill9(id);
    }
    cluster.start(id);
    fault.end(Date.now());
    if (await cluster.settled(settleTimeoutMs) === undefined) return;
  }
}

/** Injects `kind` and lifts it; the caller waits for the cluster to settle afterwards. */
export async function runFault(context: FaultContext, kind: ScheduledFault): Promise<void> {
  if (kind === 'kill-worker') return killWorker(context);
  const leader = await leaderNow(context);
  switch (kind) {
    case 'kill-leader': return killNode(context, kind, leader);
    case 'kill-follower': return killNode(context, kind, followerOf(context, leader));
    case 'sigstop': return pauseLeader(context, leader);
    case 'partition': case 'partition-one-way': case 'latency': return networkFault(context, kind, leader);
    case 'wal-damage': return walDamage(context, leader);
    case 'restart': return rollingRestart(context, leader);
  }
}
