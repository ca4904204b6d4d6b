/**
 * The drill's safety checks over a recorded history and the cluster's final state. Each check
 * returns its violations with the op ids, job ids and times needed to find them in the history:
 *
 * 1. lostAcked: every enqueue answered ok has its job completed (an accepted ack, or `completed`
 *    in the final state);
 * 2. phantom: no delivered (or finally held) payload names an op id that was never invoked as an
 *    enqueue, or one whose enqueue failed with `sent: false`;
 * 3. idempotency: one idempotency key, one job id (over ok answers, deliveries and the final
 *    state), and one enqueue op, one job id;
 * 4. duplicateDelivery: each job delivered again is explained by the earlier lease's expiry, a
 *    nack of its token, the kill of its worker, a release of the worker's jobs, or a leader change
 *    in between; a fencing token that does not grow, or a delivery after an accepted ack, is never
 *    explained;
 * 5. staleAck: no ack (nor nack, nor extend) accepted with token t after a lease with a larger token
 *    was delivered;
 * 6. leadersPerTerm: at most one node seen as leader in any term.
 *
 * Pure: no I/O, no clock; every time comes from the history. Lenient where the history cannot
 * tell (an unknown or pending outcome may or may not have taken effect), strict where it can.
 *
 * Runs on: the drill runner's process and the offline checker.
 */
import type { DeliveryRecord, DrillFinalState, FaultKind, HistoryRecord, LeaseCallRecord } from './history.js';
import { acceptedAcksByJob, indexHistory, termObservedBy, type HistoryIndex } from './history-index.js';

export type CheckName = 'lostAcked' | 'phantom' | 'idempotency' | 'duplicateDelivery' | 'staleAck' | 'leadersPerTerm';

export interface Violation {
  readonly check: CheckName;
  /** What exactly, within the check (`lost`, `notCompleted`, `neverEnqueued`, `unexplained`, ...). */
  readonly kind: string;
  readonly message: string;
  readonly jobIds: readonly number[];
  readonly opIds: readonly string[];
  readonly atMs: readonly number[];
}

export type DuplicateExplanation = 'expired' | 'nack' | 'workerKilled' | 'released' | 'leaderChange';

export interface DuplicateDelivery {
  readonly jobId: number;
  readonly earlier: DeliveryRecord;
  readonly later: DeliveryRecord;
  /** Every reason found; empty: unexplained. */
  readonly explanations: readonly DuplicateExplanation[];
}

export interface CheckResult {
  /** Client operations recorded (enqueues, acks, nacks, extends, other calls). */
  readonly ops: number;
  readonly lostAcked: number;
  readonly phantoms: number;
  readonly duplicateKeys: number;
  readonly duplicateDeliveries: readonly DuplicateDelivery[];
  readonly unexplainedDuplicates: number;
  /** Acks, nacks and extends accepted with a stale token (check 5). */
  readonly staleAcksAccepted: number;
  readonly leadersPerTermMax: number;
  readonly violations: readonly Violation[];
}

function violation(check: CheckName, kind: string, message: string, ids: { jobIds?: number[]; opIds?: string[]; atMs?: number[] } = {}): Violation {
  return { check, kind, message, jobIds: ids.jobIds ?? [], opIds: ids.opIds ?? [], atMs: ids.atMs ?? [] };
}

/** 1. Every job of an ok enqueue was completed. */
export function checkLostAcked(index: HistoryIndex, final: DrillFinalState): Violation[] {
  const completed = new Set(acceptedAcksByJob(index).keys());
  const finalStates = new Map(final.jobs.map((job) => [job.jobId, job.state]));
  for (const [jobId, state] of finalStates) if (state === 'completed') completed.add(jobId);
  const opsByJob = new Map<number, string[]>();
  for (const enqueue of index.enqueues) {
    if (enqueue.outcome.type !== 'ok') continue;
    const ops = opsByJob.get(enqueue.outcome.jobId) ?? [];
    ops.push(enqueue.opId);
    opsByJob.set(enqueue.outcome.jobId, ops);
  }
  const violations: Violation[] = [];
  for (const [jobId, opIds] of opsByJob) {
    if (completed.has(jobId)) continue;
    const deliveries = index.deliveriesByJob.get(jobId) ?? [];
    const state = finalStates.get(jobId);
    const first = index.enqueueByOpId.get(opIds[0] ?? '');
    violations.push(violation('lostAcked', state === undefined ? 'lost' : 'notCompleted',
      `job ${jobId}, enqueued ok by ${opIds.join(', ')} (answered at ${first?.completeMs ?? '?'} ms), was never completed: ` +
      `${deliveries.length} deliveries, final state ${state ?? 'missing'}`,
      { jobIds: [jobId], opIds, atMs: first?.completeMs === undefined ? [] : [first.completeMs] }));
  }
  return violations;
}

