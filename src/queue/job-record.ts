/**
 * One job as the queue's state holds it, and the views reads and leases answer from it.
 *
 * A `JobRecord` is a class with every field set in the constructor, so that every job shares one
 * hidden class (millions of them: the shape matters for memory and for the apply path's speed).
 *
 * Invariants:
 * - `state` is exactly one of the job states; the job sits in exactly the structures of that state
 *   (QueueState keeps them): `ready` in its queue's ready and age heaps, `delayed` in the delayed
 *   timer heap, `leased` in the lease timer heap and its worker's lease set, `dead` in its queue's
 *   dead set, `completed`/`cancelled` in the retention FIFOs. `heapSlot` is its position in
 *   whichever heap its state puts it in (-1 when none), `ageSlot` its position in the age heap.
 * - `token` is the fencing token of the job's latest lease (0 before the first): while leased,
 *   the one an ack, nack or extend must carry; once completed, the one whose ack completed it.
 * - `attempts` never decreases except by a redrive, which resets it to 0.
 * - `history` holds the most recent `jobHistoryMax` transitions, oldest first. It is never
 *   mutated, only replaced (`record` copies), so jobs may share one: the jobs of one enqueue share
 *   their first step.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import type { Backoff, ContentTypeCode } from './commands.js';
import type { JobState, JobSummary, JobTransition, JobView, LeasedJob } from './results.js';

/** Transitions kept per job: enough to see a job's recent retries without growing with them. */
export const jobHistoryMax = 16;

/** The fields a new job is made from. */
export interface NewJob {
  readonly id: number;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly contentType: ContentTypeCode;
  readonly priority: number;
  readonly runAtMs: number;
  readonly attemptsMax: number;
  readonly leaseMs: number;
  readonly backoff: Backoff;
  readonly key: string | undefined;
  readonly enqueuedAtMs: number;
}

const noHistory: readonly JobTransition[] = [];

export class JobRecord {
  readonly id: number;
  readonly queue: string;
  /** The payload's bytes as three fields, not a Uint8Array view: a view object costs about 80
   *  bytes more per job (measured, docs/queue.md); `payload` makes one when asked. */
  private readonly payloadBuffer: ArrayBufferLike;
  private readonly payloadOffset: number;
  readonly payloadBytes: number;
  readonly contentType: ContentTypeCode;
  readonly priority: number;
  /** When the job is (or was, or will be) ready: enqueue time, the end of a delay or a backoff. */
  runAtMs: number;
  attempts = 0;
  readonly attemptsMax: number;
  readonly leaseMs: number;
  readonly backoff: Backoff;
  readonly key: string | undefined;
  state: JobState;
  readonly enqueuedAtMs: number;
  updatedAtMs: number;
  token = 0;
  leaseDeadlineMs = 0;
  workerId = '';
  result: Uint8Array | undefined = undefined;
  lastError: string | undefined = undefined;
  history: readonly JobTransition[] = noHistory;
  heapSlot = -1;
  ageSlot = -1;
  /** Set when the job left the state (retention, purge): lazily dropped from per-queue listings. */
  forgotten = false;

  constructor(spec: NewJob, state: JobState) {
    this.id = spec.id;
    this.queue = spec.queue;
    this.payloadBuffer = spec.payload.buffer;
    this.payloadOffset = spec.payload.byteOffset;
    this.payloadBytes = spec.payload.byteLength;
    this.contentType = spec.contentType;
    this.priority = spec.priority;
    this.runAtMs = spec.runAtMs;
    this.attemptsMax = spec.attemptsMax;
    this.leaseMs = spec.leaseMs;
    this.backoff = spec.backoff;
    this.key = spec.key;
    this.state = state;
    this.enqueuedAtMs = spec.enqueuedAtMs;
    this.updatedAtMs = spec.enqueuedAtMs;
  }

  /** A view of the payload (into the applied entry's bytes, or the restored snapshot's). */
  get payload(): Uint8Array {
    return new Uint8Array(this.payloadBuffer, this.payloadOffset, this.payloadBytes);
  }

  /** Moves the job to `state` at `atMs`, recording the step. */
  transition(state: JobState, atMs: number, reason: string | undefined, token: number | undefined): void {
    this.state = state;
    this.updatedAtMs = atMs;
    this.record({ state, atMs, reason, token });
  }

  /** Appends a step to the bounded history (also used by restore). */
  record(step: JobTransition): void {
    // A new array of the exact length each time: `push` would grow the backing store to 17
    // slots at once, which is most of what a job costs when millions are held.
    const kept = Math.min(this.history.length, jobHistoryMax - 1);
    const start = this.history.length - kept;
    const history = new Array<JobTransition>(kept + 1);
    for (let at = 0; at < kept; at += 1) history[at] = this.history[start + at] as JobTransition;
    history[kept] = step;
    this.history = history;
  }
}

/** Whether a job in `state` counts against its queue's job and byte limits. */
export function isHeld(state: JobState): boolean {
  return state !== 'completed' && state !== 'cancelled';
}

function transitionView(step: JobTransition): JobTransition {
  const view: { state: JobState; atMs: number; reason?: string; token?: number } = { state: step.state, atMs: step.atMs };
  if (step.reason !== undefined) view.reason = step.reason;
  if (step.token !== undefined) view.token = step.token;
  return view;
}

/** The job as `get` shows it (plain data: it crosses a ring). */
export function jobView(job: JobRecord): JobView {
  const view: { -readonly [Field in keyof JobView]: JobView[Field] } = {
    id: job.id,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    payload: job.payload,
    contentType: job.contentType,
    attempts: job.attempts,
    attemptsMax: job.attemptsMax,
    runAtMs: job.runAtMs,
    enqueuedAtMs: job.enqueuedAtMs,
    updatedAtMs: job.updatedAtMs,
    history: job.history.map(transitionView),
  };
  if (job.key !== undefined) view.key = job.key;
  if (job.state === 'leased') {
    view.token = job.token;
    view.leaseDeadlineMs = job.leaseDeadlineMs;
    view.workerId = job.workerId;
  }
  if (job.result !== undefined) view.result = job.result;
  if (job.lastError !== undefined) view.lastError = job.lastError;
  return view;
}

/** The job as `list` shows it. */
export function jobSummary(job: JobRecord): JobSummary {
  return {
    id: job.id,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    runAtMs: job.runAtMs,
    enqueuedAtMs: job.enqueuedAtMs,
    updatedAtMs: job.updatedAtMs,
  };
}

/** The job as a lease hands it to a worker. */
export function leasedJob(job: JobRecord): LeasedJob {
  return {
    id: job.id,
    queue: job.queue,
    payload: job.payload,
    contentType: job.contentType,
    priority: job.priority,
    attempt: job.attempts,
    attemptsMax: job.attemptsMax,
    token: job.token,
    deadlineMs: job.leaseDeadlineMs,
    enqueuedAtMs: job.enqueuedAtMs,
  };
}
