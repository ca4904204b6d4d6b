/**
 * A node whose log lost an acknowledged entry at rest (a whole record at its WAL's tail that no
 * longer verifies) must not help elect a leader that lacks the entry. Three real processes:
 * entry e is committed on the leader L and the follower F1 while F2 is down; F1 is killed and
 * e's record is damaged on its disk; L is killed; F1 restarts (recovery drops e and marks it
 * needs-catch-up) and so does F2. F2 lacks e and F1 must refuse it: no leader may arise from the
 * two. When L returns, it leads with e, F1 is caught up and leaves the catch-up state, and every
 * node applies the same history.
 *
 * Runs on: test process (real falcon-node processes on loopback).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { expectHolderLeadsAndCatchesUp, expectNoLeaderWithout } from '../support/catch-up-scenario.js';
import type { TestCluster } from '../support/test-cluster.js';

const ids = ['n1', 'n2', 'n3'];

/** Flips the last byte of the newest WAL segment of `node`: the payload of its last record. */
function damageLastRecord(cluster: TestCluster, node: string): void {
  const dir = join(cluster.dir, 'data', node, 'wal');
  const segments = readdirSync(dir).filter((name) => name.endsWith('.seg')).sort();
  const newest = join(dir, segments[segments.length - 1] ?? '');
  const bytes = readFileSync(newest);
  expect(statSync(newest).size, 'the segment holds records').to.be.greaterThan(0);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  writeFileSync(newest, bytes);
}

describe('a node that lost an acknowledged entry (real processes)', function () {
  this.timeout(90_000);
  const started = startedClusterPerTest({ nodeCount: 3 });

  it('refuses its vote until a leader caught it up, so a candidate without the entry cannot win', async () => {
    const { nodes, cluster } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const [f1, f2] = ids.filter((id) => id !== leader.node) as [string, string];
    await nodes.converged(ids, (await nodes.load(leader.node, 50, 10)).lastIndex);
    await nodes.kill9(f2);
    // e: the last entry of this load, committed on L and F1 only.
    const e = await nodes.load(leader.node, 20, 10);
    expect(e.ok, e.error).to.equal(true);
    await nodes.converged([leader.node, f1], e.lastIndex);
    await nodes.kill9(f1);
    damageLastRecord(cluster, f1);
    await nodes.kill9(leader.node);
    nodes.start(f1);
    nodes.start(f2);
    const marked = await nodes.until([f1], (views) => (views[0]?.catchingUp === true ? views[0] : undefined), `${f1} starts catching up`, 20_000);
    expect(marked.appliedIndex, 'recovery dropped e').to.be.below(e.lastIndex);
    await expectNoLeaderWithout(nodes, [f1, f2], 'e');
    await expectHolderLeadsAndCatchesUp(nodes, ids, leader.node, f1, e.lastIndex);
  });
});
