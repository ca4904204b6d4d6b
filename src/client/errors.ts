/**
 * The SDK's errors: one class per error code of the client protocol (docs/protocol.md §5), all
 * subclasses of `ProtocolError`, plus the SDK's own two (`DeadlineExceededError`: a call ran out
 * of time; `ClientClosedError`: a call on a closed client). Match with `instanceof` or on `code`.
 *
 * Every field a node sends with an error reply is kept: `code`, `message`, `leader` (with
 * NOT_LEADER) and `detail` (e.g. `{ field: 'jobs[3].priority' }`). `sent` tells whether the
 * request ever left this client: false means it certainly had no effect.
 *
 * Invariants: `errorOfCode` gives the class of a known code and a plain ProtocolError for a code
 * this SDK does not know (a newer node's), so every failure the SDK reports is a ProtocolError.
 *
 * Runs on: any thread of a client process.
 */

/** Where the leader takes clients, as a NOT_LEADER reply names it. */
export interface LeaderAddress {
  readonly id: string;
  readonly host: string;
  readonly clientPort: number;
}

/** Machine-readable context of an error reply (`field`, `payloadBytes`, `limit`, ...). */
export type ErrorDetail = Readonly<Record<string, string | number | boolean>>;

export interface ProtocolErrorOptions {
  readonly leader?: LeaderAddress | undefined;
  readonly detail?: ErrorDetail | undefined;
  /** False when the request never left this client (default true). */
  readonly sent?: boolean;
  readonly cause?: unknown;
}

/** The base of every error the SDK rejects with: an error reply of the protocol, or a failure on the way. */
export class ProtocolError extends Error {
  /** The protocol's code (`NOT_FOUND`, `INVALID_ARGUMENT`, ...), or the SDK's own (`DEADLINE_EXCEEDED`, `CLIENT_CLOSED`). */
  readonly code: string;
  /** With NOT_LEADER: where the leader takes clients. */
  readonly leader: LeaderAddress | undefined;
  /** Machine-readable context: `field` names a bad field's path (`jobs[3].priority`). */
  readonly detail: ErrorDetail | undefined;
  /** False when the request never left this client (no connection could be made): retrying it
   *  cannot duplicate anything. */
  readonly sent: boolean;

  /** `leaderOrOptions`: the leader's address (the older positional form), or every option. */
  constructor(code: string, message: string, leaderOrOptions?: LeaderAddress | ProtocolErrorOptions, sent?: boolean) {
    const options: ProtocolErrorOptions = leaderOrOptions === undefined ? {}
      : 'clientPort' in leaderOrOptions ? { leader: leaderOrOptions as LeaderAddress } : leaderOrOptions;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = `ProtocolError(${code})`;
    this.code = code;
    this.leader = options.leader;
    this.sent = sent ?? options.sent ?? true;
    this.detail = options.detail;
  }
}

/** A field is missing, of the wrong type or out of its bound; `detail.field` names it. */
export class InvalidArgumentError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** The job (or the worker) is not known: it never existed, or was forgotten. */
export class NotFoundError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** The node does not lead; the SDK follows `leader` itself and reports this only when its deadline ran out. */
export class NotLeaderError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('NOT_LEADER', message, options);
    this.name = 'NotLeaderError';
  }
}

/** The outcome is unknown (a lost connection, a commit that did not come in time, an enqueue whose
 *  sequence the node can no longer tell applied or not). */
export class UnavailableError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** A limit was reached; `detail.limit` names it. */
export class ResourceExhaustedError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('RESOURCE_EXHAUSTED', message, options);
    this.name = 'ResourceExhaustedError';
  }
}

/** The lease's token is not the job's current one: another worker holds the job now. */
export class LeaseLostError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('LEASE_LOST', message, options);
    this.name = 'LeaseLostError';
  }
}

/** A frame above the node's bound (the node closed the connection). */
export class FrameTooLargeError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('FRAME_TOO_LARGE', message, options);
    this.name = 'FrameTooLargeError';
  }
}

/** The node could not read a frame (it closed the connection). */
export class MalformedFrameError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('MALFORMED_FRAME', message, options);
    this.name = 'MalformedFrameError';
  }
}

/** A payload or result above `queue.payloadBytesMax`; `detail` has `field`, `payloadBytes` and `payloadBytesMax`. */
export class PayloadTooLargeError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('PAYLOAD_TOO_LARGE', message, options);
    this.name = 'PayloadTooLargeError';
  }
}

