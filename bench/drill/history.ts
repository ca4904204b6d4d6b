/**
 * The drill's history: every client operation (invoke time, completion time, outcome, node,
 * process), every delivery a worker received, every fault injected, every `/status` observation,
 * and the cluster's final state after the drain. The drill runner records into a `DrillHistory`;
 * the checker (checker.ts) reads it and proves what it claims.
 *
 * Recording style (after Jepsen's histories): an `invoke…` call stores the operation with its
 * invoke time and returns a handle; the handle's `ok`/`failed`/`unknown` (or `accepted`/`refused`)
 * stores the completion once. An operation never completed stays `pending`: the checker treats it
 * as an unknown outcome (it may or may not have taken effect).
 *
 * What the runner records, so that the checks can judge (checker.ts):
 * - a new `opId` per enqueue call (a retry by the producer is a new op with the same key), written
 *   into the job's payload, so a delivery names its enqueue;
 * - every job of every pull reply (`recordDelivery`, with the lease's token and `deadlineMs`),
 *   including the drain's, and every ack, nack and extend the workers send;
 * - faults with the node or worker id as `target` (a partition isolating the leader names that
 *   node), `/status` polls of every node, and a worker's unregister as `recordReleased`;
 * - jobs enqueued with a large `attemptsMax`: a job dead-lettered by repeated expiries counts as
 *   not completed.
 *
 * Invariants:
 * - every time is wall-clock milliseconds (`Date.now()` of the recording process) on the same
 *   machine as the nodes, so a lease's `deadlineMs`, stamped by the leader, compares with them;
 * - an operation completes at most once, and not before it was invoked;
 * - the history reads no clock itself: every time is passed in.
 *
 * Runs on: the drill runner's process, and the offline checker (check-history.ts).
 */
import { assert } from '../../src/errors.js';
import type { JobState } from '../../src/queue/results.js';

/** What an enqueue answered, after the SDK's own retries. */
export type EnqueueOutcome =
  | { readonly type: 'pending' }
  /** The cluster answered with the job (`duplicate`: an earlier job with the key, or this call's own lost first attempt). */
  | { readonly type: 'ok'; readonly jobId: number; readonly duplicate: boolean }
  /** Refused with `sent: false`: surely not applied, the job must never appear. */
  | { readonly type: 'failed'; readonly code: string }
  /** `sent: true` or a deadline: the job may exist now, or appear later, or never. */
  | { readonly type: 'unknown'; readonly code: string };

/** What an ack, nack or extend answered. */
export type LeaseCallOutcome =
  | { readonly type: 'pending' }
  /** Taken: `repeated` for an ack repeating the one that completed the job; `deadlineMs` for an extend. */
  | { readonly type: 'accepted'; readonly repeated: boolean; readonly deadlineMs?: number }
  /** A definite refusal (`LEASE_LOST`, `NOT_FOUND`, ...): the call did nothing. */
  | { readonly type: 'refused'; readonly code: string }
  /** Outcome unknown (deadline, `UNAVAILABLE` with `sent: true`). */
  | { readonly type: 'unknown'; readonly code: string };

/** What any other SDK call answered (pull, get, register, ...); counted in the success rate only. */
export type CallOutcome =
  | { readonly type: 'pending' }
  | { readonly type: 'ok' }
  | { readonly type: 'failed'; readonly code: string }
  | { readonly type: 'unknown'; readonly code: string };

interface ClientCall {
  /** The producer or worker that made the call (a worker's id for worker calls). */
  readonly process: string;
  readonly invokeMs: number;
  /** Absent while pending. */
  readonly completeMs?: number;
  /** The node that answered, when known. */
  readonly node?: string;
}

export interface EnqueueRecord extends ClientCall {
  readonly kind: 'enqueue';
  /** Unique per enqueue call, and written into the job's payload: a delivered payload names it. */
  readonly opId: string;
  readonly idempotencyKey?: string;
  readonly outcome: EnqueueOutcome;
}

