/**
 * The drill's figures, from its history, as a client sees them:
 * - per fault, the unavailability window: from the fault's start to the completion of the first
 *   enqueue answered ok among those invoked at or after it (open, to the history's end, when none);
 * - per fault that can move leadership, the election time: from its start to the first `/status`
 *   observation naming a leader other than the fault's target in a term above the one seen at the
 *   start (as fine as the polling interval), and the time until that leader was seen committing
 *   (its commit index above every commit index seen before the fault): a slow election and a new
 *   leader slow to commit are told apart;
 * - per node failure (kill of a node, SIGSTOP), the throughput of acked enqueues in the window
 *   after it against the window before (each clipped to the history), and the drop in percent;
 * - per worker kill, the rebalance time: from the kill until each job the worker held was
 *   delivered to another worker or released; the figure is the slowest job (null when one never was);
 * - the success rate: calls answered ok (enqueue ok, ack/nack/extend accepted, any other call ok)
 *   over all calls, each call's outcome after the SDK's own retries; pending calls count as failed.
 *
 * Pure: no I/O, no clock.
 *
 * Runs on: the drill runner's process and the offline checker.
 */
import type { FaultKind, FaultRecord, HistoryRecord } from './history.js';
import { firstAtOrAfter, indexHistory, type HistoryIndex } from './history-index.js';

/** The seed's throughput comparison: the 10 s after a node fails against the 10 s before. */
export const throughputWindowMsDefault = 10_000;

export interface FaultWindow {
  readonly fault: FaultRecord;
  readonly unavailableMs: number;
  /** No enqueue invoked after the fault was answered ok: the window runs to the history's end. */
  readonly open: boolean;
  readonly firstOkOpId: string | null;
}

export interface ElectionFigure {
  readonly fault: FaultRecord;
  /** Null when no new leader was observed. */
  readonly electionMs: number | null;
  readonly newLeader: string | null;
  /** Until the new leader was seen with a commit index above any seen before the fault; null when
   *  it never was (or the history has no commit indexes). */
  readonly leaderCommitMs: number | null;
}

export interface ThroughputDrop {
  readonly fault: FaultRecord;
  readonly beforePerSecond: number;
  readonly afterPerSecond: number;
  /** (before − after) / before × 100; negative when throughput rose; null without a before window or before throughput. */
  readonly dropPercent: number | null;
}

export interface RebalanceFigure {
  readonly fault: FaultRecord;
  /** Jobs the killed worker held (delivered to it, not acked or nacked by it, not leased elsewhere yet). */
  readonly jobsHeld: readonly number[];
  readonly firstMs: number | null;
  /** When every held job had moved; null when one never did (or none was held). */
  readonly allMs: number | null;
  readonly jobsNeverMoved: readonly number[];
}

export interface CallSuccess {
  readonly ok: number;
  readonly all: number;
}

export interface DrillFigures {
  readonly faultWindows: readonly FaultWindow[];
  readonly maxUnavailableMs: number;
  readonly elections: readonly ElectionFigure[];
  /** The slowest election; null when a leader-moving fault saw no new leader; 0 without such faults. */
  readonly maxElectionMs: number | null;
  readonly throughputDrops: readonly ThroughputDrop[];
  /** The worst drop; null without a node failure that could be measured. */
  readonly maxDropPercent: number | null;
  readonly rebalances: readonly RebalanceFigure[];
  /** The slowest rebalance; null when a held job never moved, 0 without kills of a worker holding jobs. */
  readonly maxRebalanceMs: number | null;
  readonly successRate: number;
  /** Per call kind (`enqueue`, `ack`, `pull`, ...). */
  readonly successByCall: Readonly<Record<string, CallSuccess>>;
}

const leaderMovingFaults: ReadonlySet<FaultKind> = new Set(['kill-leader', 'sigstop', 'partition', 'partition-one-way', 'restart']);
const nodeFailureFaults: ReadonlySet<FaultKind> = new Set(['kill-leader', 'kill-follower', 'sigstop']);

