/**
 * A node restarted with an empty data directory must not vote as if the cluster were new. Three
 * real processes: entry e is committed on the leader L and the follower W while B is down; W's
 * data directory is wiped; L is killed; W restarts empty and B restarts without e. W hears that B
 * holds this cluster's log, so it must be caught up before it may vote: no leader may arise from
 * the two. When L returns, it leads with e, W is caught up and leaves the catch-up state, and
 * every node applies the same history. The same holds when W is wiped twice in a row (the second
 * start must not take the first one's catch-up for its own). And a brand-new cluster still bootstraps: two nodes elect
 * a leader promptly, and the third, started later, is caught up before it votes.
 *
 * Runs on: test process (real falcon-node processes on loopback).
 */
import { expect } from 'chai';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

const ids = ['n1', 'n2', 'n3'];

/** Deletes everything in `node`'s data directory, as a replaced disk would leave it. */
function wipeDataDir(cluster: TestCluster, node: string): void {
  const dir = join(cluster.dir, 'data', node);
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  expect(readdirSync(dir), 'the data directory is empty').to.deep.equal([]);
}

/** Waits (bounded) until `node`'s ops port answers /status: its process is up. */
async function answering(nodes: ClusterNodes, node: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${nodes.opsUrl(node)}/status`, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${node} did not answer /status within ${timeoutMs} ms\n${nodes.logsTail()}`);
}

describe('a node whose data directory was wiped (real processes)', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;

  beforeEach(async () => {
    cluster = await createTestCluster({ nodeCount: 3 });
    nodes = new ClusterNodes(cluster);
  });
  afterEach(async () => {
    await removeTestCluster(cluster);
  });

  it('refuses its vote until a leader caught it up, so a candidate without a committed entry cannot win', async () => {
    nodes.startAll();
    const leader = await nodes.leaderAgreedBy(ids);
    const [w, b] = ids.filter((id) => id !== leader.node) as [string, string];
    await nodes.converged(ids, (await nodes.load(leader.node, 20, 10)).lastIndex);
    await nodes.kill9(b);
    // e: the last entry of this load, committed on L and W only.
    const e = await nodes.load(leader.node, 20, 10);
    expect(e.ok, e.error).to.equal(true);
    await nodes.converged([leader.node, w], e.lastIndex);
    await nodes.kill9(w);
    wipeDataDir(cluster, w);
    await nodes.kill9(leader.node);
    nodes.start(w);
    nodes.start(b);
    await nodes.until([b], (views) => views[0], `${b} runs raft again`, 20_000);
    await answering(nodes, w);
    // Two election timeouts and more (300-600 ms each): B campaigns again and again meanwhile.
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) {
      const views = await nodes.views([w, b]);
      expect(views.some((view) => view?.role === 'leader'), `no leader without e: ${JSON.stringify(views)}`).to.equal(false);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await nodes.until([w], (views) => (views[0]?.catchingUp === true ? views[0] : undefined), `${w} is catching up`, 5_000);
    nodes.start(leader.node);
    const back = await nodes.leaderAgreedBy(ids, 20_000);
    expect(back.node, 'only the node holding e can lead').to.equal(leader.node);
    const after = await nodes.load(back.node, 10, 10);
    expect(after.ok, after.error).to.equal(true);
    const all = await nodes.converged(ids, after.lastIndex, 20_000);
    expect(all.appliedIndex).to.be.at.least(e.lastIndex);
    await nodes.until([w], (views) => (views[0]?.catchingUp === false ? views[0] : undefined), `${w} leaves the catch-up state`, 10_000);
  });

  it('wiped twice in a row, the second start still refuses its vote until a leader caught it up', async () => {
    nodes.startAll();
    const leader = await nodes.leaderAgreedBy(ids);
    const [w, b] = ids.filter((id) => id !== leader.node) as [string, string];
    await nodes.converged(ids, (await nodes.load(leader.node, 20, 10)).lastIndex);
    await nodes.kill9(b);
    const e = await nodes.load(leader.node, 20, 10);
    expect(e.ok, e.error).to.equal(true);
    await nodes.converged([leader.node, w], e.lastIndex);
    // First wipe: W starts empty, hears L and begins to catch up.
    await nodes.kill9(w);
    wipeDataDir(cluster, w);
    nodes.start(w);
    await answering(nodes, w);
    // Second wipe, as soon as W is up again (a floor L worked out for the first start may still
    // be on its way): L goes too, and B returns without e.
    await nodes.kill9(w);
    wipeDataDir(cluster, w);
    await nodes.kill9(leader.node);
    nodes.start(w);
    nodes.start(b);
    await nodes.until([b], (views) => views[0], `${b} runs raft again`, 20_000);
    await answering(nodes, w);
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) {
      const views = await nodes.views([w, b]);
      expect(views.some((view) => view?.role === 'leader'), `no leader without e: ${JSON.stringify(views)}`).to.equal(false);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    nodes.start(leader.node);
    const back = await nodes.leaderAgreedBy(ids, 20_000);
    expect(back.node, 'only the node holding e can lead').to.equal(leader.node);
    const after = await nodes.load(back.node, 10, 10);
    expect(after.ok, after.error).to.equal(true);
    const all = await nodes.converged(ids, after.lastIndex, 20_000);
    expect(all.appliedIndex).to.be.at.least(e.lastIndex);
    await nodes.until([w], (views) => (views[0]?.catchingUp === false ? views[0] : undefined), `${w} leaves the catch-up state`, 10_000);
  });

  it('a brand-new cluster elects promptly, and a node started later is caught up before it votes', async () => {
    const [early1, early2, late] = ids as [string, string, string];
    const startedMs = Date.now();
    nodes.start(early1);
    nodes.start(early2);
    const leader = await nodes.leaderAgreedBy([early1, early2], 10_000);
    expect(Date.now() - startedMs, 'two fresh nodes of three bootstrap the cluster without the third').to.be.below(10_000);
    const load = await nodes.load(leader.node, 20, 10);
    expect(load.ok, load.error).to.equal(true);
    nodes.start(late);
    const all = await nodes.converged(ids, load.lastIndex, 15_000);
    expect(all.appliedIndex).to.be.at.least(load.lastIndex);
    await nodes.until([late], (views) => (views[0]?.catchingUp === false ? views[0] : undefined), `${late} leaves the catch-up state`, 10_000);
  });
});
