/**
 * Attacks on the HTTP API and the gRPC service with a client's bytes, on one real node (HTTP on
 * its ops port, gRPC on its grpcPort): after each, the node still serves (/healthz 200, an
 * enqueue over HTTP answered 201).
 *
 * Guards: malformed JSON, a 200 000-deep nested payload, invalid UTF-8, a huge Content-Length, a
 * chunked body that never ends and a slow body, 300 such connections at once; HTTP/1 bytes,
 * garbage and a bad frame after the HTTP/2 preface on the gRPC port, a gRPC message prefix
 * announcing 4 GiB, bytes that are not protobuf, and a message above the frame bound.
 *
 * Once broken, now a promise: the ops port had no connection bound and kept a request whose body
 * never ends for Node's default 300 s, so one peer holding 19 800 slow requests took every file of
 * a node limited to 20 000: /healthz stopped answering and the client port took no connection.
 * Now the ops port holds at most `opsServerBounds.connectionsMax` (1 024) and ends a request not
 * received within `requestTimeoutMs` (30 s) with 408. In the suite: 1 100 slow connections, of
 * which the node keeps at most 1 024 while its client port answers. The full flood (as many
 * sockets as the node may hold files, then /healthz again once they time out, about 35 s) is
 * opt-in: FALCON_ATTACK_FLOOD=1. test/http/ops-server-bounds.test.ts checks the bounds one by one.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { FalconClient } from '../../src/client/index.js';
import { opsServerBounds } from '../../src/http/ops-server.js';
import { createGrpcTestCluster, type GrpcTestCluster } from '../grpc/grpc-cluster.js';
import { FalconQueueClient } from '../grpc/proto-client.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { removeTestCluster, waitForHttp } from '../support/test-cluster.js';

/** Writes `parts` (10 ms apart) on a fresh connection; resolves with what came back within `waitMs`. */
async function rawExchange(port: number, parts: ReadonlyArray<string | Buffer>, waitMs: number): Promise<{ text: string; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port });
  let text = '';
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  for (const part of parts) {
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  return { text, socket };
}

