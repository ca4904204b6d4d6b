/**
 * Checks the client protocol's messages (client.ts), one checker per direction: the one
 * `createClientRequestChecker` builds, on the Dispatcher for what a client sends, and
 * `checkClientReply`, in a client for what a node answers to the request it asked. The client
 * server runs the request checker through `createClientRequestIntake`, which hands a request that
 * fails on to the Dispatcher (an InvalidRequest) so that access is judged before its refusal.
 *
 * A client's bytes are not ours, so a request that fails is an operating error answered to the
 * client, never an assertion: INVALID_ARGUMENT naming the field by its path and the rule
 * (`enqueue: jobs[3].priority is not an integer from -2147483648 to 2147483647 (got 1.5)`,
 * detail `{ field: 'jobs[3].priority' }`); PAYLOAD_TOO_LARGE for a payload or result over
 * `queue.payloadBytesMax`, naming the limit and the size; UNSUPPORTED_VERSION for a hello with a
 * protocol this node does not speak. Fields a type does not declare are ignored (a newer client may
 * send more).
 *
 * Invariant: a request these accept has every field its type declares in client.ts, within
 * `clientLimits`; the tables are typed per field, so a field added there without a check here does
 * not compile. A well-formed request costs no allocation (src/log/shape-check.ts).
 *
 * Runs on: Dispatcher thread (requests), any client (replies).
 */
import { falconError, isFalconError, type FalconError } from '../errors.js';
import { contentTypes } from '../queue/commands.js';
import { jobStates } from '../queue/results.js';
import {
  arrayOf, boolean, bytes, compile, fields, finiteNumber, integerFrom, isMap, oneOf, optional, orNull, positiveSafeInteger,
  readableProblem, safeInteger, text, asChecked, type FieldChecks, type MessageChecks, type ShapeCheck,
} from '../log/shape-check.js';
import {
  clientLimits, clientProtocolVersion, type BackoffRequest, type ClientReplies, type ClientRequest, type ClientRequestType,
  type EnqueueJobRequest, type ErrorReply, type JobReplyView, type PulledJob, type ReplyOf, type RequestOf,
} from './client.js';
import type { EnqueuedJob, JobSummary, JobTransition, QueueStats } from '../queue/results.js';

/** A string of 1..bytesMax UTF-8 bytes with no control character (names end up in logs and labels). */
function printableName(bytesMax: number): ShapeCheck {
  const phrase = `is not a string of 1 to ${bytesMax} UTF-8 bytes without control characters`;
  return (value) => {
    if (typeof value !== 'string' || value.length === 0) return phrase;
    for (let at = 0; at < value.length; at += 1) {
      const code = value.charCodeAt(at);
      if (code < 0x20 || code === 0x7f) return phrase;
    }
    return Buffer.byteLength(value, 'utf8') <= bytesMax ? undefined : phrase;
  };
}

function textUpTo(bytesMax: number): ShapeCheck {
  const phrase = `is not a string of at most ${bytesMax} UTF-8 bytes`;
  return (value) => (typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= bytesMax ? undefined : phrase);
}

/**
 * True when `value` has the form of a bearer token as hello carries it: a string of 1 to
 * `clientLimits.tokenBytesMax` UTF-8 bytes. No listed token has another form (auth-config.ts), so
 * anything else is, for every API, simply a token the cluster does not list.
 */
export function isBearerTokenForm(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value, 'utf8') <= clientLimits.tokenBytesMax;
}

/** A hello's token field. Its phrase never quotes it. */
const bearerToken: ShapeCheck = (value) => (isBearerTokenForm(value) ? undefined : `is not a string of 1 to ${clientLimits.tokenBytesMax} UTF-8 bytes`);

const limits = clientLimits;
const id = positiveSafeInteger;
const queue = printableName(limits.queueNameBytesMax);
const name = printableName(limits.nameBytesMax);
const jobId = positiveSafeInteger;
const token = positiveSafeInteger;
const leaseMs = optional(integerFrom(1, limits.leaseMsMax));
const ratio: ShapeCheck = (value) => (typeof value === 'number' && value >= 0 && value <= 1 ? undefined : 'is not a number from 0 to 1');

