/**
 * What applying a queue command answers, and what a read of the queue's state answers. Results
 * travel from the thread that applies (Replicator) to the Dispatcher over a ring, and from there
 * to clients under the names of docs/protocol.md, so they are plain data: numbers, strings, byte
 * arrays, arrays and maps.
 *
 * An operating refusal (LEASE_LOST, NOT_FOUND, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ...) is a
 * `FalconError` value in place of the result; it is deterministic, as the rest of apply.
 *
 * Runs on: Replicator thread and the simulator (made), Dispatcher thread (read).
 */
import type { FalconError } from '../errors.js';
import type { ContentTypeCode } from './commands.js';

/** Where a job is in its life. `completed` and `cancelled` jobs are kept for a bounded time
 *  and count (QueueLimits), then forgotten. */
export const jobStates = ['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled'] as const;
export type JobState = (typeof jobStates)[number];

export interface EnqueuedJob {
  readonly id: number;
  readonly state: JobState;
  /** True when an idempotency key or the producer session answered an earlier job. */
  readonly duplicate: boolean;
}

export interface EnqueueResult {
  readonly type: 'enqueued';
  readonly jobs: readonly EnqueuedJob[];
}

/** A job handed to a worker by a lease. `payload` may be a view into the state's memory: the
 *  receiver copies it before the next apply if it keeps it (the ring copies anyway). */
export interface LeasedJob {
  readonly id: number;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly contentType: ContentTypeCode;
  readonly priority: number;
  /** This attempt's number, 1-based. */
  readonly attempt: number;
  readonly attemptsMax: number;
  /** The fencing token every ack, nack and extend of this lease must carry. */
  readonly token: number;
  readonly deadlineMs: number;
  readonly enqueuedAtMs: number;
}

export interface LeaseResult {
  readonly type: 'leased';
  readonly jobs: readonly LeasedJob[];
}

export interface AckResult {
  readonly type: 'acked';
  readonly jobId: number;
  /** True when this ack repeats the one that completed the job (same token): answered OK again. */
  readonly repeated: boolean;
}

export interface NackResult {
  readonly type: 'nacked';
  readonly jobId: number;
  /** `ready` or `delayed` (retry at `retryAtMs`), or `dead`. */
  readonly state: JobState;
  readonly retryAtMs: number;
}

export interface ExtendResult {
  readonly type: 'extended';
  readonly jobId: number;
  readonly deadlineMs: number;
}

/** How many jobs a bulk command moved: expireLeases, releaseWorker, redrive, purge. */
export interface CountResult {
  readonly type: 'counted';
  readonly jobs: number;
}

/** registerWorker, cancel, pauseQueue, resumeQueue. */
export interface DoneResult {
  readonly type: 'done';
}

export type CommandResult = EnqueueResult | LeaseResult | AckResult | NackResult | ExtendResult | CountResult | DoneResult | FalconError;

/** The results of one entry: one per command, in order; empty for an entry without commands. */
export type EntryResults = readonly CommandResult[];

/** One leader-stamped step of a job's life (kept per job, the most recent `jobHistoryMax`). */
export interface JobTransition {
  readonly state: JobState;
  readonly atMs: number;
  /** Why, when it is not the obvious step: `expired`, `workerReleased`, `nack`, `redrive`, ... */
  readonly reason?: string;
  /** The fencing token of a lease step. */
  readonly token?: number;
}

/** A job as `get` shows it. */
export interface JobView {
  readonly id: number;
  readonly queue: string;
  readonly state: JobState;
  readonly priority: number;
  readonly payload: Uint8Array;
  readonly contentType: ContentTypeCode;
  readonly attempts: number;
  readonly attemptsMax: number;
  readonly runAtMs: number;
  readonly enqueuedAtMs: number;
  readonly updatedAtMs: number;
  readonly key?: string;
  /** While leased: the lease's token, deadline and worker. */
  readonly token?: number;
  readonly leaseDeadlineMs?: number;
  readonly workerId?: string;
  readonly result?: Uint8Array;
  readonly lastError?: string;
  readonly history: readonly JobTransition[];
}

/** A job as `list` shows it (no payload). */
export interface JobSummary {
  readonly id: number;
  readonly state: JobState;
  readonly priority: number;
  readonly attempts: number;
  readonly runAtMs: number;
  readonly enqueuedAtMs: number;
  readonly updatedAtMs: number;
}

export interface JobPage {
  readonly jobs: readonly JobSummary[];
  /** Pass as `afterId` for the next page; null at the end. */
  readonly nextAfterId: number | null;
}

/** Counters are totals since the queue was created (they survive snapshots). */
export interface QueueStats {
  readonly queue: string;
  readonly paused: boolean;
  readonly ready: number;
  readonly delayed: number;
  readonly leased: number;
  readonly dead: number;
  readonly completed: number;
  /** Payload bytes held (every state but completed and cancelled). */
  readonly bytes: number;
  /** Age of the oldest ready job at the read's time; 0 when none is ready. */
  readonly oldestReadyAgeMs: number;
  readonly enqueuedTotal: number;
  readonly leasedTotal: number;
  readonly ackedTotal: number;
  readonly nackedTotal: number;
  readonly expiredTotal: number;
  readonly deadLetteredTotal: number;
}

export interface WorkerView {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly capacity: number;
  readonly registeredAtMs: number;
  /** Jobs it holds a lease on now. */
  readonly leases: number;
}

/** Figures of the state machine as a whole, for metrics. */
export interface QueueMachineCounters {
  readonly queues: number;
  readonly jobs: number;
  readonly idempotencyKeys: number;
  readonly dedupHits: number;
  readonly producerDedupHits: number;
  readonly idempotencyKeysEvicted: number;
  readonly producersEvicted: number;
  /** Refusals per limit name (`jobsPerQueueMax`, `bytesPerQueueMax`, `queuesMax`). */
  readonly limitRefusals: Readonly<Record<string, number>>;
}
