/**
 * The queue's log commands: what a leader writes into a `normal` log entry and every node applies
 * (queue-state-machine.ts). One entry carries one `QueueEntry`: a format version, the leader's
 * timestamp, and a batch of commands (all the enqueues, pulls and acks the Dispatcher gathered in
 * one turn), encoded once by the Dispatcher and never re-encoded on the way to the state machine.
 *
 * Determinism: apply reads time only from `QueueEntry.atMs` (clamped so that it never goes back:
 * a new leader's clock may lag the old one's) and randomness only from the jitter values below,
 * which the leader drew. Limits that decide whether a command succeeds travel in the command
 * (`EnqueueCommand.limits`), so a node whose cluster.yaml differs cannot decide differently.
 *
 * Byte layout of an entry's data: one MessagePack map (plain MessagePack; `payload` and `result`
 * are `bin`):
 *
 *   { v: 1, atMs: <leader ms since the epoch>, commands: [ <command map>, ... ], leaseBytesMax?: <uint>,
 *     defaults?: <map>, limits?: <map>, filler?: <bin> }
 *
 * `filler` carries the bench's bytes for entries that hold no command (the Raft load generator);
 * apply ignores it. A `v` other than `queueFormatVersion` stops the node (it would diverge).
 *
 * Invariants: ids and tokens are positive safe integers; a job id is
 * `entryIndex * jobsPerEntryMax + position` of the job in its entry's enqueues, so ids are
 * unique, increasing along the log and the same on every node; a lease's fencing token is the log
 * index of the entry whose `lease` command granted it.
 *
 * Runs on: Dispatcher thread (encode), Replicator thread and the simulator (decode, apply).
 */

/** The version of `QueueEntry` this code writes and reads (the snapshot has its own: queue-snapshot.ts). */
export const queueFormatVersion = 1;

/** Jobs one entry may enqueue: ids are `index * jobsPerEntryMax + position`, which stays a safe
 *  integer for indexes below 2^52 / 4096 = 2^40 (a trillion entries). */
export const jobsPerEntryMax = 4096;

/** How a payload's bytes are to be read by whoever runs the job. Stored as a small number. */
export const contentTypes = ['application/octet-stream', 'application/json', 'application/msgpack'] as const;
export type ContentType = (typeof contentTypes)[number];
/** Index into `contentTypes`. */
export type ContentTypeCode = 0 | 1 | 2;

/** Retry delay after a failed attempt n (1-based): fixed `delayMs`, or exponential
 *  `delayMs * 2^(n-1)` capped at `delayMsMax`; then `jitterRatio` of it is replaced by the
 *  leader's jitter draw (0 = none, 1 = full jitter). */
export interface Backoff {
  readonly kind: 'fixed' | 'exponential';
  readonly delayMs: number;
  readonly delayMsMax: number;
  readonly jitterRatio: number;
}

/** What an enqueue leaves unset takes these (the leader fills them from cluster.yaml). */
export interface JobDefaults {
  readonly attemptsMax: number;
  readonly leaseMs: number;
  readonly backoff: Backoff;
}

/** Bounds an enqueue must respect, stamped by the leader from cluster.yaml. */
export interface QueueLimits {
  /** Jobs held by one queue (every state but completed and cancelled). */
  readonly jobsPerQueueMax: number;
  /** Payload bytes held by one queue. */
  readonly bytesPerQueueMax: number;
  /** Queues that exist at once. */
  readonly queuesMax: number;
  /** Idempotency keys remembered; the oldest is forgotten first when full (never a refusal). */
  readonly idempotencyKeysMax: number;
  /** How long a key maps to its first job. */
  readonly dedupWindowMs: number;
  /** How long a completed or cancelled job stays readable, and how many are kept per queue. */
  readonly completedRetentionMs: number;
  readonly completedPerQueueMax: number;
  /** Producer sessions remembered; the least recently used is forgotten first. */
  readonly producersMax: number;
}

/** One job to enqueue. Unset fields take the command's `defaults`. */
export interface JobSpec {
  readonly payload: Uint8Array;
  /** Index into `contentTypes`; 0 when unset. */
  readonly contentType?: ContentTypeCode;
  /** Higher runs first; 0 when unset. Integer in [-2^31, 2^31). */
  readonly priority?: number;
  /** Not ready before `atMs + delayMs`. */
  readonly delayMs?: number;
  readonly attemptsMax?: number;
  readonly leaseMs?: number;
  readonly backoff?: Backoff;
  /** The user's idempotency key: within the dedup window, a second enqueue with it answers the
   *  first job instead of making a new one. */
  readonly key?: string;
}

/** A producer's identity and the sequence number of this enqueue: the SDK's retries of one
 *  enqueue carry the same pair and are answered from the session instead of making new jobs. */
