/**
 * The OpenAPI 3 description of the HTTP API, served at /v1/openapi.json. Built from the route
 * table (api-routes.ts), so a route cannot be served without being described: each route's
 * `operationId` must have an entry in `operations` below (a missing one is a broken invariant).
 *
 * Runs on: supervisor (main thread), under the ops port. Pure, no I/O.
 */
import { assert } from '../errors.js';
import { clientLimits as limits } from '../protocol/client.js';
import { contentTypes } from '../queue/commands.js';
import { jobStates } from '../queue/results.js';

interface RouteLike {
  readonly method: string;
  readonly path: string;
  readonly operationId: string;
}

type Schema = Readonly<Record<string, unknown>>;

const integer = (minimum: number, maximum: number, description?: string): Schema => ({ type: 'integer', minimum, maximum, ...(description === undefined ? {} : { description }) });
const string = (maxLength: number, description?: string): Schema => ({ type: 'string', minLength: 1, maxLength, ...(description === undefined ? {} : { description }) });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const object = (properties: Record<string, Schema>, required: readonly string[] = [], description?: string): Schema => ({
  type: 'object', properties, ...(required.length === 0 ? {} : { required }), ...(description === undefined ? {} : { description }),
});
const id = integer(1, Number.MAX_SAFE_INTEGER);
const anyJson: Schema = { description: 'any JSON value' };
const workerId = string(limits.nameBytesMax, 'also accepted as nodeId (the seed\'s name)');

const schemas: Record<string, Schema> = {
  Error: object({ error: object({ code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } }, ['code', 'message']) }, ['error']),
  Ttl: object({ ttlMs: { type: 'integer', description: 'beat again well within it' } }, ['ttlMs']),
  Backoff: object({
    kind: { type: 'string', enum: ['fixed', 'exponential'] }, delayMs: integer(0, limits.backoffDelayMsMax),
    delayMsMax: integer(0, limits.backoffDelayMsMax), jitterRatio: { type: 'number', minimum: 0, maximum: 1 },
  }, ['kind', 'delayMs']),
  EnqueueBody: object({
    payload: { ...anyJson, description: 'the job, stored as its JSON text (application/json); or give payloadBase64' },
    payloadBase64: { type: 'string', format: 'byte', description: 'raw payload bytes instead of payload' },
    contentType: { type: 'string', enum: [...contentTypes], description: 'with payloadBase64 only' },
    priority: integer(limits.priorityMin, limits.priorityMax, 'higher runs first'), delayMs: integer(0, limits.delayMsMax),
    maxAttempts: integer(1, limits.attemptsMax, 'also accepted as attemptsMax'), leaseMs: integer(1, limits.leaseMsMax),
    backoff: ref('Backoff'), idempotencyKey: string(limits.idempotencyKeyBytesMax, 'same as the Idempotency-Key header'),
  }),
  EnqueueBatch: object({
    jobs: { type: 'array', items: ref('EnqueueBody'), minItems: 1, maxItems: limits.jobsPerEnqueueMax, description: 'added all or none, in one step; each job names its own idempotencyKey' },
  }, ['jobs']),
  Enqueued: object({ id, state: { type: 'string', enum: [...jobStates] }, duplicate: { type: 'boolean' } }, ['id', 'state', 'duplicate']),
  EnqueuedBatch: object({ jobs: { type: 'array', items: ref('Enqueued'), description: 'one per job asked, in order' } }, ['jobs']),
  PulledJob: object({
    id, queue: { type: 'string' }, payload: anyJson, payloadBase64: { type: 'string', format: 'byte' }, contentType: { type: 'string' },
    priority: { type: 'integer' }, attempt: { type: 'integer' }, attemptsMax: { type: 'integer' }, token: id,
    deadlineMs: { type: 'integer' }, enqueuedAtMs: { type: 'integer' },
  }, ['id', 'queue', 'contentType', 'token', 'deadlineMs'], 'payload when the bytes are JSON or MessagePack of a JSON value, else payloadBase64'),
  Job: object({
    id, queue: { type: 'string' }, state: { type: 'string', enum: [...jobStates] }, priority: { type: 'integer' },
    payload: anyJson, payloadBase64: { type: 'string', format: 'byte' }, contentType: { type: 'string' }, attempts: { type: 'integer' },
    attemptsMax: { type: 'integer' }, runAtMs: { type: 'integer' }, enqueuedAtMs: { type: 'integer' }, updatedAtMs: { type: 'integer' },
    idempotencyKey: { type: 'string' }, token: id, leaseDeadlineMs: { type: 'integer' }, workerId: { type: 'string' },
    result: { description: 'the result bytes decoded as MessagePack, when they are one MessagePack value of a JSON value' },
    resultBase64: { type: 'string', format: 'byte', description: 'the result bytes, when they are not MessagePack of a JSON value' }, lastError: { type: 'string' },
    history: { type: 'array', items: object({ state: { type: 'string' }, atMs: { type: 'integer' }, reason: { type: 'string' }, token: id }) },
  }, ['id', 'queue', 'state']),
  JobPage: object({
    jobs: { type: 'array', items: object({ id, state: { type: 'string' }, priority: { type: 'integer' }, attempts: { type: 'integer' }, runAtMs: { type: 'integer' }, enqueuedAtMs: { type: 'integer' }, updatedAtMs: { type: 'integer' } }) },
    nextAfterId: { type: ['integer', 'null'], description: 'pass as afterId for the next page; null on the last' },
  }, ['jobs', 'nextAfterId']),
  QueueStats: object({ queue: { type: 'string' }, paused: { type: 'boolean' }, ...Object.fromEntries(['ready', 'delayed', 'leased', 'dead', 'completed', 'bytes', 'oldestReadyAgeMs', 'enqueuedTotal', 'leasedTotal', 'ackedTotal', 'nackedTotal', 'expiredTotal', 'deadLetteredTotal']
    .map((name) => [name, { type: 'integer' }])) as Record<string, Schema> }),
};

