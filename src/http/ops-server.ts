/**
 * The ops HTTP port of a node: /healthz, /readyz, /metrics, /status, and the HTTP API under /v1/
 * (http-api.ts, docs/http.md); with --test-hooks, POST
 * /debug/raft-load (200 with the load's figures, 409 when it did not run or ended early, 503 when
 * the Replicator does not answer).
 *
 * Apart from /v1/, read-only and cheap: it never touches the hot path and answers from what the supervisor
 * already knows (plus one bounded status round trip to each actor for /status).
 *
 * Bounded against a peer that opens connections and holds them (`opsServerBounds`): at most
 * `connectionsMax` open (Node closes one more at once), headers within `headersTimeoutMs` and a
 * whole request within `requestTimeoutMs` (else 408 and closed), an idle keep-alive connection
 * closed after `keepAliveTimeoutMs`. The timeouts bound receiving a request, not answering it: a
 * long poll (/v1/pull, waitMs up to 60 s) is timed by its own deadline once its request is in.
 *
 * Runs on: supervisor (main thread).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { NodeConfig } from '../config/cluster-config.js';
import { isFalconError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { RaftLoadResult } from '../protocol/control.js';
import type { HttpApi } from './http-api.js';
import { checkRaftLoadRequest } from '../protocol/control-validation.js';
import { readRingStats } from '../ring/spsc-ring.js';
import { startedReplicator, type ActorReport, type NodeStatus, type NodeView } from '../runtime/node-status.js';

export interface OpsServerOptions {
  readonly node: NodeConfig;
  readonly clusterName: string;
  /** The supervisor, through what the ops port reads of it. */
  readonly supervisor: NodeView;
  readonly metrics: Registry;
  readonly logger: Logger;
  /** Serve POST /debug/raft-load (falcon-node --test-hooks): benchmarks and tests only. */
  readonly testHooks: boolean;
  /** Serves /v1/... when given. */
  readonly api?: HttpApi;
  /** Other bounds than `opsServerBounds` (tests, which lower them to reach them quickly). */
  readonly bounds?: Partial<OpsServerBounds>;
}

export interface OpsServerBounds {
  readonly connectionsMax: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly timeoutCheckIntervalMs: number;
}

/** The ops port's bounds: each keeps one peer from holding the node's sockets and files. */
export const opsServerBounds: OpsServerBounds = {
  /** Far more than operators, a Prometheus server and HTTP API callers keep open; far fewer than
   *  a node's open-file limit, so a flood is refused here instead of taking the descriptors the
   *  client and peer ports need (without it, 19 800 slow requests took all 20 000 of a node's). */
  connectionsMax: 1_024,
  /** A request line and headers are a few kilobytes: seconds even on a poor link. */
  headersTimeoutMs: 10_000,
  /** A whole request, body included: the largest body (2 × clientFrameBytesMax + 64 KiB, about
   *  8 MiB by default, http-api.ts) at about 2.5 Mbit/s. */
  requestTimeoutMs: 30_000,
  /** An idle keep-alive connection: long enough for a caller's next request to reuse it. */
  keepAliveTimeoutMs: 5_000,
  /** How often Node checks the two request timeouts (its default, 30 s, would let a slow request
   *  live up to 30 s beyond its bound). */
  timeoutCheckIntervalMs: 1_000,
};

/** Largest body a test-hook request may have. */
const hookBodyBytesMax = 64 * 1024;

export function createOpsServer(options: OpsServerOptions): Server {
  const bounds = { ...opsServerBounds, ...options.bounds };
  const server = createServer({
    headersTimeout: bounds.headersTimeoutMs,
    requestTimeout: bounds.requestTimeoutMs,
    connectionsCheckingInterval: bounds.timeoutCheckIntervalMs,
  }, (request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.logger.error({ err: error, url: request.url }, 'ops request failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'INTERNAL', message: String(error) });
      else response.end();
    });
  });
  server.maxConnections = bounds.connectionsMax;
  server.keepAliveTimeout = bounds.keepAliveTimeoutMs;
  return server;
}

