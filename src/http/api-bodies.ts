/**
 * The request bodies of the HTTP API, read into the client protocol's calls. Field names are the
 * protocol's (docs/protocol.md); the seed's four worker endpoints also take the seed's own names
 * (`nodeId` for `workerId`, `cap` for `capacity`, `maxN` for `jobsMax`), and an enqueue takes
 * `maxAttempts` for `attemptsMax`. Bounds are the protocol's (`clientLimits`), so a body that
 * passes here is one the leader takes, and its problems are reported with the names used here.
 *
 * Runs on: supervisor (main thread), under the ops port. Pure, no I/O.
 */
import { clientLimits as limits, type BackoffRequest, type EnqueueJobRequest } from '../protocol/client.js';
import { contentTypes } from '../queue/commands.js';
import { jobStates } from '../queue/results.js';
import { apiError, isApiError, type ApiError } from './api-exchange.js';
import { base64Bytes, jsonBytes, messagePackBytes } from './api-values.js';
import { FieldReader, isString } from './field-reader.js';
import type { CallFields } from './queue-gateway.js';

const workerIdNames = ['workerId', 'nodeId'] as const;

export function registerFields(body: unknown): CallFields<'register'> | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const workerId = read.need(read.string(workerIdNames, limits.nameBytesMax), 'workerId');
  const capacity = read.need(read.integer(['capacity', 'cap'], 1, limits.capacityMax), 'capacity');
  const queues = read.need(read.strings('queues', limits.queuesPerWorkerMax, limits.queueNameBytesMax), 'queues');
  // The seed's node role: accepted so its bodies pass, not used (every registered node is a worker).
  read.accept('role', (value) => isString(value, limits.nameBytesMax, true), `must be a string of 1 to ${limits.nameBytesMax} UTF-8 bytes`);
  if (read.problem !== undefined || workerId === undefined || capacity === undefined || queues === undefined) return read.problem ?? missing();
  return { workerId, capacity, queues };
}

export function heartbeatFields(body: unknown): CallFields<'heartbeat'> | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const workerId = read.need(read.string(workerIdNames, limits.nameBytesMax), 'workerId');
  const load = read.integer('load', 0, limits.capacityMax);
  if (read.problem !== undefined || workerId === undefined) return read.problem ?? missing();
  return { workerId, ...(load === undefined ? {} : { load }) };
}

export function unregisterFields(body: unknown): CallFields<'unregister'> | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const workerId = read.need(read.string(workerIdNames, limits.nameBytesMax), 'workerId');
  if (read.problem !== undefined || workerId === undefined) return read.problem ?? missing();
  return { workerId };
}

export function pullFields(body: unknown): CallFields<'pull'> | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const queue = read.need(read.string('queue', limits.queueNameBytesMax), 'queue');
  const jobsMax = read.integer(['jobsMax', 'maxN'], 1, limits.jobsPerPullMax) ?? 1;
  const waitMs = read.integer('waitMs', 0, limits.waitMsMax);
  const leaseMs = read.integer('leaseMs', 1, limits.leaseMsMax);
  const workerId = read.string(workerIdNames, limits.nameBytesMax);
  if (read.problem !== undefined || queue === undefined) return read.problem ?? missing();
  return {
    queue, jobsMax,
    ...(waitMs === undefined ? {} : { waitMs }), ...(leaseMs === undefined ? {} : { leaseMs }), ...(workerId === undefined ? {} : { workerId }),
  };
}

/** What `POST /v1/ack` asks: an ack, or (status `failed` or `error`) a nack. */
export type AckOrNack = { readonly kind: 'ack'; readonly fields: CallFields<'ack'> } | { readonly kind: 'nack'; readonly fields: CallFields<'nack'> };

const successStatuses = ['completed', 'ok', 'success', 'done'] as const;
const failureStatuses = ['failed', 'error'] as const;

export function ackFields(body: unknown, payloadBytesMax: number): AckOrNack | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const jobId = read.need(read.integer('jobId', 1, Number.MAX_SAFE_INTEGER), 'jobId');
  const token = read.need(read.integer('token', 1, Number.MAX_SAFE_INTEGER), 'token');
  const status = read.oneOf('status', [...successStatuses, ...failureStatuses]) ?? 'completed';
  // A JSON result is stored as MessagePack, as the SDK's workers store a handler's value.
  const result = bytesOf(read, 'result', 'resultBase64', payloadBytesMax, messagePackBytes);
  const error = read.string('error', limits.errorBytesMax, false);
  const retryable = read.boolean('retryable');
  const delayMs = read.integer('delayMs', 0, limits.backoffDelayMsMax);
  if (read.problem !== undefined || jobId === undefined || token === undefined) return read.problem ?? missing();
  if (failureStatuses.some((failure) => failure === status)) {
    return { kind: 'nack', fields: { jobId, token, ...(error === undefined ? {} : { error }), ...(retryable === undefined ? {} : { retryable }), ...(delayMs === undefined ? {} : { delayMs }) } };
  }
  if (error !== undefined || retryable !== undefined || delayMs !== undefined) {
    return apiError(400, 'INVALID_ARGUMENT', `error, retryable and delayMs go with status "failed" or "error", not "${status}"`, 'status');
  }
  return { kind: 'ack', fields: { jobId, token, ...(result === undefined ? {} : { result: result.bytes }) } };
}

