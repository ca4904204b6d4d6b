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

/** Delivers and persists until quiet, except that `unpersisted`'s writes stay pending (its answers
 *  that wait for them stay unsent). */
function settleWithout(cluster: RaftTestCluster, unpersisted: string): void {
  for (let round = 0; round < 50; round++) {
    for (const id of three) if (id !== unpersisted) cluster.persist(id);
    if (cluster.inFlight.length === 0) return;
    cluster.deliver();
  }
  throw new Error('the cluster did not settle in 50 rounds');
}

describe('raft snapshots still being written', () => {
  it('lets a new leader overwrite entries a follower took after a snapshot it is still writing', () => {
    const cluster = new RaftTestCluster(three, { snapshotRetryTicks: 3 });
    cluster.elect('n1');
    cluster.crash('n3');
    for (let entry = 0; entry < 5; entry++) cluster.propose('n1', `e${entry}`);
    cluster.stabilize();
    compactAll(cluster, 'n3');
    cluster.start('n3');
    // n3 answers the heartbeat, is found behind the compacted log and is sent snapshot 6; its
    // write of the snapshot is slow (never persisted here).
    for (let round = 0; round < 20 && !cluster.inFlight.some((message) => message.type === 'snapshot'); round++) {
      cluster.tick('n1');
      for (const id of three) cluster.persist(id);
      cluster.deliver((message) => message.type !== 'snapshot');
    }
    cluster.deliver((message) => message.type === 'snapshot');
    expect(cluster.installedSnapshots.get('n3')).to.deep.equal([6]);
    // n1 proposes x at 7 (n2 does not get it, n1 crashes before its own write is durable); the
    // snapshot is unanswered, so n1 probes n3 again after it and n3 takes 7/1 behind it.
    cluster.cutLink('n1', 'n2');
    cluster.propose('n1', 'x');
    cluster.tick('n1', 3);
    const retried = cluster.deliver((message) => message.type === 'append' && message.to === 'n3');
    expect(retried.map((message) => message.type === 'append' && message.entries.map((entry) => entry.index))).to.deep.include([7]);
    cluster.deliver((message) => message.from === 'n1');
    cluster.crash('n1');
    cluster.heal();
    cluster.start('n1');
    // n2 wins term 2 with n1's vote (n3 still holds n1's lease) and appends its no-op at 7/2:
    // a conflict at the first index after n3's pending snapshot.
    cluster.tick('n2', 20);
    settleWithout(cluster, 'n3');
    expect(cluster.node('n2').status()).to.include({ role: 'leader', term: 2 });
    expect(cluster.node('n3').status()).to.include({ term: 2, lastIndex: 7, firstIndex: 7 });
    expect(cluster.node('n3').logTerm(7)).to.equal(2);
    cluster.stabilize();
    cluster.propose('n2', 'after');
    cluster.stabilize();
    expect(cluster.storage('n3').firstIndex()).to.equal(7);
    expect(cluster.storage('n3').term(7)).to.equal(2);
    expect(cluster.appliedData('n3')).to.deep.equal(['after']);
    expect(cluster.node('n3').status()).to.include({ commit: 8, applied: 8 });
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
    expect(cluster.node('n1').transferLeadership('n2')).to.deep.equal({ ok: true, value: null });
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

  it('abandons a transfer at once when the target\'s connection closes (the target is stopping too)', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.node('n1').transferLeadership('n3');
    expect(cluster.propose('n1', 'x').ok).to.equal(false);
    cluster.node('n1').peerDisconnected('n3');
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
