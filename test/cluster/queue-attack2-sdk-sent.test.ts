/**
 * Attack on what FalconClient's rejections promise (docs/sdk.md "Batching and retries"): a call
 * that rejects `sent: false` never gets a job, a call that resolves has exactly its job, and no
 * payload has two. On three real nodes, each reached only through a loopback relay that cuts a
 * connection a moment after passing on a client's bytes (the node has the batch, its reply is
 * not back yet): a node binds its client port on 127.0.0.2 (`listen.client`) and the relay sits
 * on the address the cluster names (NOT_LEADER leads there too), with deadlines from shorter than one attempt bound to longer than an election,
 * while the leader is paused (SIGSTOP) and resumed only after another leader took over. Jobs are
 * counted per payload marker over every state.
 *
 * HELD (kept as a guard).
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { seededRandom } from '../wal/wal-test-helpers.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FalconClient, ProtocolError, type JobState } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { freePorts } from '../support/free-port.js';
import { removeTestCluster, type TestCluster, type TestNode } from '../support/test-cluster.js';


/** Passes bytes both ways; after a client chunk, with probability `cutChance`, cuts both sides 0-3 ms later. */
class CuttingRelay {
  readonly server: Server;
  cuts = 0;
  constructor(targetPort: number, random: () => number, public cutChance: number) {
    this.server = createServer((client: Socket) => {
      const node = connect({ host: nodeListenHost, port: targetPort });
      const end = (): void => {
        client.destroy();
        node.destroy();
      };
      client.on('data', (chunk) => {
        node.write(chunk);
        if (random() < this.cutChance) {
          this.cuts += 1;
          setTimeout(end, Math.floor(random() * 4));
        }
      });
      node.on('data', (chunk) => client.write(chunk));
      client.on('close', end).on('error', end);
      node.on('close', end).on('error', end);
    });
  }
}

const nodeListenHost = '127.0.0.2';

/** Three nodes whose client ports bind `nodeListenHost` while the cluster names 127.0.0.1 for them. */
async function relayedCluster(): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'falcon-test-'));
  const ports = await freePorts(9);
  const nodes: TestNode[] = [];
  const lines = ['cluster:', '  name: falcon-relayed', 'nodes:'];
  for (let i = 0; i < 3; i += 1) {
    const [peerPort = 0, clientPort = 0, opsPort = 0] = ports.slice(i * 3, i * 3 + 3);
    nodes.push({ id: `n${i + 1}`, peerPort, clientPort, opsPort });
    lines.push(`  - id: n${i + 1}`, '    host: 127.0.0.1', `    listen: { client: ${nodeListenHost} }`, `    peerPort: ${peerPort}`,
      `    clientPort: ${clientPort}`, `    opsPort: ${opsPort}`, `    dataDir: ./data/n${i + 1}`);
  }
  lines.push('logging:', '  level: warn');
  const configPath = join(dir, 'cluster.yaml');
  await writeFile(configPath, `${lines.join('\n')}\n`);
  return { dir, configPath, nodes };
}

const states: readonly JobState[] = ['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled'];

describe('queue attack 2: sent flags stay true across cut connections and a leader resumed after its successor took over', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];
  const relays: CuttingRelay[] = [];

  before(async () => {
    cluster = await relayedCluster();
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    await nodes.leaderAgreedBy(ids);
  });

  after(async () => {
    for (const relay of relays) relay.server.close();
    if (cluster === undefined) return;
    for (const id of ids) {
      try { nodes.signal(id, 'SIGCONT'); } catch { /* gone */ }
    }
    await removeTestCluster(cluster);
  });

  it('HELD: no sent: false call has a job, every resolved call has exactly its own, no payload has two', async () => {
    const seed = Number(process.env['FALCON_TEST_SEED'] ?? Date.now() % 100_000);
    const random = seededRandom(seed);
    const relayAddresses = await Promise.all(ids.map(async (id) => {
      const { clientPort } = nodes.node(id);
      const relay = new CuttingRelay(clientPort, random, 0.25);
      relays.push(relay);
      await new Promise<void>((resolve) => relay.server.listen(clientPort, '127.0.0.1', resolve));
      return `127.0.0.1:${clientPort}`;
    }));
    const client = new FalconClient({ nodes: relayAddresses, connectTimeoutMs: 300, attemptTimeoutMs: 250 });
    const deadlinesMs = [20, 60, 150, 240, 260, 700, 1_500, 15_000];
    const resolved = new Map<string, number>();
    const unsent: string[] = [];
    const maybeSent: string[] = [];
    const untyped: string[] = [];
    let stopped = false;
    let settled = 0;
    const callers = Array.from({ length: 24 }, async (_, caller) => {
      for (let n = 0; !stopped; n += 1) {
        const marker = `${caller}-${n}`;
        const deadlineMs = deadlinesMs[Math.floor(random() * deadlinesMs.length)] as number;
        try {
          resolved.set(marker, (await client.enqueue('sent-flags', { marker }, { deadlineMs })).id);
        } catch (error) {
          if (!(error instanceof ProtocolError)) untyped.push(`${marker}: ${String(error)}`);
          else if (error.sent) maybeSent.push(marker);
          else unsent.push(marker);
        }
        settled += 1;
      }
    });
    const settledMore = async (calls: number): Promise<void> => {
      const target = settled + calls;
      const deadline = Date.now() + 30_000;
      while (settled < target) {
        if (Date.now() > deadline) throw new Error(`${calls} more calls did not settle within 30 s (seed ${seed})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await settledMore(300);
      const paused = (await nodes.leaderAgreedBy(ids)).node;
      nodes.signal(paused, 'SIGSTOP');
      try {
        await nodes.leaderAgreedBy(ids.filter((id) => id !== paused), 15_000);
        await settledMore(200);
      } finally {
        nodes.signal(paused, 'SIGCONT');
      }
      await settledMore(300);
    } finally {
      stopped = true;
      await Promise.all(callers);
    }
    // The client may still retry batches of calls that rejected sent: true: close it first.
    await client.close();
    for (const relay of relays) relay.cutChance = 0;
    const reader = new FalconClient({ nodes: relayAddresses });
    const jobsByMarker = new Map<string, number[]>();
    try {
      for (const state of states) {
        const summaries = [];
        for await (const summary of reader.listAll('sent-flags', state, { limit: 1_000 })) summaries.push(summary);
        const infos = await Promise.all(summaries.map((summary) => reader.get(summary.id)));
        for (const info of infos) {
          const { marker } = info.payload as { marker: string };
          jobsByMarker.set(marker, [...(jobsByMarker.get(marker) ?? []), info.id]);
        }
      }
    } finally {
      await reader.close();
    }
    const context = `seed ${seed}; ${resolved.size} resolved, ${unsent.length} sent: false, ${maybeSent.length} sent: true; cuts ${relays.map((relay) => relay.cuts).join('/')}`;
    console.log(`      (${context})`);
    expect(untyped, context).to.deep.equal([]);
    expect([...jobsByMarker].filter(([, jobIds]) => jobIds.length > 1).slice(0, 10), `markers with two jobs (${context})`).to.deep.equal([]);
    expect(unsent.filter((marker) => jobsByMarker.has(marker)).slice(0, 10), `sent: false calls that have a job (${context})`).to.deep.equal([]);
    const wrong = [...resolved].filter(([marker, id]) => jobsByMarker.get(marker)?.[0] !== id);
    expect(wrong.slice(0, 10), `resolved calls without exactly their job (${context})`).to.deep.equal([]);
  });
});
