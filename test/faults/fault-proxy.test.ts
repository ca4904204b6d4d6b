/**
 * The fault proxy on plain TCP servers (an echo and a sink): each fault does to the bytes what a
 * test of the cluster relies on — latency delays without reordering, a bandwidth limit bounds the
 * rate, drop discards, blackhole passes nothing while holding bounded memory, a cut ends the
 * connection after exactly N bytes, and a heal restores the flow in order.
 *
 * Runs on: the mocha process (loopback only).
 */
import { expect } from 'chai';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FaultProxy } from '../../src/faults/fault-proxy.js';
import { LinkFaults } from '../../src/faults/link-faults.js';
import { waitUntil } from '../support/wait-until.js';

const seed = Number(process.env['FAULT_SEED'] ?? 20_261_202);
/** A socket read is at most 64 KiB: a pipe may hold one read beyond its bound. */
const socketReadBytesMax = 64 * 1024;
const pipeBufferedBytesMax = 256 * 1024;

interface Sink {
  readonly server: Server;
  readonly port: number;
  /** Every chunk received, with performance.now() at its arrival. */
  readonly chunks: Array<{ atMs: number; bytes: Buffer }>;
  readonly closed: Promise<void>;
  receivedBytes(): number;
  received(): Buffer;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A server that keeps what its first connection sends. */
async function startSink(): Promise<Sink> {
  const chunks: Array<{ atMs: number; bytes: Buffer }> = [];
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => { closedResolve = resolve; });
  const server = createServer((socket) => {
    socket.on('data', (bytes: Buffer) => chunks.push({ atMs: performance.now(), bytes }));
    socket.on('error', () => undefined);
    socket.on('close', () => closedResolve());
  });
  const port = await listen(server);
  return {
    server, port, chunks, closed,
    receivedBytes: () => chunks.reduce((total, chunk) => total + chunk.bytes.length, 0),
    received: () => Buffer.concat(chunks.map((chunk) => chunk.bytes)),
  };
}

