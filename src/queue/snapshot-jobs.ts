/**
 * Jobs in the queue's snapshot: one tuple per job, in batches (at most `jobsPerRecordMax` jobs or
 * about `jobBytesPerRecordMax` payload bytes per record, so that a record stays near a chunk's
 * size), and the restore of one tuple into the structures its state puts it in.
 *
 * Tuple: [id, queue, payload, contentType, priority, runAtMs, attempts, attemptsMax, leaseMs,
 *   backoffKind, delayMs, delayMsMax, jitterRatio, key | null, state, enqueuedAtMs, updatedAtMs,
 *   token, leaseDeadlineMs, workerId, result | null, lastError | null,
 *   [[state, atMs, reason | null, token | null]...]]
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { assert } from '../errors.js';
import type { Backoff, ContentTypeCode } from './commands.js';
import { JobRecord, isHeld } from './job-record.js';
import type { QueueState } from './queue-state.js';
import { jobStates, type JobState, type JobTransition } from './results.js';
import type { SnapshotRecordWriter } from './snapshot-records.js';

/** Jobs per record at most. */
const jobsPerRecordMax = 256;
/** Payload and result bytes after which a record is closed early. */
const jobBytesPerRecordMax = 128 * 1024;

/** What restoring a job needs from the restorer. */
export interface JobRestoreTarget {
  readonly state: QueueState;
  sharedBackoff(kind: Backoff['kind'], delayMs: number, delayMsMax: number, jitterRatio: number): Backoff;
  /** A one-step history shared with the previous job restored with the same step (as the jobs of
   *  one enqueue share theirs). */
  sharedFirstStep(state: JobState, atMs: number): readonly JobTransition[];
}

export function jobState(value: unknown): JobState {
  assert(typeof value === 'string' && (jobStates as readonly string[]).includes(value), `queue snapshot holds job state ${String(value)}`);
  return value as JobState;
}

function jobRow(job: JobRecord): unknown[] {
  const { backoff } = job;
  return [
    job.id, job.queue, job.payload, job.contentType, job.priority, job.runAtMs, job.attempts, job.attemptsMax, job.leaseMs,
    backoff.kind, backoff.delayMs, backoff.delayMsMax, backoff.jitterRatio, job.key ?? null, job.state, job.enqueuedAtMs,
    job.updatedAtMs, job.token, job.leaseDeadlineMs, job.workerId, job.result ?? null, job.lastError ?? null,
    job.history.map((step) => [step.state, step.atMs, step.reason ?? null, step.token ?? null]),
  ];
}

/** Writes the jobs' records; yields after each record, so that a caller can spread the work. */
export function* encodeJobs(writer: SnapshotRecordWriter, jobs: Iterable<JobRecord>): Generator<undefined, void, undefined> {
  let batch: unknown[] = [];
  let batchBytes = 0;
  for (const job of jobs) {
    batch.push(jobRow(job));
    batchBytes += job.payloadBytes + (job.result?.byteLength ?? 0);
    if (batch.length >= jobsPerRecordMax || batchBytes >= jobBytesPerRecordMax) {
      writer.add(['jobs', batch]);
      batch = [];
      batchBytes = 0;
      yield;
    }
  }
  if (batch.length > 0) writer.add(['jobs', batch]);
}

function place(state: QueueState, job: JobRecord): void {
  const queue = state.queue(job.queue);
  state.jobs.set(job.id, job);
  queue.listed(job);
  if (isHeld(job.state)) {
    queue.heldJobs += 1;
    queue.heldBytes += job.payloadBytes;
  }
  if (job.state === 'ready') state.insertReady(job, queue);
  else if (job.state === 'delayed') state.insertDelayed(job, queue);
  else if (job.state === 'dead') queue.dead.push(job);
  else if (job.state === 'leased') {
    state.leaseTimers.push(job);
    if (job.workerId !== '') state.workerLeases(job.workerId).add(job);
    queue.leased += 1;
  }
}

/** Restores a record's job tuples into `target.state`, their payloads copied into one buffer
 *  (the record's bytes are a view into a snapshot chunk: one copy per record, not per job, and
 *  the chunk is not kept alive by the state). */
export function restoreJobs(target: JobRestoreTarget, rows: readonly (readonly unknown[])[]): void {
  let payloadBytes = 0;
  for (const row of rows) {
    const payload = row[2];
    assert(Array.isArray(row) && payload instanceof Uint8Array, `queue snapshot job ${String(row[0])} has no payload bytes`);
    payloadBytes += payload.byteLength;
  }
  const payloads = new Uint8Array(payloadBytes);
  let offset = 0;
  for (const row of rows) {
    const payload = row[2] as Uint8Array;
    payloads.set(payload, offset);
    restoreJob(target, row, payloads.subarray(offset, offset + payload.byteLength));
    offset += payload.byteLength;
  }
}

function restoreJob(target: JobRestoreTarget, row: readonly unknown[], payload: Uint8Array): void {
  const state = target.state;
  const id = row[0] as number;
  const queue = state.queues.get(row[1] as string);
  assert(queue !== undefined && Number.isSafeInteger(id) && !state.jobs.has(id), `queue snapshot job ${String(id)} is of unknown queue ${String(row[1])} or held twice`);
  const job = new JobRecord({
    id,
    queue: queue.name,
    payload,
    contentType: row[3] as ContentTypeCode,
    priority: row[4] as number,
    runAtMs: row[5] as number,
    attemptsMax: row[7] as number,
    leaseMs: row[8] as number,
    backoff: target.sharedBackoff(row[9] as Backoff['kind'], row[10] as number, row[11] as number, row[12] as number),
    key: (row[13] as string | null) ?? undefined,
    enqueuedAtMs: row[15] as number,
  }, jobState(row[14]));
  job.attempts = row[6] as number;
  job.updatedAtMs = row[16] as number;
  job.token = row[17] as number;
  job.leaseDeadlineMs = row[18] as number;
  job.workerId = row[19] as string;
  job.result = (row[20] as Uint8Array | null)?.slice() ?? undefined;
  job.lastError = (row[21] as string | null) ?? undefined;
  const steps = row[22] as [string, number, string | null, number | null][];
  const [onlyStep] = steps;
  if (steps.length === 1 && onlyStep !== undefined && onlyStep[2] === null && onlyStep[3] === null) {
    job.history = target.sharedFirstStep(jobState(onlyStep[0]), onlyStep[1]);
  } else {
    for (const step of steps) job.record({ state: jobState(step[0]), atMs: step[1], reason: step[2] ?? undefined, token: step[3] ?? undefined });
  }
  place(state, job);
}
