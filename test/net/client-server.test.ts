/**
 * The client server, driven by a client written only with node:net and @msgpack/msgpack
 * (plain-client.ts) against a small in-test handler: pipelined requests are answered out of order
 * by id; bad bytes get an error frame and a closed connection while other connections go on; a bad
 * field is answered and the connection stays usable; a client that never reads is cut off at the
 * send-queue bound; the connection bound and the server's close hold.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { encode as plainEncode } from '@msgpack/msgpack';
import { ClientServer, type ClientConnection, type ClientRequestHandler, type ClientServerOptions } from '../../src/net/client-server.js';
import type { ClientRequest } from '../../src/protocol/client.js';
import { createClientRequestChecker } from '../../src/protocol/client-validation.js';
import { falconError } from '../../src/errors.js';
import { errorReply } from '../../src/net/client-frames.js';
import { PlainClient, type Message } from './plain-client.js';

/** A queue just real enough to pull, long-poll and ack, answering through the server. */
class FakeQueueHandler implements ClientRequestHandler<ClientRequest> {
  readonly batchSizes: number[] = [];
  readonly closedReasons: string[] = [];
  private readonly ready: Array<{ id: number; payload: Uint8Array }> = [];
  private readonly leases = new Map<number, number>();
  private readonly parkedPulls: Array<{ connection: ClientConnection; id: number; jobsMax: number }> = [];
  private nextJobId = 4097;
  private nextToken = 100;
  onClosed: () => void = () => undefined;

  onRequests(connection: ClientConnection, requests: readonly ClientRequest[]): void {
    this.batchSizes.push(requests.length);
    for (const request of requests) this.onRequest(connection, request);
  }

  onConnectionClosed(_connection: ClientConnection, reason: string): void {
    this.closedReasons.push(reason);
    this.onClosed();
  }

  private onRequest(connection: ClientConnection, request: ClientRequest): void {
    switch (request.type) {
      case 'hello':
        connection.send({ id: request.id, protocol: 1, node: 'n1', leader: 'n1', producerId: request.producerId ?? `p-${connection.connectionId}` });
        return;
      case 'enqueue': {
        const jobs = request.jobs.map((job) => ({ id: this.nextJobId++, payload: job.payload }));
        this.ready.push(...jobs);
        connection.send({ id: request.id, jobs: jobs.map((job) => ({ id: job.id, state: 'ready', duplicate: false })) });
        for (const parked of this.parkedPulls.splice(0)) this.lease(parked.connection, parked.id, parked.jobsMax);
        return;
      }
      case 'pull':
        if (this.ready.length === 0 && (request.waitMs ?? 0) > 0) this.parkedPulls.push({ connection, id: request.id, jobsMax: request.jobsMax });
        else this.lease(connection, request.id, request.jobsMax);
        return;
      case 'ack': {
        const token = this.leases.get(request.jobId);
        if (token !== request.token) connection.send(errorReply(request.id, falconError('LEASE_LOST', `job ${request.jobId} is not leased with token ${request.token}`)));
        else connection.send({ id: request.id, repeated: false });
        return;
      }
      case 'get':
        connection.send({ id: request.id, job: { id: request.jobId, payload: new Uint8Array(256 * 1024) } });
        return;
      default:
        connection.send(errorReply(request.id, falconError('UNAVAILABLE', `${request.type} is not served by this test`)));
    }
  }

  private lease(connection: ClientConnection, id: number, jobsMax: number): void {
    const jobs = this.ready.splice(0, jobsMax).map((job) => {
      const token = this.nextToken++;
      this.leases.set(job.id, token);
      return { id: job.id, queue: 'email', payload: job.payload, contentType: 'application/octet-stream', priority: 0, attempt: 1, attemptsMax: 5, token, deadlineMs: 1, enqueuedAtMs: 1 };
    });
    connection.send({ id, jobs });
  }
}

