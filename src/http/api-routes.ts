/**
 * The routes of the HTTP API under /v1/ (docs/http.md): each reads its request, makes one call of
 * the client protocol through the QueueGateway, and answers JSON. The table below is the one list
 * of routes: the router matches it, and /v1/openapi.json is built from it (openapi.ts).
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import type { JobReplyView, PulledJob } from '../protocol/client.js';
import type { EnqueuedJob } from '../queue/results.js';
import { ackFields, enqueueBody, extendFields, heartbeatFields, jobId, listFields, pullFields, queueName, registerFields, unregisterFields } from './api-bodies.js';
import { apiError, isApiError, type ApiError } from './api-exchange.js';
import { payloadView, resultView } from './api-values.js';
import { isCodedError, type QueueOperations } from './queue-gateway.js';

/** What a route answers: a status and a JSON body (and headers), or an error. */
export interface RouteAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a route is given. */
export interface RouteRequest {
  /** The path's `{name}` segments, decoded, by name. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The Idempotency-Key header, if given. */
  readonly idempotencyKey: string | undefined;
  /** The cluster's queue.payloadBytesMax. */
  readonly payloadBytesMax: number;
  /** The body as JSON (`{}` when empty), or why it cannot be read. */
  body(): Promise<unknown>;
  /** The protocol's calls, for the caller of this request; `waitMs` lengthens the deadline by a long poll. */
  operations(waitMs?: number): QueueOperations;
}

export type HttpMethod = 'GET' | 'POST';

export interface ApiRoute {
  readonly method: HttpMethod;
  /** With `{name}` segments, e.g. `/v1/jobs/{id}`. */
  readonly path: string;
  /** The OpenAPI operation id (openapi.ts describes each). */
  readonly operationId: string;
  handle(request: RouteRequest): Promise<RouteAnswer | ApiError>;
}

export const apiRoutes: readonly ApiRoute[] = [
  { method: 'POST', path: '/v1/register', operationId: 'register', handle: withBody(registerFields, async (fields, request) => ok(await request.operations().register(fields))) },
  { method: 'POST', path: '/v1/heartbeat', operationId: 'heartbeat', handle: withBody(heartbeatFields, async (fields, request) => ok(await request.operations().heartbeat(fields))) },
  { method: 'POST', path: '/v1/unregister', operationId: 'unregister', handle: withBody(unregisterFields, async (fields, request) => ok(await request.operations().unregister(fields))) },
  { method: 'POST', path: '/v1/pull', operationId: 'pull', handle: withBody(pullFields, pull) },
  { method: 'POST', path: '/v1/ack', operationId: 'ack', handle: ack },
  { method: 'POST', path: '/v1/extend', operationId: 'extend', handle: withBody(extendFields, async (fields, request) => ok(await request.operations().extend(fields))) },
  { method: 'POST', path: '/v1/queues/{queue}/jobs', operationId: 'enqueue', handle: enqueue },
  { method: 'GET', path: '/v1/queues/{queue}/jobs', operationId: 'listJobs', handle: listJobs },
  { method: 'GET', path: '/v1/jobs/{id}', operationId: 'getJob', handle: getJob },
  { method: 'GET', path: '/v1/queues/{queue}', operationId: 'queueStats', handle: queueStats },
  { method: 'GET', path: '/v1/queues', operationId: 'allQueueStats', handle: async (request) => ok({ queues: await request.operations().stats(undefined) }) },
];

function ok(body: unknown): RouteAnswer {
  return { status: 200, body };
}

/** A route whose body is read by `parse` before `then` runs. */
function withBody<Fields>(parse: (body: unknown) => Fields | ApiError, then: (fields: Fields, request: RouteRequest) => Promise<RouteAnswer>) {
  return async (request: RouteRequest): Promise<RouteAnswer | ApiError> => {
    const body = await request.body();
    if (isApiError(body)) return body;
    const fields = parse(body);
    return isApiError(fields) ? fields : await then(fields, request);
  };
}

