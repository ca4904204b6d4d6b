/**
 * The simulator's model of the queue, built from the log: every committed entry is fed here once,
 * in index order, with the results the first node to apply it got (every node applies the same
 * entries: the hash chain checks that; and reaches the same state: the snapshot digests check
 * that). From the leader-stamped commands and their results it keeps, independently of the state
 * machine's own records, each job's live lease (token, deadline, worker) and whether it finished,
 * and checks after every entry:
 *
 * - each idempotency key maps to one job while its window is open, and a producer's (id, sequence)
 *   to one list of jobs across all answers, keyed or not (a retry the session cannot answer is
 *   refused, never applied through the key table); a new job's id is the one its entry's index and
 *   position give; a duplicate names a job that exists;
 * - an enqueue refused FAILED_PRECONDITION is an unknown outcome, not a refusal: the node cannot
 *   tell whether an earlier attempt of the sequence was applied (its jobs may exist once or not at
 *   all, and the sequence check above keeps them from existing twice). It must carry a producer
 *   stamp and say why: a full session's `oldestSequence`, or `producerUnknown` /
 *   `beforeSessionOpened` for a command marked `retry` (a first attempt is never refused so);
 * - fencing: an ack answered OK (not `repeated`) carries the token of the job's live lease at that
 *   index; a `repeated` ack carries the token that completed it; nack and extend likewise; a live
 *   lease is never refused LEASE_LOST; a job is leased only when it has no live lease, with the
 *   token of the granting entry's index;
 * - `expireLeases` ends exactly the live leases due at the entry's time once the term's grace is
 *   over, `releaseWorker` exactly the worker's (their counts must match).
 *
 * The durability of acknowledged enqueues (every job a client was answered with is on every node
 * that applied past the answer, and stays: sim-queue-checks.ts) reads `finishedAt` here: a job
 * completed or cancelled may be forgotten after its retention, never before it finished.
 *
 * Invariants: `frontier` is the highest index fed; entries are fed at `frontier + 1` only.
 *
 * Runs on: the simulator.
 */
import { isFalconError, type FalconError } from '../../src/errors.js';
import type { LogEntry } from '../../src/log/log-entry.js';
import { jobsPerEntryMax, type QueueCommand } from '../../src/queue/commands.js';
import { decodeQueueEntry } from '../../src/queue/entry-codec.js';
import { scopedKey } from '../../src/queue/idempotency-keys.js';
import { normalEntryType } from '../../src/queue/queue-state-machine.js';
import type { CommandResult, EntryResults } from '../../src/queue/results.js';
import { fail } from './sim-checker.js';

interface OracleLease {
  readonly token: number;
  deadlineMs: number;
  readonly workerId: string;
}

interface OracleJob {
  readonly id: number;
  lease: OracleLease | null;
  finished: 'completed' | 'cancelled' | null;
  /** The index of the entry that completed or cancelled it (Infinity while it has not). */
  finishedAt: number;
  completedToken: number;
}

export interface OracleCounters {
  jobsCreated: number;
  leasesGranted: number;
  acksAccepted: number;
  acksRepeated: number;
  staleAcksRefused: number;
  leasesExpired: number;
  leasesReleased: number;
  nacks: number;
  enqueuesRefused: number;
  /** Enqueues refused FAILED_PRECONDITION: outcome unknown (the producer session was forgotten, or too old). */
  enqueuesInDoubt: number;
  /** Jobs answered as a duplicate of an earlier one (a key or a producer sequence seen before). */
  duplicatesAnswered: number;
}

export class QueueOracle {
  frontier = 0;
  private lastTerm = 0;
  private termStartPending = false;
  private termStartMs = 0;
  private nowMs = 0;
  private readonly jobs = new Map<number, OracleJob>();
  /** Jobs with a live lease (the ones expireLeases and releaseWorker may end). */
  private readonly leased = new Set<OracleJob>();
  /** A key's job, from the command that first named it, until its window closes. */
  private readonly keys = new Map<string, { readonly jobId: number; readonly untilMs: number }>();
  private readonly sequences = new Map<string, string>();
  readonly counters: OracleCounters = {
    jobsCreated: 0, leasesGranted: 0, acksAccepted: 0, acksRepeated: 0, staleAcksRefused: 0, leasesExpired: 0, leasesReleased: 0, nacks: 0, enqueuesRefused: 0, enqueuesInDoubt: 0, duplicatesAnswered: 0,
  };

