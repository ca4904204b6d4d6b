/**
 * The client protocol mapped onto the queue: a checked request (client.ts) becomes the queue's
 * log command (queue/commands.ts), and a command's result or a read of the state
 * (queue/results.ts) becomes the reply, so that the Dispatcher only routes, batches and waits.
 *
 * What the leader adds to a request lives in `CommandContext`: the queue's defaults and limits
 * from cluster.yaml, the connection's producer session, and the leader's jitter draw for a nack.
 *
 * Defaults a request leaves to the node (docs/protocol.md lists them):
 * - `contentType` 'application/octet-stream'; `priority` 0; `delayMs` 0; `attemptsMax`,
 *   `leaseMs`, `backoff` the queue's defaults (`JobDefaults`, applied by the state machine);
 * - a backoff given without `delayMsMax` is capped at the larger of its `delayMs` and the
 *   default's cap; without `jitterRatio` it takes the default's;
 * - pull: `leaseMs` queue.leaseMsDefault, `workerId` '' (anonymous); extend: `leaseMs` the same;
 * - nack: `error` '', `retryable` true; redrive: `jobsMax` clientLimits.redriveJobsDefault.
 *
 * `unregister` becomes the very command a TTL expiry proposes, `releaseWorker`, with the reason
 * `goodbye`: its leases return to their queues exactly as an expiry returns them (each counted as
 * a failed attempt, docs/protocol.md says why), and a worker it does not know releases nothing.
 *
 * Invariant: replies hold no `undefined` value (an optional field is absent), so msgpackr never
 * writes its private `undefined` extension into a client's frame.
 *
 * Runs on: Dispatcher thread (pure).
 */
import { assert, falconError, isFalconError, type FalconError } from '../errors.js';
import {
  contentTypes, type Backoff, type ContentType, type ContentTypeCode, type JobDefaults, type JobSpec, type QueueCommand, type QueueLimits,
} from '../queue/commands.js';
import type { CommandResult, JobPage, JobView, LeasedJob, QueueStats } from '../queue/results.js';
import { errorReply } from '../net/client-frames.js';
import {
  clientLimits, clientProtocolVersion, type BackoffRequest, type ClientReply, type ClientRequest, type EnqueueJobRequest,
  type GetReply, type HelloAccess, type HelloReply, type JobReplyView, type ListReply, type PulledJob, type StatsReply, type TtlReply,
} from './client.js';

/** A content type's name as its stored code. */
export function contentTypeCodeOf(contentType: ContentType): ContentTypeCode {
  const code = contentTypes.indexOf(contentType);
  assert(code >= 0, `content type ${contentType} is checked before it is mapped`);
  return code as ContentTypeCode;
}

/** A stored content type code as its name. */
export function contentTypeOf(code: ContentTypeCode): ContentType {
  const contentType = contentTypes[code];
  assert(contentType !== undefined, `content type code ${code} is one of ${contentTypes.length}`);
  return contentType;
}

/** The requests that become a log command; the others are reads (get, list, stats), the
 *  session's (hello) or the Registry's (heartbeat). */
export type CommandRequest = Extract<ClientRequest, { type: CommandRequestType }>;
export type CommandRequestType =
  'enqueue' | 'pull' | 'ack' | 'nack' | 'extend' | 'cancel' | 'pause' | 'resume' | 'register' | 'unregister' | 'redrive' | 'purge';
const commandRequestTypes: ReadonlySet<string> = new Set<CommandRequestType>(
  ['enqueue', 'pull', 'ack', 'nack', 'extend', 'cancel', 'pause', 'resume', 'register', 'unregister', 'redrive', 'purge']);

/** A jitter draw in [0, 1) as the 32-bit seed a bulk release derives each job's jitter from. */
const jitterSeedRange = 2 ** 32;

export function isCommandRequest(request: ClientRequest): request is CommandRequest {
  return commandRequestTypes.has(request.type);
}