async function pull(fields: Parameters<QueueOperations['pull']>[0], request: RouteRequest): Promise<RouteAnswer> {
  const jobs = await request.operations(fields.waitMs ?? 0).pull(fields);
  return ok({ jobs: jobs.map(pulledJobView) });
}

async function ack(request: RouteRequest): Promise<RouteAnswer | ApiError> {
  const body = await request.body();
  if (isApiError(body)) return body;
  const asked = ackFields(body, request.payloadBytesMax);
  if (isApiError(asked)) return asked;
  if (asked.kind === 'nack') return ok(await request.operations().nack(asked.fields));
  const { repeated } = await request.operations().ack(asked.fields);
  return ok({ state: 'completed', repeated });
}

async function enqueue(request: RouteRequest): Promise<RouteAnswer | ApiError> {
  const queue = queueName(request.params['queue'] ?? '');
  if (isApiError(queue)) return queue;
  const body = await request.body();
  if (isApiError(body)) return body;
  const asked = enqueueBody(body, request.idempotencyKey, request.payloadBytesMax);
  if (isApiError(asked)) return asked;
  const enqueued = await request.operations().enqueue(queue, asked.jobs).catch((error: unknown) => {
    // Retried under the producer session's sequence until the deadline: only a deadline passed
    // with the outcome unknown gets here as UNAVAILABLE. Keys make the sender's own retry safe.
    if (!isCodedError(error) || error.code !== 'UNAVAILABLE' || asked.jobs.every((job) => job.idempotencyKey !== undefined)) throw error;
    const advice = asked.batch
      ? 'The jobs may or may not have been added (all or none): retrying may add them twice; give every job an idempotencyKey to retry safely'
      : 'The job may or may not have been added: retrying may add a second one; send an Idempotency-Key header to retry safely';
    throw new OutcomeUnknown(`${error.message}. ${advice}`);
  });
  if (enqueued.length !== asked.jobs.length) return apiError(502, 'INTERNAL', `the cluster answered an enqueue of ${asked.jobs.length} jobs with ${enqueued.length}`);
  // 201 when a job was added; 200 when every key named a job added before.
  const status = enqueued.every((job) => job.duplicate) ? 200 : 201;
  if (asked.batch) return { status, body: { jobs: enqueued } };
  const [job] = enqueued as [EnqueuedJob];
  return { status, body: job, headers: { location: `/v1/jobs/${job.id}` } };
}

async function listJobs(request: RouteRequest): Promise<RouteAnswer | ApiError> {
  const queue = queueName(request.params['queue'] ?? '');
  if (isApiError(queue)) return queue;
  const fields = listFields(queue, request.query);
  return isApiError(fields) ? fields : ok(await request.operations().list(fields));
}

async function getJob(request: RouteRequest): Promise<RouteAnswer | ApiError> {
  const id = jobId(request.params['id'] ?? '');
  if (isApiError(id)) return id;
  return ok(jobView(await request.operations().get(id)));
}

async function queueStats(request: RouteRequest): Promise<RouteAnswer | ApiError> {
  const queue = queueName(request.params['queue'] ?? '');
  if (isApiError(queue)) return queue;
  const [stats] = await request.operations().stats(queue);
  if (stats === undefined) return apiError(404, 'NOT_FOUND', `no queue named "${queue}" (a queue exists from its first enqueue)`);
  return ok(stats);
}

/** An enqueue without a key whose outcome is unknown, with what to do about it. */
class OutcomeUnknown extends Error {
  readonly code = 'UNAVAILABLE';
}

function pulledJobView(job: PulledJob): Record<string, unknown> {
  const { payload, ...rest } = job;
  return { ...rest, ...payloadView(payload, job.contentType) };
}

function jobView(job: JobReplyView): Record<string, unknown> {
  const { payload, result, ...rest } = job;
  return { ...rest, ...payloadView(payload, job.contentType), ...(result === undefined ? {} : resultView(result)) };
}
