/**
 * Attacks on the fast-failover rules: the closed leader counted as a refusal must not outlive the
 * close. A survivor whose fast campaign ran out keeps `fastCampaign.gone` until it hears a leader,
 * so every later campaign counts the (restarted, live) old leader as a refusal and ignores its
 * grant. With the third node down, the two live nodes (a majority) then never elect a leader
 * when the survivor's log is ahead of the restarted leader's.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];

function leaderAmong(cluster: RaftTestCluster, ids: readonly string[]): string | undefined {
  return ids.find((id) => cluster.nodes.get(id)?.status().role === 'leader');
}

/** n1 leads, n3 is down; n1 sends entry 'b' to n2 (durable there) and is killed before its own
 *  write: n2's log is ahead of n1's. n2 sees n1's close (if `seesClose`); n1 restarts. */
function scenario(seesClose: boolean, settings = {}): RaftTestCluster {
  const cluster = new RaftTestCluster(three, settings);
  cluster.elect('n1');
  cluster.propose('n1', 'a');
  cluster.stabilize();
  cluster.heartbeat('n1', 3);
  cluster.crash('n3');
  cluster.propose('n1', 'b');
  cluster.processReadies('n1');
  cluster.deliver((message) => message.type === 'append' && message.to === 'n2');
  cluster.persist('n2');
  expect(cluster.node('n2').status().lastIndex).to.equal(cluster.node('n1').status().lastIndex);
  cluster.crash('n1');
  if (seesClose) cluster.node('n2').peerDisconnected('n1');
  cluster.processReadies('n2');
  cluster.stabilize();
  cluster.start('n1');
  expect(cluster.node('n2').status().lastIndex, 'n2 ahead of the restarted n1').to.be.greaterThan(cluster.node('n1').status().lastIndex);
  return cluster;
}

function ticksUntilLeader(cluster: RaftTestCluster, ids: readonly string[], ticksMax: number): number | null {
  for (let tick = 0; tick < ticksMax; tick++) {
    if (leaderAmong(cluster, ids) !== undefined) return tick;
    for (const id of ids) cluster.tick(id);
    cluster.stabilize();
  }
  return leaderAmong(cluster, ids) !== undefined ? ticksMax : null;
}

describe('raft failover attack: the closed leader as a refusal', () => {
  it('control: without seeing the close, n2 is elected by n1 and itself', () => {
    const cluster = scenario(false);
    expect(ticksUntilLeader(cluster, ['n1', 'n2'], 500)).to.not.equal(null);
    expect(leaderAmong(cluster, ['n1', 'n2'])).to.equal('n2');
  });

  it('elects a leader among the two live nodes (a majority) after n2 saw n1 close', () => {
    const cluster = scenario(true);
    const ticks = ticksUntilLeader(cluster, ['n1', 'n2'], 2000);
    expect(ticks, 'no leader within 2,000 ticks (100 election timeouts)').to.not.equal(null);
  });
});
