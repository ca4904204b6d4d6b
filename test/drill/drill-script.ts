/**
 * A small script language for hand-built drill histories: one line per client operation or event,
 * with times given explicitly, so each checker test reads as the story it tells.
 *
 * Runs on: the mocha process.
 */
import type { JobState } from '../../src/queue/results.js';
import { checkHistory, type CheckResult } from '../../bench/drill/checker.js';
import { DrillHistory, type FaultKind, type FinalJob, type NodeRole } from '../../bench/drill/history.js';

/** How long a scripted call takes to be answered. */
const answerMs = 5;
/** A scripted pull's lease, unless a test says otherwise. */
export const leaseMsDefault = 1000;

export class DrillScript {
  readonly history = new DrillHistory();
  readonly finalJobs: FinalJob[] = [];

  /** An enqueue answered ok. */
  enqueue(opId: string, jobId: number, atMs: number, options: { key?: string; duplicate?: boolean; process?: string } = {}): this {
    const call = this.history.invokeEnqueue({ opId, process: options.process ?? 'p1', atMs, ...(options.key === undefined ? {} : { idempotencyKey: options.key }) });
    call.ok({ atMs: atMs + answerMs, jobId, duplicate: options.duplicate ?? false, node: 'n1' });
    return this;
  }

  /** An enqueue that failed (`sent: false`) or whose outcome is unknown. */
  enqueueNotOk(opId: string, atMs: number, outcome: 'failed' | 'unknown', options: { key?: string } = {}): this {
    const call = this.history.invokeEnqueue({ opId, process: 'p1', atMs, ...(options.key === undefined ? {} : { idempotencyKey: options.key }) });
    if (outcome === 'failed') call.failed({ atMs: atMs + answerMs, code: 'NOT_LEADER' });
    else call.unknown({ atMs: atMs + answerMs, code: 'DEADLINE_EXCEEDED' });
    return this;
  }

  deliver(jobId: number, token: number, workerId: string, atMs: number, opId: string, options: { leaseMs?: number; attempt?: number } = {}): this {
    this.history.recordDelivery({ jobId, token, attempt: options.attempt ?? 1, payloadOpId: opId, workerId, atMs, deadlineMs: atMs + (options.leaseMs ?? leaseMsDefault) });
    return this;
  }

  ack(jobId: number, token: number, workerId: string, atMs: number, answer: 'accepted' | 'repeated' | 'LEASE_LOST' | 'unknown' = 'accepted'): this {
    return this.leaseCall('ack', jobId, token, workerId, atMs, answer);
  }

  nack(jobId: number, token: number, workerId: string, atMs: number, answer: 'accepted' | 'LEASE_LOST' | 'unknown' = 'accepted'): this {
    return this.leaseCall('nack', jobId, token, workerId, atMs, answer);
  }

  extend(jobId: number, token: number, workerId: string, atMs: number, deadlineMs: number): this {
    this.history.invokeExtend({ jobId, token, process: workerId, atMs }).accepted({ atMs: atMs + answerMs, deadlineMs });
    return this;
  }

  fault(fault: FaultKind, target: string, startMs: number, endMs?: number): this {
    this.history.recordFault({ fault, target, startMs, ...(endMs === undefined ? {} : { endMs }) });
    return this;
  }

  observe(node: string, term: number, role: NodeRole, atMs: number, leader: string | null = role === 'leader' ? node : null, commit?: number): this {
    this.history.recordObservation({ atMs, node, term, role, leader, ...(commit === undefined ? {} : { commit }) });
    return this;
  }

  released(workerId: string, atMs: number, jobIds?: number[]): this {
    this.history.recordReleased({ workerId, atMs, reason: 'goodbye', ...(jobIds === undefined ? {} : { jobIds }) });
    return this;
  }

  /** Another SDK call (pull, get, ...), for the success rate. */
  call(call: string, atMs: number, ok: boolean): this {
    const handle = this.history.invokeCall({ call, process: 'w1', atMs });
    if (ok) handle.ok({ atMs: atMs + answerMs });
    else handle.unknown({ atMs: atMs + answerMs, code: 'DEADLINE_EXCEEDED' });
    return this;
  }

  finalState(jobId: number, state: JobState, payloadOpId?: string): this {
    this.finalJobs.push({ jobId, state, ...(payloadOpId === undefined ? {} : { payloadOpId }) });
    return this;
  }

  check(): CheckResult {
    return checkHistory(this.history.records, { jobs: this.finalJobs });
  }

  private leaseCall(kind: 'ack' | 'nack', jobId: number, token: number, workerId: string, atMs: number, answer: string): this {
    const call = this.history.invokeLeaseCall({ kind, jobId, token, process: workerId, atMs });
    if (answer === 'accepted' || answer === 'repeated') call.accepted({ atMs: atMs + answerMs, repeated: answer === 'repeated' });
    else if (answer === 'unknown') call.unknown({ atMs: atMs + answerMs, code: 'DEADLINE_EXCEEDED' });
    else call.refused({ atMs: atMs + answerMs, code: answer });
    return this;
  }
}

/** A clean run: two keyed enqueues delivered to w1 and acked, one leader in term 1. */
export function cleanScript(): DrillScript {
  return new DrillScript()
    .observe('n1', 1, 'leader', 0).observe('n2', 1, 'follower', 0, 'n1')
    .enqueue('op-1', 1, 10, { key: 'k1' })
    .enqueue('op-2', 2, 20, { key: 'k2' })
    .deliver(1, 100, 'w1', 30, 'op-1')
    .deliver(2, 101, 'w1', 31, 'op-2')
    .ack(1, 100, 'w1', 40)
    .ack(2, 101, 'w1', 41)
    .finalState(1, 'completed', 'op-1')
    .finalState(2, 'completed', 'op-2');
}

/** The check names of a result's violations, each once, sorted. */
export function checksFailed(result: CheckResult): string[] {
  return [...new Set(result.violations.map((violation) => violation.check))].sort();
}