/** What the leader adds to a request to make its command. */
export interface CommandContext {
  readonly defaults: JobDefaults;
  readonly limits: QueueLimits;
  /** queue.leaseMsDefault, for a pull or extend that does not say. */
  readonly leaseMsDefault: number;
  /** The connection's producer session (from hello), if it opened one. */
  readonly producerId: string | undefined;
  /** The leader's draw in [0, 1) for a nack's backoff jitter (and an unregister's jitter seed). */
  readonly jitter: number;
  /** Payload bytes one pull may take: its reply must fit in a ring message and a client frame. */
  readonly pullBytesMax: number;
}

/** The log command of `request`, or FAILED_PRECONDITION for an enqueue with a `sequence` on a
 *  connection that opened no producer session. */
export function commandOfRequest(request: CommandRequest, context: CommandContext): QueueCommand | FalconError {
  switch (request.type) {
    case 'enqueue': {
      const jobs = request.jobs.map((job) => jobSpecOf(job, context.defaults.backoff));
      const base = { type: 'enqueue', queue: request.queue, jobs, defaults: context.defaults, limits: context.limits } as const;
      if (request.sequence === undefined) return base;
      if (context.producerId === undefined) {
        return falconError('FAILED_PRECONDITION', 'enqueue: sequence needs a producer session: send hello first on this connection', { field: 'sequence' });
      }
      return { ...base, producer: { id: context.producerId, sequence: request.sequence, ...(request.retry === true ? { retry: true as const } : {}) } };
    }
    case 'pull':
      return { type: 'lease', queue: request.queue, jobsMax: request.jobsMax, bytesMax: context.pullBytesMax, leaseMs: request.leaseMs ?? context.leaseMsDefault, workerId: request.workerId ?? '' };
    case 'ack':
      return request.result === undefined
        ? { type: 'ack', jobId: request.jobId, token: request.token }
        : { type: 'ack', jobId: request.jobId, token: request.token, result: request.result };
    case 'nack': {
      const nack = { type: 'nack', jobId: request.jobId, token: request.token, error: request.error ?? '', retryable: request.retryable ?? true, jitter: context.jitter } as const;
      return request.delayMs === undefined ? nack : { ...nack, delayMs: request.delayMs };
    }
    case 'extend':
      return { type: 'extend', jobId: request.jobId, token: request.token, leaseMs: request.leaseMs ?? context.leaseMsDefault };
    case 'cancel': return { type: 'cancel', jobId: request.jobId };
    case 'pause': return { type: 'pauseQueue', queue: request.queue };
    case 'resume': return { type: 'resumeQueue', queue: request.queue };
    case 'register': return { type: 'registerWorker', workerId: request.workerId, queues: request.queues, capacity: request.capacity };
    case 'unregister':
      return { type: 'releaseWorker', workerId: request.workerId, reason: 'goodbye', jitterSeed: Math.floor(context.jitter * jitterSeedRange) };
    case 'redrive': return { type: 'redrive', queue: request.queue, jobsMax: request.jobsMax ?? clientLimits.redriveJobsDefault };
    case 'purge': return { type: 'purge', queue: request.queue, set: request.set };
  }
}

/** One job of an enqueue as the command's `JobSpec` (only the fields the request set). */
export function jobSpecOf(job: EnqueueJobRequest, backoffDefault: Backoff): JobSpec {
  const spec: { -readonly [Field in keyof JobSpec]: JobSpec[Field] } = { payload: job.payload };
  if (job.contentType !== undefined) spec.contentType = contentTypeCodeOf(job.contentType);
  if (job.priority !== undefined) spec.priority = job.priority;
  if (job.delayMs !== undefined) spec.delayMs = job.delayMs;
  if (job.attemptsMax !== undefined) spec.attemptsMax = job.attemptsMax;
  if (job.leaseMs !== undefined) spec.leaseMs = job.leaseMs;
  if (job.backoff !== undefined) spec.backoff = backoffOf(job.backoff, backoffDefault);
  if (job.idempotencyKey !== undefined) spec.key = job.idempotencyKey;
  return spec;
}

export function backoffOf(backoff: BackoffRequest, backoffDefault: Backoff): Backoff {
  return {
    kind: backoff.kind,
    delayMs: backoff.delayMs,
    delayMsMax: backoff.delayMsMax ?? Math.max(backoff.delayMs, backoffDefault.delayMsMax),
    jitterRatio: backoff.jitterRatio ?? backoffDefault.jitterRatio,
  };
}

