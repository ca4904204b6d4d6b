/**
 * The peer transport connects nodes once per pair, carries messages both ways in batches,
 * refuses a misconfigured peer with a message that says what to fix, survives garbage bytes,
 * and reconnects after a peer restarts.
 */
import { expect } from 'chai';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PeerTransport, type PeerTransportOptions } from '../../src/net/peer-transport.js';
import type { NodeConfig } from '../../src/config/cluster-config.js';
import { freePorts } from '../support/free-port.js';
import { encodeFrame } from '../../src/net/frame-decoder.js';
import { encode } from '../../src/codec/msgpack.js';

interface Harness {
  readonly transport: PeerTransport;
  readonly received: Array<{ from: string; message: unknown }>;
  readonly events: string[];
  readonly logs: string[];
  /** Resolves when `predicate` holds, checked on every transport event; fails after `timeoutMs`. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

function makeNodes(ports: number[]): NodeConfig[] {
  return ['a', 'b', 'c'].map((id, i) => ({
    id, host: '127.0.0.1', peerPort: ports[i] ?? 0, clientPort: 1, opsPort: 2, dataDir: '/nonexistent',
  }) as NodeConfig);
}

function harness(self: NodeConfig, peers: NodeConfig[], overrides: Partial<PeerTransportOptions> = {}): Harness {
  const received: Array<{ from: string; message: unknown }> = [];
  const events: string[] = [];
  const logs: string[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => { for (const waiter of waiters) waiter(); };
  const sink = new Writable({ write(chunk: Buffer, _e, done) { logs.push(chunk.toString()); notify(); done(); } });
  const transport = new PeerTransport({
    clusterName: 'test', self, peers, logger: pino({ level: 'info' }, sink), random: () => 0.5,
    frameBytesMax: 1 << 20, batchEventsMax: 64, batchDelayMsMax: 1, sendQueueMessagesMax: 1024, sendQueueBytesMax: 1 << 22,
    reconnectBackoffMsMin: 10, reconnectBackoffMsMax: 100,
    onMessage: (from, message) => { received.push({ from, message }); notify(); },
    onPeerUp: (peer, remote) => { events.push(`up:${peer}${remote.blank ? ' (blank)' : ''}`); notify(); },
    onPeerDown: (peer) => { events.push(`down:${peer}`); notify(); },
    ...overrides,
  });
  const until = (predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> => new Promise((resolve, reject) => {
    if (predicate()) { resolve(); return; }
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${events.join(', ')}; logs: ${logs.join('')}`)); }, timeoutMs);
    const check = (): void => { if (predicate()) { clearTimeout(timer); waiters.delete(check); resolve(); } };
    waiters.add(check);
  });
  return { transport, received, events, logs, until };
}

describe('peer transport', function () {
  this.timeout(20_000);
  const started: PeerTransport[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((transport) => transport.stop()));
  });
  const start = async (h: Harness): Promise<Harness> => {
    started.push(h.transport);
    await h.transport.start();
    return h;
  };

  it('connects every pair once and carries messages both ways, in order', async () => {
    const nodes = makeNodes(await freePorts(3));
    const [a, b, c] = await Promise.all(nodes.map((self) => start(harness(self, nodes))));
    if (a === undefined || b === undefined || c === undefined) throw new Error('three harnesses');
    await a.until(() => a.transport.isConnected('b') && a.transport.isConnected('c'), 'a connected to b and c');
    await c.until(() => c.transport.isConnected('a') && c.transport.isConnected('b'), 'c connected to a and b');
    for (let i = 0; i < 500; i += 1) {
      expect(a.transport.send('c', { type: 'append', seq: i, data: Buffer.from([i & 255]) })).to.equal(true);
      expect(c.transport.send('a', { type: 'ack', seq: i })).to.equal(true);
    }
    await c.until(() => c.received.length === 500, '500 messages at c');
    await a.until(() => a.received.length === 500, '500 messages at a');
    expect(c.received.map((r) => (r.message as { seq: number }).seq)).to.deep.equal([...Array(500).keys()]);
    expect(c.received.every((r) => r.from === 'a')).to.equal(true);
    const corrupted = c.received.filter((r) => {
      const message = r.message as { seq: number; data: Uint8Array };
      return message.data.length !== 1 || message.data[0] !== (message.seq & 255);
    });
    expect(corrupted.length, 'binary payloads stay intact after later frames arrive').to.equal(0);
    const stats = a.transport.stats()['c'];
    expect(stats?.messagesSent).to.equal(500);
    expect(stats?.batchesSent, 'messages leave in batches of up to 64').to.be.at.most(Math.ceil(500 / 64) + 2);
  });

  it('refuses a peer of another cluster, and both sides say why', async () => {
    const nodes = makeNodes(await freePorts(2)).slice(0, 2);
    const [selfA, selfB] = nodes as [NodeConfig, NodeConfig];
    const a = await start(harness(selfA, nodes, { clusterName: 'blue' }));
    const b = await start(harness(selfB, nodes, { clusterName: 'green' }));
    await b.until(() => b.logs.join('').includes("cluster name 'blue' is not this node's cluster 'green'"), 'refusal logged by the acceptor');
    await a.until(() => a.logs.join('').includes('refused us'), 'refusal logged by the dialer');
    expect(a.transport.isConnected('b')).to.equal(false);
  });

  it('tells each side in the handshake whether the other has made no Raft promise yet (blank)', async () => {
    const nodes = makeNodes(await freePorts(2)).slice(0, 2);
    const [selfA, selfB] = nodes as [NodeConfig, NodeConfig];
    const a = await start(harness(selfA, nodes, { handshake: () => ({ blank: true }) }));
    const b = await start(harness(selfB, nodes, { handshake: () => ({ blank: false }) }));
    await a.until(() => a.events.length === 1, 'a (the dialer) heard the welcome');
    await b.until(() => b.events.length === 1, 'b (the acceptor) heard the hello');
    expect(a.events).to.deep.equal(['up:b']);
    expect(b.events).to.deep.equal(['up:a (blank)']);
  });

  it('takes a peer that says nothing of itself in its hello (an older version) for one that is not blank', async () => {
    const nodes = makeNodes(await freePorts(2)).slice(0, 2);
    const [, selfB] = nodes as [NodeConfig, NodeConfig];
    const b = await start(harness(selfB, nodes));
    const old = connect({ host: '127.0.0.1', port: selfB.peerPort });
    old.on('error', () => undefined);
    old.write(encodeFrame(encode({ type: 'hello', version: 1, cluster: 'test', from: 'a', to: 'b' })));
    await b.until(() => b.events.length === 1, 'b accepted the old hello');
    expect(b.events).to.deep.equal(['up:a']);
    old.destroy();
  });

  it('closes a connection that sends garbage and keeps serving its peers', async () => {
    const nodes = makeNodes(await freePorts(2)).slice(0, 2);
    const [selfA, selfB] = nodes as [NodeConfig, NodeConfig];
    const b = await start(harness(selfB, nodes));
    const garbage = connect({ host: '127.0.0.1', port: selfB.peerPort });
    const closed = new Promise<void>((resolve) => garbage.on('close', () => resolve()));
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed;
    const a = await start(harness(selfA, nodes));
    await a.until(() => a.transport.isConnected('b'), 'a connected to b after the garbage');
    a.transport.send('b', { type: 'hello-after-garbage' });
    await b.until(() => b.received.length === 1, 'one message at b');
  });

  it('reconnects after the peer restarts and reports the peer down in between', async () => {
    const nodes = makeNodes(await freePorts(2)).slice(0, 2);
    const [selfA, selfB] = nodes as [NodeConfig, NodeConfig];
    const a = await start(harness(selfA, nodes));
    const b1 = harness(selfB, nodes);
    await b1.transport.start();
    await a.until(() => a.transport.isConnected('b'), 'first connection');
    await b1.transport.stop();
    await a.until(() => a.events.includes('down:b'), 'peer down reported');
    const b2 = await start(harness(selfB, nodes));
    await a.until(() => a.events.filter((e) => e === 'up:b').length === 2, 'second connection');
    a.transport.send('b', { type: 'after-restart' });
    await b2.until(() => b2.received.length === 1, 'message after restart');
  });
});
