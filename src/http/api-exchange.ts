/**
 * The HTTP side of one API request: its body read within a bound, its answer written as JSON, and
 * every failure written as `{ "error": { "code", "message", "field"? } }` with the status the
 * code maps to.
 *
 * | protocol code                         | HTTP | notes                                              |
 * |---------------------------------------|------|----------------------------------------------------|
 * | INVALID_ARGUMENT                      | 400  | `field` names the body field                       |
 * | UNAUTHENTICATED                       | 401  | `WWW-Authenticate: Bearer`                         |
 * | PERMISSION_DENIED                     | 403  |                                                    |
 * | NOT_FOUND                             | 404  | unknown route, job or queue                        |
 * | LEASE_LOST, FAILED_PRECONDITION       | 409  |                                                    |
 * | PAYLOAD_TOO_LARGE, FRAME_TOO_LARGE    | 413  | also a body above the API's bound                  |
 * | RESOURCE_EXHAUSTED                    | 429  | `Retry-After: 1`: a queue or the leader is full    |
 * | NOT_LEADER, UNAVAILABLE, INTERNAL     | 503  | `Retry-After: 1`: no leader known, outcome unknown |
 * | anything else                         | 502  | the node answered something this API cannot place |
 *
 * Invariants: a body is never buffered beyond `bodyBytesMax` (a larger Content-Length is refused
 * before reading; a stream that grows past it is cut off); a response is written at most once.
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An API error before it is written: the code, a message for a person, the field at fault. A
 * class, so that it is never mistaken for a request body that happens to have the same keys.
 */
export class ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly field: string | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, field?: string, headers: Readonly<Record<string, string>> = {}) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.field = field;
    this.headers = headers;
  }
}

export function apiError(status: number, code: string, message: string, field?: string, headers?: Readonly<Record<string, string>>): ApiError {
  return new ApiError(status, code, message, field, headers);
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

/** Seconds a client should wait before retrying a 429 or a 503: about an election's length. */
const retryAfterSeconds = 1;

/** The HTTP answer to a protocol error code. */
export function errorOfCode(code: string, message: string): ApiError {
  const retry = { 'retry-after': String(retryAfterSeconds) };
  switch (code) {
    case 'INVALID_ARGUMENT': return apiError(400, code, message);
    case 'UNAUTHENTICATED': return apiError(401, code, message, undefined, { 'www-authenticate': 'Bearer' });
    case 'PERMISSION_DENIED': return apiError(403, code, message);
    case 'NOT_FOUND': return apiError(404, code, message);
    case 'LEASE_LOST':
    case 'FAILED_PRECONDITION': return apiError(409, code, message);
    case 'PAYLOAD_TOO_LARGE':
    case 'FRAME_TOO_LARGE': return apiError(413, code, message);
    case 'RESOURCE_EXHAUSTED': return apiError(429, code, message, undefined, retry);
    case 'NOT_LEADER':
    case 'UNAVAILABLE':
    case 'INTERNAL': return apiError(503, 'UNAVAILABLE', message, undefined, retry);
    default: return apiError(502, code, `the cluster answered ${code}: ${message}`);
  }
}

/** The body, read whole, or a 413 when it is longer than `bodyBytesMax` (the rest is left unread). */
export function readBody(request: IncomingMessage, bodyBytesMax: number): Promise<Buffer | ApiError> {
  const tooLarge = apiError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than this API takes (${bodyBytesMax} bytes)`);
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > bodyBytesMax) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (outcome: Buffer | ApiError): void => {
      if (settled) return;
      settled = true;
      request.off('data', onData);
      request.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.byteLength;
      if (bytes > bodyBytesMax) settle(tooLarge);
      else chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => settle(Buffer.concat(chunks, bytes)));
    request.once('error', () => settle(apiError(400, 'INVALID_ARGUMENT', 'the request body did not arrive whole')));
  });
}

/** The body as JSON, or a 400 saying why not. An empty body reads as `{}`. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.byteLength === 0) return {};
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch (error) {
    return apiError(400, 'INVALID_ARGUMENT', `the request body is not JSON: ${(error as Error).message}`);
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  response.end(text);
}

/**
 * Writes `error`. A 413 for a body still arriving closes the connection after the answer and
 * reads no more than `drainBytesMax` of the rest (enough for the client to take the answer).
 */
export function sendError(request: IncomingMessage, response: ServerResponse, error: ApiError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const unread = !request.complete;
  const headers = { ...error.headers, ...(unread ? { connection: 'close' } : {}) };
  sendJson(response, error.status, { error: { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) } }, headers);
  if (unread) drainThenClose(request);
}

/** Unread body the server still takes after answering early, so the client can read the answer. */
const drainBytesMax = 16 * 1024 * 1024;

function drainThenClose(request: IncomingMessage): void {
  let drained = 0;
  request.on('data', (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > drainBytesMax) request.socket.destroy();
  });
  request.on('error', () => undefined);
  request.resume();
}