async function startEcho(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  return { server, port: await listen(server) };
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

/** Bytes 0..count-1 of a pattern whose order a reader can check. */
function patternBytes(count: number, offset = 0): Buffer {
  const bytes = Buffer.alloc(count);
  for (let index = 0; index < count; index += 1) bytes[index] = (offset + index) % 251;
  return bytes;
}

describe('the fault proxy (one link, plain TCP)', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<void> | void> = [];
  let forward: LinkFaults;
  let backward: LinkFaults;

  beforeEach(() => {
    forward = new LinkFaults('a->b', seed);
    backward = new LinkFaults('b->a', seed + 1);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(`fault proxy seed: ${seed} (FAULT_SEED=${seed} replays it)`);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function proxyTo(port: number): Promise<FaultProxy> {
    const proxy = new FaultProxy({ name: 'a<->b', target: { host: '127.0.0.1', port }, forward, backward, pipeBufferedBytesMax });
    await proxy.start();
    cleanups.push(() => proxy.close());
    return proxy;
  }

  async function echoThroughProxy(): Promise<{ proxy: FaultProxy; client: Socket }> {
    const echo = await startEcho();
    cleanups.push(() => new Promise<void>((resolve) => echo.server.close(() => resolve())));
    const proxy = await proxyTo(echo.port);
    const client = await dial(proxy.port);
    cleanups.push(() => { client.destroy(); });
    return { proxy, client };
  }

  async function sinkThroughProxy(): Promise<{ proxy: FaultProxy; client: Socket; sink: Sink }> {
    const sink = await startSink();
    cleanups.push(() => new Promise<void>((resolve) => sink.server.close(() => resolve())));
    const proxy = await proxyTo(sink.port);
    const client = await dial(proxy.port);
    cleanups.push(() => { client.destroy(); });
    return { proxy, client, sink };
  }

  it('adds the configured latency to each chunk, with jitter, and never reorders bytes', async () => {
    const { client } = await echoThroughProxy();
    forward.setLatency({ meanMs: 40, jitterMs: 30 });
    backward.setLatency({ meanMs: 40, jitterMs: 30 });
    const echoed: Buffer[] = [];
    client.on('data', (chunk: Buffer) => echoed.push(chunk));
    const chunkCount = 2_000;
    const chunkBytes = 37;
    const startedMs = performance.now();
    let firstEchoMs = 0;
    client.once('data', () => { firstEchoMs = performance.now() - startedMs; });
    // Separate turns, so the proxy reads separate chunks and draws a delay for each.
    for (let index = 0; index < chunkCount; index += 1) {
      client.write(patternBytes(chunkBytes, index * chunkBytes));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitUntil(() => echoed.reduce((total, chunk) => total + chunk.length, 0) >= chunkCount * chunkBytes, 'every byte echoed back');
    expect(Buffer.concat(echoed).equals(patternBytes(chunkCount * chunkBytes)), 'the bytes come back in the order sent').to.equal(true);
    // Two passes through the proxy, each at least meanMs - jitterMs = 10 ms.
    expect(firstEchoMs, 'the round trip includes both delays').to.be.at.least(19);
  });

  it('keeps the rate of a bandwidth-limited direction under its limit', async () => {
    const { client, sink } = await sinkThroughProxy();
    const bytesPerSecond = 200_000;
    forward.limitBandwidth(bytesPerSecond);
    const totalBytes = 300_000;
    const startedMs = performance.now();
    client.write(patternBytes(totalBytes));
    await waitUntil(() => sink.receivedBytes() >= totalBytes, 'every byte through the limited link', 10_000);
    // At each arrival, what arrived so far is at most what the limit allows since the start,
    // plus one slice of 10 ms (2 KB here) for the first slice, which leaves at once.
    const sliceBytes = bytesPerSecond / 100;
    let cumulative = 0;
    for (const chunk of sink.chunks) {
      cumulative += chunk.bytes.length;
      const allowedBytes = (bytesPerSecond * (chunk.atMs - startedMs)) / 1000 + sliceBytes;
      expect(cumulative, `bytes received by ${Math.round(chunk.atMs - startedMs)} ms`).to.be.at.most(allowedBytes);
    }
    expect(sink.received().equals(patternBytes(totalBytes))).to.equal(true);
  });

  it('discards the bytes of a dropping direction and passes what comes after the heal', async () => {
    const { client, sink } = await sinkThroughProxy();
    forward.setMode('drop');
    client.write('lost in the wire');
    await waitUntil(() => forward.stats.bytesDropped === 'lost in the wire'.length, 'the proxy read and dropped the bytes');
    forward.reset();
    client.write('after');
    await waitUntil(() => sink.receivedBytes() >= 'after'.length, 'the bytes sent after the heal');
    expect(sink.received().toString()).to.equal('after');
  });

  it('passes nothing through a blackhole and holds bounded memory while 50 MB wait, then delivers them in order on heal', async () => {
    const { proxy, client, sink } = await sinkThroughProxy();
    forward.setMode('blackhole');
    const totalBytes = 50 * 1024 * 1024;
    client.write(patternBytes(totalBytes));
    // The sender stops once the kernel buffers on the way are full; a proxy that read and kept
    // everything would instead take all 50 MB within these polls.
    let lastPending = -1;
    let stablePolls = 0;
    await waitUntil(() => {
      stablePolls = client.writableLength === lastPending ? stablePolls + 1 : 0;
      lastPending = client.writableLength;
      return stablePolls >= 10;
    }, 'the sender blocked by the blackhole', 10_000);
    expect(client.writableLength, 'bytes the sender could not send').to.be.above(totalBytes / 2);
    expect(sink.receivedBytes(), 'bytes through the blackhole').to.equal(0);
    expect(proxy.connectionCount, 'the connection stays open').to.equal(1);
    expect(proxy.bufferedBytesPeak, 'bytes held by the proxy').to.be.at.most(pipeBufferedBytesMax + socketReadBytesMax);

    forward.reset();
    await waitUntil(() => sink.receivedBytes() >= totalBytes, 'all 50 MB after the heal', 20_000);
    expect(sink.received().equals(patternBytes(totalBytes)), 'the bytes arrive complete and in order').to.equal(true);
    expect(proxy.bufferedBytesPeak, 'bytes held by the proxy while 50 MB flowed').to.be.at.most(2 * (pipeBufferedBytesMax + socketReadBytesMax));
  });

  it('holds a slow direction to its bound by pausing the sender, not by buffering', async () => {
    const { proxy, client, sink } = await sinkThroughProxy();
    forward.setLatency({ meanMs: 20, jitterMs: 10 });
    const totalBytes = 8 * 1024 * 1024;
    client.write(patternBytes(totalBytes));
    await waitUntil(() => sink.receivedBytes() >= totalBytes, 'every byte through the slow link', 20_000);
    expect(sink.received().equals(patternBytes(totalBytes))).to.equal(true);
    expect(proxy.bufferedBytesPeak, 'bytes held by the proxy').to.be.at.most(2 * (pipeBufferedBytesMax + socketReadBytesMax));
  });

  it('cuts the connection after exactly N bytes of a direction, mid-frame', async () => {
    const { proxy, client, sink } = await sinkThroughProxy();
    forward.cutAfter(40);
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.write(patternBytes(100));
    await Promise.all([sink.closed, clientClosed]);
    expect(sink.received().equals(patternBytes(40)), 'the receiver got the first 40 bytes of the frame').to.equal(true);
    expect(forward.stats.connectionsCut).to.equal(1);
    expect(proxy.connectionCount).to.equal(0);
  });

  it('cuts every connection now on cutAll, and accepts new ones afterwards', async () => {
    const { proxy, client } = await echoThroughProxy();
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(proxy.cutAll()).to.equal(1);
    await clientClosed;
    const again = await dial(proxy.port);
    cleanups.push(() => { again.destroy(); });
    const echoed = new Promise<string>((resolve) => again.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    again.write('ping');
    expect(await echoed).to.equal('ping');
  });

  it('applies each direction its own faults: a one-way blackhole lets the other direction pass', async () => {
    const { client, sink } = await sinkThroughProxy();
    backward.setMode('blackhole');
    client.write('one way');
    await waitUntil(() => sink.receivedBytes() >= 'one way'.length, 'the forward bytes');
    expect(sink.received().toString()).to.equal('one way');
  });
});