export type LeaseCallKind = 'ack' | 'nack' | 'extend';

export interface LeaseCallRecord extends ClientCall {
  readonly kind: LeaseCallKind;
  readonly jobId: number;
  /** The fencing token the call carried. */
  readonly token: number;
  readonly outcome: LeaseCallOutcome;
}

export interface CallRecord extends ClientCall {
  readonly kind: 'call';
  /** The SDK method: `pull`, `get`, `register`, `unregister`, ... */
  readonly call: string;
  readonly outcome: CallOutcome;
}

/** One job a worker's pull received. */
export interface DeliveryRecord {
  readonly kind: 'delivery';
  readonly jobId: number;
  /** The lease's fencing token (the log index of the lease: it only grows per job). */
  readonly token: number;
  /** This attempt's number, 1-based. */
  readonly attempt: number;
  /** The op id the payload carries: the enqueue that made the job. */
  readonly payloadOpId: string;
  readonly workerId: string;
  /** When the worker received it. */
  readonly atMs: number;
  /** The lease's end as the leader stamped it. */
  readonly deadlineMs: number;
  readonly node?: string;
}

export const faultKinds = [
  'kill-leader', 'kill-follower', 'kill-worker', 'sigstop', 'partition', 'partition-one-way',
  'heal', 'latency', 'wal-damage', 'restart',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultRecord {
  readonly kind: 'fault';
  readonly fault: FaultKind;
  /** A node id, a worker id, or a link description (`n1|n2,n3`). */
  readonly target: string;
  readonly startMs: number;
  /** When the fault was lifted (SIGCONT, heal, restart done); absent for an instant fault or one still on. */
  readonly endMs?: number;
}

export const nodeRoles = ['leader', 'follower', 'candidate', 'stopped', 'unknown'] as const;
export type NodeRole = (typeof nodeRoles)[number];

/** One node's `/status` as polled (or a line of its log). */
export interface ObservationRecord {
  readonly kind: 'observation';
  readonly atMs: number;
  readonly node: string;
  readonly term: number;
  readonly role: NodeRole;
  /** The leader this node knows for `term`; null when it knows none. */
  readonly leader: string | null;
  /** The node's commit index (absent in histories of earlier drills). */
  readonly commit?: number;
}

/** Jobs returned to their queue by the cluster for a worker: unregister, TTL expiry. */
export interface ReleasedRecord {
  readonly kind: 'released';
  /** When the release was asked (unregister sent) or seen (a job's history). */
  readonly atMs: number;
  readonly workerId: string;
  /** The jobs released; absent: every job the worker held. */
  readonly jobIds?: readonly number[];
  /** `goodbye`, `ttl`, ... for the report. */
  readonly reason: string;
}

export type HistoryRecord =
  | EnqueueRecord | LeaseCallRecord | CallRecord | DeliveryRecord | FaultRecord | ObservationRecord | ReleasedRecord;

/** One job as the cluster reports it after the drain. */
export interface FinalJob {
  readonly jobId: number;
  readonly state: JobState;
  /** The op id its payload names, when the drain read it. */
  readonly payloadOpId?: string;
}

export interface DrillFinalState {
  readonly jobs: readonly FinalJob[];
}

/** A handle on an enqueue in flight. */
export interface EnqueueHandle {
  ok(answer: { atMs: number; jobId: number; duplicate: boolean; node?: string }): void;
  failed(answer: { atMs: number; code: string; node?: string }): void;
  unknown(answer: { atMs: number; code: string; node?: string }): void;
}

/** A handle on an ack, nack or extend in flight. */
export interface LeaseCallHandle {
  accepted(answer: { atMs: number; repeated?: boolean; deadlineMs?: number; node?: string }): void;
  refused(answer: { atMs: number; code: string; node?: string }): void;
  unknown(answer: { atMs: number; code: string; node?: string }): void;
}

/** A handle on any other SDK call in flight. */
export interface CallHandle {
  ok(answer: { atMs: number; node?: string }): void;
  failed(answer: { atMs: number; code: string; node?: string }): void;
  unknown(answer: { atMs: number; code: string; node?: string }): void;
}

/** A handle on a fault that lasts. */
export interface FaultHandle {
  end(atMs: number): void;
}

function checkedTime(atMs: number, what: string): number {
  assert(Number.isFinite(atMs) && atMs >= 0, `${what}: time ${atMs} is not a non-negative number of milliseconds`);
  return atMs;
}

function checkedJobId(id: number, what: string): number {
  assert(Number.isSafeInteger(id) && id >= 1, `${what}: ${id} is not a job id or token (an integer from 1)`);
  return id;
}

/**
 * The recorder. Append-only: records keep the order they were invoked in; a completion fills in
 * its record in place.
 */
export class DrillHistory {
  /** Every record, in invoke order. */
  private readonly entries: HistoryRecord[] = [];
  private readonly opIds = new Set<string>();

  /** Every record so far, in invoke order. */
  get records(): readonly HistoryRecord[] {
    return this.entries;
  }

  /**
   * Adds a record made elsewhere, whole (a worker process's completed call sent over IPC, or a
   * record read back from a file). A call still in flight in another process is better recorded
   * with `invoke…` here and completed when its answer arrives: if the process is killed first,
   * the call stays pending, which is what it is.
   */
  add(record: HistoryRecord): void {
    this.append(record);
  }

  private append(record: HistoryRecord): void {
    if (record.kind === 'enqueue') {
      assert(!this.opIds.has(record.opId), `enqueue op id ${record.opId} recorded twice`);
      this.opIds.add(record.opId);
    }
    this.entries.push(record);
  }

  invokeEnqueue(call: { opId: string; process: string; atMs: number; idempotencyKey?: string; node?: string }): EnqueueHandle {
    const base = { kind: 'enqueue' as const, opId: call.opId, process: call.process, invokeMs: checkedTime(call.atMs, 'enqueue'),
      ...(call.idempotencyKey === undefined ? {} : { idempotencyKey: call.idempotencyKey }), ...(call.node === undefined ? {} : { node: call.node }) };
    const index = this.entries.length;
    this.append({ ...base, outcome: { type: 'pending' } });
    const complete = (outcome: EnqueueOutcome, atMs: number, node: string | undefined): void => {
      this.complete(index, { ...base, outcome, completeMs: this.completionTime(index, atMs), ...(node === undefined ? {} : { node }) });
    };
    return {
      ok: (answer) => complete({ type: 'ok', jobId: checkedJobId(answer.jobId, 'enqueue ok'), duplicate: answer.duplicate }, answer.atMs, answer.node),
      failed: (answer) => complete({ type: 'failed', code: answer.code }, answer.atMs, answer.node),
      unknown: (answer) => complete({ type: 'unknown', code: answer.code }, answer.atMs, answer.node),
    };
  }

  invokeLeaseCall(call: { kind: LeaseCallKind; jobId: number; token: number; process: string; atMs: number; node?: string }): LeaseCallHandle {
    const base = { kind: call.kind, jobId: checkedJobId(call.jobId, call.kind), token: checkedJobId(call.token, `${call.kind} token`),
      process: call.process, invokeMs: checkedTime(call.atMs, call.kind), ...(call.node === undefined ? {} : { node: call.node }) };
    const index = this.entries.length;
    this.append({ ...base, outcome: { type: 'pending' } });
    const complete = (outcome: LeaseCallOutcome, atMs: number, node: string | undefined): void => {
      this.complete(index, { ...base, outcome, completeMs: this.completionTime(index, atMs), ...(node === undefined ? {} : { node }) });
    };
    return {
      accepted: (answer) => complete({ type: 'accepted', repeated: answer.repeated ?? false,
        ...(answer.deadlineMs === undefined ? {} : { deadlineMs: answer.deadlineMs }) }, answer.atMs, answer.node),
      refused: (answer) => complete({ type: 'refused', code: answer.code }, answer.atMs, answer.node),
      unknown: (answer) => complete({ type: 'unknown', code: answer.code }, answer.atMs, answer.node),
    };
  }

  invokeAck(call: { jobId: number; token: number; process: string; atMs: number; node?: string }): LeaseCallHandle {
    return this.invokeLeaseCall({ ...call, kind: 'ack' });
  }

  invokeNack(call: { jobId: number; token: number; process: string; atMs: number; node?: string }): LeaseCallHandle {
    return this.invokeLeaseCall({ ...call, kind: 'nack' });
  }

  invokeExtend(call: { jobId: number; token: number; process: string; atMs: number; node?: string }): LeaseCallHandle {
    return this.invokeLeaseCall({ ...call, kind: 'extend' });
  }

  /** Any other SDK call (pull, get, register, ...), for the success rate. */
  invokeCall(call: { call: string; process: string; atMs: number; node?: string }): CallHandle {
    const base = { kind: 'call' as const, call: call.call, process: call.process, invokeMs: checkedTime(call.atMs, call.call),
      ...(call.node === undefined ? {} : { node: call.node }) };
    const index = this.entries.length;
    this.append({ ...base, outcome: { type: 'pending' } });
    const complete = (outcome: CallOutcome, atMs: number, node: string | undefined): void => {
      this.complete(index, { ...base, outcome, completeMs: this.completionTime(index, atMs), ...(node === undefined ? {} : { node }) });
    };
    return {
      ok: (answer) => complete({ type: 'ok' }, answer.atMs, answer.node),
      failed: (answer) => complete({ type: 'failed', code: answer.code }, answer.atMs, answer.node),
      unknown: (answer) => complete({ type: 'unknown', code: answer.code }, answer.atMs, answer.node),
    };
  }

  recordDelivery(delivery: Omit<DeliveryRecord, 'kind'>): void {
    checkedJobId(delivery.jobId, 'delivery');
    checkedJobId(delivery.token, 'delivery token');
    checkedTime(delivery.atMs, 'delivery');
    assert(Number.isSafeInteger(delivery.attempt) && delivery.attempt >= 1, `delivery of job ${delivery.jobId}: attempt ${delivery.attempt} is not ≥ 1`);
    this.append({ kind: 'delivery', ...delivery });
  }

  /** A fault starts; `end` records when it was lifted. */
  recordFault(fault: { fault: FaultKind; target: string; startMs: number; endMs?: number }): FaultHandle {
    const index = this.entries.length;
    const record: FaultRecord = { kind: 'fault', ...fault, startMs: checkedTime(fault.startMs, fault.fault) };
    this.append(record);
    return {
      end: (atMs) => {
        assert(atMs >= record.startMs, `fault ${record.fault} on ${record.target} ends at ${atMs}, before its start ${record.startMs}`);
        this.entries[index] = { ...record, endMs: atMs };
      },
    };
  }

  recordObservation(observation: Omit<ObservationRecord, 'kind'>): void {
    checkedTime(observation.atMs, 'observation');
    assert(Number.isSafeInteger(observation.term) && observation.term >= 0, `observation of ${observation.node}: term ${observation.term} is not an integer ≥ 0`);
    this.append({ kind: 'observation', ...observation });
  }

  recordReleased(released: Omit<ReleasedRecord, 'kind'>): void {
    checkedTime(released.atMs, 'released');
    this.append({ kind: 'released', ...released });
  }

  private completionTime(index: number, atMs: number): number {
    const record = this.entries[index];
    assert(record !== undefined && 'invokeMs' in record, `no call record at ${index}`);
    assert(record.outcome.type === 'pending', `${record.kind} of ${record.process} at ${record.invokeMs} completed twice`);
    assert(checkedTime(atMs, record.kind) >= record.invokeMs, `${record.kind} of ${record.process} completes at ${atMs}, before its invoke at ${record.invokeMs}`);
    return atMs;
  }

  private complete(index: number, record: HistoryRecord): void {
    this.entries[index] = record;
  }
}
