/**
 * What a caller may say about a job, checked on this side against the bounds of docs/protocol.md
 * §4 before anything is sent, and the job map of an `enqueue` request built from it. Checking here
 * means one caller's bad job is refused alone, instead of failing a whole batch on the node.
 *
 * Payload encoding: a `Uint8Array` (and so a `Buffer`) is sent as it is, as
 * `application/octet-stream` unless the options name another content type (then the bytes are
 * taken to be already encoded in it); any other value is encoded, as `application/msgpack` by
 * default or as `application/json` when the options say so. `undefined` is refused (use `null`).
 *
 * Invariants: a `WireJob` satisfies every bound the node checks except the node's own
 * `payloadBytesMax` (the client's option mirrors the default); `wireBytesMax` is an upper bound of
 * the job map's encoded size.
 *
 * Runs on: any thread of a client process.
 */
import { encode } from '../codec/msgpack.js';
import { InvalidArgumentError, PayloadTooLargeError } from './errors.js';

export type ContentType = 'application/octet-stream' | 'application/json' | 'application/msgpack';
export const contentTypes: readonly ContentType[] = ['application/octet-stream', 'application/json', 'application/msgpack'];

/** A retry's wait after a failed attempt (docs/protocol.md, enqueue). */
export interface Backoff {
  readonly kind: 'fixed' | 'exponential';
  /** The first wait, 0 to 1 week. */
  readonly delayMs: number;
  /** The cap of an exponential wait, delayMs to 1 week. */
  readonly delayMsMax?: number;
  /** 0 (exact waits) to 1 (full jitter). */
  readonly jitterRatio?: number;
}

/** Options of one job; every one is optional and defaults to the node's queue settings. */
export interface EnqueueOptions {
  /** How the payload is encoded and how a worker reads it (see the header). */
  readonly contentType?: ContentType;
  /** Higher runs first; −2^31 to 2^31 − 1 (default 0). */
  readonly priority?: number;
  /** Not ready before now + delayMs; 0 to 1 year. */
  readonly delayMs?: number;
  /** Attempts before the job is dead-lettered, 1 to 1000. */
  readonly attemptsMax?: number;
  /** How long a pull holds this job when the pull does not say, 1 ms to 1 day. */
  readonly leaseMs?: number;
  readonly backoff?: Backoff;
  /** Within the node's dedup window (24 h by default), a second job with this key is not added:
   *  the answer names the first job with `duplicate: true`. 1 to 256 UTF-8 bytes, no control characters. */
  readonly idempotencyKey?: string;
}

/** One job of `enqueueMany`. */
export interface JobSpec extends EnqueueOptions {
  readonly payload: unknown;
}

/** A job map as the `enqueue` request carries it. */
export interface WireJob {
  readonly payload: Uint8Array;
  readonly contentType?: ContentType;
  readonly priority?: number;
  readonly delayMs?: number;
  readonly attemptsMax?: number;
  readonly leaseMs?: number;
  readonly backoff?: Backoff;
  readonly idempotencyKey?: string;
}

/** docs/protocol.md §4's bounds, as the node checks them. */
export const jobBounds = {
  queueNameBytesMax: 200,
  priorityMin: -(2 ** 31),
  priorityMax: 2 ** 31 - 1,
  delayMsMax: 365 * 24 * 60 * 60 * 1000,
  attemptsMax: 1000,
  leaseMsMax: 24 * 60 * 60 * 1000,
  backoffDelayMsMax: 7 * 24 * 60 * 60 * 1000,
  idempotencyKeyBytesMax: 256,
  /** queue.payloadBytesMax's default; a client may be told a cluster's own. */
  payloadBytesMaxDefault: 1024 * 1024,
} as const;

/** An upper bound of a job map's encoded bytes beyond its payload and key: every field name and
 *  fixed-size value together take less (the longest, a full backoff map, about 90 bytes). */
const jobMapOverheadBytesMax = 256;

// eslint-disable-next-line no-control-regex -- control characters are exactly what it finds
const controlCharacter = /[\u0000-\u001f\u007f]/;

function refuse(field: string, rule: string): never {
  throw new InvalidArgumentError(`${field} ${rule}`, { detail: { field }, sent: false });
}

function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    refuse(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A printable name of 1 to `bytesMax` UTF-8 bytes (a queue name, an idempotency key). */
export function checkName(value: unknown, field: string, bytesMax: number): string {
  if (typeof value !== 'string') refuse(field, `must be a string, got ${typeof value}`);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < 1 || bytes > bytesMax) refuse(field, `must be 1 to ${bytesMax} UTF-8 bytes, got ${bytes}`);
  if (controlCharacter.test(value)) refuse(field, 'must not contain control characters (U+0000-U+001F, U+007F)');
  return value;
}