const backoffFields: FieldChecks<BackoffRequest> = {
  kind: oneOf('fixed', 'exponential'),
  delayMs: integerFrom(0, limits.backoffDelayMsMax),
  delayMsMax: optional(integerFrom(0, limits.backoffDelayMsMax)),
  jitterRatio: optional(ratio),
};
const backoffShape = fields(backoffFields);
const backoff: ShapeCheck = (value) => {
  const problem = backoffShape(value);
  if (problem !== undefined || !isMap(value)) return problem;
  const delayMsMax = value['delayMsMax'];
  return typeof delayMsMax === 'number' && delayMsMax < (value['delayMs'] as number) ? '.delayMsMax is below delayMs' : undefined;
};

const jobFields: FieldChecks<EnqueueJobRequest> = {
  payload: bytes, // its size is checked after the shape, as PAYLOAD_TOO_LARGE
  contentType: optional(oneOf(...contentTypes)),
  priority: optional(integerFrom(limits.priorityMin, limits.priorityMax)),
  delayMs: optional(integerFrom(0, limits.delayMsMax)),
  attemptsMax: optional(integerFrom(1, limits.attemptsMax)),
  leaseMs,
  backoff: optional(backoff),
  idempotencyKey: optional(printableName(limits.idempotencyKeyBytesMax)),
};
const jobList = arrayOf(fields(jobFields), limits.jobsPerEnqueueMax);
const jobs: ShapeCheck = (value) => (Array.isArray(value) && value.length === 0 ? 'is empty' : jobList(value));

/** Every request type and its fields: the one list of them. */
const requestFields: { readonly [Type in ClientRequestType]: MessageChecks<RequestOf<Type>> } = {
  hello: {
    id, protocol: positiveSafeInteger, producerId: optional(name), client: optional(name), token: optional(bearerToken),
    leaderWaitMs: optional(integerFrom(0, limits.leaderWaitMsMax)),
  },
  enqueue: { id, queue, jobs, sequence: optional(safeInteger), retry: optional(boolean) },
  pull: {
    id, queue, jobsMax: integerFrom(1, limits.jobsPerPullMax), leaseMs,
    waitMs: optional(integerFrom(0, limits.waitMsMax)), workerId: optional(name),
  },
  ack: { id, jobId, token, result: optional(bytes) },
  nack: {
    id, jobId, token, error: optional(textUpTo(limits.errorBytesMax)), retryable: optional(boolean),
    delayMs: optional(integerFrom(0, limits.backoffDelayMsMax)),
  },
  extend: { id, jobId, token, leaseMs },
  get: { id, jobId },
  list: {
    id, queue, state: oneOf(...jobStates), afterId: optional(safeInteger),
    limit: optional(integerFrom(1, limits.listLimitMax)),
  },
  cancel: { id, jobId },
  stats: { id, queue: optional(queue) },
  pause: { id, queue },
  resume: { id, queue },
  register: {
    id, workerId: name, queues: arrayOf(queue, limits.queuesPerWorkerMax), capacity: integerFrom(1, limits.capacityMax),
  },
  heartbeat: { id, workerId: name, load: optional(integerFrom(0, limits.capacityMax)) },
  unregister: { id, workerId: name },
  redrive: { id, queue, jobsMax: optional(integerFrom(1, limits.redriveJobsMax)) },
  purge: { id, queue, set: oneOf('ready', 'dead') },
};
const requestChecks = compile(requestFields);
const requestTypes = Object.keys(requestFields).join(', ');

/** What the request checker needs from cluster.yaml. */
export interface ClientRequestLimits {
  /** queue.payloadBytesMax: the largest job payload (and ack result). */
  readonly payloadBytesMax: number;
}

export type ClientRequestChecker = (value: unknown) => ClientRequest | FalconError;

/** The check of every request a client sends, against `requestLimits`; built once per Dispatcher. */
export function createClientRequestChecker(requestLimits: ClientRequestLimits): ClientRequestChecker {
  const { payloadBytesMax } = requestLimits;
  return (value) => {
    if (!isMap(value)) return falconError('INVALID_ARGUMENT', 'a request is a map { id, type, ... }');
    const type = value['type'];
    const checkFields = typeof type === 'string' ? requestChecks.get(type) : undefined;
    if (typeof type !== 'string' || checkFields === undefined) {
      return falconError('INVALID_ARGUMENT', `type ${describe(type)} is not a request type (${requestTypes})`, { field: 'type' });
    }
    const problem = checkFields(value);
    if (problem !== undefined) {
      const readable = readableProblem(problem);
      return falconError('INVALID_ARGUMENT', `${type}: ${readable}`, { field: readable.split(' ', 1)[0] ?? '' });
    }
    const request = asChecked<ClientRequest>(value);
    return semanticProblem(request, payloadBytesMax) ?? request;
  };
}

