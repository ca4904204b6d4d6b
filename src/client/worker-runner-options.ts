/**
 * The options, counters and defaults of a WorkerRunner (worker-runner.ts): what a user may set on
 * `client.worker(...)` and what a node's Worker actor sets, with the bounds and defaults that apply
 * when a field is left out, and the counters a runner keeps.
 *
 * Runs on: any thread of a client process.
 */
import type { ClusterConnection } from './cluster-connection.js';
import type { JobHandler } from './job-handler.js';

/** The slice of a pino-style logger the runner writes to. */
export interface WorkerRunnerLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface WorkerRunnerOptions {
  readonly connection: ClusterConnection;
  readonly queue: string;
  /** Unique per runner: the leader releases this id's leases when it stops beating. */
  readonly workerId: string;
  /** Jobs run at once, 1 to `concurrencyMax`. */
  readonly concurrency: number;
  /** An in-process handler, or the path of a module whose default export is one (run in a piscina pool). */
  readonly handler: JobHandler | { readonly module: string };
  /** Lease per pulled job (default 30 s); extended at about half-time while the job runs. */
  readonly leaseMs?: number;
  /** Beat at least this often (default: a third of the TTL the node answers). */
  readonly heartbeatMs?: number;
  /** Long-poll wait of a pull (default 2 s); close() may wait this long for the last pull. */
  readonly waitMs?: number;
  /** How long close() waits for running jobs (default 30 s). */
  readonly drainTimeoutMs?: number;
  /** Deadline of close()'s last call, `unregister` (default 3 s). */
  readonly unregisterDeadlineMs?: number;
  readonly logger?: WorkerRunnerLogger;
}

export interface WorkerRunnerCounters {
  pulls: number;
  pulled: number;
  acked: number;
  nacked: number;
  deadLettered: number;
  extended: number;
  leasesLost: number;
  failedAcks: number;
  failedNacks: number;
  failedExtends: number;
  failedPulls: number;
  abandoned: number;
  registrations: number;
  heartbeats: number;
  failedBeats: number;
  /** Jobs the node returned to their queues when close() unregistered this worker. */
  releasedOnClose: number;
  /** close()'s unregister failed (its jobs come back when the worker's TTL runs out). */
  failedUnregisters: number;
}

/** A pull asks for at most this many jobs (the protocol's jobsMax bound). */
export const concurrencyMax = 4096;
export const leaseMsDefault = 30_000;
export const waitMsDefault = 2_000;
export const drainTimeoutMsDefault = 30_000;
/** Added to a pull's wait for its call deadline: the reply needs a commit after the wait. */
export const pullDeadlineMarginMs = 10_000;
/** Deadline of an ack or nack call, retries across a failover included. */
export const settleDeadlineMs = 15_000;
/** Deadline of close()'s last call, `unregister`: short, since close() must not hang on a cluster
 *  that is gone, and long enough to follow a leader change (NOT_LEADER) or reconnect once. */
export const unregisterDeadlineMsDefault = 3_000;
/** After a failed pull or beat, wait this long (doubling to the max) before the next. */
export const retryDelayMsMin = 50;
export const retryDelayMsMax = 2_000;
