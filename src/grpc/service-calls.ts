/**
 * The six methods of FalconQueueService as client-protocol requests: each takes a decoded gRPC
 * request (proto-definition.ts says how it looks: camelCase fields, 64-bit integers as decimal
 * strings, enums by name, absent fields undefined), makes one protocol request (two for a
 * heartbeat that registers), and answers the gRPC response or the failure to map
 * (status-mapping.ts).
 *
 * Checked here: what the protocol cannot see once translated (a 64-bit id above 2^53 - 1, a
 * missing AcknowledgeJob outcome, a malformed number string). Everything else (queue names,
 * bounds, sizes) is the node's to judge, with the protocol's INVALID_ARGUMENT.
 *
 * Invariant: never throws on a caller's values; a thrown error here is a gateway bug.
 *
 * Runs on: supervisor (main thread).
 */
import { falconError } from '../errors.js';
import type { ProtocolFailure } from './status-mapping.js';

export type GrpcRequest = Readonly<Record<string, unknown>>;
type Reply = Readonly<Record<string, unknown>>;

/** Sends one protocol request on the caller's connection; rejects with a ProtocolFailure. */
export type SendRequest = (body: Readonly<Record<string, unknown>> & { readonly type: string }) => Promise<Reply>;

export type CallOutcome = { readonly ok: true; readonly response: object } | { readonly ok: false; readonly failure: ProtocolFailure };

export type ServiceCall = (request: GrpcRequest, send: SendRequest) => Promise<CallOutcome>;

class InvalidRequest extends Error {}

function invalid(message: string): never {
  throw new InvalidRequest(message);
}

/** A uint64/int64 field (a decimal string, or a number) as a safe integer; undefined when absent. */
function safeInteger(request: GrpcRequest, field: string, wireName: string): number | undefined {
  const value = request[field];
  if (value === undefined || value === null) return undefined;
  const parsed = typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed)) invalid(`${wireName}: expected an integer of at most 2^53 - 1 in magnitude, got ${String(value).slice(0, 32)}`);
  return parsed;
}

/** A field left out, or zero where zero means "the default": not sent, so the node's default applies. */
function nonZero(value: number | undefined): number | undefined {
  return value === 0 ? undefined : value;
}