export function faultWindows(index: HistoryIndex): FaultWindow[] {
  const okEnqueues = index.okEnqueuesByInvoke;
  return index.faults.filter((fault) => fault.fault !== 'heal').map((fault) => {
    const from = firstAtOrAfter(okEnqueues.length, (position) => okEnqueues[position]?.invokeMs ?? Number.POSITIVE_INFINITY, fault.startMs);
    const firstOkMs = index.okAnsweredMsFrom[from];
    if (firstOkMs === undefined) return { fault, unavailableMs: index.endMs - fault.startMs, open: true, firstOkOpId: null };
    let firstOkOpId: string | null = null;
    for (let position = from; position < okEnqueues.length && firstOkOpId === null; position += 1) {
      if (okEnqueues[position]?.completeMs === firstOkMs) firstOkOpId = okEnqueues[position]?.opId ?? null;
    }
    return { fault, unavailableMs: firstOkMs - fault.startMs, open: false, firstOkOpId };
  });
}

/** The leader observed at or before `atMs` in the highest term, and that term. */
function leaderAt(index: HistoryIndex, atMs: number): { term: number; leader: string | null } {
  let term = 0;
  let leader: string | null = null;
  for (const observation of index.observations) {
    if (observation.atMs > atMs) break;
    const named = observation.role === 'leader' ? observation.node : observation.leader;
    if (observation.term > term) {
      term = observation.term;
      leader = named;
    } else if (observation.term === term && named !== null) {
      leader = named;
    }
  }
  return { term, leader };
}

export function elections(index: HistoryIndex): ElectionFigure[] {
  const figures: ElectionFigure[] = [];
  for (const fault of index.faults) {
    if (!leaderMovingFaults.has(fault.fault)) continue;
    const before = leaderAt(index, fault.startMs);
    // Only a fault that hit the leader moves it; kill-leader names the leader by definition.
    if (fault.fault !== 'kill-leader' && before.leader !== fault.target) continue;
    const seen = index.observations.find((observation) => {
      const named = observation.role === 'leader' ? observation.node : observation.leader;
      return observation.atMs >= fault.startMs && observation.term > before.term && named !== null && named !== fault.target;
    });
    const newLeader = seen === undefined ? null : seen.role === 'leader' ? seen.node : seen.leader;
    figures.push({ fault, electionMs: seen === undefined ? null : seen.atMs - fault.startMs, newLeader, leaderCommitMs: leaderCommitMs(index, fault, newLeader) });
  }
  return figures;
}

/** From the fault's start until `leader` was seen leading with a commit index above every one seen before. */
function leaderCommitMs(index: HistoryIndex, fault: FaultRecord, leader: string | null): number | null {
  if (leader === null) return null;
  let before: number | undefined;
  for (const observation of index.observations) {
    if (observation.atMs > fault.startMs) {
      if (before === undefined) return null;
      if (observation.node === leader && observation.role === 'leader' && (observation.commit ?? 0) > before) return observation.atMs - fault.startMs;
    } else if (observation.commit !== undefined) {
      before = Math.max(before ?? 0, observation.commit);
    }
  }
  return null;
}

/** Enqueues answered ok within [fromMs, toMs), or [fromMs, toMs] when `endIncluded`. */
function okEnqueuesBetween(index: HistoryIndex, fromMs: number, toMs: number, endIncluded = false): number {
  const answers = index.okAnswersMs;
  const timeAt = (position: number): number => answers[position] ?? Number.POSITIVE_INFINITY;
  return firstAtOrAfter(answers.length, timeAt, toMs, !endIncluded) - firstAtOrAfter(answers.length, timeAt, fromMs);
}

export function throughputDrops(index: HistoryIndex, windowMs: number): ThroughputDrop[] {
  return index.faults.filter((fault) => nodeFailureFaults.has(fault.fault)).map((fault) => {
    const beforeFromMs = Math.max(index.startMs, fault.startMs - windowMs);
    // A window cut by the history's end includes that end: the history's last answer closes it.
    const clipped = index.endMs < fault.startMs + windowMs;
    const afterToMs = clipped ? index.endMs : fault.startMs + windowMs;
    const beforeSeconds = (fault.startMs - beforeFromMs) / 1000;
    const afterSeconds = (afterToMs - fault.startMs) / 1000;
    const beforePerSecond = beforeSeconds > 0 ? okEnqueuesBetween(index, beforeFromMs, fault.startMs) / beforeSeconds : 0;
    const afterPerSecond = afterSeconds > 0 ? okEnqueuesBetween(index, fault.startMs, afterToMs, clipped) / afterSeconds : 0;
    const dropPercent = beforePerSecond > 0 && afterSeconds > 0 ? ((beforePerSecond - afterPerSecond) / beforePerSecond) * 100 : null;
    return { fault, beforePerSecond, afterPerSecond, dropPercent };
  });
}

