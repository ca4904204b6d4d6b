/**
 * Automatic batching of enqueue calls over one producer session. Calls of the same queue that
 * wait together leave as one `enqueue` request (at most `jobsPerRequestMax` jobs and within the
 * frame bound), numbered with the session's next `sequence`; each call gets its own slice of the
 * reply. Calls wait when the sequence window is full, and so coalesce into bigger requests: that
 * is where throughput comes from.
 *
 * The sequence window (docs/protocol.md §6): a node remembers the answers of a session's 8 highest
 * applied sequences, and refuses a retry of a sequence it may have forgotten. So a new sequence is
 * issued only below `lowest unanswered + sequencesInFlightMax`: at most 7 sequences above an
 * unanswered one can be applied, so whatever it forgot is below every unanswered sequence, and a
 * retry is answered from the session or applied, never refused and never applied twice.
 * Until one sequence of the session has been answered, only one is in flight: a node that refuses
 * every sequence below its lowest remembered, full or not (releases before that rule), would
 * otherwise refuse the retry of sequence 0 after a failover applied the retry of 2 first. After
 * the first answer, a sequence below every unanswered one is remembered, and that node is safe too.
 *
 * A sequenced enqueue refused FAILED_PRECONDITION (the node can no longer tell whether it applied
 * the sequence: a session forgotten, whole or its older sequences, a retry of a sequence issued
 * before the one that opened the node's new session, or such an older node) rejects its calls with
 * UnavailableError: the outcome is unknown, the jobs may exist once or not at all.
 *
 * Retries: a request whose outcome is unknown (lost connection, UNAVAILABLE, no answer in time) is
 * resent by the ClusterConnection with the SAME sequence and the SAME jobs while any of its calls
 * waits. A resend is marked `retry` once an attempt of it may have taken effect, and also once a
 * later sequence was sent while it waited (docs/protocol.md §6): the node may have applied that
 * later one and then forgotten the session, and a resend not marked `retry` would open a new
 * session below it, under which the later one's retry would be applied again. Each call ends at
 * its own deadline with DeadlineExceededError, and the others go on. Its
 * `sent` is exact: once an attempt of the sequence may have taken effect (`RequestAttempts`), the
 * call's jobs stay in the request, which may still add them, so it says `sent: true`; before that
 * the call leaves the request (the next attempt goes without its jobs) and says `sent: false`.
 *
 * Refusals: a request refused as a whole for one job's fault (INVALID_ARGUMENT or
 * PAYLOAD_TOO_LARGE with `detail.field` `jobs[i]...`) when no attempt of it may have taken effect
 * fails only the call that owns job i; the other calls go back to the head of their queue's line
 * and leave under a NEW sequence. Once an attempt may have taken effect, the refusing node may
 * judge fields otherwise than the one that took it (another payloadBytesMax, another version), so
 * that attempt may have added every job: the owner is held, and the SAME sequence is resent (a
 * retry) without it. The node answers a sequence it applied with that application's ids whatever
 * jobs the resend carries, so the reply's length says which set was applied: every set sent under
 * the sequence has a distinct job count (sets shrink; a lone refused call is resent with calls
 * taken from the line). The calls of the set applied resolve; a held call outside it fails with
 * its refusal; a call taken from the line outside it goes back to the line. When no such set can
 * be made, or the sequence ends without a reply (deadline, FAILED_PRECONDITION, another refusal),
 * a held call rejects as outcome unknown (`sent: true`), never with its refusal; except "producer
 * unknown" before the session's first answer, which says no set was applied (`neverApplied`).
 * Any other refusal fails every call of the request.
 *
 * Invariants: at most `sequencesInFlightMax` sequences unanswered, all within that distance of the
 * lowest, and at most one before the session's first answer; a sequence's jobs change only while
 * no attempt of it may have taken effect, or to a set whose job count no earlier set of it had
 * (`SequenceBatch`), and a sequence none of whose attempts can have taken effect is issued again;
 * a call leaves under a new sequence only when no set of its earlier sequence that carried it can
 * have been applied; every call settles exactly once (a reply, an error, its deadline, or close()).
 *
 * Runs on: any thread of a client process.
 */