function requiredId(request: GrpcRequest, field: string, wireName: string): number {
  const id = safeInteger(request, field, wireName);
  if (id === undefined || id < 1) invalid(`${wireName}: required, an integer from 1 to 2^53 - 1`);
  return id;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function number(reply: Reply, field: string): number {
  const value = reply[field];
  return typeof value === 'number' ? value : 0;
}

/** Only the fields present: the protocol leaves optional fields out rather than sending nil. */
function present(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export function jobStateName(state: unknown): string {
  return typeof state === 'string' ? `JOB_STATE_${state.toUpperCase()}` : 'JOB_STATE_UNSPECIFIED';
}

const backoffKinds: Readonly<Record<string, string>> = { KIND_FIXED: 'fixed', KIND_EXPONENTIAL: 'exponential' };

function backoffOf(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const backoff = value as GrpcRequest;
  return present({
    kind: typeof backoff['kind'] === 'string' ? backoffKinds[backoff['kind']] : undefined,
    // Required by the protocol; proto3 sends nothing for 0, which is a valid first wait.
    delayMs: safeInteger(backoff, 'delayMs', 'backoff.delay_ms') ?? 0,
    delayMsMax: safeInteger(backoff, 'delayMsMax', 'backoff.delay_ms_max'),
    jitterRatio: backoff['jitterRatio'],
  });
}

/** A SubmitJobRequest's or a NewJob's fields as the protocol's job map. */
function jobOf(request: GrpcRequest, prefix: string): Record<string, unknown> {
  return present({
    payload: request['payload'] ?? Buffer.alloc(0),
    contentType: nonEmptyString(request['contentType']),
    priority: request['priority'],
    delayMs: safeInteger(request, 'delayMs', `${prefix}delay_ms`),
    attemptsMax: nonZero(request['attemptsMax'] as number | undefined),
    leaseMs: nonZero(request['leaseMs'] as number | undefined),
    backoff: backoffOf(request['backoff']),
    idempotencyKey: nonEmptyString(request['idempotencyKey']),
  });
}

function submittedOf(answered: Reply): object {
  return { jobId: number(answered, 'id'), state: jobStateName(answered['state']), duplicate: answered['duplicate'] === true };
}

const submitJob: ServiceCall = async (request, send) => {
  const reply = await send({ type: 'enqueue', ...present({ queue: request['queue'] }), jobs: [jobOf(request, '')] });
  const [answered] = (reply['jobs'] as readonly Reply[] | undefined) ?? [];
  if (answered === undefined) return { ok: false, failure: falconError('INTERNAL', 'the node answered an enqueue without its job') };
  return { ok: true, response: submittedOf(answered) };
};

/** One protocol enqueue of every job: the node adds them in one step or refuses them all. */
const submitJobs: ServiceCall = async (request, send) => {
  const asked = (request['jobs'] as readonly GrpcRequest[] | undefined) ?? [];
  // The protocol refuses an empty list too; said here in the .proto's words.
  if (asked.length === 0) invalid('jobs: required, 1 to 4096 jobs');
  const jobs = asked.map((job, index) => jobOf(job, `jobs[${index}].`));
  const reply = await send({ type: 'enqueue', ...present({ queue: request['queue'] }), jobs });
  const answered = (reply['jobs'] as readonly Reply[] | undefined) ?? [];
  if (answered.length !== jobs.length) return { ok: false, failure: falconError('INTERNAL', `the node answered an enqueue of ${jobs.length} jobs with ${answered.length}`) };
  return { ok: true, response: { jobs: answered.map(submittedOf) } };
};

function leasedJobOf(job: Reply): object {
  return {
    jobId: number(job, 'id'), queue: job['queue'], payload: job['payload'], contentType: job['contentType'],
    priority: number(job, 'priority'), attempt: number(job, 'attempt'), attemptsMax: number(job, 'attemptsMax'),
    token: number(job, 'token'), deadlineMs: number(job, 'deadlineMs'), enqueuedAtMs: number(job, 'enqueuedAtMs'),
  };
}

const pollJobs: ServiceCall = async (request, send) => {
  const reply = await send({
    type: 'pull',
    ...present({
      queue: request['queue'], jobsMax: request['jobsMax'], waitMs: request['waitMs'],
      leaseMs: nonZero(request['leaseMs'] as number | undefined), workerId: nonEmptyString(request['workerId']),
    }),
  });
  const jobs = (reply['jobs'] as readonly Reply[] | undefined) ?? [];
  return { ok: true, response: { jobs: jobs.map(leasedJobOf) } };
};

const acknowledgeJob: ServiceCall = async (request, send) => {
  const jobId = requiredId(request, 'jobId', 'job_id');
  const token = requiredId(request, 'token', 'token');
  if (request['outcome'] === 'success') {
    const success = (request['success'] ?? {}) as GrpcRequest;
    const result = success['result'] as Uint8Array | undefined;
    const reply = await send({ type: 'ack', jobId, token, ...(result === undefined || result.byteLength === 0 ? {} : { result }) });
    return { ok: true, response: { repeated: reply['repeated'] === true, state: 'JOB_STATE_COMPLETED', retryAtMs: 0 } };
  }
  if (request['outcome'] === 'failure') {
    const failure = (request['failure'] ?? {}) as GrpcRequest;
    const reply = await send({
      type: 'nack', jobId, token,
      ...present({ error: failure['error'], retryable: failure['retryable'], delayMs: safeInteger(failure, 'delayMs', 'failure.delay_ms') }),
    });
    const dead = reply['state'] === 'dead';
    return { ok: true, response: { repeated: false, state: jobStateName(reply['state']), retryAtMs: dead ? 0 : number(reply, 'retryAtMs') } };
  }
  invalid('outcome: required, set success or failure');
};

const heartbeat: ServiceCall = async (request, send) => {
  const workerId = request['workerId'];
  const queues = (request['queues'] as readonly string[] | undefined) ?? [];
  const capacity = (request['capacity'] as number | undefined) ?? 0;
  try {
    const reply = await send({ type: 'heartbeat', ...present({ workerId, load: request['load'] }) });
    return { ok: true, response: { ttlMs: number(reply, 'ttlMs'), registered: false } };
  } catch (error) {
    // An unknown worker (first beat, new leader, expired): register it when it said how.
    if ((error as ProtocolFailure).code !== 'NOT_FOUND' || queues.length === 0 || capacity === 0) throw error;
  }
  const reply = await send({ type: 'register', ...present({ workerId }), queues, capacity });
  return { ok: true, response: { ttlMs: number(reply, 'ttlMs'), registered: true } };
};

function transitionOf(step: Reply): object {
  return present({ state: jobStateName(step['state']), atMs: number(step, 'atMs'), reason: step['reason'], token: step['token'] });
}

const getJob: ServiceCall = async (request, send) => {
  const jobId = requiredId(request, 'jobId', 'job_id');
  const reply = await send({ type: 'get', jobId });
  const job = (reply['job'] ?? {}) as Reply;
  const history = (job['history'] as readonly Reply[] | undefined) ?? [];
  return {
    ok: true,
    response: {
      job: present({
        jobId: number(job, 'id'), queue: job['queue'], state: jobStateName(job['state']), priority: number(job, 'priority'),
        payload: job['payload'], contentType: job['contentType'], attempts: number(job, 'attempts'), attemptsMax: number(job, 'attemptsMax'),
        runAtMs: number(job, 'runAtMs'), enqueuedAtMs: number(job, 'enqueuedAtMs'), updatedAtMs: number(job, 'updatedAtMs'),
        idempotencyKey: job['idempotencyKey'], token: job['token'], leaseDeadlineMs: job['leaseDeadlineMs'], workerId: job['workerId'],
        result: job['result'], lastError: job['lastError'], history: history.map(transitionOf),
      }),
    },
  };
};

/** By gRPC method name. */
export const serviceCalls: Readonly<Record<string, ServiceCall>> = {
  SubmitJob: submitJob, SubmitJobs: submitJobs, PollJobs: pollJobs, AcknowledgeJob: acknowledgeJob, Heartbeat: heartbeat, GetJob: getJob,
};

/**
 * Runs one call: its outcome, or the failure of the request it made (a ProtocolError has the
 * failure's shape) or of the caller's values (INVALID_ARGUMENT).
 */
export async function runServiceCall(call: ServiceCall, request: GrpcRequest, send: SendRequest): Promise<CallOutcome> {
  try {
    return await call(request, send);
  } catch (error) {
    if (error instanceof InvalidRequest) return { ok: false, failure: falconError('INVALID_ARGUMENT', error.message) };
    const failure = error as Partial<ProtocolFailure>;
    if (typeof failure.code === 'string' && typeof failure.message === 'string') return { ok: false, failure: failure as ProtocolFailure };
    throw error;
  }
}
