/**
 * What a worker's handler sees and how its outcome is judged: the job as the handler gets it
 * (payload decoded by its content type), `NonRetryableError` (a failure retrying cannot cure),
 * and `runJobHandler`, which calls a handler and turns whatever happens into an outcome value:
 * a result as MessagePack bytes for the ack, or a failure message and whether to retry it.
 *
 * Invariants: `runJobHandler` never throws; a failure message is at most `errorBytesMax` UTF-8
 * bytes (the protocol's bound on a nack's `error`), cut on a character boundary.
 *
 * Runs on: the thread of a WorkerRunner (in-process handlers) or a piscina thread (handler modules).
 */
import { encode, decode } from '../codec/msgpack.js';
import { ProtocolError } from './protocol-connection.js';

/** A job as a pull delivers it (docs/protocol.md, pull), payload still bytes. */
export interface PulledJob {
  readonly id: number;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly contentType: string;
  readonly priority: number;
  readonly attempt: number;
  readonly attemptsMax: number;
  readonly token: number;
  readonly deadlineMs: number;
  readonly enqueuedAtMs: number;
}

/** The jobs of a pull's reply, checked field by field (a reply is data from another process). */
export function pulledJobsOf(value: unknown): PulledJob[] {
  if (!Array.isArray(value)) throw new ProtocolError('INTERNAL', 'a pull reply without a jobs array');
  for (const job of value as unknown[]) {
    const fields = (typeof job === 'object' && job !== null ? job : {}) as Record<string, unknown>;
    const numbers = ['id', 'priority', 'attempt', 'attemptsMax', 'token', 'deadlineMs', 'enqueuedAtMs'];
    const wrong = numbers.find((name) => !Number.isSafeInteger(fields[name]))
      ?? (fields['payload'] instanceof Uint8Array ? undefined : 'payload')
      ?? (typeof fields['contentType'] === 'string' && typeof fields['queue'] === 'string' ? undefined : 'contentType or queue');
    if (wrong !== undefined) throw new ProtocolError('INTERNAL', `a pulled job with a malformed ${wrong}`);
  }
  return value as PulledJob[];
}

/**
 * A job as a handler gets it. `payload` is the decoded value for `application/json` and
 * `application/msgpack`, else the bytes (a Uint8Array).
 */
export interface WorkerJob {
  readonly id: number;
  readonly queue: string;
  readonly payload: unknown;
  readonly contentType: string;
  readonly priority: number;
  /** This attempt's number, 1-based. */
  readonly attempt: number;
  readonly attemptsMax: number;
  /** When the lease the job was pulled with ends (the leader's clock); the runner extends it. */
  readonly deadlineMs: number;
  readonly enqueuedAtMs: number;
}

export interface JobHandlerContext {
  /** Aborted when the job's lease is lost (the result would be refused) or its runner gave up on it. */
  readonly signal: AbortSignal;
}

/** An in-process handler: resolves with the job's result (any MessagePack-encodable value) or throws. */
export type JobHandler = (job: WorkerJob, context: JobHandlerContext) => Promise<unknown>;

/**
 * Thrown by a handler for a failure that retrying cannot cure (a malformed payload, a refused
 * request): the job is dead-lettered at once instead of after its attempts. Across a piscina
 * thread the class is not preserved, so any error whose `name` is `NonRetryableError` or whose
 * `retryable` property is `false` counts the same.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

export function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  return (error as { name?: unknown }).name === 'NonRetryableError' || (error as { retryable?: unknown }).retryable === false;
}

/** The protocol's bound on a nack's `error` (docs/protocol.md, nack). */
export const errorBytesMax = 4096;

export type HandlerOutcome =
  | { readonly ok: true; readonly result: Uint8Array | undefined }
  | { readonly ok: false; readonly message: string; readonly retryable: boolean };

/** A payload as the handler gets it; throws NonRetryableError when it does not decode as its type says. */
export function decodePayload(payload: Uint8Array, contentType: string): unknown {
  try {
    if (contentType === 'application/json') return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as unknown;
    if (contentType === 'application/msgpack') return decode(payload);
  } catch (error) {
    throw new NonRetryableError(`the payload is not valid ${contentType}: ${(error as Error).message}`);
  }
  return payload;
}

/** `text` cut to at most `errorBytesMax` UTF-8 bytes, on a character boundary. */
export function boundedErrorText(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= errorBytesMax) return text;
  const bytes = Buffer.from(text, 'utf8').subarray(0, errorBytesMax);
  // A cut inside a multi-byte character decodes to U+FFFD (3 bytes): drop it and what follows.
  const decoded = bytes.toString('utf8');
  const cut = decoded.endsWith('\uFFFD') ? decoded.slice(0, -1) : decoded;
  return Buffer.byteLength(cut, 'utf8') <= errorBytesMax ? cut : cut.slice(0, -1);
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown value: ${String(error)}`;
}

/** The handler's job built from a pulled one (payload decoded). */
export function workerJobOf(job: PulledJob): WorkerJob {
  return {
    id: job.id, queue: job.queue, payload: decodePayload(job.payload, job.contentType), contentType: job.contentType,
    priority: job.priority, attempt: job.attempt, attemptsMax: job.attemptsMax, deadlineMs: job.deadlineMs, enqueuedAtMs: job.enqueuedAtMs,
  };
}

/** Decodes, runs `handler`, encodes its result; every failure (including the encoding's) becomes a value. */
export async function runJobHandler(handler: JobHandler, job: PulledJob, context: JobHandlerContext): Promise<HandlerOutcome> {
  try {
    const value = await handler(workerJobOf(job), context);
    return { ok: true, result: value === undefined ? undefined : encode(value) };
  } catch (error) {
    return { ok: false, message: boundedErrorText(describeFailure(error)), retryable: !isNonRetryable(error) };
  }
}