export function extendFields(body: unknown): CallFields<'extend'> | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const jobId = read.need(read.integer('jobId', 1, Number.MAX_SAFE_INTEGER), 'jobId');
  const token = read.need(read.integer('token', 1, Number.MAX_SAFE_INTEGER), 'token');
  const leaseMs = read.integer('leaseMs', 1, limits.leaseMsMax);
  if (read.problem !== undefined || jobId === undefined || token === undefined) return read.problem ?? missing();
  return { jobId, token, ...(leaseMs === undefined ? {} : { leaseMs }) };
}

/** What `POST /v1/queues/{queue}/jobs` asks: one job, or (`{"jobs": [...]}`) a batch added all or none. */
export interface EnqueueAsked {
  readonly jobs: readonly EnqueueJobRequest[];
  readonly batch: boolean;
}

/**
 * The body of `POST /v1/queues/{queue}/jobs`: one job's fields, or `jobs`, an array of 1 to
 * `jobsPerEnqueueMax` of them (problems name `jobs[i].field`). `idempotencyKeyHeader` is the
 * Idempotency-Key header's, for one job only (the body may name it too, the same); each job of a
 * batch names its own key in the body.
 */
export function enqueueBody(body: unknown, idempotencyKeyHeader: string | undefined, payloadBytesMax: number): EnqueueAsked | ApiError {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'jobs' in body;
  if (!isBatch) {
    const job = enqueueJob(body, idempotencyKeyHeader, payloadBytesMax);
    return isApiError(job) ? job : { jobs: [job], batch: false };
  }
  if (idempotencyKeyHeader !== undefined) {
    return apiError(400, 'INVALID_ARGUMENT', 'the Idempotency-Key header goes with one job; give each job of a batch its own idempotencyKey', 'Idempotency-Key');
  }
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const items = read.value('jobs')?.value;
  if (read.problem !== undefined) return read.problem;
  if (!Array.isArray(items) || items.length === 0 || items.length > limits.jobsPerEnqueueMax) {
    return apiError(400, 'INVALID_ARGUMENT', `jobs must be an array of 1 to ${limits.jobsPerEnqueueMax} jobs`, 'jobs');
  }
  const jobs: EnqueueJobRequest[] = [];
  for (const [index, item] of (items as unknown[]).entries()) {
    const job = enqueueJob(item, undefined, payloadBytesMax);
    if (isApiError(job)) {
      const field = job.field === undefined ? `jobs[${index}]` : `jobs[${index}].${job.field}`;
      return apiError(job.status, job.code, `in jobs[${index}]: ${job.message}`, field);
    }
    jobs.push(job);
  }
  return { jobs, batch: true };
}

/**
 * One job. The payload is `payload` (any JSON, stored as its JSON text) or `payloadBase64` (bytes,
 * with an optional `contentType`).
 */
function enqueueJob(body: unknown, idempotencyKeyHeader: string | undefined, payloadBytesMax: number): EnqueueJobRequest | ApiError {
  const read = FieldReader.of(body);
  if (!(read instanceof FieldReader)) return read;
  const payload = read.need(bytesOf(read, 'payload', 'payloadBase64', payloadBytesMax, jsonBytes), 'payload');
  const contentType = read.oneOf('contentType', contentTypes);
  const priority = read.integer('priority', limits.priorityMin, limits.priorityMax);
  const delayMs = read.integer('delayMs', 0, limits.delayMsMax);
  const attemptsMax = read.integer(['maxAttempts', 'attemptsMax'], 1, limits.attemptsMax);
  const leaseMs = read.integer('leaseMs', 1, limits.leaseMsMax);
  const backoff = read.object('backoff', backoffOf);
  const keyInBody = read.string('idempotencyKey', limits.idempotencyKeyBytesMax);
  if (read.problem !== undefined || payload === undefined) return read.problem ?? missing();
  if (payload.json && contentType !== undefined && contentType !== 'application/json') {
    return apiError(400, 'INVALID_ARGUMENT', 'contentType goes with payloadBase64; a JSON payload is stored as application/json', 'contentType');
  }
  const key = idempotencyKeyOf(idempotencyKeyHeader, keyInBody);
  if (typeof key === 'object') return key;
  return {
    payload: payload.bytes, contentType: payload.json ? 'application/json' : contentType ?? 'application/octet-stream',
    ...(priority === undefined ? {} : { priority }), ...(delayMs === undefined ? {} : { delayMs }),
    ...(attemptsMax === undefined ? {} : { attemptsMax }), ...(leaseMs === undefined ? {} : { leaseMs }),
    ...(backoff === undefined ? {} : { backoff }), ...(key === undefined ? {} : { idempotencyKey: key }),
  };
}

