/**
 * The queue state machine's whole state and the primitive moves of a job between states, each
 * keeping every index consistent in O(log n): the job table, the queues, the timer heaps of
 * delayed jobs (by ready time) and of leases (by deadline), the retention timer of each queue's
 * oldest finished job, the leases per worker, the registered workers, both idempotency tiers,
 * and the clock the leader's timestamps drive.
 *
 * Invariants (checked by the property tests):
 * - every job in `jobs` is in exactly the structures of its state (job-record.ts);
 * - a leased job is in `leaseTimers` once and, when its worker is named, in that worker's set:
 *   at most one live lease per job;
 * - `nowMs` never decreases; `appliedIndex` and `lastTerm` follow the applied entries;
 * - heap orders end on the job id (or queue name): pops do not depend on a heap's layout.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { assert } from '../errors.js';
import type { QueueLimits } from './commands.js';
import { IdempotencyKeys, scopedKey } from './idempotency-keys.js';
import { IndexedHeap, type HeapSlots } from './indexed-heap.js';
import { JobRecord, isHeld } from './job-record.js';
import { ProducerSessions } from './producer-sessions.js';
import { QueueRecord } from './queue-record.js';
import type { JobState } from './results.js';
import { retryDelayMs } from './retry-backoff.js';

export interface WorkerRecord {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly capacity: number;
  readonly registeredAtMs: number;
}

/** Where a failed attempt sent the job. */
export interface FailureOutcome {
  readonly state: JobState;
  readonly retryAtMs: number;
}

const jobSlots: HeapSlots<JobRecord> = {
  slotOf: (job) => job.heapSlot,
  setSlot: (job, slot) => {
    job.heapSlot = slot;
  },
};
const queueSlots: HeapSlots<QueueRecord> = {
  slotOf: (queue) => queue.retentionSlot,
  setSlot: (queue, slot) => {
    queue.retentionSlot = slot;
  },
};

/** Receives the ages of jobs as they are leased and completed, from the leader's timestamps:
 *  the enqueue-to-lease and enqueue-to-ack latencies. Must not touch the state. */
export interface QueueLatencyObserver {
  leased(queue: string, sinceEnqueueMs: number): void;
  completed(queue: string, sinceEnqueueMs: number): void;
}

export class QueueState {
  appliedIndex = 0;
  lastTerm = 0;
  nowMs = 0;
  /** The time of the first timestamped entry of the current term: leases expire only from
   *  `termStartMs + graceMs` on. */
  termStartMs = 0;
  /** A new term began and no entry of it carried a timestamp yet (its no-op has none). */
  termStartPending = false;
  /** Payload bytes the leases of the entry being applied may still grant (QueueEntry.leaseBytesMax),
   *  and whether one was granted yet; reset for every entry. */
  entryLeaseBytesLeft = Number.POSITIVE_INFINITY;
  entryLeasedAny = false;
  /** The grace of the latest expireLeases: nextDueMs does not announce expiries before it ends. */
  lastGraceMs = 0;
  readonly jobs = new Map<number, JobRecord>();
  readonly queues = new Map<string, QueueRecord>();
  readonly delayedTimers = new IndexedHeap<JobRecord>(
    (left, right) => (left.runAtMs !== right.runAtMs ? left.runAtMs < right.runAtMs : left.id < right.id), jobSlots);
  readonly leaseTimers = new IndexedHeap<JobRecord>(
    (left, right) => (left.leaseDeadlineMs !== right.leaseDeadlineMs ? left.leaseDeadlineMs < right.leaseDeadlineMs : left.id < right.id), jobSlots);
  readonly retentionTimers = new IndexedHeap<QueueRecord>((left, right) => {
    const leftDueMs = left.retentionDueMs();
    const rightDueMs = right.retentionDueMs();
    return leftDueMs !== rightDueMs ? leftDueMs < rightDueMs : left.name < right.name;
  }, queueSlots);
  readonly leasesByWorker = new Map<string, Set<JobRecord>>();
  readonly workers = new Map<string, WorkerRecord>();
  /** Told of every lease and completion with its leader-stamped age (metrics only: not state). */
  latencyObserver: QueueLatencyObserver | undefined;
  /** Grows whenever a worker is registered or released (and at a restore): the leader's Registry
   *  compares it to learn that the list changed. Not part of the snapshot: only its changes count. */
  workersVersion = 0;
  readonly keys = new IdempotencyKeys();
  readonly producers = new ProducerSessions();
  /** Refusals per limit name, in the order the names were first refused. */
  readonly limitRefusals: Record<string, number> = {};
  /** Queues that gained ready jobs since the last `takeReadyQueues` (a wake-up hint, not state). */
  readonly readyQueues = new Set<string>();

