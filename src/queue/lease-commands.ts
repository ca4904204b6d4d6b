/**
 * Applies the commands of a lease's life: `lease` (a pull's grant), `ack`, `nack`, `extend`,
 * `expireLeases` and `releaseWorker`.
 *
 * Fencing: a lease's token is the index of the entry whose `lease` granted it; an ack, nack or
 * extend must carry the job's current token while it is leased, else LEASE_LOST naming the job and
 * both tokens. An ack repeated with the token that completed the job answers OK, `repeated`.
 * A job is never leased twice by one entry (it would get the same token twice): a job nacked and
 * ready again within the entry that leased it waits for the next entry.
 *
 * Grace after a leader change: `expireLeases` expires nothing before `termStartMs + graceMs`
 * (termStartMs: the first timestamped entry of the current term); from then on, every lease whose
 * deadline is ≤ now. Deadlines are not moved: a lease that outlived its deadline during the grace
 * expires at the first expireLeases after it, unless its holder extended it in the meantime.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { falconError, type FalconError } from '../errors.js';
import type {
  AckCommand, ExpireLeasesCommand, ExtendCommand, LeaseCommand, NackCommand, ReleaseWorkerCommand,
} from './commands.js';
import { JobRecord, leasedJob } from './job-record.js';
import type { QueueState } from './queue-state.js';
import type { AckResult, CountResult, ExtendResult, LeaseResult, LeasedJob, NackResult } from './results.js';
import { derivedJitter } from './retry-backoff.js';

const noJobsLeased: LeaseResult = { type: 'leased', jobs: [] };

export function applyLease(state: QueueState, command: LeaseCommand, entryIndex: number): LeaseResult {
  state.promoteDue();
  const queue = state.queues.get(command.queue);
  if (queue === undefined || queue.paused) return noJobsLeased;
  const jobs: LeasedJob[] = [];
  let leasedInThisEntry: JobRecord[] | undefined;
  const deadlineMs = state.nowMs + command.leaseMs;
  let bytes = 0;
  while (jobs.length < command.jobsMax) {
    const job = queue.ready.peek();
    if (job === undefined) break;
    // The entry's first leased job goes whatever its size; later ones only while this lease's
    // answer and the entry's stay in their bounds (QueueEntry.leaseBytesMax).
    const size = job.payload.byteLength;
    if (state.entryLeasedAny && (bytes + size > command.bytesMax || size > state.entryLeaseBytesLeft)) {
      // Jobs are left for a later entry: the queue counts as having ready jobs to wake pulls for.
      state.readyQueues.add(queue.name);
      break;
    }
    queue.ready.pop();
    state.entryLeasedAny = true;
    state.entryLeaseBytesLeft -= size;
    if (job.token === entryIndex) {
      (leasedInThisEntry ??= []).push(job);
      continue;
    }
    queue.readyByAge.remove(job);
    state.grantLease(job, queue, entryIndex, deadlineMs, command.workerId);
    bytes += job.payload.byteLength;
    jobs.push(leasedJob(job));
  }
  if (leasedInThisEntry !== undefined) for (const job of leasedInThisEntry) queue.ready.push(job);
  return jobs.length === 0 ? noJobsLeased : { type: 'leased', jobs };
}

function notFound(jobId: number): FalconError {
  return falconError('NOT_FOUND', `job ${jobId} does not exist (never enqueued, or forgotten after its retention)`);
}

function leaseLost(job: JobRecord, token: number): FalconError {
  const now = job.state === 'leased'
    ? `it is leased with token ${job.token}`
    : `it is ${job.state}${job.token === 0 ? ', never leased' : ` (its latest lease had token ${job.token})`}`;
  return falconError('LEASE_LOST', `job ${job.id} is not leased with token ${token}: ${now}`, { jobId: job.id, token });
}

/** The job when `token` is its live lease's; else the refusal. */
function fencedJob(state: QueueState, jobId: number, token: number): JobRecord | FalconError {
  const job = state.jobs.get(jobId);
  if (job === undefined) return notFound(jobId);
  if (job.state !== 'leased' || job.token !== token) return leaseLost(job, token);
  return job;
}

export function applyAck(state: QueueState, command: AckCommand): AckResult | FalconError {
  const job = state.jobs.get(command.jobId);
  if (job === undefined) return notFound(command.jobId);
  if (job.state === 'completed' && job.token === command.token) return { type: 'acked', jobId: job.id, repeated: true };
  if (job.state !== 'leased' || job.token !== command.token) return leaseLost(job, command.token);
  const queue = state.queue(job.queue);
  state.endLease(job, queue);
  job.result = command.result;
  queue.totals.ackedTotal += 1;
  state.finish(job, queue, 'completed', undefined);
  return { type: 'acked', jobId: job.id, repeated: false };
}

export function applyNack(state: QueueState, command: NackCommand): NackResult | FalconError {
  const job = fencedJob(state, command.jobId, command.token);
  if (!(job instanceof JobRecord)) return job;
  job.lastError = command.error;
  state.queue(job.queue).totals.nackedTotal += 1;
  const outcome = state.failAttempt(job, 'nack', command.retryable, command.jitter, command.delayMs);
  return { type: 'nacked', jobId: job.id, state: outcome.state, retryAtMs: outcome.retryAtMs };
}

export function applyExtend(state: QueueState, command: ExtendCommand): ExtendResult | FalconError {
  const job = fencedJob(state, command.jobId, command.token);
  if (!(job instanceof JobRecord)) return job;
  job.leaseDeadlineMs = state.nowMs + command.leaseMs;
  state.leaseTimers.update(job);
  return { type: 'extended', jobId: job.id, deadlineMs: job.leaseDeadlineMs };
}

export function applyExpireLeases(state: QueueState, command: ExpireLeasesCommand): CountResult {
  state.lastGraceMs = command.graceMs;
  if (state.nowMs < state.termStartMs + command.graceMs) return { type: 'counted', jobs: 0 };
  let expired = 0;
  for (let job = state.leaseTimers.peek(); job !== undefined && job.leaseDeadlineMs <= state.nowMs; job = state.leaseTimers.peek()) {
    job.lastError = `lease with token ${job.token} expired at ${job.leaseDeadlineMs}`;
    state.queue(job.queue).totals.expiredTotal += 1;
    state.failAttempt(job, 'expired', true, derivedJitter(command.jitterSeed, job.id), undefined);
    expired += 1;
  }
  return { type: 'counted', jobs: expired };
}

export function applyReleaseWorker(state: QueueState, command: ReleaseWorkerCommand): CountResult {
  if (state.workers.delete(command.workerId)) state.workersVersion += 1;
  const leases = state.leasesByWorker.get(command.workerId);
  if (leases === undefined) return { type: 'counted', jobs: 0 };
  const jobs = [...leases].sort((left, right) => left.id - right.id);
  for (const job of jobs) {
    job.lastError = `worker ${command.workerId} released (${command.reason}) while it held the lease with token ${job.token}`;
    state.failAttempt(job, 'workerReleased', true, derivedJitter(command.jitterSeed, job.id), undefined);
  }
  return { type: 'counted', jobs: jobs.length };
}