/**
 * The reply to `request` from its command's `result`: the error envelope for a FalconError, else
 * the reply its type declares. `workerTtlMs` is what a register answers (the Registry's TTL).
 * A result of another kind than the request's command is a broken invariant.
 */
export function replyOfCommandResult(request: CommandRequest, result: CommandResult, workerTtlMs: number): ClientReply {
  const id = request.id;
  if (isFalconError(result)) return errorReply(id, result);
  const mismatch = `the result of ${request.type} ${id} is ${result.type}`;
  switch (request.type) {
    case 'enqueue':
      assert(result.type === 'enqueued', mismatch);
      return { id, jobs: result.jobs.map((job) => ({ id: job.id, state: job.state, duplicate: job.duplicate })) };
    case 'pull':
      assert(result.type === 'leased', mismatch);
      return { id, jobs: result.jobs.map(pulledJobOf) };
    case 'ack':
      assert(result.type === 'acked', mismatch);
      return { id, repeated: result.repeated };
    case 'nack':
      assert(result.type === 'nacked', mismatch);
      return { id, state: result.state, retryAtMs: result.retryAtMs };
    case 'extend':
      assert(result.type === 'extended', mismatch);
      return { id, deadlineMs: result.deadlineMs };
    case 'redrive':
    case 'purge':
    case 'unregister':
      assert(result.type === 'counted', mismatch);
      return { id, jobs: result.jobs };
    case 'register':
      assert(result.type === 'done', mismatch);
      return { id, ttlMs: workerTtlMs };
    case 'cancel':
    case 'pause':
    case 'resume':
      assert(result.type === 'done', mismatch);
      return { id };
  }
}

export function pulledJobOf(job: LeasedJob): PulledJob {
  return {
    id: job.id, queue: job.queue, payload: job.payload, contentType: contentTypeOf(job.contentType), priority: job.priority,
    attempt: job.attempt, attemptsMax: job.attemptsMax, token: job.token, deadlineMs: job.deadlineMs, enqueuedAtMs: job.enqueuedAtMs,
  };
}

export function helloReply(id: number, node: string, leader: string | null, producerId: string, access: HelloAccess): HelloReply {
  return { id, protocol: clientProtocolVersion, node, leader, producerId, access };
}

/** The reply to get: the job with its content type by name and its idempotency key by the
 *  protocol's name; unset optional fields absent. */
export function getReply(id: number, view: JobView): GetReply {
  const job: { -readonly [Field in keyof JobReplyView]: JobReplyView[Field] } = {
    id: view.id, queue: view.queue, state: view.state, priority: view.priority, payload: view.payload,
    contentType: contentTypeOf(view.contentType), attempts: view.attempts, attemptsMax: view.attemptsMax,
    runAtMs: view.runAtMs, enqueuedAtMs: view.enqueuedAtMs, updatedAtMs: view.updatedAtMs,
    history: view.history.map((step) => {
      const transition: { state: typeof step.state; atMs: number; reason?: string; token?: number } = { state: step.state, atMs: step.atMs };
      if (step.reason !== undefined) transition.reason = step.reason;
      if (step.token !== undefined) transition.token = step.token;
      return transition;
    }),
  };
  if (view.key !== undefined) job.idempotencyKey = view.key;
  if (view.token !== undefined) job.token = view.token;
  if (view.leaseDeadlineMs !== undefined) job.leaseDeadlineMs = view.leaseDeadlineMs;
  if (view.workerId !== undefined) job.workerId = view.workerId;
  if (view.result !== undefined) job.result = view.result;
  if (view.lastError !== undefined) job.lastError = view.lastError;
  return { id, job };
}

export function listReply(id: number, page: JobPage): ListReply {
  return { id, jobs: page.jobs, nextAfterId: page.nextAfterId };
}

export function statsReply(id: number, queues: readonly QueueStats[]): StatsReply {
  return { id, queues };
}

/** register's and heartbeat's reply. */
export function ttlReply(id: number, ttlMs: number): TtlReply {
  return { id, ttlMs };
}

/** list's page size when the request does not say. */
export function listLimitOf(limit: number | undefined): number {
  return limit ?? clientLimits.listLimitDefault;
}
