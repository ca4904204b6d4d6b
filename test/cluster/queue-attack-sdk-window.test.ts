/**
 * Attack on FalconClient's producer-sequence window (docs/sdk.md "Batching and retries") under
 * pressure, on one real node reached through a loopback relay that slows every reply and cuts
 * every connection at seeded random moments: hundreds of concurrent callers, some of whose jobs
 * the node refuses (a payload above the node's bound, which the client does not check), so that
 * refused batches are split and re-sent under new sequences while others are being retried.
 *
 * HELD (kept as a guard): no payload marker has two jobs; every resolved call's job exists with
 * its id; every refused oversize job fails only its own call, with PayloadTooLargeError; every
 * other rejection is a typed error.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { seededRandom } from '../wal/wal-test-helpers.js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FalconClient, PayloadTooLargeError, ProtocolError } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { freePorts } from '../support/free-port.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

const nodePayloadBytesMax = 16 * 1024;
const replyDelayMs = 25;

/** A relay that delays every reply by `replyDelayMs` (order kept) and can cut every connection. */
class SlowRelay {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();
  cuts = 0;

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      const node = connect({ host: '127.0.0.1', port: targetPort });
      this.sockets.add(client).add(node);
      client.on('data', (chunk) => node.write(chunk));
      node.on('data', (chunk) => { setTimeout(() => { if (!client.destroyed) client.write(chunk); }, replyDelayMs); });
      const end = (): void => {
        client.destroy();
        node.destroy();
        this.sockets.delete(client);
        this.sockets.delete(node);
      };
      client.on('close', end).on('error', end);
      node.on('close', end).on('error', end);
    });
  }

  cutAll(): void {
    this.cuts += 1;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}


describe('queue attack: the producer-sequence window under slow replies and cut connections', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: `queue:\n  payloadBytesMax: ${nodePayloadBytesMax}\n` });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('HELD: 300 callers, replies slowed, connections cut at random, oversize jobs refused: no payload has two jobs', async () => {
    const seed = Number(process.env['FALCON_ATTACK_SEED'] ?? Date.now() % 1_000_000);
    const random = seededRandom(seed);
    const nodePort = cluster.nodes[0]?.clientPort ?? 0;
    const [relayPort = 0] = await freePorts(1);
    const relay = new SlowRelay(nodePort);
    await new Promise<void>((resolve) => relay.server.listen(relayPort, '127.0.0.1', resolve));
    const client = new FalconClient({ nodes: [`127.0.0.1:${relayPort}`], deadlineMs: 20_000, connectTimeoutMs: 500 });
    const direct = new FalconClient({ nodes: [`127.0.0.1:${nodePort}`] });
    const resolved = new Map<string, number>();
    const rejected = new Map<string, unknown>();
    const oversize = new Set<string>();
    let stopped = false;
    const callers = Array.from({ length: 300 }, async (_, caller) => {
      for (let n = 0; !stopped; n += 1) {
        const marker = `${caller}-${n}`;
        const tooLarge = (caller * 31 + n) % 37 === 0;
        if (tooLarge) oversize.add(marker);
        const payload = tooLarge ? { marker, pad: Buffer.alloc(nodePayloadBytesMax + 1) } : { marker };
        try {
          resolved.set(marker, (await client.enqueue('window', payload)).id);
        } catch (error) {
          rejected.set(marker, error);
        }
      }
    });
    const cutting = (async () => {
      const endAt = Date.now() + 4_000;
      while (Date.now() < endAt) {
        await new Promise((resolve) => setTimeout(resolve, 20 + random() * 200));
        relay.cutAll();
      }
    })();
    try {
      await cutting;
    } finally {
      stopped = true;
      await Promise.all(callers);
      await relay.close();
      await client.close();
    }
    const jobsByMarker = new Map<string, number[]>();
    for (const state of ['ready'] as const) {
      const summaries = [];
      for await (const summary of direct.listAll('window', state, { limit: 1000 })) summaries.push(summary);
      // All the reads at once, pipelined on the connection, not one round trip after another.
      const infos = await Promise.all(summaries.map((summary) => direct.get(summary.id)));
      for (const info of infos) {
        const { marker } = info.payload as { marker: string };
        jobsByMarker.set(marker, [...(jobsByMarker.get(marker) ?? []), info.id]);
      }
    }
    const stats = await direct.stats('window');
    await direct.close();
    const context = `seed ${seed} (FALCON_ATTACK_SEED=${seed} replays the cuts), ${relay.cuts} cuts, ${resolved.size} resolved, ${rejected.size} rejected`;
    expect(stats?.ready, `every job is ready (${context})`).to.equal(stats?.enqueuedTotal);
    const twice = [...jobsByMarker].filter(([, ids]) => ids.length > 1);
    expect(twice.slice(0, 10), `payload markers with two jobs (${context})`).to.deep.equal([]);
    const lost = [...resolved].filter(([marker, id]) => !jobsByMarker.get(marker)?.includes(id));
    expect(lost.slice(0, 10), `resolved calls whose job is missing (${context})`).to.deep.equal([]);
    const oversizeWrong = [...oversize].filter((marker) => !(rejected.get(marker) instanceof PayloadTooLargeError) || jobsByMarker.has(marker));
    expect(oversizeWrong.slice(0, 10), `oversize jobs not refused alone (${context})`).to.deep.equal([]);
    const otherRejections = [...rejected].filter(([marker]) => !oversize.has(marker));
    expect(otherRejections.filter(([, error]) => !(error instanceof ProtocolError)).map(([, error]) => String(error))).to.deep.equal([]);
    const falselyUnsent = otherRejections.filter(([marker, error]) => (error as ProtocolError).sent === false && jobsByMarker.has(marker));
    expect(falselyUnsent.map(([marker]) => marker), `rejected sent: false yet their job exists (${context})`).to.deep.equal([]);
    expect(relay.cuts).to.be.above(10);
    console.log(`      (${context}; ${otherRejections.length} non-oversize rejections)`);
  });
});
