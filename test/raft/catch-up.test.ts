/**
 * A node with the needs-catch-up marker (its log was cut by repair, or its data directory was
 * wiped) may have acknowledged entries it no longer holds: until a leader has caught it up it
 * grants no vote or pre-vote, never campaigns, and its acknowledgements do not count toward
 * commit; then the core reports the marker cleared, once, for the caller to clear it durably.
 * Also: a heartbeat's commit index never runs past what the follower is known to hold.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { MemoryLogStorage } from '../../src/raft/memory-log-storage.js';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];

/** n1 leads; entry `e` (index 2) is committed on n1 and n2 only; n2 restarts with its log cut
 *  before `e` and the marker. */
function repairedFollowerAfterCommit(): RaftTestCluster {
  const cluster = new RaftTestCluster(three);
  cluster.elect('n1');
  cluster.isolate('n3');
  cluster.propose('n1', 'e');
  cluster.stabilize();
  expect(cluster.node('n1').status().commit, 'e committed on n1 and n2').to.equal(2);
  cluster.crash('n2');
  cluster.storage('n2').cutAfter(1);
  cluster.start('n2', { needsCatchUp: true });
  return cluster;
}

describe('raft catch-up after a repaired or wiped log', () => {
  it('ignores a floor worked out for an earlier start of this node (a message on its way across a restart)', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    for (const text of ['a', 'b', 'c', 'd']) cluster.propose('n1', text);
    cluster.stabilize();
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    const boot = cluster.bootIds.get('n2') ?? 0;
    const node = cluster.node('n2');
    const heartbeat = { type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 5, readRound: 0, catchUpTo: 3 } as const;
    node.step({ ...heartbeat, catchUpBoot: boot - 1 });
    cluster.processReadies('n2');
    cluster.persist('n2');
    expect(cluster.catchUpClearReports.get('n2') ?? 0, 'a floor for an earlier start clears nothing').to.equal(0);
    expect(node.status().catchingUp).to.equal(true);
    node.step({ ...heartbeat, catchUpBoot: boot });
    cluster.processReadies('n2');
    cluster.persist('n2');
    expect(cluster.catchUpClearReports.get('n2') ?? 0, 'the floor of this start does').to.equal(1);
  });

  it('is not caught up by a leader of an older term: a stale leader and a wiped node commit nothing and serve no read', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    // n1 is cut off, still believing it leads term 1; n2 and n3 move on to term 2 and commit b.
    cluster.isolate('n1');
    const leader = cluster.advanceUntilLeader(['n2', 'n3'], 100);
    cluster.propose(leader, 'b');
    cluster.stabilize();
    expect(cluster.node(leader).status().commit, 'b committed in term 2').to.equal(4);
    // n2's disk is wiped: it forgets term 2, its vote and b. n3 is away; n1 comes back.
    cluster.crash('n2');
    cluster.storages.set('n2', new MemoryLogStorage());
    cluster.start('n2', { needsCatchUp: true });
    cluster.heal();
    cluster.isolate('n3');
    cluster.heartbeat('n1', 3);
    expect(cluster.node('n2').status().term, 'n2 follows the stale leader').to.equal(1);
    // Were n2 caught up by n1, the two would commit c at index 4 over the committed b.
    cluster.propose('n1', 'c');
    cluster.node('n1').readIndex('stale?');
    cluster.stabilize();
    cluster.heartbeat('n1', 3);
    expect(cluster.node('n1').status().commit, 'n1 commits nothing without n3').to.equal(2);
    expect(cluster.readStates.get('n1') ?? [], 'n1 confirms no read without n3').to.deep.equal([]);
    expect(cluster.node('n2').status().catchingUp).to.equal(true);
    // n3 returns: term 2 wins, b stays, and n2 is caught up by the leader of term 2 or later.
    cluster.heal();
    for (let round = 0; round < 40 && cluster.nodes.get('n2')?.status().catchingUp !== false; round++) {
      for (const id of three) cluster.tick(id);
      cluster.stabilize();
    }
    expect(cluster.node('n2').status().catchingUp).to.equal(false);
    for (const id of three) expect(cluster.appliedData(id).slice(0, 2), id).to.deep.equal(['a', 'b']);
  });

  it('serves no read confirmed only by a node that is catching up', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    cluster.heartbeat('n1', 2);
    cluster.node('n1').readIndex('r1');
    cluster.stabilize();
    cluster.heartbeat('n1', 2);
    expect(cluster.readStates.get('n1') ?? []).to.deep.equal([]);
    cluster.heal();
    cluster.heartbeat('n1', 2);
    expect((cluster.readStates.get('n1') ?? []).map((read) => read.context)).to.deep.equal(['r1']);
  });

  it('keeps a committed entry when the leader dies and a follower that lost it must not vote', () => {
    const cluster = repairedFollowerAfterCommit();
    cluster.crash('n1');
    cluster.heal();
    // n3 never had e; n2 lost it to the repair. Were n2 to vote, n3 would win and e be lost.
    cluster.tick('n3', 20);
    cluster.stabilize();
    expect(cluster.node('n3').status().role, 'n3 lacks e').to.not.equal('leader');
    for (let round = 0; round < 10; round++) {
      cluster.tick('n2', 20);
      cluster.tick('n3', 20);
      cluster.stabilize();
    }
    expect(cluster.node('n3').status().role).to.not.equal('leader');
    expect(cluster.node('n2').status().role).to.equal('follower');
    expect(cluster.trace.filter((line) => line.startsWith('n2->n3 voteResponse') && !line.endsWith('reject'))).to.deep.equal([]);
    // n1 returns: it holds e, wins, and e is applied everywhere.
    cluster.start('n1');
    const leader = cluster.advanceUntilLeader(['n1'], 200);
    cluster.propose(leader, 'after');
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id), id).to.deep.equal(['e', 'after']);
  });

  it('answers a vote and a pre-vote with a rejection while catching up', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    const node = cluster.node('n2');
    node.step({ type: 'vote', from: 'n3', to: 'n2', term: 2, preVote: true, transfer: false, lastIndex: 9, lastTerm: 1 });
    node.step({ type: 'vote', from: 'n3', to: 'n2', term: 2, preVote: false, transfer: false, lastIndex: 9, lastTerm: 1 });
    cluster.persist('n2');
    expect(cluster.trace.filter((line) => line.startsWith('n2->n3'))).to.deep.equal([
      'n2->n3 voteResponse t1 pre reject',
      'n2->n3 voteResponse t2 reject',
    ]);
    expect(node.status()).to.include({ vote: null, catchingUp: true });
  });

  it('never campaigns while catching up: not on its timeout, a closed leader connection or timeoutNow', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    cluster.catchUpClearsHeld.add('n2');
    cluster.heartbeat('n1');
    expect(cluster.node('n2').status().leader).to.equal('n1');
    cluster.takeTrace();
    cluster.node('n2').peerDisconnected('n1');
    cluster.node('n2').step({ type: 'timeoutNow', from: 'n1', to: 'n2', term: 1 });
    cluster.crash('n1');
    cluster.tick('n2', 200);
    cluster.stabilize();
    expect(cluster.trace.filter((line) => line.startsWith('n2->'))).to.deep.equal([]);
    expect(cluster.node('n2').status()).to.include({ role: 'follower', term: 1 });
  });

  it('does not count a catching-up follower toward commit, and commits with the other nodes', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    cluster.catchUpClearsHeld.add('n2');
    cluster.isolate('n3');
    cluster.propose('n1', 'x');
    cluster.heartbeat('n1', 3);
    expect(cluster.node('n2').status().lastIndex, 'n2 holds x').to.equal(2);
    expect(cluster.node('n1').status().commit, 'n1 and a catching-up n2 are no majority').to.equal(1);
    cluster.heal();
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n1').status().commit, 'n1 and n3 are').to.equal(2);
    for (const id of three) expect(cluster.appliedData(id), id).to.deep.equal(['x']);
  });

  it('reports the marker cleared once, when caught up, and votes again only once the caller confirmed it', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    cluster.catchUpClearsHeld.add('n2');
    cluster.propose('n1', 'x');
    cluster.heartbeat('n1', 3);
    expect(cluster.catchUpClearReports.get('n2'), 'caught up to commit 2 of term 1').to.equal(1);
    expect(cluster.node('n2').status().catchingUp, 'not confirmed yet').to.equal(true);
    // A crash before the marker is cleared durably: after the restart it simply catches up again.
    cluster.crash('n2');
    cluster.start('n2', { needsCatchUp: true });
    cluster.heartbeat('n1', 3);
    expect(cluster.catchUpClearReports.get('n2')).to.equal(2);
    // n1 goes quiet; n2's lease runs out (and it does not campaign: still catching up).
    cluster.crash('n1');
    cluster.tick('n2', 10);
    cluster.node('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: 2, preVote: true, transfer: false, lastIndex: 9, lastTerm: 1 });
    cluster.processReadies('n2');
    expect(cluster.trace.at(-1)).to.equal('n2->n3 voteResponse t1 pre reject');
    cluster.catchUpClearsHeld.delete('n2');
    cluster.persist('n2');
    expect(cluster.node('n2').status().catchingUp).to.equal(false);
    cluster.node('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: 2, preVote: true, transfer: false, lastIndex: 9, lastTerm: 1 });
    cluster.processReadies('n2');
    expect(cluster.trace.at(-1)).to.equal('n2->n3 voteResponse t2 pre grant');
    expect(cluster.catchUpClearReports.get('n2')).to.equal(2);
  });

  it('gets a repaired follower its lost entries back from a live leader, which probes its log afresh', () => {
    const cluster = repairedFollowerAfterCommit();
    cluster.heal();
    cluster.heartbeat('n1', 4);
    expect(cluster.node('n2').status()).to.include({ lastIndex: 2, commit: 2, catchingUp: false });
    expect(cluster.catchUpClearReports.get('n2')).to.equal(1);
    cluster.propose('n1', 'after');
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id), id).to.deep.equal(['e', 'after']);
  });

  it('never learns a heartbeat commit beyond the entries known to match the leader', () => {
    // n2's log is cut below what n1 believes it holds, and n2 has no marker: n1's heartbeat says
    // commit 2 (its match for n2), which n2 no longer holds.
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'e');
    cluster.stabilize();
    cluster.crash('n2');
    cluster.storage('n2').cutAfter(1);
    cluster.storage('n2').hardState = { ...cluster.storage('n2').hardState, commit: 1 };
    cluster.start('n2');
    cluster.tick('n1');
    cluster.deliver((message) => message.type === 'heartbeat' && message.to === 'n2');
    expect(cluster.node('n2').status()).to.include({ commit: 1, lastIndex: 1 });
  });
});