/**
 * A request that failed its check, handed on to the Dispatcher with its refusal instead of being
 * answered on arrival, so that access is judged first, as for any request: on a cluster that lists
 * tokens, a connection with no role learns only that it needs a token, and a hello that fails its
 * check still ends the role an earlier hello granted (docs/protocol.md §3).
 */
export interface InvalidRequest {
  readonly type: 'invalid';
  readonly id: number;
  /** The request type it names, when it names one. */
  readonly requestType: ClientRequestType | undefined;
  /** A hello's `token` field as sent, of any type; undefined for other requests. */
  readonly token: unknown;
  /** The answer to the request once access allows it to be judged. */
  readonly refusal: FalconError;
}

/**
 * The client server's check: a request, or an InvalidRequest for the Dispatcher to answer. A
 * FalconError (answered at once) only for a value without an id to answer, which the server
 * does not hand over anyway.
 */
export function createClientRequestIntake(requestLimits: ClientRequestLimits): (value: unknown) => ClientRequest | InvalidRequest | FalconError {
  const check = createClientRequestChecker(requestLimits);
  return (value) => {
    const checked = check(value);
    if (!isFalconError(checked)) return checked;
    const id = isMap(value) ? value['id'] : undefined;
    if (!isMap(value) || typeof id !== 'number' || positiveSafeInteger(id) !== undefined) return checked;
    const type = value['type'];
    const requestType = typeof type === 'string' && requestChecks.has(type) ? (type as ClientRequestType) : undefined;
    return { type: 'invalid', id, requestType, token: requestType === 'hello' ? value['token'] : undefined, refusal: checked };
  };
}

/** The refusals a shape cannot say: a protocol version, payload sizes against the configured cap. */
function semanticProblem(request: ClientRequest, payloadBytesMax: number): FalconError | undefined {
  if (request.type === 'hello' && request.protocol !== clientProtocolVersion) {
    return falconError('UNSUPPORTED_VERSION',
      `hello: protocol ${request.protocol} is not spoken by this node (it speaks ${clientProtocolVersion})`,
      { field: 'protocol', protocol: clientProtocolVersion });
  }
  if (request.type === 'enqueue') {
    for (let at = 0; at < request.jobs.length; at += 1) {
      const payloadBytes = request.jobs[at]?.payload.byteLength ?? 0;
      if (payloadBytes > payloadBytesMax) return payloadTooLarge(`jobs[${at}].payload`, payloadBytes, payloadBytesMax);
    }
  }
  if (request.type === 'ack' && request.result !== undefined && request.result.byteLength > payloadBytesMax) {
    return payloadTooLarge('result', request.result.byteLength, payloadBytesMax);
  }
  return undefined;
}

function payloadTooLarge(field: string, payloadBytes: number, payloadBytesMax: number): FalconError {
  return falconError('PAYLOAD_TOO_LARGE',
    `${field} holds ${payloadBytes} bytes, above queue.payloadBytesMax (${payloadBytesMax} bytes)`,
    { field, payloadBytes, payloadBytesMax });
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value.slice(0, 64)}'` : typeof value;
}

// ---- replies -------------------------------------------------------------------------------