/** 2. Nothing delivered or held at the end that no enqueue could have made. */
export function checkPhantoms(index: HistoryIndex, final: DrillFinalState): Violation[] {
  const violations: Violation[] = [];
  const judge = (opId: string, jobId: number, atMs: number | undefined, where: string): void => {
    const enqueue = index.enqueueByOpId.get(opId);
    const times = atMs === undefined ? [] : [atMs];
    if (enqueue === undefined) {
      violations.push(violation('phantom', 'neverEnqueued', `job ${jobId} ${where} names op ${opId}, which was never invoked as an enqueue`, { jobIds: [jobId], opIds: [opId], atMs: times }));
    } else if (enqueue.outcome.type === 'failed') {
      violations.push(violation('phantom', 'failedEnqueue',
        `job ${jobId} ${where} names op ${opId}, whose enqueue failed with ${enqueue.outcome.code} (sent: false, surely not applied)`,
        { jobIds: [jobId], opIds: [opId], atMs: [...times, enqueue.completeMs ?? enqueue.invokeMs] }));
    } else if (atMs !== undefined && atMs < enqueue.invokeMs) {
      violations.push(violation('phantom', 'beforeEnqueue', `job ${jobId} ${where} at ${atMs} ms names op ${opId}, invoked only at ${enqueue.invokeMs} ms`,
        { jobIds: [jobId], opIds: [opId], atMs: [atMs, enqueue.invokeMs] }));
    }
  };
  for (const delivery of index.deliveries) judge(delivery.payloadOpId, delivery.jobId, delivery.atMs, `delivered to ${delivery.workerId}`);
  for (const job of final.jobs) if (job.payloadOpId !== undefined) judge(job.payloadOpId, job.jobId, undefined, `in the final state (${job.state})`);
  return violations;
}

/** 3. One key, one job; one enqueue op, one job. Returns the violations and the keys (and keyless ops) with more than one job. */
export function checkIdempotency(index: HistoryIndex, final: DrillFinalState): { violations: Violation[]; duplicateKeys: number } {
  const jobsByOp = new Map<string, Set<number>>();
  const add = (opId: string, jobId: number): void => {
    const jobs = jobsByOp.get(opId) ?? new Set<number>();
    jobs.add(jobId);
    jobsByOp.set(opId, jobs);
  };
  for (const enqueue of index.enqueues) if (enqueue.outcome.type === 'ok') add(enqueue.opId, enqueue.outcome.jobId);
  for (const delivery of index.deliveries) add(delivery.payloadOpId, delivery.jobId);
  for (const job of final.jobs) if (job.payloadOpId !== undefined) add(job.payloadOpId, job.jobId);
  const jobsByKey = new Map<string, { jobs: Set<number>; opIds: string[] }>();
  const violations: Violation[] = [];
  for (const [opId, jobs] of jobsByOp) {
    const enqueue = index.enqueueByOpId.get(opId);
    if (enqueue === undefined) continue; // a phantom: check 2 reports it
    if (enqueue.idempotencyKey === undefined) {
      if (jobs.size > 1) {
        violations.push(violation('idempotency', 'opWithTwoJobs', `enqueue op ${opId} (no key) made ${jobs.size} jobs: ${[...jobs].join(', ')}`,
          { jobIds: [...jobs], opIds: [opId], atMs: [enqueue.invokeMs] }));
      }
      continue;
    }
    const entry = jobsByKey.get(enqueue.idempotencyKey) ?? { jobs: new Set<number>(), opIds: [] };
    for (const job of jobs) entry.jobs.add(job);
    entry.opIds.push(opId);
    jobsByKey.set(enqueue.idempotencyKey, entry);
  }
  for (const [key, { jobs, opIds }] of jobsByKey) {
    if (jobs.size <= 1) continue;
    violations.push(violation('idempotency', 'keyWithTwoJobs', `idempotency key ${key} maps to ${jobs.size} jobs (${[...jobs].join(', ')}), by ops ${opIds.join(', ')}`,
      { jobIds: [...jobs], opIds, atMs: opIds.map((opId) => index.enqueueByOpId.get(opId)?.invokeMs ?? 0) }));
  }
  return { violations, duplicateKeys: violations.length };
}

