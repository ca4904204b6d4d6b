/**
 * A model of a correct cluster for the drill checker's property test: a sequence of random steps
 * (enqueue with or without a key, pull, ack, nack, extend, waits long enough for leases to expire,
 * worker kills and unregisters, leader changes) is played against a single-copy queue that keeps
 * every rule of docs/protocol.md, and recorded as a drill history would be. Then a drain leases
 * and acks whatever is left, and the final state lists every job. Such a history is legal by
 * construction: the checker must find nothing in it.
 *
 * Invariants of the model: fencing tokens only grow; a job is leased by at most one token at a
 * time; a lease ends only by ack, nack, release or its deadline passing; an ack, nack or extend
 * is accepted only with the job's live token (an ack repeated with the completing token answers
 * `repeated`).
 *
 * Runs on: the mocha process.
 */
import fc from 'fast-check';
import type { DrillFinalState } from '../../bench/drill/history.js';
import { DrillHistory } from '../../bench/drill/history.js';

export type LegalStep =
  | { readonly type: 'enqueue'; readonly key: number; readonly outcome: 'ok' | 'unknownApplied' | 'unknownLost' | 'failed' }
  | { readonly type: 'pull'; readonly worker: number; readonly leaseMs: number }
  | { readonly type: 'ack'; readonly worker: number; readonly answer: 'answered' | 'lostApplied' | 'lostNotApplied' }
  | { readonly type: 'nack'; readonly worker: number }
  | { readonly type: 'extend'; readonly worker: number; readonly leaseMs: number }
  | { readonly type: 'wait'; readonly ms: number }
  | { readonly type: 'killWorker'; readonly worker: number }
  | { readonly type: 'unregister'; readonly worker: number }
  | { readonly type: 'leaderChange' };

const workerSlots = 3;
/** Keys 0..keysMax−1 repeat (idempotent retries); a larger draw means no key. */
const keysMax = 8;
const leaseMsMax = 1000;
const nodes = ['n1', 'n2', 'n3'] as const;

const worker = fc.nat(workerSlots - 1);
export const legalStep: fc.Arbitrary<LegalStep> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('enqueue' as const), key: fc.nat(keysMax + 3), outcome: fc.constantFrom('ok', 'ok', 'ok', 'unknownApplied', 'unknownLost', 'failed') }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('pull' as const), worker, leaseMs: fc.integer({ min: 50, max: leaseMsMax }) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('ack' as const), worker, answer: fc.constantFrom('answered', 'answered', 'answered', 'lostApplied', 'lostNotApplied') }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('nack' as const), worker }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('extend' as const), worker, leaseMs: fc.integer({ min: 50, max: leaseMsMax }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('killWorker' as const), worker }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('unregister' as const), worker }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('leaderChange' as const) }) },
);

interface ModelJob {
  readonly jobId: number;
  readonly opId: string;
  state: 'ready' | 'leased' | 'completed';
  token: number;
  attempt: number;
  workerId: string;
  deadlineMs: number;
}

interface HeldLease { readonly jobId: number; readonly token: number }

/** Bugs the model can be given, to show the checker finds them in generated histories. */
export interface ModelBugs {
  /** Leases end this many ms before their deadline. */
  readonly expireEarlyMs?: number;
  /** Acks, nacks and extends are accepted with any token of the job while it is leased. */
  readonly acceptStaleTokens?: boolean;
}

/** Plays steps against the model; `history` and `final` are what a drill would have recorded. */
export class LegalHistoryModel {
  readonly history = new DrillHistory();
  private nowMs = 0;
  private term = 1;
  private leader = 0;
  private nextJobId = 1;
  private nextToken = 1;
  private nextOp = 1;
  private readonly jobs = new Map<number, ModelJob>();
  private readonly jobByKey = new Map<string, number>();
  private readonly generations = Array.from({ length: workerSlots }, () => 0);
  private readonly held = new Map<string, HeldLease[]>();

  constructor(private readonly bugs: ModelBugs = {}) {
    this.observeAll();
  }