/** The job is not in a state the request needs (cancel of a leased job, ...). */
export class FailedPreconditionError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('FAILED_PRECONDITION', message, options);
    this.name = 'FailedPreconditionError';
  }
}

/** The node does not speak this protocol version. */
export class UnsupportedVersionError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('UNSUPPORTED_VERSION', message, options);
    this.name = 'UnsupportedVersionError';
  }
}

/** The cluster lists bearer tokens and the client's `token` is missing or not one of them. */
export class UnauthenticatedError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('UNAUTHENTICATED', message, options);
    this.name = 'UnauthenticatedError';
  }
}

/** The token's role may not make this request. */
export class PermissionDeniedError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('PERMISSION_DENIED', message, options);
    this.name = 'PermissionDeniedError';
  }
}

/** A node failed in a way it did not foresee, or sent a reply this SDK cannot read. */
export class InternalError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('INTERNAL', message, options);
    this.name = 'InternalError';
  }
}

/** The call ran out of its deadline; `cause` is the last failure, if any. An enqueue that ends so
 *  may or may not have created its job (never twice). */
export class DeadlineExceededError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('DEADLINE_EXCEEDED', message, options);
    this.name = 'DeadlineExceededError';
  }
}

/** The client (or worker) was closed before the call could finish. */
export class ClientClosedError extends ProtocolError {
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super('CLIENT_CLOSED', message, options);
    this.name = 'ClientClosedError';
  }
}

type ErrorClass = new (message: string, options?: ProtocolErrorOptions) => ProtocolError;

const classesByCode: ReadonlyMap<string, ErrorClass> = new Map([
  ['INVALID_ARGUMENT', InvalidArgumentError], ['NOT_FOUND', NotFoundError], ['NOT_LEADER', NotLeaderError],
  ['UNAVAILABLE', UnavailableError], ['RESOURCE_EXHAUSTED', ResourceExhaustedError], ['LEASE_LOST', LeaseLostError],
  ['FRAME_TOO_LARGE', FrameTooLargeError], ['MALFORMED_FRAME', MalformedFrameError], ['PAYLOAD_TOO_LARGE', PayloadTooLargeError],
  ['FAILED_PRECONDITION', FailedPreconditionError], ['UNSUPPORTED_VERSION', UnsupportedVersionError],
  ['UNAUTHENTICATED', UnauthenticatedError], ['PERMISSION_DENIED', PermissionDeniedError], ['INTERNAL', InternalError],
  ['DEADLINE_EXCEEDED', DeadlineExceededError], ['CLIENT_CLOSED', ClientClosedError],
]);

/** The error of `code`: its class when the SDK knows the code, else a ProtocolError carrying it. */
export function errorOfCode(code: string, message: string, options: ProtocolErrorOptions = {}): ProtocolError {
  const known = classesByCode.get(code);
  if (known !== undefined) return new known(message, options);
  return new ProtocolError(code, message, options);
}

function isLeader(value: unknown): value is LeaderAddress {
  if (typeof value !== 'object' || value === null) return false;
  const { id, host, clientPort } = value as Record<string, unknown>;
  return typeof id === 'string' && typeof host === 'string' && Number.isSafeInteger(clientPort);
}

function detailOf(value: unknown): ErrorDetail | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const detail: Record<string, string | number | boolean> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean') detail[key] = field;
  }
  return detail;
}

/** The error an error reply's `error` map stands for (a map from another process: checked field by field). */
export function errorOfReply(error: unknown): ProtocolError {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof fields['code'] === 'string' ? fields['code'] : 'INTERNAL';
  const message = typeof fields['message'] === 'string' ? fields['message'] : `the node answered ${code} without a message`;
  const leader = isLeader(fields['leader']) ? fields['leader'] : undefined;
  return errorOfCode(code, message, { leader, detail: detailOf(fields['detail']) });
}

/** The index `i` of a `detail.field` that names one job of an enqueue (`jobs[i]...`), if it does. */
export function jobIndexOf(error: ProtocolError): number | undefined {
  const field = error.detail?.['field'];
  if (typeof field !== 'string') return undefined;
  const match = /^jobs\[(\d+)\]/.exec(field);
  return match === null ? undefined : Number(match[1]);
}
