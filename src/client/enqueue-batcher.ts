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
 * session below it, under which the later one's retry would be applied again. Each call ends at its own deadline with DeadlineExceededError, and the others go on. Its
 * `sent` is exact: once an attempt of the sequence may have taken effect (`RequestAttempts`), the
 * call's jobs stay in the request, which may still add them, so it says `sent: true`; before that
 * the call leaves the request (the next attempt goes without its jobs) and says `sent: false`. A request refused as a whole for one job's fault
 * (INVALID_ARGUMENT or PAYLOAD_TOO_LARGE with `detail.field` `jobs[i]...`) fails only the call that
 * owns job i; the other calls go back to the head of their queue's line and leave under a NEW
 * sequence. Any other refusal fails every call of the request.
 *
 * Invariants: at most `sequencesInFlightMax` sequences unanswered, all within that distance of the
 * lowest, and at most one before the session's first answer; a sequence's jobs change only while
 * no attempt of it may have taken effect, and a sequence none of whose attempts can have is
 * issued again; every call settles exactly once (a reply, an error, its deadline, or close()).
 *
 * Runs on: any thread of a client process.
 */
import { ClientClosedError, DeadlineExceededError, InternalError, ProtocolError, UnavailableError, errorOfCode, jobIndexOf } from './errors.js';
import { RequestAttempts, type RequestBody } from './cluster-connection.js';
import { wireBytesMax, type WireJob } from './job-options.js';

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
  /** Requests refused for one call's job, whose other calls were sent again. */
  splits: number;
}

interface PendingCall {
  readonly jobs: readonly WireJob[];
  readonly bytes: number;
  readonly deadlineAt: number;
  /** How this call names its own job `k` in an error: `jobs[k]` for enqueueMany, '' for one job. */
  readonly many: boolean;
  readonly resolve: (jobs: EnqueuedJob[]) => void;
  readonly reject: (error: ProtocolError) => void;
  settled: boolean;
}

export const sequencesInFlightMaxDefault = 8;
export const jobsPerRequestMaxDefault = 4096;
const frameBytesMaxDefault = 4 * 1024 * 1024;
/** An upper bound of a request's bytes beside its jobs: length prefix, id, type, sequence, array header. */
const envelopeBytesMax = 64;
const jobStates: ReadonlySet<string> = new Set(['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled']);

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
    const batch: SequenceBatch = { queue, sequence, members: calls, laterSent: false, attempts: new RequestAttempts(requestBody(queue, sequence, calls, false)) };
    // Its resends must not open a session below this one (the header says why).
    for (const earlier of this.sending.values()) {
      if (earlier.sequence >= sequence || earlier.laterSent) continue;
      earlier.laterSent = true;
      earlier.attempts.body = { ...earlier.attempts.body, retry: true };
    }
    this.sending.set(sequence, batch);
    // One timer at the earliest deadline of the calls still waiting (calls made together share theirs).
    let timer: NodeJS.Timeout | undefined;
    const armTimer = (): void => {
      const waiting = calls.filter((call) => !call.settled);
      if (waiting.length === 0) return;
      const earliestAt = Math.min(...waiting.map((call) => call.deadlineAt));
      timer = setTimeout(() => {
        const nowMs = this.now();
        for (const call of waiting) if (call.deadlineAt <= nowMs) this.expire(batch, call);
        armTimer();
      }, Math.max(0, earliestAt - this.now()));
    };
    armTimer();
    try {
      const deadlineAt = Math.max(...calls.map((call) => call.deadlineAt));
      let reply: Record<string, unknown>;
      try {
        reply = await this.transport.call(batch.attempts.body, { idempotent: true, deadlineMs: Math.max(0, deadlineAt - this.now()), attempts: batch.attempts });
      } catch (error) {
        const failure = error instanceof ProtocolError ? error : new InternalError(`enqueue failed: ${String(error)}`, { cause: error });
        if (failure instanceof DeadlineExceededError) {
          if (failure.sent) batch.attempts.inDoubt = true;
          for (const call of batch.members) this.expire(batch, call);
          return;
        }
        this.refused(queue, batch.members, failure.code === 'FAILED_PRECONDITION' ? sequenceForgotten(sequence, failure) : failure);
        return;
      }
      this.answer(batch.members, reply);
    } finally {
      clearTimeout(timer);
      this.unanswered.delete(sequence);
      this.sending.delete(sequence);
      // A sequence no attempt of which can have taken effect is issued again (the window allowing):
      // the node never saw it, and a session's first sequence stays 0.
      if (!batch.attempts.mayHaveTakenEffect && batch.attempts.abandoned && this.nextSequence === sequence + 1) this.nextSequence = sequence;
      this.schedulePump();
    }
  }

  /**
   * `call`'s deadline passed. Once an attempt of its sequence may have taken effect, its jobs stay in
   * the request, which this client may still retry for the other calls: the call rejects `sent:
   * true`. Before that, the call leaves the request (the next attempt goes without its jobs) and
   * rejects `sent: false`. When no call waits any more, no attempt leaves after this.
   */
  private expire(batch: SequenceBatch, call: PendingCall): void {
    if (call.settled) return;
    const cause = batch.attempts.lastFailure;
    const last = cause === undefined ? '' : ` (last: ${cause.code}: ${cause.message})`;
    if (batch.attempts.mayHaveTakenEffect) {
      settle(call, new DeadlineExceededError(`enqueue ran out of its deadline${last}; request sequence ${batch.sequence} may have reached a node: `
        + "its job may exist, or still be added (once) by this client's retry for the calls sent with it", { sent: true, cause }));
    } else {
      settle(call, new DeadlineExceededError(`enqueue ran out of its deadline before its request could reach a node${last}; nothing was sent`, { sent: false, cause }));
      batch.members = batch.members.filter((member) => member !== call);
      if (batch.members.length > 0) batch.attempts.body = requestBody(batch.queue, batch.sequence, batch.members, batch.laterSent);
    }
    if (batch.members.every((member) => member.settled)) batch.attempts.abandoned = true;
  }

  private answer(calls: readonly PendingCall[], reply: Record<string, unknown>): void {
    const answered = reply['jobs'];
    const total = calls.reduce((sum, call) => sum + call.jobs.length, 0);
    if (!Array.isArray(answered) || answered.length !== total || !answered.every(isEnqueuedJob)) {
      const error = new InternalError(`the node answered an enqueue of ${total} jobs with a malformed jobs list`);
      for (const call of calls) settle(call, error);
      return;
    }
    this.sessionAnswered = true;
    let offset = 0;
    for (const call of calls) {
      const slice = (answered as EnqueuedJob[]).slice(offset, offset + call.jobs.length);
      offset += call.jobs.length;
      if (!call.settled) {
        call.settled = true;
        call.resolve(slice);
      }
    }
  }

  /** A refusal of the whole request: only the owner of a named job fails when one is named. */
  private refused(queue: string, calls: readonly PendingCall[], error: ProtocolError): void {
    const index = error.code === 'INVALID_ARGUMENT' || error.code === 'PAYLOAD_TOO_LARGE' ? jobIndexOf(error) : undefined;
    let offset = 0;
    const owner = index === undefined ? undefined : calls.find((call) => {
      const owns = index >= offset && index < offset + call.jobs.length;
      if (!owns) offset += call.jobs.length;
      return owns;
    });
    if (index === undefined || owner === undefined) {
      for (const call of calls) settle(call, error);
      return;
    }
    settle(owner, rebased(error, index, offset, owner.many));
    const others = calls.filter((call) => call !== owner && !call.settled);
    if (others.length === 0) return;
    this.counters.splits += 1;
    const line = this.waiting.get(queue) ?? [];
    line.unshift(...others);
    this.waiting.set(queue, line);
  }
}