/** Fault kinds after which a lease may be lost because the leader changed. */
const leaderChangeFaults: ReadonlySet<FaultKind> = new Set(['kill-leader', 'sigstop', 'partition', 'partition-one-way', 'restart']);

function isBetween(atMs: number, fromMs: number, toMs: number): boolean {
  return atMs >= fromMs && atMs <= toMs;
}

/**
 * The lease's end: the pull's deadline, or the one the last accepted extend of the same token
 * answered (an extend sets the end to its own now + leaseMs, so it may also shorten the lease).
 * `calls` are in invoke order.
 */
function leaseEndMs(earlier: DeliveryRecord, calls: readonly LeaseCallRecord[]): number {
  let endMs = earlier.deadlineMs;
  for (const call of calls) {
    if (call.kind !== 'extend' || call.token !== earlier.token || call.outcome.type !== 'accepted') continue;
    endMs = call.outcome.deadlineMs ?? endMs;
  }
  return endMs;
}

function explain(index: HistoryIndex, earlier: DeliveryRecord, later: DeliveryRecord): DuplicateExplanation[] {
  const calls = index.leaseCallsByJob.get(earlier.jobId) ?? [];
  const explanations: DuplicateExplanation[] = [];
  if (later.atMs >= leaseEndMs(earlier, calls)) explanations.push('expired');
  const nacked = calls.some((call) => call.kind === 'nack' && call.token === earlier.token && call.invokeMs <= later.atMs &&
    (call.outcome.type === 'accepted' || call.outcome.type === 'unknown' || call.outcome.type === 'pending'));
  if (nacked) explanations.push('nack');
  const workerKilled = index.faults.some((fault) => fault.fault === 'kill-worker' && fault.target === earlier.workerId &&
    isBetween(fault.startMs, earlier.atMs, later.atMs));
  if (workerKilled) explanations.push('workerKilled');
  const released = index.released.some((release) => release.workerId === earlier.workerId && isBetween(release.atMs, earlier.atMs, later.atMs) &&
    (release.jobIds === undefined || release.jobIds.includes(earlier.jobId)));
  if (released) explanations.push('released');
  const leaderFault = index.faults.some((fault) => leaderChangeFaults.has(fault.fault) && isBetween(fault.startMs, earlier.atMs, later.atMs));
  // A term above every one seen by the earlier delivery, observed by the later one.
  const newTerm = termObservedBy(index, later.atMs) > termObservedBy(index, earlier.atMs);
  if (leaderFault || newTerm) explanations.push('leaderChange');
  return explanations;
}

/** 4. Deliveries of a job beyond its first, each with its explanations. */
export function checkDuplicateDeliveries(index: HistoryIndex): { violations: Violation[]; duplicates: DuplicateDelivery[] } {
  const violations: Violation[] = [];
  const duplicates: DuplicateDelivery[] = [];
  const acked = acceptedAcksByJob(index);
  for (const [jobId, deliveries] of index.deliveriesByJob) {
    for (const ack of acked.get(jobId) ?? []) {
      // A lease newer than the completing ack's token, delivered once the ack was sent: the job was
      // leased again after it completed (delivered before the ack was sent, it is check 5's stale ack).
      for (const delivery of deliveries) {
        if (delivery.token <= ack.token || delivery.atMs < ack.invokeMs) continue;
        violations.push(violation('duplicateDelivery', 'afterCompleted', `job ${jobId} was delivered to ${delivery.workerId} (token ${delivery.token}) ` +
          `at ${delivery.atMs} ms, after ${ack.process}'s ack with token ${ack.token} (sent ${ack.invokeMs} ms) completed it`,
        { jobIds: [jobId], opIds: [delivery.payloadOpId], atMs: [ack.invokeMs, delivery.atMs] }));
      }
    }
    for (let position = 1; position < deliveries.length; position += 1) {
      const earlier = deliveries[position - 1];
      const later = deliveries[position];
      if (earlier === undefined || later === undefined) continue;
      const ids = { jobIds: [jobId], opIds: [later.payloadOpId], atMs: [earlier.atMs, later.atMs] };
      if (later.token === earlier.token) {
        violations.push(violation('duplicateDelivery', 'tokenReused', `job ${jobId} was delivered twice with token ${later.token} (to ${earlier.workerId} at ` +
          `${earlier.atMs} ms, to ${later.workerId} at ${later.atMs} ms): fencing tokens must grow`, ids));
        duplicates.push({ jobId, earlier, later, explanations: [] });
        continue;
      }
      const explanations = explain(index, earlier, later);
      duplicates.push({ jobId, earlier, later, explanations });
      if (explanations.length > 0) continue;
      violations.push(violation('duplicateDelivery', 'unexplained', `job ${jobId} delivered again to ${later.workerId} (token ${later.token}) at ${later.atMs} ms ` +
        `while ${earlier.workerId}'s lease (token ${earlier.token}, received ${earlier.atMs} ms) ran until ${leaseEndMs(earlier, index.leaseCallsByJob.get(jobId) ?? [])} ms, ` +
        'with no nack, worker kill, release or leader change in between', ids));
    }
  }
  return { violations, duplicates };
}