  /** The index at which job `id` completed or was cancelled; Infinity while it has not (or is unknown). */
  finishedAt(id: number): number {
    return this.jobs.get(id)?.finishedAt ?? Number.POSITIVE_INFINITY;
  }

  isKnown(id: number): boolean {
    return this.jobs.has(id);
  }

  /** A node applied `entry` with `results`; only an entry past the frontier is new. */
  onApplied(entry: LogEntry, results: EntryResults): void {
    if (entry.index <= this.frontier) return;
    if (entry.index !== this.frontier + 1) fail(`queue oracle: entry ${entry.index} applied before entry ${this.frontier + 1} was seen applied anywhere`);
    this.frontier = entry.index;
    this.onEntry(entry, results);
  }

  private onEntry(entry: LogEntry, results: EntryResults): void {
    if (entry.term > this.lastTerm) {
      this.lastTerm = entry.term;
      this.termStartPending = true;
    }
    if (entry.type !== normalEntryType) return;
    const decoded = decodeQueueEntry(entry.data);
    if (isFalconError(decoded)) fail(`queue oracle: entry ${entry.index} does not decode: ${decoded.message}`);
    this.nowMs = Math.max(this.nowMs, decoded.atMs);
    if (this.termStartPending) {
      this.termStartMs = this.nowMs;
      this.termStartPending = false;
    }
    if (results.length !== decoded.commands.length) fail(`queue oracle: entry ${entry.index} has ${decoded.commands.length} commands and ${results.length} results`);
    let position = 0;
    decoded.commands.forEach((command, at) => {
      const result = results[at] as CommandResult;
      this.onCommand(command, result, entry.index, position);
      if (command.type === 'enqueue') position += command.jobs.length;
    });
  }

  private onCommand(command: QueueCommand, result: CommandResult, index: number, position: number): void {
    const where = `entry ${index}`;
    switch (command.type) {
      case 'enqueue': return this.onEnqueue(command, result, index, position);
      case 'lease': return this.onLease(command.workerId, result, index);
      case 'ack': return this.onAck(command.jobId, command.token, result, index);
      case 'nack':
      case 'extend': return this.onFenced(command.type, command.jobId, command.token, result, where);
      case 'expireLeases': return this.onExpire(command.graceMs, result, where);
      case 'releaseWorker': return this.onRelease(command.workerId, result, where);
      case 'cancel': return this.onCancel(command.jobId, result, index);
      default: return undefined;
    }
  }

