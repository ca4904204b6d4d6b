/**
 * The gateway's pool of connections to its node's client port, against a stand-in client port
 * (a loopback TCP server speaking the protocol's frames) that records every hello: one connection
 * per bearer token with the token in its hello, shared by concurrent calls; a bounded pool that
 * closes the least recently used idle connection and refuses when every one is busy; a closed
 * connection replaced on the next call; a call the node never answers ended at its bound.
 */
import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import { decode, encode } from '../../src/codec/msgpack.js';
import { FrameDecoder, encodeFrame } from '../../src/net/frame-decoder.js';
import { GatewayConnections } from '../../src/grpc/gateway-connections.js';

type Request = Record<string, unknown> & { id: number; type: string };

/** A client port that answers hello at once, `echo` at once, and `park` only when released. */
class StandInClientPort {
  readonly hellos: Array<string | undefined> = [];
  readonly sockets = new Set<Socket>();
  private readonly parked: Array<() => void> = [];
  private parkedWaiter: { readonly count: number; readonly resolve: () => void } | undefined;
  private readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const decoder = new FrameDecoder(1 << 20);
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk, (body) => this.onRequest(socket, decode(Buffer.from(body)) as Request));
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  private onRequest(socket: Socket, request: Request): void {
    const answer = (): void => { socket.write(encodeFrame(encode({ id: request.id, type: request.type }))); };
    if (request.type === 'hello') this.hellos.push(request['token'] as string | undefined);
    if (request.type === 'park') this.parked.push(answer);
    else answer();
    if (this.parkedWaiter !== undefined && this.parked.length >= this.parkedWaiter.count) this.parkedWaiter.resolve();
  }

  /** Resolves once `count` requests are parked here. */
  parkedReach(count: number): Promise<void> {
    if (this.parked.length >= count) return Promise.resolve();
    return new Promise((resolve) => { this.parkedWaiter = { count, resolve }; });
  }

  releaseParked(): void {
    for (const answer of this.parked.splice(0)) answer();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('the gRPC gateway connections to its node', () => {
  let port: StandInClientPort;
  let pool: GatewayConnections;

  beforeEach(async () => {
    port = new StandInClientPort();
    const clientPort = await port.listen();
    pool = new GatewayConnections({ host: '127.0.0.1', clientPort, frameBytesMax: 1 << 20, connectionsMax: 2, clientName: 'test' });
  });

  afterEach(async () => {
    pool.close();
    await port.close();
  });

  it("open one connection per bearer token, with the token in its hello, shared by that token's concurrent calls", async () => {
    await Promise.all([pool.request('t1', { type: 'echo' }), pool.request('t1', { type: 'echo' }), pool.request(undefined, { type: 'echo' })]);
    expect([...port.hellos].sort()).to.deep.equal(['t1', undefined]);
    expect(pool.size).to.equal(2);
  });

  it('close the least recently used idle connection for a new token, and refuse one when every connection is busy', async () => {
    await pool.request('t1', { type: 'echo' });
    await pool.request('t2', { type: 'echo' });
    await pool.request('t1', { type: 'echo' });
    await pool.request('t3', { type: 'echo' }); // t2 was idle the longest
    expect(port.hellos).to.deep.equal(['t1', 't2', 't3']);
    expect(pool.size).to.equal(2);

    const parked = [pool.request('t1', { type: 'park' }), pool.request('t3', { type: 'park' })];
    let refusal: unknown;
    try {
      await pool.request('t4', { type: 'echo' });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).to.include({ code: 'RESOURCE_EXHAUSTED', sent: false });
    await port.parkedReach(2);
    port.releaseParked();
    await Promise.all(parked);
  });

  it('replace a connection the node closed on the next call, with a fresh hello', async () => {
    await pool.request('t1', { type: 'echo' });
    for (const socket of port.sockets) socket.destroy();
    // A call may still meet the old connection before its close is seen: it fails UNAVAILABLE, and
    // the call after it opens the new one. Bounded: the close arrives within a few turns.
    for (let attempt = 0; attempt < 50 && port.hellos.length < 2; attempt += 1) {
      await pool.request('t1', { type: 'echo' }).catch((error: unknown) => expect(error).to.include({ code: 'UNAVAILABLE' }));
    }
    await pool.request('t1', { type: 'echo' });
    expect(port.hellos).to.deep.equal(['t1', 't1']);
  });

  it('end a call the node took and never answers within its bound, UNAVAILABLE with the outcome unknown, and free its slot', async () => {
    await pool.request('t1', { type: 'echo' });
    const startedAt = Date.now();
    let failure: unknown;
    try {
      await pool.request('t1', { type: 'park' }, 100);
    } catch (error) {
      failure = error;
    }
    expect(failure).to.include({ code: 'UNAVAILABLE', sent: true });
    expect(Date.now() - startedAt).to.be.below(1_000);
    // The connection stays for the next calls, and t1 is idle again: a third token may take its place.
    await pool.request('t2', { type: 'echo' });
    await pool.request('t3', { type: 'echo' });
    expect(port.hellos).to.deep.equal(['t1', 't2', 't3']);
  });
});
