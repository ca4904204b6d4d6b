/**
 * The HTTP API of a node (docs/http.md): every `/v1/...` request of the ops port. It is a gateway
 * into the client protocol: a request becomes one protocol call made through the QueueGateway,
 * on behalf of the bearer token the request carries, which the leader admits or refuses as it
 * would any client. A follower's API forwards to the leader; a caller never follows a redirect.
 *
 * Per request: the route is matched (404 unknown path, 405 known path with another method), the
 * `Authorization: Bearer <token>` header read (401 when it is not of that form, is sent twice, or
 * holds a token longer than any listed one: protocol/bearer-credential.ts), the caller's access
 * judged by the gateway (401 before anything of the body or path is checked), the deadline set
 * (`X-Timeout-Ms`, else 10 s; a pull's `waitMs` on top), the body read within `bodyBytesMax`,
 * and a failure of any kind answered as a JSON error (api-exchange.ts); a fault of this code is
 * logged and answered 500, never thrown into the server.
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.js';
import { apiError, errorOfCode, isApiError, parseJsonBody, readBody, sendError, sendJson, type ApiError } from './api-exchange.js';
import { apiRoutes, type ApiRoute, type RouteRequest } from './api-routes.js';
import { openApiDocument } from './openapi.js';
import { readBearerCredential } from '../protocol/bearer-credential.js';
import { isCodedError, type QueueGateway } from './queue-gateway.js';

export interface HttpApiOptions {
  readonly gateway: QueueGateway;
  /** The cluster's queue.payloadBytesMax: larger payloads and results are answered 413. */
  readonly payloadBytesMax: number;
  /** The cluster's queue.clientFrameBytesMax, which bounds a batch enqueue (default: payloadBytesMax). */
  readonly frameBytesMax?: number;
  readonly logger: Logger;
  /** Default deadline of a request, retries and redirects included (10 s). */
  readonly deadlineMs?: number;
}

export interface HttpApi {
  /** Answers a request whose path starts with /v1/. Never rejects. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  close(): void;
}

/** Longer than an election and a retry or two; a caller that wants less says so in X-Timeout-Ms. */
const deadlineMsDefault = 10_000;
/** Bounds of X-Timeout-Ms: long enough to reach a leader, no longer than a node holds a long poll. */
const deadlineMsMin = 100;
const deadlineMsMax = 60_000;
/** Room in a body beyond its payload: the other fields, and JSON's own spacing and escapes. */
const bodyBytesOverhead = 64 * 1024;

export function createHttpApi(options: HttpApiOptions): HttpApi {
  // A JSON payload may be written with more bytes than it is stored in (spaces, escapes), and
  // base64 takes 4 bytes for 3: twice the stored bound (one payload, or a batch's one request)
  // plus the overhead covers both.
  const bodyBytesMax = 2 * Math.max(options.payloadBytesMax, options.frameBytesMax ?? 0) + bodyBytesOverhead;
  let openApi: string | undefined;
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (url.pathname === '/v1/openapi.json' && request.method === 'GET') {
        openApi ??= JSON.stringify(openApiDocument(apiRoutes));
        response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        response.end(openApi);
        return;
      }
      const answer = await route(request, url, { ...options, bodyBytesMax });
      if (isApiError(answer)) sendError(request, response, answer);
      else sendJson(response, answer.status, answer.body, answer.headers);
    } catch (error) {
      if (isCodedError(error)) {
        sendError(request, response, errorOfCode(error.code, error.message));
        return;
      }
      options.logger.error({ err: error, url: request.url }, 'HTTP API request failed');
      sendError(request, response, apiError(500, 'INTERNAL', 'the node failed to answer this request; see its log'));
    }
  };
  return { handle, close: () => options.gateway.close() };
}

async function route(request: IncomingMessage, url: URL, options: HttpApiOptions & { bodyBytesMax: number }): ReturnType<ApiRoute['handle']> {
  const matched = matchRoute(request.method ?? 'GET', url.pathname);
  if (isApiError(matched)) return matched;
  // Every Authorization header, not Node's first: two of them are refused, not half read.
  const credential = readBearerCredential(request.headersDistinct['authorization'], 'the Authorization header');
  if (!credential.ok) return errorOfCode('UNAUTHENTICATED', credential.message);
  const token = credential.token;
  const deadline = deadlineOf(request.headers['x-timeout-ms'], options.deadlineMs ?? deadlineMsDefault);
  // Access before anything else of the request is checked (docs/protocol.md §3); the time it takes
  // (a connect and hello for a token not seen lately) comes out of the request's deadline.
  const admittedFrom = Date.now();
  await options.gateway.admit({ token, deadlineMs: isApiError(deadline) ? options.deadlineMs ?? deadlineMsDefault : deadline });
  if (isApiError(deadline)) return deadline;
  const deadlineMs = Math.max(1, deadline - (Date.now() - admittedFrom));
  const idempotencyKey = request.headers['idempotency-key'];
  const routeRequest: RouteRequest = {
    params: matched.params,
    query: url.searchParams,
    idempotencyKey: Array.isArray(idempotencyKey) ? idempotencyKey[0] : idempotencyKey,
    payloadBytesMax: options.payloadBytesMax,
    body: async () => {
      const body = await readBody(request, options.bodyBytesMax);
      return isApiError(body) ? body : parseJsonBody(body);
    },
    operations: (waitMs = 0) => options.gateway.operationsFor({ token, deadlineMs: deadlineMs + waitMs }),
  };
  return await matched.route.handle(routeRequest);
}

/** The route for `method` and `path`, with its parameters; 404 or 405 when there is none. */
export function matchRoute(method: string, path: string): { route: ApiRoute; params: Record<string, string> } | ApiError {
  const segments = path.split('/');
  const allowed: string[] = [];
  for (const candidate of apiRoutes) {
    const params = matchPath(candidate.path.split('/'), segments);
    if (params === undefined) continue;
    if (isApiError(params)) return params;
    if (candidate.method === method) return { route: candidate, params };
    allowed.push(candidate.method);
  }
  if (allowed.length === 0) {
    if (path === '/v1/openapi.json') allowed.push('GET');
    else return apiError(404, 'NOT_FOUND', `no such path ${path}; see /v1/openapi.json for the API's routes`);
  }
  return apiError(405, 'METHOD_NOT_ALLOWED', `${method} is not served on ${path}; use ${allowed.join(' or ')}`, undefined, { allow: allowed.join(', ') });
}

function matchPath(pattern: readonly string[], segments: readonly string[]): Record<string, string> | ApiError | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of pattern.entries()) {
    const segment = segments[index] ?? '';
    if (part.startsWith('{')) {
      try {
        params[part.slice(1, -1)] = decodeURIComponent(segment);
      } catch {
        return apiError(400, 'INVALID_ARGUMENT', `the path segment ${segment} is not valid percent-encoding`, part.slice(1, -1));
      }
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}

function deadlineOf(header: string | string[] | undefined, fallbackMs: number): number | ApiError {
  if (header === undefined) return fallbackMs;
  const text = Array.isArray(header) ? header[0] ?? '' : header;
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (value >= deadlineMsMin && value <= deadlineMsMax) return value;
  return apiError(400, 'INVALID_ARGUMENT', `X-Timeout-Ms must be an integer from ${deadlineMsMin} to ${deadlineMsMax} (milliseconds)`, 'X-Timeout-Ms');
}
