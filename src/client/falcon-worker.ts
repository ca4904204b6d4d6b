/**
 * What `FalconClient.worker()` gives a user: a running worker for one queue, with its own
 * connection to the cluster (so its long polls never wait behind the client's enqueues, and its
 * leases end with it). It wraps a WorkerRunner: registers, beats, pulls in batches with long
 * polls, runs the handler in-process or in a piscina pool, extends leases, acks results, nacks
 * errors (NonRetryableError dead-letters at once).
 *
 * close(): stops pulling, lets the running jobs finish and be acked or nacked (up to
 * `drainTimeoutMs`; jobs still running then are given up), stops beating, unregisters (the node
 * returns every job still leased to the worker: the given-up ones, and a lost pull's), closes its
 * connection, resolves. It never rejects.
 *
 * Runs on: any thread of a client process.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ClusterConnection, type ClusterConnectionOptions } from './cluster-connection.js';
import { checkName, jobBounds } from './job-options.js';
import type { JobHandler } from './job-handler.js';
import { WorkerRunner, concurrencyMax, type WorkerRunnerCounters, type WorkerRunnerLogger } from './worker-runner.js';
import { InvalidArgumentError } from './errors.js';

export interface WorkerOptions {
  /** Jobs run at once, 1 to 4096 (default 1). */
  readonly concurrency?: number;
  /** Path of a module whose default export is the handler: jobs then run in a piscina thread pool
   *  (up to `concurrency` threads). Given instead of a handler function. */
  readonly handlerModule?: string;
  /** Lease of each pulled job (default 30 s); extended at about half-time while the job runs. */
  readonly leaseMs?: number;
  /** Long-poll wait of a pull (default 2 s); close() may wait this long for the last pull. */
  readonly waitMs?: number;
  /** Beat at least this often (default: a third of the TTL the node answers). */
  readonly heartbeatMs?: number;
  /** How long close() waits for running jobs (default 30 s). */
  readonly drainTimeoutMs?: number;
  /** Unique per worker (default: host, process id and a random part). */
  readonly workerId?: string;
  readonly logger?: WorkerRunnerLogger;
}

export type { WorkerRunnerCounters as WorkerCounters, WorkerRunnerLogger as WorkerLogger };

const nameBytesMax = 128;
/** The protocol's bound on a pull's long-poll wait. */
const waitMsMax = 60_000;

/** Throws InvalidArgumentError unless `value` is absent or an integer in [min, max]. */
function checkOption(value: number | undefined, field: string, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`options.${field} must be an integer from ${min} to ${max}, got ${String(value)}`, { detail: { field }, sent: false });
  }
}

export class FalconWorker {
  readonly queue: string;
  readonly workerId: string;
  /** Resolves once the worker is registered with the leader (or when it is closed first). */
  readonly ready: Promise<void>;
  private readonly connection: ClusterConnection;
  private readonly runner: WorkerRunner;
  private closing: Promise<void> | undefined;

  /** Use `FalconClient.worker()`. Throws InvalidArgumentError for a malformed option. */
  constructor(queue: string, handler: JobHandler | undefined, options: WorkerOptions, connectionOptions: ClusterConnectionOptions) {
    this.queue = checkName(queue, 'queue', jobBounds.queueNameBytesMax);
    this.workerId = checkName(options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`, 'workerId', nameBytesMax);
    if ((handler === undefined) === (options.handlerModule === undefined)) {
      throw new InvalidArgumentError('a worker needs either a handler function or options.handlerModule, not both', { detail: { field: 'handlerModule' }, sent: false });
    }
    checkOption(options.concurrency, 'concurrency', 1, concurrencyMax);
    checkOption(options.leaseMs, 'leaseMs', 2, jobBounds.leaseMsMax);
    checkOption(options.waitMs, 'waitMs', 0, waitMsMax);
    checkOption(options.heartbeatMs, 'heartbeatMs', 1, Number.MAX_SAFE_INTEGER);
    checkOption(options.drainTimeoutMs, 'drainTimeoutMs', 0, Number.MAX_SAFE_INTEGER);
    this.connection = new ClusterConnection({ ...connectionOptions, clientName: connectionOptions.clientName ?? 'falconqueue-worker' });
    this.runner = new WorkerRunner({
      connection: this.connection, queue: this.queue, workerId: this.workerId, concurrency: options.concurrency ?? 1,
      handler: handler ?? { module: options.handlerModule as string },
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    this.ready = this.runner.start();
  }

  /** What the worker did so far: pulls, jobs pulled, acked, nacked, dead-lettered, leases extended and lost, ... */
  get counters(): Readonly<WorkerRunnerCounters> {
    return this.runner.counters;
  }

  /** Jobs running now. */
  get runningJobs(): number {
    return this.runner.runningJobs;
  }

  /** Stops pulling, drains (bounded), stops beating, closes the connection. Resolves; never rejects. */
  close(): Promise<void> {
    this.closing ??= this.runner.close().catch(() => undefined).finally(() => this.connection.close());
    return this.closing;
  }
}