function backoffOf(read: FieldReader): BackoffRequest | undefined {
  const kind = read.need(read.oneOf('kind', ['fixed', 'exponential']), 'kind');
  const delayMs = read.need(read.integer('delayMs', 0, limits.backoffDelayMsMax), 'delayMs');
  const delayMsMax = read.integer('delayMsMax', delayMs ?? 0, limits.backoffDelayMsMax);
  const jitterRatio = read.number('jitterRatio', 0, 1);
  if (kind === undefined || delayMs === undefined) return undefined;
  return { kind, delayMs, ...(delayMsMax === undefined ? {} : { delayMsMax }), ...(jitterRatio === undefined ? {} : { jitterRatio }) };
}

function idempotencyKeyOf(header: string | undefined, inBody: string | undefined): string | undefined | ApiError {
  if (header !== undefined && !isString(header, limits.idempotencyKeyBytesMax, true)) {
    return apiError(400, 'INVALID_ARGUMENT', `the Idempotency-Key header must be 1 to ${limits.idempotencyKeyBytesMax} UTF-8 bytes without control characters`, 'Idempotency-Key');
  }
  if (header !== undefined && inBody !== undefined && header !== inBody) {
    return apiError(400, 'INVALID_ARGUMENT', 'idempotencyKey and the Idempotency-Key header differ: give one', 'idempotencyKey');
  }
  return header ?? inBody;
}

/** Bytes from a JSON value field (written by `encodeValue`) or a base64 field (one of the two), within `bytesMax` (else 413). */
function bytesOf(read: FieldReader, jsonName: string, base64Name: string, bytesMax: number, encodeValue: (value: unknown) => Buffer | undefined): { bytes: Buffer; json: boolean } | undefined {
  const asJson = read.value(jsonName);
  const asBase64 = read.string(base64Name, Number.MAX_SAFE_INTEGER, false);
  if (asJson !== undefined && asBase64 !== undefined) return read.fail(jsonName, `and ${base64Name} cannot both be given`);
  let bytes: Buffer | undefined;
  if (asJson !== undefined) {
    bytes = encodeValue(asJson.value) ?? read.fail(jsonName, `is nested too deeply to be stored`);
  } else if (asBase64 !== undefined) {
    bytes = base64Bytes(asBase64) ?? read.fail(base64Name, 'must be base64 (standard alphabet)');
  }
  if (bytes === undefined) return undefined;
  const name = asJson === undefined ? base64Name : jsonName;
  if (bytes.byteLength > bytesMax) return read.fail(name, `is ${bytes.byteLength} bytes, more than the cluster's ${bytesMax} (queue.payloadBytesMax)`, 413, 'PAYLOAD_TOO_LARGE');
  return { bytes, json: asJson !== undefined };
}

/** `GET /v1/queues/{queue}/jobs?state=&afterId=&limit=`. */
export function listFields(queue: string, query: URLSearchParams): CallFields<'list'> | ApiError {
  const state = query.get('state') ?? 'ready';
  if (!jobStates.some((known) => known === state)) {
    return apiError(400, 'INVALID_ARGUMENT', `state must be one of ${jobStates.join(', ')}`, 'state');
  }
  const afterId = queryInteger(query, 'afterId', 0, Number.MAX_SAFE_INTEGER);
  const limit = queryInteger(query, 'limit', 1, limits.listLimitMax);
  if (typeof afterId === 'object') return afterId;
  if (typeof limit === 'object') return limit;
  return { queue, state: state as (typeof jobStates)[number], ...(afterId === undefined ? {} : { afterId }), ...(limit === undefined ? {} : { limit }) };
}

function queryInteger(query: URLSearchParams, name: string, min: number, max: number): number | undefined | ApiError {
  const text = query.get(name);
  if (text === null) return undefined;
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  return apiError(400, 'INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}`, name);
}

/** A route parameter: a queue name by the protocol's rule. */
export function queueName(text: string): string | ApiError {
  if (isString(text, limits.queueNameBytesMax, true)) return text;
  return apiError(400, 'INVALID_ARGUMENT', `the queue name must be 1 to ${limits.queueNameBytesMax} UTF-8 bytes without control characters`, 'queue');
}

/** A route parameter: a job id (a decimal integer from 1 to 2^53 − 1). */
export function jobId(text: string): number | ApiError {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(value) && value >= 1) return value;
  return apiError(400, 'INVALID_ARGUMENT', `the job id must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`, 'id');
}

/** Never met: a parser returns the reader's problem whenever a required value is missing. */
function missing(): ApiError {
  return apiError(400, 'INVALID_ARGUMENT', 'a required field is missing');
}