function post(path: string, body: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`), bytes]);
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

describe("api attack: a client's bytes never take a node down", function () {
  this.timeout(90_000);
  let cluster: GrpcTestCluster;
  let nodes: ClusterNodes;
  let opsPort: number;

  before(async () => {
    cluster = await createGrpcTestCluster(1);
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    opsPort = nodes.node('n1').opsPort;
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  async function stillServes(after: string): Promise<void> {
    const health = await fetch(`${nodes.opsUrl('n1')}/healthz`, { signal: AbortSignal.timeout(3_000) });
    expect(health.status, `/healthz after ${after}`).to.equal(200);
    const enqueue = await fetch(`${nodes.opsUrl('n1')}/v1/queues/bytes/jobs`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"payload":{"ok":true}}', signal: AbortSignal.timeout(5_000),
    });
    expect(enqueue.status, `an enqueue after ${after}`).to.equal(201);
  }

  it('HTTP: malformed, deeply nested, invalid UTF-8, oversized and never-ending bodies', async () => {
    const cases: Array<[string, Array<string | Buffer>, number]> = [
      ['truncated JSON', [post('/v1/queues/bytes/jobs', '{"payload":')], 400],
      ['200 000-deep nesting', [post('/v1/queues/bytes/jobs', `{"payload":${'['.repeat(200_000)}${']'.repeat(200_000)}}`)], 400],
      ['invalid UTF-8', [post('/v1/queues/bytes/jobs', Buffer.concat([Buffer.from('{"payload":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]))], 400],
      ['a Content-Length of 1 TB', ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n{"payload":1}'], 413],
      ['a chunk announcing 256 MiB', ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nfffffff\r\n', 'a'.repeat(4096)], 0],
    ];
    // Each case on its own connection, all at once: a case that gets no answer waits its 1.5 s
    // alongside the others instead of after them.
    const statuses: Record<string, number> = Object.fromEntries(await Promise.all(cases.map(async ([label, parts]) => {
      const { text, socket } = await rawExchange(opsPort, parts, 1_500);
      socket.destroy();
      return [label, statusOf(text)] as const;
    })));
    expect(statuses).to.deep.equal(Object.fromEntries(cases.map(([label, , status]) => [label, status])));
    // 300 connections at once whose bodies never end, or trickle in.
    const hanging = await Promise.all(Array.from({ length: 300 }, (_, n) => rawExchange(opsPort, n % 2 === 0
      ? ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"pay\r\n']
      : ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"pay', 'load"'], 0)));
    try {
      await stillServes('300 hanging bodies');
    } finally {
      for (const { socket } of hanging) socket.destroy();
    }
    await stillServes('the HTTP attacks');
  });

  it('gRPC: HTTP/1 bytes, garbage, a bad HTTP/2 frame, a 4 GiB length prefix, non-protobuf bytes and an oversize message', async () => {
    const grpcAddress = cluster.grpcAddresses.get('n1') ?? '';
    const grpcPort = Number(grpcAddress.split(':')[1]);
    await Promise.all([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(100_000, 0xff),
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(5_000, 0x41)])].map(async (bytes) => {
      (await rawExchange(grpcPort, [bytes], 300)).socket.destroy();
    }));
    const session = http2Connect(`http://${grpcAddress}`);
    session.on('error', () => undefined);
    const statuses: string[] = [];
    for (const body of [Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 2]), Buffer.from([0, 0, 0]), Buffer.from([0, 0, 0, 0, 3, 0xff, 0xff, 0xff])]) {
      const stream = session.request({ ':method': 'POST', ':path': '/falconqueue.v1.FalconQueueService/SubmitJob', 'content-type': 'application/grpc', te: 'trailers' });
      let status = 'none';
      stream.on('response', (headers) => { status = String(headers['grpc-status'] ?? status); });
      stream.on('trailers', (headers) => { status = String(headers['grpc-status'] ?? status); });
      stream.on('error', () => undefined);
      stream.end(body);
      await new Promise((resolve) => { stream.on('close', resolve); });
      statuses.push(status);
    }
    session.close();
    expect(statuses.every((status) => status !== 'none' && status !== '0'), `grpc-status of the bad messages: ${statuses.join(', ')}`).to.equal(true);
    const client = new FalconQueueClient(grpcAddress);
    try {
      const notProtobuf = await client.callWithRawBytes('SubmitJob', Buffer.from([0x0a, 0x80]));
      const oversize = await client.call('SubmitJob', { queue: 'bytes', payload: Buffer.alloc(5 * 1024 * 1024) });
      expect([notProtobuf.ok, oversize.ok]).to.deep.equal([false, false]);
      const fine = await client.call('SubmitJob', { queue: 'bytes', payload: Buffer.from('ok') });
      expect(fine.ok, JSON.stringify(fine)).to.equal(true);
    } finally {
      client.close();
    }
    await stillServes('the gRPC attacks');
  });

  /** Resolves once `count` of `closings` have resolved; rejects after `withinMs`. */
  async function someClosed(closings: ReadonlyArray<Promise<unknown>>, count: number, withinMs: number): Promise<void> {
    let closed = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${closed} of ${closings.length} connections were closed within ${withinMs} ms`)), withinMs);
      for (const closing of closings) {
        void closing.then(() => {
          closed += 1;
          if (closed === count) { clearTimeout(timer); resolve(); }
        });
      }
    });
  }

  it('the ops port keeps at most 1 024 connections: more slow requests are refused at once, and the client port still answers', async () => {
    const extra = 76;
    const sockets: Socket[] = [];
    const closings: Array<Promise<unknown>> = [];
    try {
      for (let n = 0; n < opsServerBounds.connectionsMax + extra; n += 1) {
        const socket = connect({ host: '127.0.0.1', port: opsPort });
        socket.on('error', () => undefined);
        socket.on('connect', () => socket.write('POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"pay\r\n'));
        closings.push(new Promise((resolve) => socket.once('close', resolve)));
        sockets.push(socket);
      }
      // The node closes every connection past its bound as it accepts it; it holds the others.
      await someClosed(closings, extra, 10_000);
      const client = new FalconClient({ nodes: [`127.0.0.1:${nodes.node('n1').clientPort}`], deadlineMs: 3_000 });
      const stats = await client.stats().then(() => 'answered', (error: Error) => error.message);
      await client.close();
      expect(stats, 'a stats request on the client port while the ops port is full').to.equal('answered');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    await stillServes('the ops port was full');
  });

  const flood = process.env['FALCON_ATTACK_FLOOD'] === '1' ? it : it.skip;
  flood('slow HTTP requests from one peer, as many as the node may hold files, leave its client port answering; /healthz answers once they time out', async function () {
    this.timeout(120_000);
    const pid = nodes.process('n1').child.pid ?? 0;
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
    const filesMax = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? 1024);
    // Two helper processes, each under its own file limit, hold the slow requests.
    const perHelper = Math.ceil(filesMax / 2);
    const script = `const net=require('net');const s=[];(async()=>{for(let i=0;i<${perHelper};i++){const c=net.connect(${opsPort},'127.0.0.1');c.on('error',()=>{});`
      + `c.on('connect',()=>c.write('POST /v1/queues/x/jobs HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\n{"pay\\r\\n'));s.push(c);`
      + `if(i%500===499)await new Promise(r=>setTimeout(r,20));}console.log('held');})();setTimeout(()=>process.exit(0),100000);`;
    const helpers = [0, 1].map(() => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }));
    try {
      await Promise.all(helpers.map((helper) => new Promise((resolve) => helper.stdout?.once('data', resolve))));
      const floodedMs = Date.now();
      const healthFlooded = await fetch(`${nodes.opsUrl('n1')}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((response) => response.status, () => 0);
      expect(healthFlooded, 'the flood fills the ops port (else this test proves nothing)').to.not.equal(200);
      const client = new FalconClient({ nodes: [`127.0.0.1:${nodes.node('n1').clientPort}`], deadlineMs: 3_000 });
      const stats = await client.stats().then(() => 'answered', (error: Error) => error.message);
      await client.close();
      expect(stats, `with ${perHelper * 2} slow HTTP requests sent (the node may hold ${filesMax} files)`).to.equal('answered');
      // The held requests end (408) within the request timeout and a check interval: /healthz again.
      await waitForHttp(`${nodes.opsUrl('n1')}/healthz`, (status) => status === 200, opsServerBounds.requestTimeoutMs + 10_000);
      expect(Date.now() - floodedMs).to.be.below(opsServerBounds.requestTimeoutMs + 10_000);
    } finally {
      for (const helper of helpers) helper.kill('SIGKILL');
    }
  });
});