export interface ProducerStamp {
  readonly id: string;
  readonly sequence: number;
  /** A resend whose earlier attempt may have been applied: refused when the producer is unknown. */
  readonly retry?: true;
}

export interface EnqueueCommand {
  readonly type: 'enqueue';
  readonly queue: string;
  readonly jobs: readonly JobSpec[];
  readonly defaults: JobDefaults;
  readonly limits: QueueLimits;
  readonly producer?: ProducerStamp;
}

/** A pull's grant: up to `jobsMax` ready jobs of `queue`, by priority then age, leased for
 *  `leaseMs` to `workerId` (empty string: an anonymous client). Jobs stop being granted once their
 *  payloads total `bytesMax` (the first job is granted whatever its size): the answer must fit in
 *  one ring message and one client frame. */
export interface LeaseCommand {
  readonly type: 'lease';
  readonly queue: string;
  readonly jobsMax: number;
  readonly bytesMax: number;
  readonly leaseMs: number;
  readonly workerId: string;
}

export interface AckCommand {
  readonly type: 'ack';
  readonly jobId: number;
  readonly token: number;
  readonly result?: Uint8Array;
}

/** A failed attempt. `retryable: false` dead-letters at once; `delayMs` overrides the backoff;
 *  `jitter` in [0, 1) is the leader's draw for the backoff's jitter. */
export interface NackCommand {
  readonly type: 'nack';
  readonly jobId: number;
  readonly token: number;
  readonly error: string;
  readonly retryable: boolean;
  readonly delayMs?: number;
  readonly jitter: number;
}

/** Moves a lease's deadline to `atMs + leaseMs`. */
export interface ExtendCommand {
  readonly type: 'extend';
  readonly jobId: number;
  readonly token: number;
  readonly leaseMs: number;
}

/** Ends every lease whose deadline has passed (unless the current leader's grace is still on:
 *  leases may not expire before `first entry of this term's atMs + graceMs`), counting a failed
 *  attempt; each job's backoff jitter is derived from `jitterSeed` and its id. */
export interface ExpireLeasesCommand {
  readonly type: 'expireLeases';
  readonly graceMs: number;
  readonly jitterSeed: number;
}

export interface RegisterWorkerCommand {
  readonly type: 'registerWorker';
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly capacity: number;
}

/** A worker missed its TTL (or said goodbye): its leases return to ready, counting a failed
 *  attempt, with jitter derived from `jitterSeed`. */
export interface ReleaseWorkerCommand {
  readonly type: 'releaseWorker';
  readonly workerId: string;
  readonly reason: 'ttlExpired' | 'goodbye';
  readonly jitterSeed: number;
}

/** Cancels a job that is not leased (delayed, ready or dead). */
export interface CancelCommand {
  readonly type: 'cancel';
  readonly jobId: number;
}

export interface PauseQueueCommand {
  readonly type: 'pauseQueue';
  readonly queue: string;
}

export interface ResumeQueueCommand {
  readonly type: 'resumeQueue';
  readonly queue: string;
}

/** Moves up to `jobsMax` dead jobs of `queue` back to ready, oldest first, with attempts reset. */
export interface RedriveCommand {
  readonly type: 'redrive';
  readonly queue: string;
  readonly jobsMax: number;
}

/** Removes the waiting jobs of a queue (`ready`: ready and delayed; leased jobs finish) or its
 *  dead-letter set (`dead`). */
export interface PurgeCommand {
  readonly type: 'purge';
  readonly queue: string;
  readonly set: 'ready' | 'dead';
}

export type QueueCommand =
  | EnqueueCommand | LeaseCommand | AckCommand | NackCommand | ExtendCommand | ExpireLeasesCommand
  | RegisterWorkerCommand | ReleaseWorkerCommand | CancelCommand | PauseQueueCommand
  | ResumeQueueCommand | RedriveCommand | PurgeCommand;

export type QueueCommandType = QueueCommand['type'];

/** The data of one `normal` log entry of the queue. */
export interface QueueEntry {
  readonly v: number;
  readonly atMs: number;
  readonly commands: readonly QueueCommand[];
  /** Payload bytes the leases of this entry grant together at most (each lease within its own
   *  `bytesMax` too), so that the entry's answer fits in one ring message; the entry's first
   *  leased job is granted whatever its size (a payload is at most this bound by configuration).
   *  A queue left with ready jobs when the bound stopped a lease counts as having gained ready
   *  jobs, so that parked pulls are woken for it. Unbounded when absent. */
  readonly leaseBytesMax?: number;
  /** On the wire only: the defaults and limits every enqueue of the entry shares, written once
   *  (entry-codec.ts); a decoded entry has them back on each enqueue. */
  readonly defaults?: JobDefaults;
  readonly limits?: QueueLimits;
  readonly filler?: Uint8Array;
}
