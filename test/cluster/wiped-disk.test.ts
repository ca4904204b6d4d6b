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
import { expectHolderLeadsAndCatchesUp, expectNoLeaderWithout } from '../support/catch-up-scenario.js';
import { createTestCluster, removeTestCluster, waitForHttp, type TestCluster } from '../support/test-cluster.js';

const ids = ['n1', 'n2', 'n3'];

/** Deletes everything in `node`'s data directory, as a replaced disk would leave it. */
function wipeDataDir(cluster: TestCluster, node: string): void {
  const dir = join(cluster.dir, 'data', node);
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  expect(readdirSync(dir), 'the data directory is empty').to.deep.equal([]);
}

/** Waits (bounded) until `node`'s ops port answers /status: its process is up. */
async function answering(nodes: ClusterNodes, node: string): Promise<void> {
  await waitForHttp(`${nodes.opsUrl(node)}/status`, (status) => status === 200, 20_000, () => nodes.logsTail());
}

/** All three start; then, with B down, entry e (the last of a load) commits on L and W only. */
async function committedWhileBIsDown(nodes: ClusterNodes): Promise<{ leader: string; w: string; b: string; e: { lastIndex: number } }> {
  nodes.startAll();
  const { node: leader } = await nodes.leaderAgreedBy(ids);
  const [w, b] = ids.filter((id) => id !== leader) as [string, string];
  await nodes.converged(ids, (await nodes.load(leader, 20, 10)).lastIndex);
  await nodes.kill9(b);
  const e = await nodes.load(leader, 20, 10);
  expect(e.ok, e.error).to.equal(true);
  await nodes.converged([leader, w], e.lastIndex);
  return { leader, w, b, e };
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

  /** W is killed and wiped, L is killed; W (empty) and B (without e) start: no leader may arise. */
  async function wipedWithLeaderDown(leader: string, w: string, b: string): Promise<void> {
    await nodes.kill9(w);
    wipeDataDir(cluster, w);
    await nodes.kill9(leader);
    nodes.start(w);
    nodes.start(b);
    await nodes.until([b], (views) => views[0], `${b} runs raft again`, 20_000);
    await answering(nodes, w);
    await expectNoLeaderWithout(nodes, [w, b], 'e');
  }

  it('refuses its vote until a leader caught it up, so a candidate without a committed entry cannot win', async () => {
    const { leader, w, b, e } = await committedWhileBIsDown(nodes);
    await wipedWithLeaderDown(leader, w, b);
    await nodes.until([w], (views) => (views[0]?.catchingUp === true ? views[0] : undefined), `${w} is catching up`, 5_000);
    await expectHolderLeadsAndCatchesUp(nodes, ids, leader, w, e.lastIndex);
  });

  it('wiped twice in a row, the second start still refuses its vote until a leader caught it up', async () => {
    const { leader, w, b, e } = await committedWhileBIsDown(nodes);
    // First wipe: W starts empty, hears L and begins to catch up.
    await nodes.kill9(w);
    wipeDataDir(cluster, w);
    nodes.start(w);
    await answering(nodes, w);
    // Second wipe, as soon as W is up again (a floor L worked out for the first start may still
    // be on its way).
    await wipedWithLeaderDown(leader, w, b);
    await expectHolderLeadsAndCatchesUp(nodes, ids, leader, w, e.lastIndex);
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