  private onEnqueue(command: Extract<QueueCommand, { type: 'enqueue' }>, result: CommandResult, index: number, position: number): void {
    if (isFalconError(result)) {
      if (result.code === 'FAILED_PRECONDITION') this.onOutcomeUnknown(command, result, index);
      else this.counters.enqueuesRefused++;
      return;
    }
    if (result.type !== 'enqueued' || result.jobs.length !== command.jobs.length) fail(`queue oracle: entry ${index}: an enqueue of ${command.jobs.length} jobs answered ${JSON.stringify(result)}`);
    result.jobs.forEach((job, at) => {
      const spec = command.jobs[at];
      if (!job.duplicate) {
        const expected = index * jobsPerEntryMax + position + at;
        if (job.id !== expected || this.jobs.has(job.id)) fail(`queue oracle: entry ${index} made job ${job.id}, expected a new job ${expected}`);
        this.jobs.set(job.id, { id: job.id, lease: null, finished: null, finishedAt: Number.POSITIVE_INFINITY, completedToken: 0 });
        this.counters.jobsCreated++;
      } else if (!this.jobs.has(job.id)) fail(`queue oracle: entry ${index} answered a duplicate of job ${job.id}, which was never made`);
      else this.counters.duplicatesAnswered++;
      if (spec?.key === undefined) return;
      const name = scopedKey(command.queue, spec.key);
      const known = this.keys.get(name);
      // A key maps to its first job while its window is open; after it, a new job is right.
      if (known === undefined || (this.nowMs >= known.untilMs && !job.duplicate)) {
        this.keys.set(name, { jobId: job.id, untilMs: this.nowMs + command.limits.dedupWindowMs });
      } else if (known.jobId !== job.id) {
        fail(`idempotency: key ${spec.key} of queue ${command.queue} answered job ${job.id} at entry ${index} (at ${this.nowMs} ms), and job ${known.jobId} before (its window open until ${known.untilMs} ms)`);
      }
    });
    if (command.producer === undefined) return;
    const name = `${command.producer.id}#${command.producer.sequence}`;
    const ids = result.jobs.map((job) => job.id).join(',');
    const known = this.sequences.get(name);
    if (known === undefined) this.sequences.set(name, ids);
    else if (known !== ids) fail(`idempotency: producer ${command.producer.id} sequence ${command.producer.sequence} answered jobs [${ids}] at entry ${index}, and [${known}] before`);
  }

  /** A FAILED_PRECONDITION refusal of an enqueue: the node cannot tell, and says why. */
  private onOutcomeUnknown(command: Extract<QueueCommand, { type: 'enqueue' }>, result: FalconError, index: number): void {
    const { producer } = command;
    const reason = result.detail?.['reason'];
    const retryReason = reason === 'producerUnknown' || reason === 'beforeSessionOpened';
    const fullSession = Number.isSafeInteger(result.detail?.['oldestSequence']);
    if (producer === undefined || !(fullSession || (retryReason && producer.retry === true))) {
      fail(`queue oracle: entry ${index} refused an enqueue ${producer === undefined ? 'without a producer' : `of ${producer.id} sequence ${producer.sequence} (retry ${producer.retry === true})`} `
        + `FAILED_PRECONDITION: ${result.message} (${JSON.stringify(result.detail)})`);
    }
    this.counters.enqueuesInDoubt++;
  }

  private onLease(workerId: string, result: CommandResult, index: number): void {
    if (isFalconError(result) || result.type !== 'leased') fail(`queue oracle: entry ${index}: a lease answered ${JSON.stringify(result)}`);
    for (const leased of result.jobs) {
      const job = this.jobs.get(leased.id);
      if (job === undefined) fail(`fencing: entry ${index} leased job ${leased.id}, which was never made`);
      if (job.lease !== null) fail(`fencing: entry ${index} leased job ${job.id} again while its lease with token ${job.lease.token} is live`);
      if (job.finished !== null) fail(`fencing: entry ${index} leased job ${job.id}, ${job.finished} at entry ${job.finishedAt}`);
      if (leased.token !== index) fail(`fencing: entry ${index} leased job ${job.id} with token ${leased.token}, not the entry's index`);
      job.lease = { token: leased.token, deadlineMs: leased.deadlineMs, workerId };
      this.leased.add(job);
      this.counters.leasesGranted++;
    }
  }

  private liveJob(jobId: number, token: number, what: string, where: string): OracleJob {
    const job = this.jobs.get(jobId);
    if (job === undefined) fail(`fencing: ${where} accepted ${what} of job ${jobId}, which was never made`);
    if (job.lease?.token !== token) {
      fail(`fencing: ${where} accepted ${what} of job ${jobId} with a stale token ${token}; `
        + `${job.lease === null ? `the job has no live lease${job.finished === null ? '' : ` (${job.finished} at entry ${job.finishedAt})`}` : `its live lease has token ${job.lease.token}`}`);
    }
    return job;
  }