  play(steps: readonly LegalStep[], gapsMs: readonly number[]): DrillFinalState {
    steps.forEach((step, position) => {
      this.nowMs += gapsMs[position % gapsMs.length] ?? 1;
      this.expireLeases();
      this.apply(step);
    });
    return this.drain();
  }

  private apply(step: LegalStep): void {
    switch (step.type) {
      case 'enqueue': return this.enqueue(step.key, step.outcome);
      case 'pull': return this.pull(this.workerName(step.worker), step.leaseMs);
      case 'ack': return this.ack(this.workerName(step.worker), step.answer);
      case 'nack': return this.leaseCall('nack', this.workerName(step.worker), 0);
      case 'extend': return this.leaseCall('extend', this.workerName(step.worker), step.leaseMs);
      case 'wait': this.nowMs += step.ms; return this.expireLeases();
      case 'killWorker': return this.retireWorker(step.worker, 'kill');
      case 'unregister': return this.retireWorker(step.worker, 'unregister');
      case 'leaderChange': return this.changeLeader();
    }
  }

  private workerName(slot: number): string {
    return `w${slot}.${this.generations[slot] ?? 0}`;
  }

  private expireLeases(): void {
    for (const job of this.jobs.values()) if (job.state === 'leased' && job.deadlineMs - (this.bugs.expireEarlyMs ?? 0) <= this.nowMs) job.state = 'ready';
  }

  private enqueue(keyDraw: number, outcome: 'ok' | 'unknownApplied' | 'unknownLost' | 'failed'): void {
    const opId = `op-${this.nextOp++}`;
    const key = keyDraw < keysMax ? `k${keyDraw}` : undefined;
    const call = this.history.invokeEnqueue({ opId, process: 'p1', atMs: this.nowMs, ...(key === undefined ? {} : { idempotencyKey: key }) });
    const answerAtMs = this.nowMs + 2;
    if (outcome === 'failed') return call.failed({ atMs: answerAtMs, code: 'NOT_LEADER' });
    if (outcome === 'unknownLost') return call.unknown({ atMs: answerAtMs, code: 'DEADLINE_EXCEEDED' });
    const existing = key === undefined ? undefined : this.jobByKey.get(key);
    const jobId = existing ?? this.nextJobId++;
    if (existing === undefined) {
      this.jobs.set(jobId, { jobId, opId, state: 'ready', token: 0, attempt: 0, workerId: '', deadlineMs: 0 });
      if (key !== undefined) this.jobByKey.set(key, jobId);
    }
    if (outcome === 'ok') call.ok({ atMs: answerAtMs, jobId, duplicate: existing !== undefined });
    else call.unknown({ atMs: answerAtMs, code: 'DEADLINE_EXCEEDED' });
  }

  private pull(workerId: string, leaseMs: number): void {
    this.history.invokeCall({ call: 'pull', process: workerId, atMs: this.nowMs }).ok({ atMs: this.nowMs });
    const job = [...this.jobs.values()].find((candidate) => candidate.state === 'ready');
    if (job === undefined) return;
    Object.assign(job, { state: 'leased', token: this.nextToken++, attempt: job.attempt + 1, workerId, deadlineMs: this.nowMs + leaseMs });
    this.history.recordDelivery({ jobId: job.jobId, token: job.token, attempt: job.attempt, payloadOpId: job.opId, workerId, atMs: this.nowMs, deadlineMs: job.deadlineMs });
    const leases = this.held.get(workerId) ?? [];
    leases.push({ jobId: job.jobId, token: job.token });
    this.held.set(workerId, leases);
  }

  /** The worker's oldest lease it still believes it holds (perhaps stale). */
  private takeHeld(workerId: string): { lease: HeldLease; job: ModelJob } | undefined {
    const lease = this.held.get(workerId)?.shift();
    const job = lease === undefined ? undefined : this.jobs.get(lease.jobId);
    return lease === undefined || job === undefined ? undefined : { lease, job };
  }