function checkBackoff(value: unknown, field: string): Backoff {
  if (typeof value !== 'object' || value === null) refuse(field, 'must be a map { kind, delayMs, delayMsMax?, jitterRatio? }');
  const backoff = value as Record<string, unknown>;
  if (backoff['kind'] !== 'fixed' && backoff['kind'] !== 'exponential') refuse(`${field}.kind`, "must be 'fixed' or 'exponential'");
  const delayMs = checkInteger(backoff['delayMs'], `${field}.delayMs`, 0, jobBounds.backoffDelayMsMax);
  const checked: { -readonly [K in keyof Backoff]: Backoff[K] } = { kind: backoff['kind'], delayMs };
  if (backoff['delayMsMax'] !== undefined) checked.delayMsMax = checkInteger(backoff['delayMsMax'], `${field}.delayMsMax`, delayMs, jobBounds.backoffDelayMsMax);
  const jitterRatio = backoff['jitterRatio'];
  if (jitterRatio !== undefined) {
    if (typeof jitterRatio !== 'number' || !(jitterRatio >= 0 && jitterRatio <= 1)) refuse(`${field}.jitterRatio`, 'must be a number from 0 to 1');
    checked.jitterRatio = jitterRatio;
  }
  return checked;
}

/** The payload's bytes and content type, encoded as the header says. */
export function encodePayload(payload: unknown, contentType: ContentType | undefined, field = 'payload'): { bytes: Uint8Array; contentType: ContentType } {
  if (contentType !== undefined && !contentTypes.includes(contentType)) refuse('contentType', `must be one of ${contentTypes.join(', ')}`);
  if (payload instanceof Uint8Array) return { bytes: payload, contentType: contentType ?? 'application/octet-stream' };
  if (payload === undefined) refuse(field, 'is undefined (send null for an empty value)');
  if (contentType === 'application/octet-stream') refuse(field, 'must be a Uint8Array or Buffer for application/octet-stream');
  if (contentType === 'application/json') {
    let text: string | undefined;
    try {
      text = JSON.stringify(payload) as string | undefined;
    } catch (error) {
      refuse(field, `cannot be encoded as JSON: ${(error as Error).message}`);
    }
    if (text === undefined) refuse(field, 'cannot be encoded as JSON (a function or a symbol)');
    return { bytes: Buffer.from(text, 'utf8'), contentType };
  }
  if (typeof payload === 'function' || typeof payload === 'symbol' || typeof payload === 'bigint') {
    refuse(field, `cannot be encoded as MessagePack (a ${typeof payload})`);
  }
  try {
    return { bytes: encode(payload), contentType: 'application/msgpack' };
  } catch (error) {
    return refuse(field, `cannot be encoded as MessagePack: ${(error as Error).message}`);
  }
}

/**
 * The job map of `payload` with `options`, checked; `field` prefixes the paths named in errors
 * (`jobs[2]` for enqueueMany's third job). Throws InvalidArgumentError or PayloadTooLargeError
 * (with `sent: false`: nothing left this client).
 */
export function wireJobOf(payload: unknown, options: EnqueueOptions, payloadBytesMax: number, field = ''): WireJob {
  const path = (name: string): string => (field === '' ? name : `${field}.${name}`);
  const { bytes, contentType } = encodePayload(payload, options.contentType, path('payload'));
  if (bytes.byteLength > payloadBytesMax) {
    throw new PayloadTooLargeError(`${path('payload')} is ${bytes.byteLength} bytes, more than the ${payloadBytesMax} bytes a job may carry`, {
      detail: { field: path('payload'), payloadBytes: bytes.byteLength, payloadBytesMax }, sent: false,
    });
  }
  const job: { -readonly [K in keyof WireJob]: WireJob[K] } = { payload: bytes };
  if (contentType !== 'application/octet-stream') job.contentType = contentType;
  if (options.priority !== undefined) job.priority = checkInteger(options.priority, path('priority'), jobBounds.priorityMin, jobBounds.priorityMax);
  if (options.delayMs !== undefined) job.delayMs = checkInteger(options.delayMs, path('delayMs'), 0, jobBounds.delayMsMax);
  if (options.attemptsMax !== undefined) job.attemptsMax = checkInteger(options.attemptsMax, path('attemptsMax'), 1, jobBounds.attemptsMax);
  if (options.leaseMs !== undefined) job.leaseMs = checkInteger(options.leaseMs, path('leaseMs'), 1, jobBounds.leaseMsMax);
  if (options.backoff !== undefined) job.backoff = checkBackoff(options.backoff, path('backoff'));
  if (options.idempotencyKey !== undefined) job.idempotencyKey = checkName(options.idempotencyKey, path('idempotencyKey'), jobBounds.idempotencyKeyBytesMax);
  return job;
}

/** An upper bound of `job`'s encoded size inside a request. */
export function wireBytesMax(job: WireJob): number {
  const keyBytes = job.idempotencyKey === undefined ? 0 : Buffer.byteLength(job.idempotencyKey, 'utf8');
  return job.payload.byteLength + keyBytes + jobMapOverheadBytesMax;
}
