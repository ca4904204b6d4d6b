/**
 * Attack on unregister's reach (docs/protocol.md "unregister": it returns every job leased to the
 * id), and the guard of its fix. A node's local handlers once registered as
 * `<node>:<queue cut to 64 characters>:<incarnation>`: two handlers of queues whose names share
 * those 64 characters were ONE worker id, and when the node stopped, the idle one's unregister
 * returned the job the other was still running. The same id also came back after kill -9 and a
 * restart (the incarnation counts within one process), so the new runner kept its dead
 * predecessor's id alive and the dead process's job waited out its lease instead of the TTL.
 * Ids now carry a hash of the whole queue name and a per-process nonce (actors/worker-role.ts
 * `localWorkerId`). Three real nodes, the handlers on each.
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FalconClient } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, waitForExit, type TestCluster } from '../support/test-cluster.js';

const prefix = `orders.${'x'.repeat(57)}`;
const idleQueue = `${prefix}-refunds`;
const busyQueue = `${prefix}-invoices`;
/** Long enough that the node is stopped while the handler runs, short of the drain bound (5 s). */
const handlerRunMs = 1_500;
const stuckQueue = 'restarted';
const stuckLeaseMs = 15_000;

describe('queue attack 2: local handlers whose queue names share 64 characters', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];

  before(async () => {
    const handlers = ['handlers:', `  "${idleQueue}": { module: ./idle.js }`, `  "${busyQueue}": { module: ./busy.js, leaseMs: 20000 }`,
      `  ${stuckQueue}: { module: ./stuck.js, leaseMs: ${stuckLeaseMs} }`];
    cluster = await createTestCluster({ logLevel: 'warn', extraYaml: `${handlers.join('\n')}\n` });
    await writeFile(join(cluster.dir, 'idle.js'), 'export default async () => "idle";\n');
    await writeFile(join(cluster.dir, 'busy.js'), `export default async () => { await new Promise((resolve) => setTimeout(resolve, ${handlerRunMs})); return "busy"; };\n`);
    await writeFile(join(cluster.dir, 'stuck.js'), 'export default async () => { await new Promise((resolve) => setTimeout(resolve, 60000)); return "late"; };\n');
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    await nodes.leaderAgreedBy(ids);
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('stopping a node never gives back a job its other handler is still running, though the two queue names share 64 characters', async () => {
    const client = new FalconClient({ nodes: ids.map((id) => `127.0.0.1:${nodes.node(id).clientPort}`) });
    try {
      expect(prefix.length).to.equal(64);
      const { id } = await client.enqueue(busyQueue, { order: 1 });
      let holder = '';
      for (const deadline = Date.now() + 20_000; holder === '' && Date.now() < deadline;) {
        const info = await client.get(id);
        if (info.state === 'leased') holder = info.workerId ?? '';
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const node = holder.split(':')[0] ?? '';
      expect(ids, `the job was leased by ${holder}`).to.include(node);
      // The busy handler runs for 1.5 s, well within the node's drain bound: it should finish and ack.
      nodes.signal(node, 'SIGTERM');
      await waitForExit(nodes.process(node), 30_000);
      nodes.start(node);
      let info = await client.get(id);
      for (const deadline = Date.now() + 20_000; info.state !== 'completed' && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        info = await client.get(id);
      }
      const history = info.history.map((step) => `${step.state}${step.reason === undefined ? '' : `(${String(step.reason)})`}`).join(' > ');
      expect({ state: info.state, attempts: info.attempts }, `job leased by ${holder}; history: ${history}; last error: ${info.lastError ?? 'none'}`)
        .to.deep.equal({ state: 'completed', attempts: 1 });
    } finally {
      await client.close();
    }
  });

  it('a node killed and started again runs its handler under a new worker id, so the dead process\'s job returns after the TTL, not its lease', async () => {
    const client = new FalconClient({ nodes: ids.map((id) => `127.0.0.1:${nodes.node(id).clientPort}`) });
    try {
      await nodes.leaderAgreedBy(ids);
      const { id } = await client.enqueue(stuckQueue, { order: 2 });
      const first = await leasedInfo(client, id);
      const node = (first.workerId ?? '').split(':')[0] ?? '';
      await nodes.kill9(node);
      const killedAt = Date.now();
      nodes.start(node);
      // Worker TTL 5 s (+ jitter); its lease of 15 s would end well after this bound.
      const boundMs = 9_000;
      let info = await client.get(id);
      while (info.token === first.token && Date.now() - killedAt < boundMs) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        info = await client.get(id);
      }
      expect({ sameLease: info.token === first.token }, `${boundMs} ms after killing ${node}, job ${id} is ${info.state} (worker ${info.workerId ?? 'none'}, `
        + `leased first by ${first.workerId ?? '?'})`).to.deep.equal({ sameLease: false });
    } finally {
      await client.close();
    }
  });
});

async function leasedInfo(client: FalconClient, id: number): Promise<{ token?: number; workerId?: string }> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const info = await client.get(id);
    if (info.state === 'leased') return info;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${id} was not leased within 20 s`);
}