import { ClientClosedError, DeadlineExceededError, InternalError, ProtocolError } from './errors.js';
import type { RequestAttempts, RequestBody } from './cluster-connection.js';
import { fieldRefusalOwner, outcomeUnknown, sequenceForgotten } from './enqueue-refusals.js';
import { wireBytesMax, type WireJob } from './job-options.js';
import { jobCount, SequenceBatch, settle, type PendingCall } from './sequence-batch.js';

/** The states a job can be in (docs/protocol.md §4). */
export type JobState = 'delayed' | 'ready' | 'leased' | 'completed' | 'dead' | 'cancelled';

/** What an enqueue answers per job. */
export interface EnqueuedJob {
  readonly id: number;
  readonly state: JobState;
  /** True when an idempotency key (or a retry of the same request) named an earlier job instead of adding one. */
  readonly duplicate: boolean;
}

/** The slice of ClusterConnection the batcher needs (a test gives a scripted one). The transport
 *  sends `attempts.body` at each attempt and keeps `attempts.inFlight` and `inDoubt` true while an
 *  attempt may take effect (a transport that cannot tell sets `inFlight` and leaves it). */
export interface EnqueueTransport {
  call(body: RequestBody, options: { readonly deadlineMs: number; readonly idempotent: boolean; readonly attempts: RequestAttempts }): Promise<Record<string, unknown>>;
}

export interface EnqueueBatcherOptions {
  readonly transport: EnqueueTransport;
  /** The cluster's queue.clientFrameBytesMax (default 4 MiB). */
  readonly frameBytesMax?: number;
  /** The node remembers this many sequence answers per session (docs/protocol.md §6). */
  readonly sequencesInFlightMax?: number;
  /** Jobs per enqueue request (the protocol's bound). */
  readonly jobsPerRequestMax?: number;
  readonly now?: () => number;
}

export interface EnqueueBatcherCounters {
  calls: number;
  jobs: number;
  /** Sequenced enqueue requests issued (a retry of one is not counted again). */
  requests: number;
  /** Requests refused for one call's job, whose other calls were sent again (under a new
   *  sequence, or under the same one when an attempt of it may have taken effect). */
  splits: number;
}

export const sequencesInFlightMaxDefault = 8;
export const jobsPerRequestMaxDefault = 4096;
const frameBytesMaxDefault = 4 * 1024 * 1024;
/** An upper bound of a request's bytes beside its jobs: length prefix, id, type, sequence, array header. */
const envelopeBytesMax = 64;

export class EnqueueBatcher {
  readonly counters: EnqueueBatcherCounters = { calls: 0, jobs: 0, requests: 0, splits: 0 };
  private readonly transport: EnqueueTransport;
  private readonly frameBytesMax: number;
  private readonly sequencesInFlightMax: number;
  private readonly jobsPerRequestMax: number;
  private readonly now: () => number;
  /** Calls not yet sent, by queue; the map's order is the order queues take turns. */
  private readonly waiting = new Map<string, PendingCall[]>();
  private readonly unanswered = new Set<number>();
  /** The sequences sent and not yet settled, by sequence. */
  private readonly sending = new Map<number, SequenceBatch>();
  private nextSequence = 0;
  /** A sequence of this session was answered: the node remembers one below every unanswered sequence. */
  private sessionAnswered = false;
  private pumpScheduled = false;
  private closedWith: ProtocolError | undefined;

  constructor(options: EnqueueBatcherOptions) {
    this.transport = options.transport;
    this.frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
    this.sequencesInFlightMax = options.sequencesInFlightMax ?? sequencesInFlightMaxDefault;
    this.jobsPerRequestMax = options.jobsPerRequestMax ?? jobsPerRequestMaxDefault;
    this.now = options.now ?? Date.now;
  }