/** Binds the ops port; resolves once listening, rejects with the listen error (e.g. EADDRINUSE). */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function handle(options: OpsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (options.api !== undefined && path.startsWith('/v1/')) {
    await options.api.handle(request, response);
    return;
  }
  if (path === '/debug/raft-load' && options.testHooks && request.method === 'POST') {
    await raftLoadHook(options, request, response);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendJson(response, 405, { error: 'METHOD_NOT_ALLOWED', message: `${request.method ?? '?'} is not served here; the ops port is read-only (GET)` });
    return;
  }
  const { supervisor } = options;
  switch (path) {
    case '/healthz': {
      const health = supervisor.health();
      sendJson(response, health.ok ? 200 : 503, health.ok ? { status: 'ok' } : { status: 'failing', actors: health.failing });
      return;
    }
    case '/readyz': {
      const readiness = await supervisor.readinessWithLeader();
      sendJson(response, readiness.ready ? 200 : 503, readiness.ready ? { status: 'ready', leader: readiness.leader } : { status: 'not-ready', waitingFor: readiness.waitingFor });
      return;
    }
    case '/metrics': {
      const body = await options.metrics.metrics();
      response.writeHead(200, { 'content-type': options.metrics.contentType });
      response.end(body);
      return;
    }
    case '/status': {
      sendJson(response, 200, await statusBody(options));
      return;
    }
    default:
      sendJson(response, 404, { error: 'NOT_FOUND', message: `no such path ${path ?? ''}; try /healthz, /readyz, /metrics or /status` });
  }
}

/** Runs the Replicator's bounded load generator (src/replication/raft-load.ts) and returns its figures. */
async function raftLoadHook(options: OpsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > hookBodyBytesMax) {
      sendJson(response, 413, { error: 'INVALID_ARGUMENT', message: `body over ${hookBodyBytesMax} bytes` });
      return;
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    sendJson(response, 400, { error: 'INVALID_ARGUMENT', message: 'the body must be JSON: {"entries":N,"batch":N,"payloadBytes":N,"inflight":N,"timeoutMs":N}' });
    return;
  }
  const load = checkRaftLoadRequest(body);
  if (isFalconError(load)) {
    sendJson(response, 409, { ok: false, error: load.message } satisfies RaftLoadResult);
    return;
  }
  const outcome = await options.supervisor.askRole('replicator', load, (load.leaderWaitMs ?? 0) + load.timeoutMs + 5_000);
  if (outcome.ok) sendJson(response, outcome.value.ok ? 200 : 409, outcome.value);
  else if (outcome.error.code === 'UNAVAILABLE') sendJson(response, 503, { error: 'UNAVAILABLE', message: `the replicator did not answer (not ready, or the load outlived its timeout): ${outcome.error.message}` });
  else sendJson(response, 409, { ok: false, error: `${outcome.error.code}: ${outcome.error.message}` } satisfies RaftLoadResult);
}

async function statusBody(options: OpsServerOptions): Promise<NodeStatus> {
  const { supervisor, node } = options;
  const rings = supervisor.rings.map((ring) => ({ name: ring.name, ...readRingStats(ring.buffer) }));
  return {
    node: node.id,
    cluster: options.clusterName,
    pid: process.pid,
    uptimeMs: supervisor.uptimeMs(),
    ports: { peer: node.peerPort, client: node.clientPort, ops: node.opsPort },
    health: supervisor.health(),
    readiness: supervisor.readiness(),
    ...raftSection(await supervisor.actorStatuses()),
    rings,
  };
}

/**
 * The actors' figures, with the Replicator's Raft view lifted to the top (`raft`, `applied`), and
 * the queues and workers: the state machine's view (queues, each worker's queues and held leases)
 * joined with the Registry's (last beat and TTL deadline, known on the leader only).
 */
function raftSection(actors: NodeStatus['actors']): Pick<NodeStatus, 'raft' | 'applied' | 'snapshot' | 'queues' | 'workers' | 'actors'> {
  const replicator: ActorReport | undefined = actors.replicator;
  const role = startedReplicator(replicator?.reported?.role);
  const snapshots = role === undefined ? null : { index: role.snapshotIndex, installedFromLeader: role.snapshotsInstalled };
  const registry = actors.registry?.reported?.role;
  const liveness = new Map(registry?.role === 'registry' ? registry.workers.map((worker) => [worker.workerId, worker]) : []);
  const workers = (role?.queue.workers ?? []).map((worker) => {
    const beat = liveness.get(worker.workerId);
    return { ...worker, lastBeatMs: beat?.lastBeatMs ?? null, deadlineMs: beat?.deadlineMs ?? null, releasing: beat?.releasing ?? false };
  });
  return { raft: role?.raft ?? null, applied: role?.applied ?? null, snapshot: snapshots, queues: role?.queue.queues ?? [], workers, actors };
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
