/**
 * FalconClient: the SDK's entry point. It keeps one connection to the cluster (a ClusterConnection:
 * finds the leader, follows NOT_LEADER, opens the producer session with `hello`, carries the
 * token, retries with backoff and jitter within each call's deadline), batches concurrent
 * enqueues into few requests (EnqueueBatcher), and makes workers (`worker()`, each with its own
 * connection).
 *
 * No retry creates a second job: every enqueue request carries its producer sequence, and a retry
 * after an unknown outcome resends the same sequence with the same jobs, marked `retry` so that a
 * node which forgot the session refuses it instead of applying it as new (docs/sdk.md). A
 * call that gives up after an attempt of its request may have taken effect says `sent: true`: its
 * job may still be added by that retry for the other calls of its batch.
 * Reads and the idempotent admin verbs (pause, resume, cancel) are retried after an unknown
 * outcome; redrive and purge are not (a second one could move other jobs): they reject with
 * UnavailableError and the caller decides.
 *
 * Invariants: every promise the client returns settles, by its deadline at the latest (plus one
 * connect timeout), and rejects only with a ProtocolError subclass (errors.ts).
 *
 * Runs on: any thread of a client process.
 */
import { ClusterConnection, type ClusterConnectionOptions, type NodeAddress } from './cluster-connection.js';
import { EnqueueBatcher, type EnqueuedJob, type JobState } from './enqueue-batcher.js';
import { ClientClosedError, InternalError, InvalidArgumentError, ProtocolError, errorOfCode } from './errors.js';
import { FalconWorker, type WorkerOptions } from './falcon-worker.js';
import type { JobHandler } from './job-handler.js';
import { checkName, jobBounds, wireBytesMax, wireJobOf, type EnqueueOptions, type JobSpec, type WireJob } from './job-options.js';
import { jobInfoOf, jobPageOf, movedJobsOf, queueStatsOf, type JobInfo, type JobPage, type JobSummary, type QueueStats } from './replies.js';

export interface FalconClientOptions {
  /** The cluster's client addresses: `'host:port'` (`'[::1]:7201'` for IPv6) or `{ host, port }`. Any one of them will do; more survive its loss. */
  readonly nodes: ReadonlyArray<string | NodeAddress>;
  /** The bearer token sent in every hello (a cluster that lists tokens refuses requests without one). */
  readonly token?: string;
  /** Each call's deadline, retries included (default 15 s: longer than an election). */
  readonly deadlineMs?: number;
  /** The cluster's queue.clientFrameBytesMax (default 4 MiB). */
  readonly frameBytesMax?: number;
  /** The cluster's queue.payloadBytesMax, checked before sending (default 1 MiB). */
  readonly payloadBytesMax?: number;
  /** Bound on opening one TCP connection (default 2 s). */
  readonly connectTimeoutMs?: number;
  /** Bound on one attempt's wait for an answer, beyond a long poll's wait (default 2 s): a node
   *  silent this long (a paused leader) is left for the next, the outcome unknown. */
  readonly attemptTimeoutMs?: number;
  /** A node silent this long with a request waiting (beyond a long poll's wait) makes the client ask
   *  the other nodes who leads, and move its calls at once to one that says it leads (default 150 ms). */
  readonly leaderProbeMs?: number;
  /** The name the node logs for this client (default `falconqueue-sdk`). */
  readonly clientName?: string;
}

/** Options every call takes. */
export interface CallOptions {
  /** This call's deadline, retries included (default: the client's `deadlineMs`). */
  readonly deadlineMs?: number;
}

export interface ListOptions extends CallOptions {
  /** Only jobs with a larger id: the previous page's `nextAfterId` (default 0). */
  readonly afterId?: number;
  /** Jobs per page, 1 to 1000 (default 100). */
  readonly limit?: number;
}