  /** The most job bytes (`wireBytesMax` summed) one request of `queue` can carry. */
  requestBytesMax(queue: string): number {
    return this.frameBytesMax - envelopeBytesMax - Buffer.byteLength(queue, 'utf8');
  }

  /** Sequences sent and not yet answered. */
  get sequencesInFlight(): number {
    return this.unanswered.size;
  }

  /**
   * Enqueues `jobs` (already checked, at most `jobsPerRequestMax`, within `requestBytesMax`) as one
   * atomic part of some request; resolves with their answers in order.
   */
  submit(queue: string, jobs: readonly WireJob[], deadlineAt: number, many: boolean): Promise<EnqueuedJob[]> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const bytes = jobs.reduce((total, job) => total + wireBytesMax(job), 0);
    if (jobs.length === 0 || jobs.length > this.jobsPerRequestMax || bytes > this.requestBytesMax(queue)) {
      return Promise.reject(new InternalError(`a part of ${jobs.length} jobs and ${bytes} bytes does not fit one request`, { sent: false }));
    }
    this.counters.calls += 1;
    this.counters.jobs += jobs.length;
    return new Promise((resolve, reject) => {
      const call: PendingCall = { jobs, bytes, deadlineAt, many, resolve, reject, settled: false };
      const line = this.waiting.get(queue);
      if (line === undefined) this.waiting.set(queue, [call]);
      else line.push(call);
      this.schedulePump();
    });
  }

  /** Rejects every call not yet sent with `error`, and every later one; calls in flight end with the transport. */
  close(error: ProtocolError = new ClientClosedError('the client was closed', { sent: false })): void {
    this.closedWith = error;
    for (const line of this.waiting.values()) for (const call of line) settle(call, error);
    this.waiting.clear();
  }

  /** On the next turn, so that every call made meanwhile joins the same request. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private windowOpen(): boolean {
    if (!this.sessionAnswered && this.unanswered.size > 0) return false;
    let lowest = this.nextSequence;
    for (const sequence of this.unanswered) lowest = Math.min(lowest, sequence);
    return this.nextSequence < lowest + this.sequencesInFlightMax;
  }

  private pump(): void {
    while (this.closedWith === undefined && this.waiting.size > 0 && this.windowOpen()) {
      const [queue, line] = this.waiting.entries().next().value as [string, PendingCall[]];
      this.waiting.delete(queue);
      const calls = this.takeBatch(queue, line);
      // The queue goes to the back of the turn order if calls remain.
      if (line.length > 0) this.waiting.set(queue, line);
      if (calls.length > 0) void this.send(queue, calls);
    }
  }

  /** The calls at the head of `line` that fit one request (calls past their deadline are failed here). */
  private takeBatch(queue: string, line: PendingCall[]): PendingCall[] {
    const nowMs = this.now();
    const bytesMax = this.requestBytesMax(queue);
    const calls: PendingCall[] = [];
    let jobs = 0;
    let bytes = 0;
    while (line.length > 0) {
      const call = line[0] as PendingCall;
      if (call.deadlineAt <= nowMs) {
        line.shift();
        settle(call, new DeadlineExceededError('enqueue ran out of its deadline waiting for a free slot in the producer session; nothing was sent', { sent: false }));
        continue;
      }
      if (jobs + call.jobs.length > this.jobsPerRequestMax || bytes + call.bytes > bytesMax) break;
      line.shift();
      calls.push(call);
      jobs += call.jobs.length;
      bytes += call.bytes;
    }
    return calls;
  }

  /** Sends `calls` under a new sequence and retries it (same sequence, same jobs once an attempt
   *  may have taken effect) while any call waits; each call ends at its own deadline. */
  private async send(queue: string, calls: readonly PendingCall[]): Promise<void> {
    const sequence = this.nextSequence;
    this.nextSequence += 1;
    this.unanswered.add(sequence);
    this.counters.requests += 1;
    const batch = new SequenceBatch(queue, sequence, calls);
    // Their resends must not open a session below this one (the header says why).
    for (const earlier of this.sending.values()) if (earlier.sequence < sequence) earlier.markLaterSent();
    this.sending.set(sequence, batch);
    this.armTimer(batch);
    try {
      await this.settleSequence(batch);
    } finally {
      clearTimeout(batch.timer);
      this.unanswered.delete(sequence);
      this.sending.delete(sequence);
      // A sequence no attempt of which can have taken effect is issued again (the window allowing):
      // the node never saw it, and a session's first sequence stays 0.
      if (!batch.attempts.mayHaveTakenEffect && batch.attempts.abandoned && this.nextSequence === sequence + 1) this.nextSequence = sequence;
      this.schedulePump();
    }
  }

  /** One timer at the earliest deadline of the batch's calls still waiting (calls made together share theirs). */
  private armTimer(batch: SequenceBatch): void {
    clearTimeout(batch.timer);
    const waiting = batch.calls.filter((call) => !call.settled);
    if (waiting.length === 0) return;
    const earliestAt = Math.min(...waiting.map((call) => call.deadlineAt));
    batch.timer = setTimeout(() => {
      const nowMs = this.now();
      for (const call of waiting) if (call.deadlineAt <= nowMs) batch.expire(call);
      this.armTimer(batch);
    }, Math.max(0, earliestAt - this.now()));
  }

  /** Sends the batch's attempts until a reply or a final refusal has settled its calls (a field
   *  refusal while an attempt may have taken effect sends the same sequence again: `resendWithout`). */
  private async settleSequence(batch: SequenceBatch): Promise<void> {
    for (;;) {
      let reply: Record<string, unknown>;
      try {
        reply = await this.transport.call(batch.attempts.body, { idempotent: true, deadlineMs: Math.max(0, batch.deadlineAt - this.now()), attempts: batch.attempts });
      } catch (error) {
        const failure = error instanceof ProtocolError ? error : new InternalError(`enqueue failed: ${String(error)}`, { cause: error });
        if (failure instanceof DeadlineExceededError) {
          if (failure.sent) batch.attempts.inDoubt = true;
          for (const call of batch.calls) batch.expire(call);
        } else if (failure.code === 'FAILED_PRECONDITION') {
          if (this.neverApplied(batch, failure)) this.noSetApplied(batch);
          else this.refused(batch, sequenceForgotten(batch.sequence, failure));
        } else if (this.resendWithout(batch, failure)) {
          continue;
        } else {
          this.refused(batch, failure);
        }
        return;
      }
      const unapplied = batch.answer(reply);
      if (unapplied === undefined) return;
      this.sessionAnswered = true;
      this.putBack(batch.queue, unapplied);
      return;
    }
  }

  /**
   * A field refusal (`jobs[i]...`) of a sequence an attempt of which may have taken effect: the
   * refusing node may judge fields otherwise than the one that took that attempt (another
   * payloadBytesMax, another version), so the set sent before may have been applied. The owner of
   * job i is deferred, and the SAME sequence goes again without it (a retry: the session answers an
   * applied sequence whatever jobs its retry carries). The reply's length then says which set was
   * applied, so every set keeps a distinct length: sets shrink, and when the rest is empty or its
   * length was used, calls waiting in the line join it. False when nothing can be sent so: the
   * caller settles the calls (`refused`).
   */
  private resendWithout(batch: SequenceBatch, error: ProtocolError): boolean {
    if (!batch.attempts.mayHaveTakenEffect || batch.everyCallSettled) return false;
    const found = fieldRefusalOwner(batch.members, error);
    if (found === undefined) return false;
    const next = this.distinctSet(batch, batch.members.filter((call) => call !== found.owner));
    if (next === undefined) return false;
    batch.reduceTo(found.owner, found.refusal, next);
    this.counters.splits += 1;
    this.armTimer(batch);
    return true;
  }

  /** `rest`, or `rest` and calls from the head of the line, so that its job count is neither zero
   *  nor an earlier set's (undefined when the line cannot make it so within one request). */
  private distinctSet(batch: SequenceBatch, rest: readonly PendingCall[]): PendingCall[] | undefined {
    const set = [...rest];
    const line = this.waiting.get(batch.queue) ?? [];
    const bytesMax = this.requestBytesMax(batch.queue);
    let jobs = jobCount(set);
    let bytes = set.reduce((total, call) => total + call.bytes, 0);
    const nowMs = this.now();
    // The current members are a set sent too (not yet in the history before the first reduction).
    while (jobs === 0 || jobs === jobCount(batch.members) || batch.hasSetOf(jobs)) {
      const call = line[0];
      if (call === undefined || jobs + call.jobs.length > this.jobsPerRequestMax || bytes + call.bytes > bytesMax) {
        this.putBack(batch.queue, set.filter((member) => !rest.includes(member)));
        return undefined;
      }
      line.shift();
      if (call.deadlineAt <= nowMs) {
        settle(call, new DeadlineExceededError('enqueue ran out of its deadline waiting for a free slot in the producer session; nothing was sent', { sent: false }));
        continue;
      }
      set.push(call);
      jobs += call.jobs.length;
      bytes += call.bytes;
    }
    if (line.length === 0) this.waiting.delete(batch.queue);
    return set;
  }

  /** `calls` (not sent, or sent under a sequence that certainly did not add them) go to the head of `queue`'s line. */
  private putBack(queue: string, calls: readonly PendingCall[]): void {
    if (calls.length === 0) return;
    // After close() the line is never sent again: these calls end as the calls waiting did (nothing
    // of theirs was added, so close()'s `sent: false` is true of them too).
    if (this.closedWith !== undefined) {
      for (const call of calls) settle(call, this.closedWith);
      return;
    }
    const line = this.waiting.get(queue) ?? [];
    line.unshift(...calls);
    this.waiting.set(queue, line);
  }

  /**
   * Whether `refusal` (FAILED_PRECONDITION) of a resend after `resendWithout` says that no set of
   * the sequence was applied: the node knows no session of this producer, and none of its
   * sequences was ever answered. A set applied would have opened the session; for the node to have
   * forgotten it since, more than `producersMax` other producers would have had to enqueue during
   * these few round trips, the window docs/protocol.md §6 already leaves between two requests.
   * (Without this, a new producer whose batches are cut and refused one job at a time never gets a
   * sequence applied: every reduced resend, a retry, meets the unknown-producer rule.)
   */
  private neverApplied(batch: SequenceBatch, refusal: ProtocolError): boolean {
    return batch.deferred.size > 0 && !this.sessionAnswered && refusal.detail?.['reason'] === 'producerUnknown';
  }

  /** No set of the sequence was applied: the deferred calls fail with their refusals, the others
   *  go back to the line, to leave under a new sequence. */
  private noSetApplied(batch: SequenceBatch): void {
    for (const [call, refusal] of batch.deferred) settle(call, refusal);
    this.putBack(batch.queue, batch.members.filter((call) => !call.settled));
  }

  /**
   * A refusal that ends the sequence. With no attempt that may have taken effect, a field refusal
   * fails only the owner of the job it names, and the other calls go back to the line (to leave
   * under a new sequence); any other refusal fails every call. Once one may have, a call whose
   * jobs some set that may have been applied carries gets no definite refusal: outcome unknown.
   */
  private refused(batch: SequenceBatch, error: ProtocolError): void {
    for (const call of batch.deferred.keys()) settle(call, outcomeUnknown(batch.sequence, error));
    const found = fieldRefusalOwner(batch.members, error);
    if (found === undefined) {
      for (const call of batch.members) settle(call, error);
      return;
    }
    if (batch.attempts.mayHaveTakenEffect) {
      // `resendWithout` found no set to send in its place: whether an earlier one was applied stays unknown.
      for (const call of batch.members) settle(call, outcomeUnknown(batch.sequence, call === found.owner ? found.refusal : error));
      return;
    }
    settle(found.owner, found.refusal);
    const others = batch.members.filter((call) => call !== found.owner && !call.settled);
    if (others.length === 0) return;
    this.counters.splits += 1;
    this.putBack(batch.queue, others);
  }
}