  private ack(workerId: string, answer: 'answered' | 'lostApplied' | 'lostNotApplied'): void {
    const taken = this.takeHeld(workerId);
    if (taken === undefined) return;
    const { lease, job } = taken;
    const call = this.history.invokeAck({ jobId: job.jobId, token: lease.token, process: workerId, atMs: this.nowMs });
    const atMs = this.nowMs + 1;
    if (answer === 'lostNotApplied') return call.unknown({ atMs, code: 'DEADLINE_EXCEEDED' });
    const live = this.tokenIsLive(job, lease);
    const repeated = job.token === lease.token && job.state === 'completed';
    if (live) job.state = 'completed';
    if (answer === 'lostApplied') return call.unknown({ atMs, code: 'DEADLINE_EXCEEDED' });
    if (live || repeated) call.accepted({ atMs, repeated });
    else call.refused({ atMs, code: 'LEASE_LOST' });
  }

  private tokenIsLive(job: ModelJob, lease: HeldLease): boolean {
    return job.state === 'leased' && (job.token === lease.token || this.bugs.acceptStaleTokens === true);
  }

  private leaseCall(kind: 'nack' | 'extend', workerId: string, leaseMs: number): void {
    const taken = this.takeHeld(workerId);
    if (taken === undefined) return;
    const { lease, job } = taken;
    const call = this.history.invokeLeaseCall({ kind, jobId: job.jobId, token: lease.token, process: workerId, atMs: this.nowMs });
    if (!this.tokenIsLive(job, lease)) return call.refused({ atMs: this.nowMs + 1, code: 'LEASE_LOST' });
    if (kind === 'nack') {
      job.state = 'ready';
      return call.accepted({ atMs: this.nowMs + 1 });
    }
    job.deadlineMs = this.nowMs + leaseMs;
    this.held.get(workerId)?.push(lease);
    call.accepted({ atMs: this.nowMs + 1, deadlineMs: job.deadlineMs });
  }

  /** A kill leaves the worker's leases to expire; an unregister returns them at once. Either way a new worker takes the slot. */
  private retireWorker(slot: number, how: 'kill' | 'unregister'): void {
    const workerId = this.workerName(slot);
    if (how === 'kill') {
      this.history.recordFault({ fault: 'kill-worker', target: workerId, startMs: this.nowMs });
    } else {
      this.history.recordReleased({ workerId, atMs: this.nowMs, reason: 'goodbye' });
      this.history.invokeCall({ call: 'unregister', process: workerId, atMs: this.nowMs }).ok({ atMs: this.nowMs + 1 });
      for (const job of this.jobs.values()) if (job.state === 'leased' && job.workerId === workerId) job.state = 'ready';
    }
    this.held.delete(workerId);
    this.generations[slot] = (this.generations[slot] ?? 0) + 1;
  }

  private changeLeader(): void {
    this.history.recordFault({ fault: 'kill-leader', target: nodes[this.leader] ?? 'n1', startMs: this.nowMs });
    this.term += 1;
    this.leader = (this.leader + 1) % nodes.length;
    this.nowMs += 1;
    this.observeAll();
  }

  private observeAll(): void {
    const leader = nodes[this.leader] ?? 'n1';
    for (const node of nodes) {
      this.history.recordObservation({ atMs: this.nowMs, node, term: this.term, role: node === leader ? 'leader' : 'follower', leader });
    }
  }

  /** Waits out every lease, then leases and acks every job left, as the drill's drain does. */
  private drain(): DrillFinalState {
    this.nowMs += leaseMsMax + 1;
    this.expireLeases();
    for (;;) {
      const before = [...this.jobs.values()].filter((job) => job.state === 'ready').length;
      if (before === 0) break;
      this.pull('drainer', leaseMsMax);
      this.ack('drainer', 'answered');
      this.nowMs += 1;
    }
    return { jobs: [...this.jobs.values()].map((job) => ({ jobId: job.jobId, state: job.state, payloadOpId: job.opId })) };
  }
}
