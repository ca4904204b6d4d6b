/**
 * Attacks on the HTTP API and the gRPC service with a client's bytes, on one real node (HTTP on
 * its ops port, gRPC on its grpcPort): after each, the node still serves (/healthz 200, an
 * enqueue over HTTP answered 201).
 *
 * HELD (kept as guards): malformed JSON, a 200 000-deep nested payload, invalid UTF-8, a huge
 * Content-Length, a chunked body that never ends and a slow body, 300 such connections at once;
 * HTTP/1 bytes, garbage and a bad frame after the HTTP/2 preface on the gRPC port, a gRPC message
 * prefix announcing 4 GiB, bytes that are not protobuf, and a message above the frame bound.
 *
 * BROKEN, skipped (it opens about as many sockets as the node may hold files, too heavy for the
 * suite; run it alone with FALCON_ATTACK_FLOOD=1): the ops port has no connection bound and keeps
 * a request whose body never ends for Node's default 300 s, so one unauthenticated peer holding
 * slow requests takes every file descriptor of the node: /healthz stops answering and the client
 * port accepts no new connection (hello fails) until those sockets close. Measured: 19 800 slow
 * connections on a node limited to 20 000 files.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { FalconClient } from '../../src/client/index.js';
import { createGrpcTestCluster, type GrpcTestCluster } from '../grpc/grpc-cluster.js';
import { FalconQueueClient } from '../grpc/proto-client.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { removeTestCluster } from '../support/test-cluster.js';

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

  it('HELD: HTTP: malformed, deeply nested, invalid UTF-8, oversized and never-ending bodies', async () => {
    const cases: Array<[string, Array<string | Buffer>, number]> = [
      ['truncated JSON', [post('/v1/queues/bytes/jobs', '{"payload":')], 400],
      ['200 000-deep nesting', [post('/v1/queues/bytes/jobs', `{"payload":${'['.repeat(200_000)}${']'.repeat(200_000)}}`)], 400],
      ['invalid UTF-8', [post('/v1/queues/bytes/jobs', Buffer.concat([Buffer.from('{"payload":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]))], 400],
      ['a Content-Length of 1 TB', ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n{"payload":1}'], 413],
      ['a chunk announcing 256 MiB', ['POST /v1/queues/bytes/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nfffffff\r\n', 'a'.repeat(4096)], 0],
    ];
    const statuses: Record<string, number> = {};
    for (const [label, parts] of cases) {
      const { text, socket } = await rawExchange(opsPort, parts, 1_500);
      socket.destroy();
      statuses[label] = statusOf(text);
    }
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

  it('HELD: gRPC: HTTP/1 bytes, garbage, a bad HTTP/2 frame, a 4 GiB length prefix, non-protobuf bytes and an oversize message', async () => {
    const grpcAddress = cluster.grpcAddresses.get('n1') ?? '';
    const grpcPort = Number(grpcAddress.split(':')[1]);
    for (const bytes of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(100_000, 0xff),
      Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(5_000, 0x41)])]) {
      (await rawExchange(grpcPort, [bytes], 300)).socket.destroy();
    }
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

  const flood = process.env['FALCON_ATTACK_FLOOD'] === '1' ? it : it.skip;
  flood('BROKEN: slow HTTP requests from one peer take every file descriptor of the node (the ops port has no connection bound)', async () => {
    const pid = nodes.process('n1').child.pid ?? 0;
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
    const filesMax = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? 1024);
    // Two helper processes, each under its own file limit, hold the slow requests.
    const perHelper = Math.ceil(filesMax / 2);
    const script = `const net=require('net');const s=[];(async()=>{for(let i=0;i<${perHelper};i++){const c=net.connect(${opsPort},'127.0.0.1');c.on('error',()=>{});`
      + `c.on('connect',()=>c.write('POST /v1/queues/x/jobs HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\n{"pay\\r\\n'));s.push(c);`
      + `if(i%500===499)await new Promise(r=>setTimeout(r,20));}console.log('held');})();setTimeout(()=>process.exit(0),60000);`;
    const helpers = [0, 1].map(() => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }));
    try {
      await Promise.all(helpers.map((helper) => new Promise((resolve) => helper.stdout?.once('data', resolve))));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const health = await fetch(`${nodes.opsUrl('n1')}/healthz`, { signal: AbortSignal.timeout(3_000) }).then((response) => response.status, () => 0);
      const client = new FalconClient({ nodes: [`127.0.0.1:${nodes.node('n1').clientPort}`], deadlineMs: 3_000 });
      const stats = await client.stats().then(() => 'answered', (error: Error) => error.message);
      await client.close();
      expect({ health, stats }, `with ${perHelper * 2} slow HTTP requests open (the node may hold ${filesMax} files)`).to.deep.equal({ health: 200, stats: 'answered' });
    } finally {
      for (const helper of helpers) helper.kill('SIGKILL');
    }
  });
});
