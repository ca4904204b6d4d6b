/**
 * One sequence of an EnqueueBatcher's producer session and the calls sent under it: which calls
 * the next attempt carries (`members`), every call it was sent for, and, once a node refused one
 * job's field while an attempt may have taken effect, every job set sent under it by its job count
 * and the calls taken out of it with their refusals. A node applies one set per sequence and answers
 * every later attempt with that set's ids, so the reply's length names the set applied.
 *
 * Invariants: `members` changes only while no attempt may have taken effect (a call leaves before
 * anything was sent), or by `reduceTo`, to a set whose job count no earlier set had; `members` is
 * never empty while a call of it waits; every call settles at most once.
 *
 * Runs on: any thread of a client process.
 */
import { DeadlineExceededError, InternalError, type ProtocolError } from './errors.js';
import { RequestAttempts, type RequestBody } from './cluster-connection.js';
import type { EnqueuedJob } from './enqueue-batcher.js';
import type { WireJob } from './job-options.js';

/** One enqueue call waiting for its answer. */
export interface PendingCall {
  readonly jobs: readonly WireJob[];
  readonly bytes: number;
  readonly deadlineAt: number;
  /** How this call names its own job `k` in an error: `jobs[k]` for enqueueMany, '' for one job. */
  readonly many: boolean;
  readonly resolve: (jobs: EnqueuedJob[]) => void;
  readonly reject: (error: ProtocolError) => void;
  settled: boolean;
}

const jobStates: ReadonlySet<string> = new Set(['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled']);

export class SequenceBatch {
  /** The calls whose jobs the next attempt carries, in request order. */
  members: readonly PendingCall[];
  /** Every call sent under this sequence: it is retried while one of them waits. */
  readonly calls: PendingCall[];
  readonly attempts: RequestAttempts;
  /** Once `reduceTo` ran: every set sent since an attempt may have taken effect, by its job count
   *  (distinct), the current `members` among them. */
  private readonly setsByLength = new Map<number, readonly PendingCall[]>();
  /** Calls taken out for a field refusal while in doubt, with that refusal (as the call names its
   *  job): theirs when the reply says a set without them was applied. */
  readonly deferred = new Map<PendingCall, ProtocolError>();
  timer: NodeJS.Timeout | undefined;
  /** A later sequence was sent while this one waited: every resend of it says `retry`. */
  private laterSent = false;

  constructor(readonly queue: string, readonly sequence: number, calls: readonly PendingCall[]) {
    this.members = calls;
    this.calls = [...calls];
    // A resend after an attempt that may have taken effect says `retry`, so that a node which forgot
    // the producer session refuses it rather than adding its jobs a second time (docs/protocol.md §6).
    this.attempts = new RequestAttempts(requestBody(queue, sequence, calls, false), (body) => ({ ...body, retry: true }));
  }

  /** A later sequence of the session was sent: from now on every attempt of this one is a `retry`
   *  (enqueue-batcher.ts says why). */
  markLaterSent(): void {
    if (this.laterSent) return;
    this.laterSent = true;
    this.attempts.body = { ...this.attempts.body, retry: true };
  }

  /** The latest deadline of the calls still waiting (-Infinity when none waits). */
  get deadlineAt(): number {
    return Math.max(...this.calls.filter((call) => !call.settled).map((call) => call.deadlineAt));
  }

  get everyCallSettled(): boolean {
    return this.calls.every((call) => call.settled);
  }

  /** A set of `jobs` jobs was sent since an attempt may have taken effect (so a reply of that length would name it). */
  hasSetOf(jobs: number): boolean {
    return this.setsByLength.has(jobs);
  }