const jobState = oneOf(...jobStates);
const contentType = oneOf(...contentTypes);
const enqueuedJobFields: FieldChecks<EnqueuedJob> = { id: positiveSafeInteger, state: jobState, duplicate: boolean };
const pulledJobFields: FieldChecks<PulledJob> = {
  id: positiveSafeInteger, queue: text, payload: bytes, contentType, priority: integerFrom(limits.priorityMin, limits.priorityMax),
  attempt: safeInteger, attemptsMax: safeInteger, token: positiveSafeInteger, deadlineMs: safeInteger, enqueuedAtMs: safeInteger,
};
const transitionFields: FieldChecks<JobTransition> = { state: jobState, atMs: safeInteger, reason: optional(text), token: optional(positiveSafeInteger) };
const jobViewFields: FieldChecks<JobReplyView> = {
  id: positiveSafeInteger, queue: text, state: jobState, priority: integerFrom(limits.priorityMin, limits.priorityMax),
  payload: bytes, contentType, attempts: safeInteger, attemptsMax: safeInteger, runAtMs: safeInteger,
  enqueuedAtMs: safeInteger, updatedAtMs: safeInteger, idempotencyKey: optional(text), token: optional(positiveSafeInteger),
  leaseDeadlineMs: optional(safeInteger), workerId: optional(text), result: optional(bytes), lastError: optional(text),
  history: arrayOf(fields(transitionFields)),
};
const summaryFields: FieldChecks<JobSummary> = {
  id: positiveSafeInteger, state: jobState, priority: integerFrom(limits.priorityMin, limits.priorityMax), attempts: safeInteger,
  runAtMs: safeInteger, enqueuedAtMs: safeInteger, updatedAtMs: safeInteger,
};
const statsFields: FieldChecks<QueueStats> = {
  queue: text, paused: boolean, ready: safeInteger, delayed: safeInteger, leased: safeInteger, dead: safeInteger,
  completed: safeInteger, bytes: safeInteger, oldestReadyAgeMs: finiteNumber, enqueuedTotal: safeInteger,
  leasedTotal: safeInteger, ackedTotal: safeInteger, nackedTotal: safeInteger, expiredTotal: safeInteger, deadLetteredTotal: safeInteger,
};
const empty = { id };
const ttl = { id, ttlMs: safeInteger };
const count = { id, jobs: safeInteger };

/** Every request type and the fields of its reply. */
const replyFields: { readonly [Type in ClientRequestType]: FieldChecks<ClientReplies[Type]> } = {
  // `access` may be absent from a node of an earlier release (a rolling upgrade): the caller then learns it from its first request.
  hello: { id, protocol: positiveSafeInteger, node: text, leader: orNull(text), producerId: text, access: optional(oneOf('open', 'none', 'produce', 'consume', 'admin')) },
  enqueue: { id, jobs: arrayOf(fields(enqueuedJobFields)) },
  pull: { id, jobs: arrayOf(fields(pulledJobFields)) },
  ack: { id, repeated: boolean },
  nack: { id, state: jobState, retryAtMs: safeInteger },
  extend: { id, deadlineMs: safeInteger },
  get: { id, job: fields(jobViewFields) },
  list: { id, jobs: arrayOf(fields(summaryFields)), nextAfterId: orNull(safeInteger) },
  cancel: empty, stats: { id, queues: arrayOf(fields(statsFields)) }, pause: empty, resume: empty,
  register: ttl, heartbeat: ttl, unregister: count, redrive: count, purge: count,
};
const replyChecks = compile(replyFields);

const leaderAddress = fields({ id: text, host: text, clientPort: integerFrom(1, 65_535) });
const errorCode: ShapeCheck = text; // a code this client does not know is still an error to show
const detail: ShapeCheck = (value) => (isMap(value) ? undefined : 'is not a map');
const errorReplyCheck = fields({
  id: safeInteger, error: fields({ code: errorCode, message: text, leader: optional(leaderAddress), detail: optional(detail) }),
});

/**
 * A node's reply to a request of type `asked`: its reply, or its error envelope (id 0: an error
 * about the connection, which the node closes); or MALFORMED_FRAME naming what is wrong.
 */
export function checkClientReply<Type extends ClientRequestType>(value: unknown, asked: Type): ReplyOf<Type> | ErrorReply | FalconError {
  if (!isMap(value)) return falconError('MALFORMED_FRAME', `the reply to ${asked} is not a map`);
  const isError = value['error'] !== undefined;
  const problem = isError ? errorReplyCheck(value) : replyChecks.get(asked)?.(value);
  if (problem !== undefined) return falconError('MALFORMED_FRAME', `the reply to ${asked}: ${readableProblem(problem)}`);
  return isError ? asChecked<ErrorReply>(value) : asChecked<ReplyOf<Type>>(value);
}

/** True when `reply` is an error envelope (after checkClientReply). */
export function isErrorReply(reply: object): reply is ErrorReply {
  return 'error' in reply && (reply as { error?: unknown }).error !== undefined;
}
