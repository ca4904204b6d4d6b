/**
 * The ops port's bounds hold (src/http/ops-server.ts): a node's ops server caps its connections and
 * times out requests that never finish, so a peer holding slow requests cannot take the node's
 * files, while a long poll that outlives the request timeout is still answered. The server runs
 * in this process with its bounds lowered (connections 4, timeouts of a few hundred ms) so each
 * bound is reached in well under a second; the defaults a node runs with are checked as values.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import type { NodeConfig } from '../../src/config/cluster-config.js';
import type { HttpApi } from '../../src/http/http-api.js';
import { createOpsServer, listen, opsServerBounds, type OpsServerBounds } from '../../src/http/ops-server.js';
import type { NodeView } from '../../src/runtime/node-status.js';

const quietLogger = pino({ level: 'warn' }, new Writable({ write(_chunk, _encoding, done) { done(); } }));
const unused = (): never => { throw new Error('not used by these tests'); };
/** The supervisor as /healthz reads it: always healthy. */
const healthySupervisor: NodeView = {
  rings: [], health: () => ({ ok: true, failing: {} }), readiness: unused, readinessWithLeader: unused, uptimeMs: unused,
  actorFigures: unused, actorStatuses: unused, replicatorStatus: unused, askRole: unused,
};
/** An API whose every request is a long poll: it answers 200 after `answerAfterMs`. */
function slowApi(answerAfterMs: number): HttpApi {
  return {
    handle: async (request, response) => {
      for await (const chunk of request) void chunk;
      await new Promise((resolve) => setTimeout(resolve, answerAfterMs));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"jobs":[]}');
    },
    close: () => undefined,
  };
}

async function startedOpsServer(bounds: Partial<OpsServerBounds>, api?: HttpApi): Promise<{ server: Server; port: number }> {
  const server = createOpsServer({
    node: { id: 'n1' } as NodeConfig, clusterName: 'bounds', supervisor: healthySupervisor, metrics: new Registry(), logger: quietLogger,
    testHooks: false, bounds, ...(api === undefined ? {} : { api }),
  });
  await listen(server, '127.0.0.1', 0);
  return { server, port: (server.address() as AddressInfo).port };
}

/** A connection that writes `text` and never finishes its request; resolves once connected. */
async function heldRequest(port: number, text: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port });
  let received = '';
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(text);
  return { socket, closed };
}

async function healthStatus(port: number): Promise<number | string> {
  return fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })
    .then((response) => response.status, (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message);
}

describe('ops port bounds: a peer holding connections cannot take the node', function () {
  this.timeout(10_000);
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a node runs with a connection cap and request timeouts far below Node’s defaults, above the longest long poll', () => {
    const server = createOpsServer({
      node: { id: 'n1' } as NodeConfig, clusterName: 'bounds', supervisor: healthySupervisor, metrics: new Registry(), logger: quietLogger, testHooks: false,
    });
    expect({ maxConnections: server.maxConnections, headersTimeout: server.headersTimeout, requestTimeout: server.requestTimeout, keepAliveTimeout: server.keepAliveTimeout })
      .to.deep.equal({ maxConnections: 1_024, headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 });
    expect(opsServerBounds.requestTimeoutMs, 'Node’s default (300 s) let slow requests pile up').to.be.below(300_000);
  });

  it('refuses connections beyond its cap at once, answers slow requests 408 within their timeouts, then serves again', async () => {
    const bounds = { connectionsMax: 4, headersTimeoutMs: 300, requestTimeoutMs: 600, timeoutCheckIntervalMs: 50 };
    const { server, port } = await startedOpsServer(bounds, slowApi(0));
    servers.push(server);
    const startedMs = Date.now();
    const held = await Promise.all([
      heldRequest(port, 'POST /v1/queues/q/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"pay\r\n'),
      heldRequest(port, 'POST /v1/queues/q/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"pay'),
      heldRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n'),
      heldRequest(port, 'GET /hea'),
    ]);
    expect(await healthStatus(port), 'a fifth connection while four are held').to.not.equal(200);
    const answers = await Promise.all(held.map(({ closed }) => closed));
    const heldMs = Date.now() - startedMs;
    expect(answers.map((text) => text.split('\r\n', 1)[0])).to.deep.equal(Array(4).fill('HTTP/1.1 408 Request Timeout'));
    expect(heldMs, 'every held request ends within its timeout and one check interval (plus slack)').to.be.below(bounds.requestTimeoutMs + 700);
    expect(await healthStatus(port)).to.equal(200);
  });

  it('answers a long poll that outlives the request timeout (only receiving a request is timed)', async () => {
    const { server, port } = await startedOpsServer({ headersTimeoutMs: 200, requestTimeoutMs: 300, timeoutCheckIntervalMs: 50 }, slowApi(1_000));
    servers.push(server);
    const response = await fetch(`http://127.0.0.1:${port}/v1/pull`, { method: 'POST', body: '{"queue":"q","waitMs":1000}' });
    expect([response.status, await response.text()]).to.deep.equal([200, '{"jobs":[]}']);
  });

  it('closes an idle keep-alive connection after its idle timeout', async () => {
    const { server, port } = await startedOpsServer({ keepAliveTimeoutMs: 200 });
    servers.push(server);
    const startedMs = Date.now();
    const { closed } = await heldRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = await closed;
    expect(answer.split('\r\n', 1)[0]).to.equal('HTTP/1.1 200 OK');
    expect(Date.now() - startedMs).to.be.within(150, 2_000);
  });
});