describe('client server', function () {
  this.timeout(20_000);
  const servers: Array<ClientServer<ClientRequest>> = [];
  const clients: PlainClient[] = [];
  let logs: string[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
    logs = [];
  });

  async function start(overrides: Partial<ClientServerOptions<ClientRequest>> = {}): Promise<{ server: ClientServer<ClientRequest>; handler: FakeQueueHandler; port: number }> {
    const handler = new FakeQueueHandler();
    const sink = new Writable({ write(chunk: Buffer, _encoding, done) { logs.push(chunk.toString()); done(); } });
    const server = new ClientServer<ClientRequest>({
      host: '127.0.0.1', port: 0, frameBytesMax: 1024 * 1024, logger: pino({ level: 'info' }, sink),
      checkRequest: createClientRequestChecker({ payloadBytesMax: 1024 }), handler, ...overrides,
    });
    servers.push(server);
    const { port } = await server.listen();
    return { server, handler, port };
  }

  async function client(port: number): Promise<PlainClient> {
    const connected = await PlainClient.connect(port);
    clients.push(connected);
    return connected;
  }

  it('answers pipelined hello, pull, enqueue and ack by id, out of order, to a client with another codec', async () => {
    const { port, handler, server } = await start();
    const producer = await client(port);
    producer.send(
      { id: 1, type: 'hello', protocol: 1, client: 'plain' },
      { id: 2, type: 'pull', queue: 'email', jobsMax: 2, waitMs: 5000, workerId: 'w1' },
      { id: 3, type: 'enqueue', queue: 'email', jobs: [{ payload: new Uint8Array([1, 2]) }, { payload: new Uint8Array([3]), idempotencyKey: 'order-42' }] },
    );
    const replies = await producer.repliesUpTo(3);
    expect(replies.map((reply) => reply['id'])).to.deep.equal([1, 3, 2]); // the parked pull is answered after the enqueue
    expect(replies[0]).to.deep.equal({ id: 1, protocol: 1, node: 'n1', leader: 'n1', producerId: 'p-1' });
    expect(replies[1]).to.deep.equal({ id: 3, jobs: [{ id: 4097, state: 'ready', duplicate: false }, { id: 4098, state: 'ready', duplicate: false }] });
    expect(handler.batchSizes[0]).to.equal(3); // one socket read, one hand-over
    const pulled = (replies[2]?.['jobs'] as Message[]);
    expect(pulled.map((job) => [job['id'], [...(job['payload'] as Uint8Array)]])).to.deep.equal([[4097, [1, 2]], [4098, [3]]]);

    producer.send(
      { id: 4, type: 'ack', jobId: 4097, token: pulled[0]?.['token'] as number },
      { id: 5, type: 'ack', jobId: 4098, token: 1 },
    );
    expect(await producer.reply(4)).to.deep.equal({ id: 4, repeated: false });
    expect(await producer.reply(5)).to.deep.include({ id: 5, error: { code: 'LEASE_LOST', message: 'job 4098 is not leased with token 1' } });
    expect(server.counters).to.deep.include({ framesIn: 5, framesOut: 5, writes: 2, invalidRequests: 0, badFrames: 0 }); // one write per batch of replies
  });

  it('answers a bad field with INVALID_ARGUMENT naming it, and an oversize payload with PAYLOAD_TOO_LARGE; the connection stays usable', async () => {
    const { port, server } = await start();
    const producer = await client(port);
    producer.send(
      { id: 7, type: 'enqueue', queue: 'email', jobs: [{ payload: new Uint8Array(1) }, { payload: new Uint8Array(1), priority: 1.5 }] },
      { id: 8, type: 'enqueue', queue: 'email', jobs: [{ payload: new Uint8Array(2048) }] },
    );
    expect(await producer.reply(7)).to.deep.equal({ id: 7, error: {
      code: 'INVALID_ARGUMENT', message: 'enqueue: jobs[1].priority is not an integer from -2147483648 to 2147483647 (got 1.5)', detail: { field: 'jobs[1].priority' },
    } });
    const tooLarge = (await producer.reply(8))['error'] as Message;
    expect(tooLarge['code']).to.equal('PAYLOAD_TOO_LARGE');
    expect(tooLarge['message']).to.equal('jobs[0].payload holds 2048 bytes, above queue.payloadBytesMax (1024 bytes)');
    producer.send({ id: 9, type: 'hello', protocol: 1, producerId: 'p-9' });
    expect(await producer.reply(9)).to.deep.include({ id: 9, producerId: 'p-9' });
    expect(server.counters.invalidRequests).to.equal(2);
    expect(server.connectionCount).to.equal(1);
  });

  const badStreams: Array<[string, Buffer, string, string]> = [
    ['bytes that are not MessagePack', PlainClient.frame(Buffer.from([0xc1, 0x00])), 'MALFORMED_FRAME', 'not one MessagePack value'],
    ['a truncated map', PlainClient.frame(Buffer.from([0x83, 0xa2, 0x69, 0x64, 0x01])), 'MALFORMED_FRAME', 'not one MessagePack value'],
    ['two values in one frame', PlainClient.frame(Buffer.concat([plainEncode({ id: 1, type: 'stats' }), plainEncode(1)])), 'MALFORMED_FRAME', 'not one MessagePack value'],
    ['a body that is not a map', PlainClient.frame(plainEncode([1, 'hello'])), 'MALFORMED_FRAME', 'is not a map'],
    ['a map without an id', PlainClient.frame(plainEncode({ type: 'hello', protocol: 1 })), 'MALFORMED_FRAME', 'has no id'],
    ['a map with id 0', PlainClient.frame(plainEncode({ id: 0, type: 'hello', protocol: 1 })), 'MALFORMED_FRAME', 'has no id'],
    ['a zero length', Buffer.from([0, 0, 0, 0]), 'MALFORMED_FRAME', 'zero body length'],
    ['a length prefix over the frame maximum', Buffer.from([0xff, 0xff, 0xff, 0xf0]), 'FRAME_TOO_LARGE', '4294967280 bytes exceeds the maximum of 1048576 bytes'],
  ];
  for (const [what, bytes, code, phrase] of badStreams) {
    it(`answers ${what} with ${code} (id 0), closes that connection, and keeps serving others`, async () => {
      const { port, server } = await start();
      const healthy = await client(port);
      const bad = await client(port);
      bad.socket.write(bytes);
      const [reply] = await bad.repliesUpTo(1);
      expect(reply?.['id']).to.equal(0);
      const error = reply?.['error'] as Message;
      expect(error['code']).to.equal(code);
      expect(error['message']).to.contain(phrase);
      await bad.closed;
      healthy.send({ id: 1, type: 'hello', protocol: 1 });
      expect(await healthy.reply(1)).to.deep.include({ id: 1, node: 'n1' });
      expect(server.counters.badFrames).to.equal(1);
      expect(server.connectionCount).to.equal(1);
      expect(logs.join('')).to.contain('closing a client connection after a bad frame');
    });
  }

  it('cuts off a client that never reads at the send-queue bound, and serves others meanwhile', async () => {
    const sendQueueBytesMax = 1024 * 1024;
    const { port, server, handler } = await start({ sendQueueBytesMax });
    const cutOff = new Promise<void>((resolve) => { handler.onClosed = resolve; });
    const reader = await client(port);
    const sleeper = await client(port);
    sleeper.socket.pause(); // never reads: the kernel's buffers fill, then the node's bound
    // 400 replies of 256 KiB (100 MiB) are far more than the kernel's socket buffers hold.
    for (let batch = 0; batch < 4; batch += 1) {
      sleeper.send(...Array.from({ length: 100 }, (_, at) => ({ id: batch * 100 + at + 1, type: 'get', jobId: 1 })));
    }
    await cutOff;
    expect(server.counters.slowClientsCut).to.equal(1);
    expect(handler.closedReasons).to.deep.equal(['send queue full']);
    expect(logs.join('')).to.contain('cutting off a client that does not read its replies');
    reader.send({ id: 1, type: 'get', jobId: 1 });
    expect(((await reader.reply(1))['job'] as Message)['id']).to.equal(1);
  });

  it('survives random bytes from clients (seeded; fast-check prints the seed of a failure)', async () => {
    const { port, server } = await start();
    const healthy = await client(port);
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.boolean(),
      async (bytes, framed) => {
        const fuzzer = await client(port);
        fuzzer.socket.write(framed ? PlainClient.frame(bytes) : Buffer.from(bytes));
        fuzzer.socket.end();
        await fuzzer.closed;
      },
    ), { numRuns: 100 });
    healthy.send({ id: 1, type: 'hello', protocol: 1 });
    expect(await healthy.reply(1)).to.deep.include({ id: 1, node: 'n1' });
    expect(server.connectionCount).to.equal(1);
  });

  it('refuses a connection over connectionsMax with UNAVAILABLE', async () => {
    const { port, server } = await start({ connectionsMax: 1 });
    const first = await client(port);
    const second = await client(port);
    const [refusal] = await second.repliesUpTo(1);
    expect((refusal?.['error'] as Message)['code']).to.equal('UNAVAILABLE');
    await second.closed;
    first.send({ id: 1, type: 'hello', protocol: 1 });
    expect(await first.reply(1)).to.deep.include({ id: 1 });
    expect(server.counters.connectionsRefused).to.equal(1);
  });

  it('closing the server closes every connection', async () => {
    const { port, server } = await start();
    const connected = await Promise.all([client(port), client(port)]);
    await server.close();
    servers.length = 0;
    await Promise.all(connected.map((each) => each.closed));
    expect(server.connectionCount).to.equal(0);
  });
});