/**
 * 5. Acks (and nacks, extends) accepted with a token older than a lease of the same job already
 * delivered when the call was sent: the leader must have answered LEASE_LOST.
 */
export function checkStaleAcks(index: HistoryIndex): Violation[] {
  const violations: Violation[] = [];
  for (const call of index.leaseCalls) {
    if (call.outcome.type !== 'accepted') continue;
    const newer = (index.deliveriesByJob.get(call.jobId) ?? []).find((delivery) => delivery.token > call.token && delivery.atMs < call.invokeMs);
    if (newer === undefined) continue;
    violations.push(violation('staleAck', `${call.kind}Accepted`, `${call.kind} of job ${call.jobId} by ${call.process} with token ${call.token}, sent at ${call.invokeMs} ms, ` +
      `was accepted although ${newer.workerId} had received the lease with token ${newer.token} at ${newer.atMs} ms`,
    { jobIds: [call.jobId], opIds: [newer.payloadOpId], atMs: [newer.atMs, call.invokeMs] }));
  }
  return violations;
}

/** 6. The nodes seen as leader per term: a node's own role, and the leader a node names for its term. */
export function checkLeadersPerTerm(index: HistoryIndex): { violations: Violation[]; leadersPerTermMax: number } {
  const leadersByTerm = new Map<number, Map<string, number>>();
  for (const observation of index.observations) {
    const seen = leadersByTerm.get(observation.term) ?? new Map<string, number>();
    if (observation.role === 'leader' && !seen.has(observation.node)) seen.set(observation.node, observation.atMs);
    if (observation.leader !== null && !seen.has(observation.leader)) seen.set(observation.leader, observation.atMs);
    leadersByTerm.set(observation.term, seen);
  }
  let leadersPerTermMax = 0;
  const violations: Violation[] = [];
  for (const [term, leaders] of leadersByTerm) {
    leadersPerTermMax = Math.max(leadersPerTermMax, leaders.size);
    if (leaders.size <= 1) continue;
    violations.push(violation('leadersPerTerm', 'twoLeaders', `term ${term} had ${leaders.size} leaders: ` +
      [...leaders].map(([node, atMs]) => `${node} (first seen ${atMs} ms)`).join(', '), { atMs: [...leaders.values()] }));
  }
  return { violations, leadersPerTermMax };
}

/** Runs every check. */
export function checkHistory(records: readonly HistoryRecord[], final: DrillFinalState): CheckResult {
  const index = indexHistory(records);
  const lost = checkLostAcked(index, final);
  const phantoms = checkPhantoms(index, final);
  const idempotency = checkIdempotency(index, final);
  const duplicates = checkDuplicateDeliveries(index);
  const staleAcks = checkStaleAcks(index);
  const leaders = checkLeadersPerTerm(index);
  return {
    ops: index.enqueues.length + index.leaseCalls.length + index.calls.length,
    lostAcked: lost.length,
    phantoms: phantoms.length,
    duplicateKeys: idempotency.duplicateKeys,
    duplicateDeliveries: duplicates.duplicates,
    unexplainedDuplicates: duplicates.violations.length,
    staleAcksAccepted: staleAcks.length,
    leadersPerTermMax: leaders.leadersPerTermMax,
    violations: [...lost, ...phantoms, ...idempotency.violations, ...duplicates.violations, ...staleAcks, ...leaders.violations],
  };
}