/**
 * Acknowledgements from before a restart that cut the log: the leader may count them toward a
 * commit it makes after the restart (an answer still on its way, or a match it recorded), so the
 * restarted node must not clear its marker on a commit index lower than what it acknowledged.
 * Both scenarios lost a committed entry before answers carried the node's start (bootId) and the
 * leader named the index to catch up to.
 */
describe('raft catch-up against answers from before the restart', () => {
  it('3 nodes: an acknowledgement delivered after the restart counts, and the restarted node still catches up to it before it votes', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.propose('n1', 'e');
    cluster.processReadies('n1');
    cluster.persist('n1');
    // n2 takes e durably and acknowledges it; the acknowledgement is still on its way.
    cluster.deliver((message) => message.type === 'append' && message.to === 'n2');
    cluster.persist('n2');
    cluster.crash('n2');
    cluster.storage('n2').cutAfter(1);
    cluster.start('n2', { needsCatchUp: true });
    // A heartbeat (commit 1) reaches the restarted n2 before n1 reads the old acknowledgement.
    cluster.tick('n1', 5);
    cluster.persist('n1');
    cluster.deliver((message) => message.type === 'heartbeat' && message.to === 'n2');
    cluster.persist('n2');
    expect(cluster.node('n2').status().catchingUp, 'no catch-up target known yet: the marker stays').to.equal(true);
    cluster.deliver((message) => message.to === 'n1');
    cluster.persist('n1');
    expect(cluster.node('n1').status().commit, 'n1 committed e with n2\'s old acknowledgement').to.equal(2);
    cluster.crash('n1');
    cluster.deliver((message) => message.from === 'n1' && message.to === 'n3');
    cluster.heal();
    cluster.tick('n3', 300);
    cluster.stabilize();
    expect(cluster.node('n3').status().role, 'n3 lacks e and n2 refuses it').to.not.equal('leader');
    expect(cluster.node('n2').status().catchingUp).to.equal(true);
    cluster.start('n1');
    const leader = cluster.advanceUntilLeader(['n1'], 300);
    cluster.propose(leader, 'after');
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id).slice(-2), `${id} applied`).to.deep.equal(['e', 'after']);
    expect(cluster.node('n2').status().catchingUp, 'caught up at last').to.equal(false);
  });

  it('5 nodes: a match recorded before the restart counts toward commit, and the restarted node still catches up to it', () => {
    const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const cluster = new RaftTestCluster(five);
    cluster.elect('n1');
    cluster.isolate('n4');
    cluster.isolate('n5');
    cluster.propose('n1', 'e');
    cluster.persist('n1');
    // n2's acknowledgement of e reaches n1: two of five, no commit yet.
    cluster.deliver((message) => message.type === 'append' && message.to === 'n2');
    cluster.persist('n2');
    cluster.deliver((message) => message.from === 'n2' && message.to === 'n1');
    cluster.persist('n1');
    expect(cluster.node('n1').status().commit).to.equal(1);
    cluster.crash('n2');
    cluster.storage('n2').cutAfter(1);
    cluster.start('n2', { needsCatchUp: true });
    cluster.tick('n1', 1);
    cluster.persist('n1');
    cluster.deliver((message) => message.type === 'heartbeat' && message.to === 'n2');
    cluster.persist('n2');
    expect(cluster.node('n2').status().catchingUp, 'a heartbeat commit below what it acknowledged does not clear the marker').to.equal(true);
    // n3's acknowledgement of e reaches n1 before n2's answer: n1 commits e counting n2's old match.
    cluster.deliver((message) => message.type === 'append' && message.to === 'n3');
    cluster.persist('n3');
    cluster.deliver((message) => message.from === 'n3' && message.to === 'n1');
    cluster.persist('n1');
    expect(cluster.node('n1').status().commit).to.equal(2);
    cluster.crash('n1');
    cluster.crash('n3');
    cluster.deliver((message) => message.from === 'n1' || message.from === 'n3');
    cluster.heal();
    for (const id of ['n2', 'n4', 'n5']) cluster.tick(id, 300);
    cluster.stabilize();
    for (const id of ['n2', 'n4', 'n5']) expect(cluster.node(id).status().role, `${id} may not lead without e`).to.not.equal('leader');
    // The holders of e come back: e survives everywhere.
    cluster.start('n1');
    cluster.start('n3');
    const leader = cluster.advanceUntilLeader(['n1', 'n3'], 300);
    cluster.propose(leader, 'after');
    cluster.stabilize();
    for (const id of five) expect(cluster.appliedData(id).slice(-2), `${id} applied`).to.deep.equal(['e', 'after']);
    expect(cluster.node('n2').status().catchingUp, 'caught up at last').to.equal(false);
  });
});