export interface FalconClientCounters {
  /** enqueue and enqueueMany calls (an enqueueMany above one request's size counts once per part). */
  readonly enqueueCalls: number;
  readonly enqueuedJobs: number;
  /** Sequenced enqueue requests issued (retries of one not counted). */
  readonly enqueueRequests: number;
  /** Protocol requests sent, retries included, by type. */
  readonly requestsSent: Readonly<Record<string, number>>;
  /** Requests retried by the connection. */
  readonly retries: number;
}

const jobStates: readonly JobState[] = ['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled'];
const listLimitMax = 1000;
const redriveJobsMax = 65_536;

/** A `{ host, port }` of `'host:port'` or `'[v6]:port'`. */
export function nodeAddressOf(node: string | NodeAddress): NodeAddress {
  if (typeof node !== 'string') {
    if (typeof node.host !== 'string' || !Number.isSafeInteger(node.port) || node.port < 1 || node.port > 65_535) {
      throw new InvalidArgumentError(`node ${JSON.stringify(node)} is not { host, port } with a port from 1 to 65535`, { detail: { field: 'nodes' }, sent: false });
    }
    return node;
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(node);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new InvalidArgumentError(`node '${node}' is not 'host:port' with a port from 1 to 65535`, { detail: { field: 'nodes' }, sent: false });
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

/** The longest deadline: Node runs a timer of more than 2^31 − 1 ms (about 24.8 days) after 1 ms,
 *  which would end a call at once. */
export const deadlineMsMax = 2 ** 31 - 1;

export class FalconClient {
  private readonly connectionOptions: ClusterConnectionOptions;
  private readonly connection: ClusterConnection;
  private readonly batcher: EnqueueBatcher;
  private readonly deadlineMs: number;
  private readonly payloadBytesMax: number;
  private readonly workers = new Set<FalconWorker>();
  private closed = false;

  /** Throws InvalidArgumentError for a malformed option. Connects lazily, on the first call. */
  constructor(options: FalconClientOptions) {
    if (!Array.isArray(options.nodes) || options.nodes.length === 0) {
      throw new InvalidArgumentError('options.nodes must list at least one node address', { detail: { field: 'nodes' }, sent: false });
    }
    this.deadlineMs = options.deadlineMs === undefined ? 15_000 : this.integer(options.deadlineMs, 'options.deadlineMs', 0, deadlineMsMax);
    this.payloadBytesMax = options.payloadBytesMax ?? jobBounds.payloadBytesMaxDefault;
    this.connectionOptions = {
      nodes: options.nodes.map(nodeAddressOf), deadlineMs: this.deadlineMs,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.frameBytesMax === undefined ? {} : { frameBytesMax: options.frameBytesMax }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
      ...(options.leaderProbeMs === undefined ? {} : { leaderProbeMs: options.leaderProbeMs }),
    };
    // A fresh producer session per client: its sequences start at 0, which a resumed session
    // would take for sequences it already answered.
    this.connection = new ClusterConnection({ ...this.connectionOptions, clientName: options.clientName ?? 'falconqueue-sdk' });
    this.batcher = new EnqueueBatcher({ transport: this.connection, ...(options.frameBytesMax === undefined ? {} : { frameBytesMax: options.frameBytesMax }) });
  }

  /** The producer session's id, once the first connection said hello (for logs: each client has its own session). */
  get producerId(): string | undefined {
    return this.connection.producerId;
  }

  /** What the client did so far, for figures and tests. */
  get counters(): FalconClientCounters {
    const { calls, jobs, requests } = this.batcher.counters;
    return {
      enqueueCalls: calls, enqueuedJobs: jobs, enqueueRequests: requests,
      requestsSent: Object.fromEntries(this.connection.requestsSent), retries: this.connection.retries,
    };
  }

  /**
   * Adds one job to `queue` (created on first use). `payload`: any value (sent as MessagePack, or
   * JSON with `contentType: 'application/json'`), or bytes (`Buffer`/`Uint8Array`, sent as they
   * are). Resolves with `{ id, state, duplicate }`. Calls made together are sent together.
   */
  async enqueue(queue: string, payload: unknown, options: EnqueueOptions & CallOptions = {}): Promise<EnqueuedJob> {
    const [job] = await this.enqueueJobs(queue, [{ ...options, payload }], options, false);
    if (job === undefined) throw new InternalError('an enqueue of one job was answered with none');
    return job;
  }

  /**
   * Adds `jobs` to `queue`; resolves with one answer per job, in order. Atomic (all or none) when
   * the jobs fit one request (4096 jobs and the frame bound); larger lists are sent as several
   * atomic parts; the call waits for every part, and when one fails it rejects with the first
   * failure's code, `sent: true` if any part was or may have been added, and `detail.jobsAdded`,
   * `jobsMaybeAdded`, `jobsNotAdded` naming the parts by job index ranges.
   */
  enqueueMany(queue: string, jobs: readonly JobSpec[], options: CallOptions = {}): Promise<EnqueuedJob[]> {
    return this.enqueueJobs(queue, jobs, options, true);
  }

  /** `many`: errors name a job `jobs[i]...` (enqueueMany) or by its field alone (enqueue). */
  private async enqueueJobs(queue: string, jobs: readonly JobSpec[], options: CallOptions, many: boolean): Promise<EnqueuedJob[]> {
    this.checkOpen();
    checkName(queue, 'queue', jobBounds.queueNameBytesMax);
    if (!Array.isArray(jobs) || jobs.length === 0) throw new InvalidArgumentError('jobs must be a non-empty array', { detail: { field: 'jobs' }, sent: false });
    const deadlineAt = Date.now() + this.callDeadlineMs(options);
    const wireJobs = jobs.map((job, index) => {
      if (typeof job !== 'object' || job === null) throw new InvalidArgumentError(`jobs[${index}] must be { payload, ...options }`, { detail: { field: `jobs[${index}]` }, sent: false });
      return wireJobOf(job.payload, job, this.payloadBytesMax, many ? `jobs[${index}]` : '');
    });
    const parts = this.partsOf(queue, wireJobs);
    if (parts.length === 1) return this.batcher.submit(queue, wireJobs, deadlineAt, many);
    const outcomes = await Promise.allSettled(parts.map((part) => this.batcher.submit(queue, part, deadlineAt, many)));
    const answers: EnqueuedJob[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw partsError(parts, outcomes, outcome.reason);
      answers.push(...outcome.value);
    }
    return answers;
  }

  /** `jobs` cut into parts that each fit one request. */
  private partsOf(queue: string, jobs: readonly WireJob[]): WireJob[][] {
    const bytesMax = this.batcher.requestBytesMax(queue);
    const parts: WireJob[][] = [];
    let part: WireJob[] = [];
    let bytes = 0;
    for (const job of jobs) {
      const jobBytes = wireBytesMax(job);
      if (part.length > 0 && (part.length === 4096 || bytes + jobBytes > bytesMax)) {
        parts.push(part);
        part = [];
        bytes = 0;
      }
      part.push(job);
      bytes += jobBytes;
    }
    parts.push(part);
    return parts;
  }

  /** One job's state, payload (decoded), result (decoded) and history. NotFoundError when unknown or forgotten. */
  async get(id: number, options: CallOptions = {}): Promise<JobInfo> {
    return jobInfoOf(await this.call({ type: 'get', jobId: this.jobId(id) }, options, true));
  }

  /** One page of `queue`'s jobs in `state`, by id. */
  async list(queue: string, state: JobState, options: ListOptions = {}): Promise<JobPage> {
    const request: Record<string, unknown> = { type: 'list', queue: checkName(queue, 'queue', jobBounds.queueNameBytesMax), state: this.jobState(state) };
    if (options.afterId !== undefined) request['afterId'] = this.integer(options.afterId, 'afterId', 0, Number.MAX_SAFE_INTEGER);
    if (options.limit !== undefined) request['limit'] = this.integer(options.limit, 'limit', 1, listLimitMax);
    return jobPageOf(await this.call(request as { type: string }, options, true));
  }

  /** Every job of `queue` in `state`, page after page (`limit` per page). */
  async *listAll(queue: string, state: JobState, options: Omit<ListOptions, 'afterId'> = {}): AsyncGenerator<JobSummary, void, undefined> {
    let afterId = 0;
    for (;;) {
      const page = await this.list(queue, state, { ...options, afterId });
      yield* page.jobs;
      if (page.nextAfterId === null) return;
      afterId = page.nextAfterId;
    }
  }

  /** Removes a job that is not leased. FailedPreconditionError for a leased or completed job; a job already cancelled resolves again. */
  async cancel(id: number, options: CallOptions = {}): Promise<void> {
    await this.call({ type: 'cancel', jobId: this.jobId(id) }, options, true);
  }

  /** Figures of every queue. */
  stats(options?: CallOptions): Promise<QueueStats[]>;
  /** Figures of one queue, or undefined when it does not exist. */
  stats(queue: string, options?: CallOptions): Promise<QueueStats | undefined>;
  async stats(queueOrOptions?: string | CallOptions, options: CallOptions = {}): Promise<QueueStats[] | QueueStats | undefined> {
    if (typeof queueOrOptions !== 'string') return queueStatsOf(await this.call({ type: 'stats' }, queueOrOptions ?? {}, true));
    const queue = checkName(queueOrOptions, 'queue', jobBounds.queueNameBytesMax);
    return queueStatsOf(await this.call({ type: 'stats', queue }, options, true)).find((stats) => stats.queue === queue);
  }

  /** The queue takes enqueues but leases nothing until resumed. */
  async pause(queue: string, options: CallOptions = {}): Promise<void> {
    await this.call({ type: 'pause', queue: checkName(queue, 'queue', jobBounds.queueNameBytesMax) }, options, true);
  }

  async resume(queue: string, options: CallOptions = {}): Promise<void> {
    await this.call({ type: 'resume', queue: checkName(queue, 'queue', jobBounds.queueNameBytesMax) }, options, true);
  }

  /** Moves up to `jobsMax` (1 to 65536, default 4096) dead jobs back to ready, oldest first; resolves with how many moved. */
  async redrive(queue: string, options: CallOptions & { readonly jobsMax?: number } = {}): Promise<number> {
    const request: Record<string, unknown> = { type: 'redrive', queue: checkName(queue, 'queue', jobBounds.queueNameBytesMax) };
    if (options.jobsMax !== undefined) request['jobsMax'] = this.integer(options.jobsMax, 'jobsMax', 1, redriveJobsMax);
    return movedJobsOf(await this.call(request as { type: string }, options, false));
  }

  /** Removes the waiting jobs (`'ready'`: ready and delayed) or the dead-letter set (`'dead'`); resolves with how many. */
  async purge(queue: string, set: 'ready' | 'dead', options: CallOptions = {}): Promise<number> {
    if (set !== 'ready' && set !== 'dead') throw new InvalidArgumentError("set must be 'ready' or 'dead'", { detail: { field: 'set' }, sent: false });
    return movedJobsOf(await this.call({ type: 'purge', queue: checkName(queue, 'queue', jobBounds.queueNameBytesMax), set }, options, false));
  }

  /**
   * Starts a worker for `queue` with its own connection: `handler(job, { signal })` resolves with
   * the job's result or throws (NonRetryableError: dead-letter at once). Or, with
   * `options.handlerModule`, runs that module's default export in a thread pool.
   */
  worker(queue: string, handler: JobHandler, options?: WorkerOptions): FalconWorker;
  worker(queue: string, options: WorkerOptions & { readonly handlerModule: string }): FalconWorker;
  worker(queue: string, handlerOrOptions: JobHandler | WorkerOptions, options: WorkerOptions = {}): FalconWorker {
    this.checkOpen();
    const worker = typeof handlerOrOptions === 'function'
      ? new FalconWorker(queue, handlerOrOptions, options, this.connectionOptions)
      : new FalconWorker(queue, undefined, handlerOrOptions, this.connectionOptions);
    this.workers.add(worker);
    return worker;
  }

  /** Closes the workers made by this client (each drains), then the connection: calls not yet
   *  answered reject with ClientClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.batcher.close();
    await Promise.all([...this.workers].map((worker) => worker.close()));
    this.connection.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('the client is closed', { sent: false });
  }

  private callDeadlineMs(options: CallOptions): number {
    return options.deadlineMs === undefined ? this.deadlineMs : this.integer(options.deadlineMs, 'deadlineMs', 0, deadlineMsMax);
  }

  private async call(body: Readonly<Record<string, unknown>> & { readonly type: string }, options: CallOptions, idempotent: boolean): Promise<Record<string, unknown>> {
    this.checkOpen();
    try {
      return await this.connection.call(body, { deadlineMs: this.callDeadlineMs(options), idempotent });
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new InternalError(`${body.type} failed: ${String(error)}`, { cause: error });
    }
  }

  private integer(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${field} must be an integer from ${min} to ${max}, got ${String(value)}`, { detail: { field }, sent: false });
    }
    return value;
  }

  private jobId(id: number): number {
    return this.integer(id, 'id', 1, Number.MAX_SAFE_INTEGER);
  }

  private jobState(state: JobState): JobState {
    if (!jobStates.includes(state)) throw new InvalidArgumentError(`state must be one of ${jobStates.join(', ')}`, { detail: { field: 'state' }, sent: false });
    return state;
  }
}

/**
 * The error of an enqueueMany sent as several parts, at least one of which failed: the first
 * failure's code, `sent: true` when any part was added or failed after it was sent, and the parts
 * by job index range (`0-4095,8192-9000`) in the message and in `detail.jobsAdded`,
 * `jobsMaybeAdded` and `jobsNotAdded`. When no part can have taken effect, the first failure as it is.
 */
export function partsError(parts: readonly WireJob[][], outcomes: ReadonlyArray<PromiseSettledResult<EnqueuedJob[]>>, firstFailure: unknown): ProtocolError {
  const protocolErrorOf = (failure: unknown): ProtocolError => (failure instanceof ProtocolError ? failure
    : new InternalError(`an enqueue part failed: ${String(failure)}`, { cause: failure }));
  const first = protocolErrorOf(firstFailure);
  const ranges = { jobsAdded: [] as string[], jobsMaybeAdded: [] as string[], jobsNotAdded: [] as string[] };
  let jobIndex = 0;
  parts.forEach((part, partIndex) => {
    const range = `${jobIndex}-${jobIndex + part.length - 1}`;
    jobIndex += part.length;
    const outcome = outcomes[partIndex];
    if (outcome?.status === 'fulfilled') ranges.jobsAdded.push(range);
    else if (outcome === undefined || protocolErrorOf(outcome.reason).sent) ranges.jobsMaybeAdded.push(range);
    else ranges.jobsNotAdded.push(range);
  });
  if (ranges.jobsAdded.length === 0 && ranges.jobsMaybeAdded.length === 0) return first;
  const labels = { jobsAdded: 'added', jobsMaybeAdded: 'may have been added', jobsNotAdded: 'not added' };
  const detail: Record<string, string | number | boolean> = { ...first.detail };
  const said: string[] = [];
  for (const key of ['jobsAdded', 'jobsMaybeAdded', 'jobsNotAdded'] as const) {
    if (ranges[key].length === 0) continue;
    detail[key] = ranges[key].join(',');
    said.push(`jobs ${detail[key]} ${labels[key]}`);
  }
  return errorOfCode(first.code, `${first.message} (sent in ${parts.length} parts: ${said.join('; ')})`,
    { leader: first.leader, detail, sent: true, cause: first });
}
