/**
 * The one registry of FalconQueue's operating errors.
 *
 * An operating error (bad input, a full disk, a follower asked to write) is a value with a stable
 * code and a message a person can act on. It crosses threads and sockets as `{ code, message }`,
 * never as a thrown exception; an operation that may meet one answers an `Outcome<T>`. Programmer
 * errors (a broken invariant) are assertions: they stop the actor, and the supervisor decides
 * what happens next.
 *
 * Codes are stable: clients match on them. Add new ones at the end of a group; never renumber.
 *
 * Runs on: every thread.
 */

export const errorCodes = {
  // Client-facing: the client protocol's reference lists these with their numbers.
  INVALID_ARGUMENT: 1,
  NOT_FOUND: 2,
  NOT_LEADER: 3,
  UNAVAILABLE: 4,
  RESOURCE_EXHAUSTED: 5,
  LEASE_LOST: 6,
  FRAME_TOO_LARGE: 7,
  MALFORMED_FRAME: 8,
  /** A payload over queue.payloadBytesMax. */
  PAYLOAD_TOO_LARGE: 9,
  /** The job is not in a state the request needs (cancel of a leased job, redrive of a live one). */
  FAILED_PRECONDITION: 10,
  /** The state machine met a command or snapshot format version it does not know. */
  UNSUPPORTED_VERSION: 11,
  /** The cluster lists bearer tokens and the connection brought none, or one it does not list. */
  UNAUTHENTICATED: 12,
  /** The connection's token has a role that may not make this request (e.g. `produce` purging). */
  PERMISSION_DENIED: 13,
  // Node-internal, reported in logs, /status and exit messages.
  CONFIG_INVALID: 100,
  DISK_FULL: 101,
  IO_ERROR: 102,
  CORRUPTION: 103,
  PROPOSAL_DROPPED: 104,
  RING_FULL: 105,
  ACTOR_FAILED: 106,
  INTERNAL: 199,
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** An operating error as a value. `detail` carries machine-readable context (file, offset, field). */
export interface FalconError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export function falconError(
  code: ErrorCode,
  message: string,
  detail?: Readonly<Record<string, string | number | boolean>>,
): FalconError {
  return detail === undefined ? { code, message } : { code, message, detail };
}

export function isFalconError(value: unknown): value is FalconError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { code?: unknown; message?: unknown };
  return typeof candidate.code === 'string' && candidate.code in errorCodes && typeof candidate.message === 'string';
}

/**
 * What an operation that may meet an operating error answers: its value, or the error. Checked
 * with `if (!outcome.ok)`; built with `success` and `failure`.
 *
 * One exception, on purpose: the checkers of decoded messages (built on src/log/shape-check.ts)
 * answer the message itself or a `FalconError`, told apart with `isFalconError`, because they run
 * on every peer frame and every ring message, and an Outcome would allocate once per message.
 */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: FalconError };

export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function failure<T>(error: FalconError): Outcome<T> {
  return { ok: false, error };
}

/**
 * A thrown wrapper for the few places where an operating error must unwind a call stack inside
 * one thread (config loading at start-up, WAL recovery). It is caught at the thread's edge and
 * turned back into a `FalconError` value before it crosses anything.
 */
export class FalconFailure extends Error {
  readonly error: FalconError;
  constructor(error: FalconError) {
    super(error.message);
    this.name = `FalconFailure(${error.code})`;
    this.error = error;
  }
}

/** Stops the actor with the numbers in the message: a broken invariant is never an operating error. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