describe('raft leader facing a follower that lost what it acknowledged, with no marker', () => {
  // Prevented by the marker (the WAL sets it whenever it may have dropped synced data), but a disk
  // can still lie: a follower whose log ends below the match the leader holds for it rejected the
  // leader's probe at match + 1 for ever, and the leader never went below that match again.
  it('probes it afresh from its log\'s end instead of retrying one append for ever', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    for (const text of ['a', 'b', 'c']) cluster.propose('n1', text);
    cluster.stabilize();
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n2')?.match, 'n2 acknowledged a, b and c').to.equal(4);
    cluster.crash('n2');
    cluster.storage('n2').cutAfter(1);
    cluster.start('n2');
    cluster.propose('n1', 'd');
    cluster.stabilize();
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n2').status().lastIndex, 'n2 holds the whole log again').to.equal(5);
    expect(cluster.appliedData('n2').slice(-4)).to.deep.equal(['a', 'b', 'c', 'd']);
    const n2 = cluster.node('n1').status().peers.find((peer) => peer.id === 'n2');
    expect(n2?.match).to.equal(5);
    expect(n2?.logLossesSeen, 'the loss is reported in status').to.equal(1);
  });

  it('keeps the match on a reject that arrives after the acknowledgement it predates', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    for (const text of ['a', 'b', 'c']) cluster.propose('n1', text);
    cluster.stabilize();
    // n2 rejected an append at prev 5 while its log ended at 1, then caught up and acknowledged
    // 4; the reject comes last (a network that reorders).
    cluster.node('n1').step({ type: 'appendResponse', from: 'n2', to: 'n1', term: 1, index: 5, reject: true,
      rejectHintIndex: 1, rejectHintTerm: 1, bootId: cluster.bootIds.get('n2') ?? 0 });
    const n2 = cluster.node('n1').status().peers.find((peer) => peer.id === 'n2');
    expect(n2?.match, 'what n2 acknowledged still counts').to.equal(4);
    expect(n2?.logLossesSeen).to.equal(0);
    cluster.stabilize();
    expect(cluster.node('n2').status().lastIndex).to.equal(4);
  });
});