/**
 * The jobs `workerId` held at `atMs`: its latest lease of each, not re-leased, and not answered by
 * an ack or nack it sent before `atMs` that was accepted or whose outcome is unknown (an ack cut
 * by the kill may have completed the job, which then never moves).
 */
function jobsHeldBy(index: HistoryIndex, workerId: string, atMs: number): number[] {
  const held: number[] = [];
  for (const [jobId, deliveries] of index.deliveriesByJob) {
    const known = deliveries.filter((delivery) => delivery.atMs <= atMs);
    const latest = known[known.length - 1];
    if (latest === undefined || latest.workerId !== workerId) continue;
    const answered = (index.leaseCallsByJob.get(jobId) ?? []).some((call) => call.token === latest.token && call.invokeMs <= atMs &&
      (call.kind === 'ack' || call.kind === 'nack') && call.outcome.type !== 'refused');
    if (!answered) held.push(jobId);
  }
  return held;
}

export function rebalances(index: HistoryIndex): RebalanceFigure[] {
  return index.faults.filter((fault) => fault.fault === 'kill-worker').map((fault) => {
    const jobsHeld = jobsHeldBy(index, fault.target, fault.startMs);
    const movedMs: number[] = [];
    const jobsNeverMoved: number[] = [];
    for (const jobId of jobsHeld) {
      const redelivery = (index.deliveriesByJob.get(jobId) ?? []).find((delivery) => delivery.workerId !== fault.target && delivery.atMs >= fault.startMs);
      const release = index.released.find((released) => released.workerId === fault.target && released.atMs >= fault.startMs &&
        (released.jobIds === undefined || released.jobIds.includes(jobId)));
      const candidates = [redelivery?.atMs, release?.atMs].filter((atMs): atMs is number => atMs !== undefined);
      if (candidates.length === 0) jobsNeverMoved.push(jobId);
      else movedMs.push(Math.min(...candidates) - fault.startMs);
    }
    const firstMs = movedMs.length === 0 ? null : Math.min(...movedMs);
    const allMs = movedMs.length === 0 || jobsNeverMoved.length > 0 ? null : Math.max(...movedMs);
    return { fault, jobsHeld, firstMs, allMs, jobsNeverMoved };
  });
}

export function callSuccess(index: HistoryIndex): { successRate: number; successByCall: Record<string, CallSuccess> } {
  const byCall: Record<string, { ok: number; all: number }> = {};
  const count = (call: string, ok: boolean): void => {
    const entry = byCall[call] ?? { ok: 0, all: 0 };
    entry.all += 1;
    if (ok) entry.ok += 1;
    byCall[call] = entry;
  };
  for (const enqueue of index.enqueues) count('enqueue', enqueue.outcome.type === 'ok');
  for (const call of index.leaseCalls) count(call.kind, call.outcome.type === 'accepted');
  for (const call of index.calls) count(call.call, call.outcome.type === 'ok');
  const totals = Object.values(byCall).reduce((sum, entry) => ({ ok: sum.ok + entry.ok, all: sum.all + entry.all }), { ok: 0, all: 0 });
  return { successRate: totals.all === 0 ? 1 : totals.ok / totals.all, successByCall: byCall };
}

function worst(values: ReadonlyArray<number | null>, emptyValue: number | null): number | null {
  if (values.length === 0) return emptyValue;
  if (values.includes(null)) return null;
  return Math.max(...(values as number[]));
}

export function drillFigures(records: readonly HistoryRecord[], options: { throughputWindowMs?: number } = {}): DrillFigures {
  const index = indexHistory(records);
  const windows = faultWindows(index);
  const electionFigures = elections(index);
  const drops = throughputDrops(index, options.throughputWindowMs ?? throughputWindowMsDefault);
  const measuredDrops = drops.map((drop) => drop.dropPercent).filter((percent): percent is number => percent !== null);
  const rebalanceFigures = rebalances(index).filter((figure) => figure.jobsHeld.length > 0);
  return {
    faultWindows: windows,
    maxUnavailableMs: windows.reduce((max, window) => Math.max(max, window.unavailableMs), 0),
    elections: electionFigures,
    maxElectionMs: worst(electionFigures.map((figure) => figure.electionMs), 0),
    throughputDrops: drops,
    maxDropPercent: measuredDrops.length === 0 ? null : Math.max(...measuredDrops),
    rebalances: rebalanceFigures,
    maxRebalanceMs: worst(rebalanceFigures.map((figure) => figure.allMs), 0),
    ...callSuccess(index),
  };
}