  queue(name: string): QueueRecord {
    const queue = this.queues.get(name);
    assert(queue !== undefined, `job of unknown queue ${name}`);
    return queue;
  }

  /** The queue, made if it does not exist yet (the caller checked queuesMax). */
  openQueue(name: string, limits: QueueLimits): QueueRecord {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new QueueRecord(name);
      this.queues.set(name, queue);
    }
    queue.limits = limits;
    if (this.retentionTimers.has(queue)) this.retentionTimers.update(queue);
    return queue;
  }

  /** A new job joins the state, ready or delayed as its `runAtMs` says. */
  addJob(job: JobRecord, queue: QueueRecord): void {
    this.jobs.set(job.id, job);
    queue.listed(job);
    queue.heldJobs += 1;
    queue.heldBytes += job.payloadBytes;
    queue.totals.enqueuedTotal += 1;
    if (job.state === 'ready') this.insertReady(job, queue);
    else this.insertDelayed(job, queue);
  }

  insertReady(job: JobRecord, queue: QueueRecord): void {
    queue.ready.push(job);
    queue.readyByAge.push(job);
    this.readyQueues.add(queue.name);
  }

  insertDelayed(job: JobRecord, queue: QueueRecord): void {
    this.delayedTimers.push(job);
    queue.delayed += 1;
  }

  /** Moves every delayed job whose time came to ready. */
  promoteDue(): void {
    for (let job = this.delayedTimers.peek(); job !== undefined && job.runAtMs <= this.nowMs; job = this.delayedTimers.peek()) {
      this.delayedTimers.pop();
      const queue = this.queue(job.queue);
      queue.delayed -= 1;
      job.transition('ready', this.nowMs, undefined, undefined);
      this.insertReady(job, queue);
    }
  }

  /** Takes the job out of its waiting structure (ready, delayed or dead); it stays in `jobs`. */
  detachWaiting(job: JobRecord, queue: QueueRecord): void {
    if (job.state === 'ready') {
      queue.ready.remove(job);
      queue.readyByAge.remove(job);
    } else if (job.state === 'delayed') {
      this.delayedTimers.remove(job);
      queue.delayed -= 1;
    } else {
      assert(job.state === 'dead', `job ${job.id} detached from waiting in state ${job.state}`);
      queue.dead.remove(job);
    }
  }

  /** Grants `job` (just taken off its ready heaps) a lease with `token` until `deadlineMs`. */
  grantLease(job: JobRecord, queue: QueueRecord, token: number, deadlineMs: number, workerId: string): void {
    this.latencyObserver?.leased(job.queue, this.nowMs - job.enqueuedAtMs);
    job.attempts += 1;
    job.token = token;
    job.leaseDeadlineMs = deadlineMs;
    job.workerId = workerId;
    job.transition('leased', this.nowMs, undefined, token);
    this.leaseTimers.push(job);
    if (workerId !== '') this.workerLeases(workerId).add(job);
    queue.leased += 1;
    queue.totals.leasedTotal += 1;
  }

  workerLeases(workerId: string): Set<JobRecord> {
    let leases = this.leasesByWorker.get(workerId);
    if (leases === undefined) {
      leases = new Set();
      this.leasesByWorker.set(workerId, leases);
    }
    return leases;
  }

  /** Ends the job's lease (it stays `leased` until the caller moves it). */
  endLease(job: JobRecord, queue: QueueRecord): void {
    assert(job.state === 'leased' && this.leaseTimers.has(job), `job ${job.id} ends a lease it does not hold (state ${job.state})`);
    this.leaseTimers.remove(job);
    if (job.workerId !== '') {
      const leases = this.leasesByWorker.get(job.workerId);
      leases?.delete(job);
      if (leases !== undefined && leases.size === 0) this.leasesByWorker.delete(job.workerId);
    }
    queue.leased -= 1;
  }

  /** A failed attempt of a leased job: back to ready or delayed after the backoff, or dead when
   *  its attempts are spent or the failure is final. `delayMs` overrides the backoff. */
  failAttempt(job: JobRecord, reason: string, retryable: boolean, jitter: number, delayMs: number | undefined): FailureOutcome {
    const queue = this.queue(job.queue);
    this.endLease(job, queue);
    if (!retryable || job.attempts >= job.attemptsMax) {
      job.transition('dead', this.nowMs, reason, undefined);
      queue.dead.push(job);
      queue.totals.deadLetteredTotal += 1;
      return { state: 'dead', retryAtMs: 0 };
    }
    job.runAtMs = this.nowMs + (delayMs ?? retryDelayMs(job.backoff, job.attempts, jitter));
    if (job.runAtMs <= this.nowMs) {
      job.transition('ready', this.nowMs, reason, undefined);
      this.insertReady(job, queue);
    } else {
      job.transition('delayed', this.nowMs, reason, undefined);
      this.insertDelayed(job, queue);
    }
    return { state: job.state, retryAtMs: job.runAtMs };
  }

  /** The job (out of every live structure) is finished: completed or cancelled, then retained. */
  finish(job: JobRecord, queue: QueueRecord, state: 'completed' | 'cancelled', reason: string | undefined): void {
    queue.heldJobs -= 1;
    queue.heldBytes -= job.payloadBytes;
    if (state === 'completed') this.latencyObserver?.completed(job.queue, this.nowMs - job.enqueuedAtMs);
    job.transition(state, this.nowMs, reason, state === 'completed' ? job.token : undefined);
    const wasEmpty = queue.retained.size === 0;
    queue.retained.push(job);
    if (wasEmpty) this.retentionTimers.push(queue);
    const retainedMax = queue.limits?.completedPerQueueMax ?? 0;
    while (queue.retained.size > retainedMax) this.forgetOldestRetained(queue);
  }

  /** Forgets the queue's oldest retained job. */
  forgetOldestRetained(queue: QueueRecord): void {
    const job = queue.retained.shift();
    assert(job !== undefined, `queue ${queue.name} forgets a retained job it does not hold`);
    if (queue.retained.size === 0) this.retentionTimers.remove(queue);
    else this.retentionTimers.update(queue);
    this.forget(job, queue);
  }

  /** Forgets the retained jobs whose retention time has passed. */
  expireRetained(): void {
    for (let queue = this.retentionTimers.peek(); queue !== undefined && queue.retentionDueMs() <= this.nowMs; queue = this.retentionTimers.peek()) {
      this.forgetOldestRetained(queue);
    }
  }

  /** Drops the job from the state; a key that maps to it remembers its last state. */
  forget(job: JobRecord, queue: QueueRecord): void {
    if (isHeld(job.state)) {
      queue.heldJobs -= 1;
      queue.heldBytes -= job.payloadBytes;
    }
    this.jobs.delete(job.id);
    job.forgotten = true;
    queue.unlisted();
    if (job.key !== undefined) {
      this.keys.forgetJob(scopedKey(job.queue, job.key), job.id, job.state === 'completed' ? 'completed' : 'cancelled');
    }
  }

  /** The state a key or a producer session answers for `jobId`. */
  stateOfJob(jobId: number, forgottenState: JobState | undefined): JobState {
    return this.jobs.get(jobId)?.state ?? forgottenState ?? 'completed';
  }

  countRefusal(limitName: string): void {
    this.limitRefusals[limitName] = (this.limitRefusals[limitName] ?? 0) + 1;
  }
}