const jsonBody = (schema: Schema): Schema => ({ required: true, content: { 'application/json': { schema } } });
const answer = (description: string, schema?: Schema): Schema => ({ description, ...(schema === undefined ? {} : { content: { 'application/json': { schema } } }) });
const queueParameter: Schema = { name: 'queue', in: 'path', required: true, schema: string(limits.queueNameBytesMax) };

/** What each operation takes and answers, by operation id. */
const operations: Readonly<Record<string, Schema>> = {
  register: {
    summary: 'Register a worker (the seed\'s POST /register)',
    requestBody: jsonBody(object({ workerId, capacity: integer(1, limits.capacityMax, 'also accepted as cap'), queues: { type: 'array', items: string(limits.queueNameBytesMax), maxItems: limits.queuesPerWorkerMax }, role: { type: 'string', description: 'accepted, not used' } }, ['workerId', 'capacity', 'queues'])),
    responses: { 200: answer('registered', ref('Ttl')) },
  },
  heartbeat: {
    summary: 'A registered worker beats within its TTL',
    requestBody: jsonBody(object({ workerId, load: integer(0, limits.capacityMax) }, ['workerId'])),
    responses: { 200: answer('beat taken', ref('Ttl')), 404: answer('unknown worker: register again', ref('Error')) },
  },
  unregister: {
    summary: 'A worker leaving: every job it holds returns to its queue at once (an attempt spent), and the worker is forgotten',
    requestBody: jsonBody(object({ workerId }, ['workerId'])),
    responses: { 200: answer('how many leases were returned (0 for an unknown worker)', object({ jobs: { type: 'integer' } }, ['jobs'])) },
  },
  pull: {
    summary: 'Lease up to jobsMax ready jobs of a queue (long poll with waitMs)',
    requestBody: jsonBody(object({ queue: string(limits.queueNameBytesMax), jobsMax: integer(1, limits.jobsPerPullMax, 'default 1; also accepted as maxN'), waitMs: integer(0, limits.waitMsMax), leaseMs: integer(1, limits.leaseMsMax), workerId }, ['queue'])),
    responses: { 200: answer('the leased jobs, possibly none', object({ jobs: { type: 'array', items: ref('PulledJob') } })) },
  },
  ack: {
    summary: 'Complete a leased job; with status "failed" or "error", fail the attempt (a nack)',
    requestBody: jsonBody(object({ jobId: id, token: id, status: { type: 'string', enum: ['completed', 'ok', 'success', 'done', 'failed', 'error'] }, result: { description: 'any JSON value, stored as its MessagePack encoding' }, resultBase64: { type: 'string', format: 'byte', description: 'raw result bytes instead of result' }, error: { type: 'string', maxLength: limits.errorBytesMax }, retryable: { type: 'boolean' }, delayMs: integer(0, limits.backoffDelayMsMax) }, ['jobId', 'token'])),
    responses: {
      200: answer('completed ({state: "completed", repeated}) or failed ({state, retryAtMs})', object({ state: { type: 'string' }, repeated: { type: 'boolean' }, retryAtMs: { type: 'integer' } })),
      409: answer('LEASE_LOST: the token is not the job\'s lease any more', ref('Error')),
    },
  },
  extend: {
    summary: 'Extend a lease to now + leaseMs',
    requestBody: jsonBody(object({ jobId: id, token: id, leaseMs: integer(1, limits.leaseMsMax) }, ['jobId', 'token'])),
    responses: { 200: answer('the lease\'s new end', object({ deadlineMs: { type: 'integer' } })), 409: answer('LEASE_LOST', ref('Error')) },
  },
  enqueue: {
    summary: 'Enqueue one job, or a batch of jobs ({"jobs": [...]}, all or none)',
    parameters: [queueParameter, { name: 'Idempotency-Key', in: 'header', schema: string(limits.idempotencyKeyBytesMax), description: 'one job only: a second enqueue with this key (within 24 h) answers the first job' }],
    requestBody: jsonBody({ oneOf: [ref('EnqueueBody'), ref('EnqueueBatch')] }),
    responses: {
      201: answer('added (a batch: at least one job added)', { oneOf: [ref('Enqueued'), ref('EnqueuedBatch')] }),
      200: answer('every key named an earlier job (duplicate: true)', { oneOf: [ref('Enqueued'), ref('EnqueuedBatch')] }),
      413: answer('a payload above queue.payloadBytesMax, or a batch above one client frame', ref('Error')), 429: answer('a queue limit was reached; retry later', ref('Error')),
    },
  },
  listJobs: {
    summary: 'A page of a queue\'s jobs in one state, by id',
    parameters: [queueParameter, { name: 'state', in: 'query', schema: { type: 'string', enum: [...jobStates], default: 'ready' } },
      { name: 'afterId', in: 'query', schema: integer(0, Number.MAX_SAFE_INTEGER) }, { name: 'limit', in: 'query', schema: integer(1, limits.listLimitMax) }],
    responses: { 200: answer('the page', ref('JobPage')) },
  },
  getJob: {
    summary: 'One job: state, payload, result and history',
    parameters: [{ name: 'id', in: 'path', required: true, schema: id }],
    responses: { 200: answer('the job', ref('Job')), 404: answer('no such job (or forgotten)', ref('Error')) },
  },
  queueStats: {
    summary: 'One queue\'s figures',
    parameters: [queueParameter],
    responses: { 200: answer('the figures', ref('QueueStats')), 404: answer('no such queue', ref('Error')) },
  },
  allQueueStats: {
    summary: 'Every queue\'s figures',
    responses: { 200: answer('the figures', object({ queues: { type: 'array', items: ref('QueueStats') } })) },
  },
};

/** Answers every operation may give besides its own. */
const commonResponses = {
  400: answer('a field is missing, of the wrong type or out of bounds (error.field names it)', ref('Error')),
  401: answer('no token, or one the cluster does not list', ref('Error')),
  403: answer('the token\'s role may not do this', ref('Error')),
  503: answer('no leader known, or the outcome is unknown; see Retry-After', ref('Error')),
};

export function openApiDocument(routes: readonly RouteLike[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {
    '/v1/openapi.json': { get: { operationId: 'openApi', summary: 'This description', responses: { 200: answer('OpenAPI 3 document') } } },
  };
  for (const route of routes) {
    const operation = operations[route.operationId];
    assert(operation !== undefined, `route ${route.method} ${route.path} has no OpenAPI operation ${route.operationId}`);
    const responses = { ...commonResponses, ...(operation['responses'] as Record<string, unknown>) };
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: { operationId: route.operationId, ...operation, responses } };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'FalconQueue HTTP API', version: '1', description: 'A gateway into the client protocol; see docs/http.md.' },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{}, { bearer: [] }],
    paths,
  };
}
