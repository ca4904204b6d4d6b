/**
 * The fault network's topology and handles, on plain TCP servers standing in for nodes: the
 * dialer of each pair (the smaller id) finds its peer at the pair's proxy, the acceptor keeps real
 * ports, the two directions of a pair are the two directed links, and isolate, partition, oneWay
 * and heal set exactly the links they name.
 *
 * Runs on: the mocha process (loopback only).
 */
import { expect } from 'chai';
import { connect, createServer, type Server } from 'node:net';
import { startFaultNetwork, type FaultNetwork } from '../../src/faults/fault-network.js';
import { waitUntil } from '../support/wait-until.js';

const seed = Number(process.env['FAULT_SEED'] ?? 7_001);

async function startEchoNodes(ids: readonly string[]): Promise<Array<{ id: string; peerPort: number; server: Server }>> {
  return Promise.all(ids.map(async (id) => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return { id, peerPort: address.port, server };
  }));
}

function modes(network: FaultNetwork): Record<string, string> {
  return Object.fromEntries(Object.entries(network.report()).map(([name, link]) => [name, link.mode]));
}

describe('the fault network (three stand-in nodes)', function () {
  this.timeout(20_000);
  let network: FaultNetwork;
  let servers: Server[] = [];
  let echoNodes: Array<{ id: string; peerPort: number }> = [];

  beforeEach(async () => {
    const started = await startEchoNodes(['n1', 'n2', 'n3']);
    servers = started.map((node) => node.server);
    echoNodes = started.map(({ id, peerPort }) => ({ id, peerPort }));
    network = await startFaultNetwork({ nodes: echoNodes, seed });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(`fault network seed: ${seed}`);
    await network.close();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  it('gives each dialer a proxy port for its peer, and keeps real ports where nobody dials', () => {
    const real = Object.fromEntries(echoNodes.map((node) => [node.id, node.peerPort]));
    for (const [viewer, peer] of [['n1', 'n2'], ['n1', 'n3'], ['n2', 'n3']] as const) {
      expect(network.peerPortSeenBy(viewer, peer), `${viewer} dials ${peer}`).to.not.equal(real[peer]);
      expect(network.peerPortSeenBy(peer, viewer), `${peer} never dials ${viewer}`).to.equal(real[viewer]);
    }
    expect(network.peerPortSeenBy('n2', 'n2')).to.equal(real['n2']);
    expect(new Set([network.peerPortSeenBy('n1', 'n3'), network.peerPortSeenBy('n2', 'n3')]).size, 'one proxy per pair').to.equal(2);
  });

  it('carries the dialer\'s bytes on link dialer->acceptor and the replies on acceptor->dialer', async () => {
    const socket = connect({ host: '127.0.0.1', port: network.peerPortSeenBy('n1', 'n3') });
    socket.on('error', () => undefined);
    try {
      const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      socket.write('hello n3');
      expect(await echoed).to.equal('hello n3');
      const report = network.report();
      expect(report['n1->n3']?.bytesPassed).to.equal('hello n3'.length);
      expect(report['n3->n1']?.bytesPassed).to.equal('hello n3'.length);

      // One way: n3 -> n1 blackholed, so n3 hears n1 and n1 hears nothing back.
      network.oneWay('n3', 'n1');
      socket.write('again');
      await waitUntil(() => network.report()['n1->n3']?.bytesPassed === 'hello n3again'.length, 'n1 reaching n3');
      expect(network.report()['n3->n1']?.bytesPassed, 'n3 replies held').to.equal('hello n3'.length);
      const healed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      network.heal();
      expect(await healed, 'the held reply arrives after the heal').to.equal('again');
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(network.cut('n3', 'n1'), 'connections of the pair cut').to.equal(1);
      await closed;
      expect(network.cut('n2', 'n3'), 'other pairs untouched').to.equal(0);
    } finally {
      socket.destroy();
    }
  });

  it('isolates a node, partitions groups and heals every link, touching only the links named', () => {
    network.isolate('n2');
    expect(modes(network)).to.deep.equal({
      'n1->n2': 'blackhole', 'n2->n1': 'blackhole', 'n1->n3': 'pass', 'n3->n1': 'pass', 'n2->n3': 'blackhole', 'n3->n2': 'blackhole',
    });
    network.partition([['n1', 'n2']]);
    expect(modes(network), 'n3 named in no group is alone').to.deep.equal({
      'n1->n2': 'pass', 'n2->n1': 'pass', 'n1->n3': 'blackhole', 'n3->n1': 'blackhole', 'n2->n3': 'blackhole', 'n3->n2': 'blackhole',
    });
    network.setLatency({ from: 'n1', to: 'n2' }, { meanMs: 30, jitterMs: 10 });
    network.limitBandwidth('all', 1_000_000);
    network.heal();
    const report = network.report();
    for (const [name, link] of Object.entries(report)) {
      expect({ name, mode: link.mode, latency: link.latency, bandwidth: link.bandwidthBytesPerSecond })
        .to.deep.equal({ name, mode: 'pass', latency: { meanMs: 0, jitterMs: 0 }, bandwidth: null });
    }
    expect(() => network.isolate('n9')).to.throw(/no node n9/);
    expect(() => network.partition([['n1'], ['n1', 'n2']])).to.throw(/two groups/);
  });
});