  /**
   * `call`'s deadline passed. Once an attempt of the sequence may have taken effect, its jobs stay in
   * the request, which this client may still retry for the other calls: the call rejects `sent:
   * true`. Before that, the call leaves the request (the next attempt goes without its jobs) and
   * rejects `sent: false`. When no call waits any more, no attempt leaves after this.
   */
  expire(call: PendingCall): void {
    if (call.settled) return;
    const cause = this.attempts.lastFailure;
    const last = cause === undefined ? '' : ` (last: ${cause.code}: ${cause.message})`;
    if (this.attempts.mayHaveTakenEffect) {
      settle(call, new DeadlineExceededError(`enqueue ran out of its deadline${last}; request sequence ${this.sequence} may have reached a node: `
        + "its job may exist, or still be added (once) by this client's retry for the calls sent with it", { sent: true, cause }));
    } else {
      settle(call, new DeadlineExceededError(`enqueue ran out of its deadline before its request could reach a node${last}; nothing was sent`, { sent: false, cause }));
      this.members = this.members.filter((member) => member !== call);
      if (this.members.length > 0) this.attempts.body = requestBody(this.queue, this.sequence, this.members, this.laterSent);
    }
    if (this.everyCallSettled) this.attempts.abandoned = true;
  }

  /** `owner` was refused for a field while an attempt may have taken effect: it waits with `refusal`
   *  for the reply, and the next attempt (a retry) carries `next`, whose job count no earlier set had. */
  reduceTo(owner: PendingCall, refusal: ProtocolError, next: readonly PendingCall[]): void {
    if (this.setsByLength.size === 0) this.setsByLength.set(jobCount(this.members), this.members);
    // What a node refused for a field may have been applied by another: its outcome is in doubt.
    this.attempts.inDoubt = true;
    this.deferred.set(owner, refusal);
    for (const call of next) if (!this.calls.includes(call)) this.calls.push(call);
    this.members = next;
    this.setsByLength.set(jobCount(next), next);
    this.attempts.body = requestBody(this.queue, this.sequence, next, this.laterSent);
  }

  /**
   * Settles the calls by `reply`: the set its length names resolves with its slices; a deferred
   * call outside it fails with its own refusal. Returns the calls sent under this sequence but
   * certainly not added by it (taken from the line after the set applied), or undefined when the
   * reply names no set (every call then rejects InternalError).
   */
  answer(reply: Record<string, unknown>): PendingCall[] | undefined {
    const answered = reply['jobs'];
    const applied = Array.isArray(answered) ? this.setOf(answered.length) : undefined;
    if (applied === undefined || !(answered as unknown[]).every(isEnqueuedJob)) {
      const error = new InternalError(`the node answered an enqueue of ${jobCount(this.members)} jobs with a malformed jobs list`);
      for (const call of this.calls) settle(call, error);
      return undefined;
    }
    let offset = 0;
    for (const call of applied) {
      const slice = (answered as EnqueuedJob[]).slice(offset, offset + call.jobs.length);
      offset += call.jobs.length;
      if (!call.settled) {
        call.settled = true;
        call.resolve(slice);
      }
    }
    const unapplied = this.calls.filter((call) => !call.settled && !applied.includes(call));
    for (const call of unapplied) {
      const refusal = this.deferred.get(call);
      if (refusal !== undefined) settle(call, refusal);
    }
    return unapplied.filter((call) => !call.settled);
  }

  private setOf(jobs: number): readonly PendingCall[] | undefined {
    if (this.setsByLength.size > 0) return this.setsByLength.get(jobs);
    return jobs === jobCount(this.members) ? this.members : undefined;
  }
}

export function jobCount(calls: readonly PendingCall[]): number {
  return calls.reduce((total, call) => total + call.jobs.length, 0);
}

export function settle(call: PendingCall, error: ProtocolError): void {
  if (call.settled) return;
  call.settled = true;
  call.reject(error);
}

function requestBody(queue: string, sequence: number, calls: readonly PendingCall[], retry: boolean): RequestBody {
  return { type: 'enqueue', queue, jobs: calls.flatMap((call) => call.jobs), sequence, ...(retry ? { retry: true } : {}) };
}

function isEnqueuedJob(value: unknown): value is EnqueuedJob {
  if (typeof value !== 'object' || value === null) return false;
  const { id, state, duplicate } = value as Record<string, unknown>;
  return Number.isSafeInteger(id) && typeof state === 'string' && jobStates.has(state) && typeof duplicate === 'boolean';
}