  /** A refusal of `token` for `jobId`: never while the oracle holds that lease live. */
  private onRefused(jobId: number, token: number, code: string, what: string, where: string): void {
    const job = this.jobs.get(jobId);
    if (code === 'LEASE_LOST' && job?.lease?.token === token) fail(`fencing: ${where} refused ${what} of job ${jobId} with LEASE_LOST, but its lease with token ${token} is live`);
    if (code === 'NOT_FOUND' && job !== undefined && job.finished === null) fail(`${where} answered NOT_FOUND for ${what} of job ${jobId}, which is neither completed nor cancelled`);
  }

  private endLease(job: OracleJob): void {
    job.lease = null;
    this.leased.delete(job);
  }

  private onAck(jobId: number, token: number, result: CommandResult, index: number): void {
    const where = `entry ${index}`;
    if (isFalconError(result)) {
      if (result.code === 'LEASE_LOST') this.counters.staleAcksRefused++;
      this.onRefused(jobId, token, result.code, 'an ack', where);
      return;
    }
    if (result.type !== 'acked') fail(`queue oracle: ${where}: an ack answered ${JSON.stringify(result)}`);
    if (result.repeated) {
      const job = this.jobs.get(jobId);
      if (job?.finished !== 'completed' || job.completedToken !== token) fail(`fencing: ${where} answered a repeated ack of job ${jobId} with token ${token}, which did not complete it`);
      this.counters.acksRepeated++;
      return;
    }
    const job = this.liveJob(jobId, token, 'an ack', where);
    this.endLease(job);
    job.finished = 'completed';
    job.finishedAt = index;
    job.completedToken = token;
    this.counters.acksAccepted++;
  }

  private onFenced(what: 'nack' | 'extend', jobId: number, token: number, result: CommandResult, where: string): void {
    if (isFalconError(result)) {
      this.onRefused(jobId, token, result.code, `a ${what}`, where);
      return;
    }
    const job = this.liveJob(jobId, token, `a ${what}`, where);
    if (result.type === 'extended' && job.lease !== null) job.lease.deadlineMs = result.deadlineMs;
    else if (result.type === 'nacked') {
      this.endLease(job);
      this.counters.nacks++;
    } else fail(`queue oracle: ${where}: a ${what} answered ${JSON.stringify(result)}`);
  }

  private onExpire(graceMs: number, result: CommandResult, where: string): void {
    const due: OracleJob[] = [];
    if (this.nowMs >= this.termStartMs + graceMs) for (const job of this.leased) if (job.lease !== null && job.lease.deadlineMs <= this.nowMs) due.push(job);
    this.endAll(due, result, `expireLeases at ${this.nowMs} ms (term from ${this.termStartMs} ms, grace ${graceMs} ms)`, where);
    this.counters.leasesExpired += due.length;
  }

  private onRelease(workerId: string, result: CommandResult, where: string): void {
    const held: OracleJob[] = [];
    if (workerId !== '') for (const job of this.leased) if (job.lease?.workerId === workerId) held.push(job);
    this.endAll(held, result, `releaseWorker ${workerId}`, where);
    this.counters.leasesReleased += held.length;
  }

  private endAll(jobs: readonly OracleJob[], result: CommandResult, what: string, where: string): void {
    if (isFalconError(result) || result.type !== 'counted' || result.jobs !== jobs.length) {
      fail(`leases: ${where}: ${what} answered ${JSON.stringify(result)}; the live leases it should end: ${jobs.length} `
        + `(jobs ${jobs.slice(0, 8).map((job) => `${job.id}/token ${job.lease?.token} due ${job.lease?.deadlineMs}`).join(', ')})`);
    }
    for (const job of jobs) this.endLease(job);
  }

  private onCancel(jobId: number, result: CommandResult, index: number): void {
    if (isFalconError(result)) return;
    const job = this.jobs.get(jobId);
    if (job?.finished === 'cancelled') return; // a cancel repeated answers done again
    if (job === undefined || job.lease !== null || job.finished !== null) fail(`entry ${index} cancelled job ${jobId}, which is unknown, leased or completed`);
    job.finished = 'cancelled';
    job.finishedAt = index;
  }
}
