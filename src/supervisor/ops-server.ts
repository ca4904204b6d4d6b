/**
 * The ops HTTP port of a node: /healthz, /readyz, /metrics, /status.
 *
 * Read-only and cheap: it never touches the hot path and answers from what the supervisor
 * already knows (plus one bounded status round trip to each actor for /status).
 *
 * Runs on: supervisor (main thread).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { NodeConfig } from '../config/cluster-config.js';
import type { Logger } from '../logging/logger.js';
import { readRingStats } from '../ring/spsc-ring.js';
import type { Supervisor } from './supervisor.js';

export interface OpsServerOptions {
  readonly node: NodeConfig;
  readonly clusterName: string;
  readonly supervisor: Supervisor;
  readonly metrics: Registry;
  readonly logger: Logger;
}

export function createOpsServer(options: OpsServerOptions): Server {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.logger.error({ err: error, url: request.url }, 'ops request failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'INTERNAL', message: String(error) });
      else response.end();
    });
  });
  server.keepAliveTimeout = 5_000;
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
  const path = (request.url ?? '/').split('?')[0];
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
      const readiness = supervisor.readiness();
      sendJson(response, readiness.ready ? 200 : 503, readiness.ready ? { status: 'ready' } : { status: 'not-ready', waitingFor: readiness.waitingFor });
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

async function statusBody(options: OpsServerOptions): Promise<Record<string, unknown>> {
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
    actors: await supervisor.actorStatuses(),
    rings,
  };
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
