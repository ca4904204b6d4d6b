/**
 * Three real `falcon-node` processes whose peer links all pass through the fault network (each
 * node started with its own cluster file): isolating the leader makes the other two elect a new
 * leader in a higher term, the isolated leader steps down, and after the heal it follows the new
 * leader and applies what was committed without it.
 *
 * Runs on: the mocha process; the nodes are separate processes on loopback.
 */
import { expect } from 'chai';
import { startFaultNetwork, type FaultNetwork } from '../../src/faults/fault-network.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, writeNodeConfigFiles, type TestCluster } from '../support/test-cluster.js';

const seed = Number(process.env['FAULT_SEED'] ?? 11_002);

describe('a three-node cluster behind the fault network', function () {
  this.timeout(60_000);
  let cluster: TestCluster | undefined;
  let network: FaultNetwork | undefined;
  let nodes: ClusterNodes | undefined;

  beforeEach(async () => {
    const shared = await createTestCluster({ logLevel: 'warn' });
    cluster = shared;
    const started = await startFaultNetwork({ nodes: shared.nodes, seed });
    network = started;
    cluster = await writeNodeConfigFiles(shared, (viewer, peer) => started.peerPortSeenBy(viewer, peer));
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(`fault network seed: ${seed}; links: ${JSON.stringify(network?.report())}`);
    if (cluster !== undefined) await removeTestCluster(cluster);
    await network?.close();
    cluster = undefined;
    network = undefined;
    nodes = undefined;
  });

  it('elects a new leader when the leader is isolated, and the old leader follows and catches up after the heal', async () => {
    if (nodes === undefined || network === undefined || cluster === undefined) throw new Error('no cluster');
    const ids = cluster.nodes.map((node) => node.id);
    const first = await nodes.leaderAgreedBy(ids, 15_000);
    const carried = Object.entries(network.report()).filter(([, link]) => link.bytesPassed > 0).map(([name]) => name);
    expect(carried.sort(), 'every directed peer link carried bytes through the proxies').to.deep.equal(network.linkIds().map(({ from, to }) => `${from}->${to}`).sort());

    network.isolate(first.node);
    const others = ids.filter((id) => id !== first.node);
    const second = await nodes.leaderAgreedBy(others, 10_000);
    expect(second.node).to.not.equal(first.node);
    expect(second.term).to.be.above(first.term);
    await nodes.until([first.node], ([view]) => (view !== undefined && view.role !== 'leader' ? view : undefined),
      'the isolated leader steps down (it cannot hear a majority)', 5_000);
    const load = await nodes.load(second.node, 40, 4, { timeoutMs: 10_000 });
    expect(load.ok, `entries committed by the majority: ${load.error ?? ''}`).to.equal(true);
    const isolated = await nodes.view(first.node);
    expect(isolated?.appliedIndex ?? 0, 'the isolated node applied none of them').to.be.below(load.lastIndex);

    network.heal();
    const agreed = await nodes.leaderAgreedBy(ids, 10_000);
    expect(agreed.term).to.be.at.least(second.term);
    await nodes.converged(ids, load.lastIndex, 10_000);
  });
});