/** One sequence and the calls whose jobs its next attempt carries. */
interface SequenceBatch {
  readonly queue: string;
  readonly sequence: number;
  /** Shrinks only while no attempt may have taken effect (a call left before anything was sent). */
  members: readonly PendingCall[];
  /** A later sequence was sent while this one waited: every resend of it says `retry`. */
  laterSent: boolean;
  readonly attempts: RequestAttempts;
}

function requestBody(queue: string, sequence: number, calls: readonly PendingCall[], retry: boolean): RequestBody {
  return { type: 'enqueue', queue, jobs: calls.flatMap((call) => call.jobs), sequence, ...(retry ? { retry: true } : {}) };
}

function settle(call: PendingCall, error: ProtocolError): void {
  if (call.settled) return;
  call.settled = true;
  call.reject(error);
}

/** The error of a sequenced enqueue the node refused as one it cannot tell (older than its session
 *  remembers, or a retry the node cannot tell from one applied under a forgotten session): the
 *  request may have been applied (once) before, so its outcome is unknown. */
function sequenceForgotten(sequence: number, refusal: ProtocolError): UnavailableError {
  return new UnavailableError(`enqueue outcome unknown: the node cannot tell whether request sequence ${sequence} was applied `
    + `(FAILED_PRECONDITION: ${refusal.message}); each job may exist once or not at all: look it up, or enqueue it again with an idempotencyKey`,
  { sent: true, cause: refusal, detail: { ...refusal.detail, sequence } });
}

function isEnqueuedJob(value: unknown): value is EnqueuedJob {
  if (typeof value !== 'object' || value === null) return false;
  const { id, state, duplicate } = value as Record<string, unknown>;
  return Number.isSafeInteger(id) && typeof state === 'string' && jobStates.has(state) && typeof duplicate === 'boolean';
}

/** `error` with its job path (`jobs[index]`) as the owning call names it (`jobs[k]`, or none for one job). */
function rebased(error: ProtocolError, index: number, offset: number, many: boolean): ProtocolError {
  const from = `jobs[${index}]`;
  const to = many ? `jobs[${index - offset}]` : '';
  const rename = (text: string): string => text.split(`${from}.`).join(to === '' ? '' : `${to}.`).split(from).join(to === '' ? 'job' : to);
  const field = error.detail?.['field'];
  const detail = { ...error.detail, ...(typeof field === 'string' ? { field: rename(field) } : {}) };
  return errorOfCode(error.code, rename(error.message), { detail, leader: error.leader, sent: error.sent });
}
