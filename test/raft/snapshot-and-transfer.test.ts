/**
 * Snapshots for followers too far behind (Raft §7, thesis §5) and leadership transfer (thesis
 * §3.10): the leader sends its newest snapshot when the entries a follower needs are compacted,
 * retries when one is lost, and hands leadership over only to a caught-up target, told to
 * campaign at once with timeoutNow.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];
const snapshotData = new Uint8Array([1, 2, 3]);

/** Everyone but `lagging` takes a snapshot at its applied index and compacts the log. */
function compactAll(cluster: RaftTestCluster, except: string): void {
  for (const id of three) {
    if (id === except) continue;
    const applied = cluster.node(id).compactableIndex();
    cluster.storage(id).saveLocalSnapshot(applied, snapshotData, { voters: three, learners: [] });
    cluster.storage(id).compact(applied);
  }
}

/** Heartbeat rounds until the leader has sent a snapshot, which is lost. */
function loseFirstSnapshot(cluster: RaftTestCluster): void {
  for (let round = 0; round < 5 && !cluster.trace.some((line) => line.includes('snapshot')); round++) {
    cluster.tick('n1');
    cluster.stabilize((message) => message.type === 'snapshot');
  }
  expect(cluster.trace.filter((line) => line.includes('snapshot'))).to.have.length(1);
}

describe('raft snapshots', () => {
  it('sends a snapshot to a follower that needs compacted entries, then replicates after it', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n3');
    for (let entry = 0; entry < 10; entry++) cluster.propose('n1', `e${entry}`);
    cluster.stabilize();
    compactAll(cluster, 'n3');
    cluster.start('n3');
    cluster.takeTrace();
    cluster.heartbeat('n1', 3);
    expect(cluster.trace.filter((line) => line.includes('snapshot'))).to.deep.equal(['n1->n3 snapshot t1 snapshot 11/1']);
    expect(cluster.installedSnapshots.get('n3')).to.deep.equal([11]);
    expect(cluster.storage('n3').firstIndex()).to.equal(12);
    cluster.propose('n1', 'after');
    cluster.stabilize();
    expect(cluster.appliedData('n3')).to.deep.equal(['after']);
    expect(cluster.node('n3').status()).to.include({ commit: 12, applied: 12 });
  });

  it('sends the snapshot again when the first one was lost', () => {
    const cluster = new RaftTestCluster(three, { snapshotRetryTicks: 5 });
    cluster.elect('n1');
    cluster.crash('n3');
    for (let entry = 0; entry < 5; entry++) cluster.propose('n1', `e${entry}`);
    cluster.stabilize();
    compactAll(cluster, 'n3');
    cluster.start('n3');
    cluster.takeTrace();
    loseFirstSnapshot(cluster);
    expect(cluster.installedSnapshots.get('n3')).to.equal(undefined);
    cluster.heartbeat('n1', 8);
    expect(cluster.trace.filter((line) => line.includes('snapshot'))).to.have.length(2);
    expect(cluster.installedSnapshots.get('n3')).to.deep.equal([6]);
  });

  it('probes again at once when the transport reports the snapshot failed', () => {
    const cluster = new RaftTestCluster(three, { snapshotRetryTicks: 1000 });
    cluster.elect('n1');
    cluster.crash('n3');
    cluster.propose('n1', 'e');
    cluster.stabilize();
    compactAll(cluster, 'n3');
    cluster.start('n3');
    loseFirstSnapshot(cluster);
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n3')?.state).to.equal('snapshot');
    cluster.node('n1').reportSnapshot('n3', false);
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n3')?.state).to.equal('probe');
    cluster.heartbeat('n1', 3);
    expect(cluster.installedSnapshots.get('n3')).to.deep.equal([2]);
  });

  it('keeps a follower\'s log when it already holds the snapshot\'s last entry, learning only the commit', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'e');
    cluster.stabilize();
    const snapshot = { index: 2, term: 1, membership: { voters: three, learners: [] }, data: snapshotData };
    cluster.node('n2').step({ type: 'snapshot', from: 'n1', to: 'n2', term: 1, snapshot });
    expect(cluster.node('n2').ready().snapshot).to.equal(null);
  });
});

describe('raft leadership transfer', () => {
  it('catches the target up, then tells it to campaign at once; voters skip the lease for it', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.cutLink('n1', 'n2');
    cluster.propose('n1', 'n2-misses-this');
    cluster.stabilize();
    cluster.heal();
    cluster.takeTrace();
    expect(cluster.node('n1').transferLeadership('n2')).to.deep.equal({ ok: true });
    const during = cluster.propose('n1', 'during-transfer');
    if (during.ok) expect.fail('a proposal was accepted during a transfer');
    expect(during.error.detail).to.include({ reason: 'transfer-in-progress' });
    cluster.stabilize();
    const trace = cluster.trace;
    const caughtUp = trace.indexOf('n2->n1 appendResponse t1 index 2');
    const timeoutNow = trace.indexOf('n1->n2 timeoutNow t1');
    expect(caughtUp, trace.join('\n')).to.be.greaterThan(-1);
    expect(timeoutNow, 'timeoutNow only after the target caught up').to.be.greaterThan(caughtUp);
    expect(trace).to.include('n2->n3 vote t2 transfer last 2/1');
    expect(cluster.node('n2').status()).to.include({ role: 'leader', term: 2 });
    expect(cluster.appliedData('n2')).to.deep.equal(['n2-misses-this']);
  });

  it('abandons a transfer to an unreachable target after an election timeout and accepts proposals again', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.node('n1').transferLeadership('n3');
    expect(cluster.propose('n1', 'x').ok).to.equal(false);
    cluster.heartbeat('n1', 10);
    expect(cluster.node('n1').status()).to.include({ role: 'leader', leadTransferee: null });
    expect(cluster.propose('n1', 'x').ok).to.equal(true);
  });

  it('refuses a transfer on a follower (NOT_LEADER) and to a node that is not a voter', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    const onFollower = cluster.node('n2').transferLeadership('n3');
    const toStranger = cluster.node('n1').transferLeadership('n9');
    expect(onFollower.ok || toStranger.ok).to.equal(false);
    if (!onFollower.ok) expect(onFollower.error.code).to.equal('NOT_LEADER');
    if (!toStranger.ok) expect(toStranger.error.code).to.equal('INVALID_ARGUMENT');
  });
});
