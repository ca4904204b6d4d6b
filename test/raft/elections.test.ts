/**
 * Elections as the Raft paper (§5.2) and thesis (§9.6 pre-vote, §6.2 check-quorum, §4.2.3 lease)
 * describe them, plus the fast-failover input of DESIGN.md §7a (`peerDisconnected`).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];

describe('raft elections', () => {
  it('elects the node that times out first, after a round of pre-votes that changes no term', () => {
    const cluster = new RaftTestCluster(three);
    cluster.tick('n1', 20);
    // The pre-vote asks for term 2 while n1 stays in term 0 (a fresh node's term).
    expect(cluster.node('n1').status()).to.include({ role: 'preCandidate', term: 0 });
    cluster.stabilize();
    expect(cluster.takeTrace()).to.deep.equal([
      'n1->n2 vote t1 pre last 0/0',
      'n1->n3 vote t1 pre last 0/0',
      'n2->n1 voteResponse t1 pre grant',
      'n3->n1 voteResponse t1 pre grant',
      'n1->n2 vote t1 last 0/0',
      'n1->n3 vote t1 last 0/0',
      'n2->n1 voteResponse t1 grant',
      'n3->n1 voteResponse t1 grant',
      'n1->n2 append t1 prev 0/0 entries [1/1] commit 0',
      'n1->n3 append t1 prev 0/0 entries [1/1] commit 0',
      'n2->n1 appendResponse t1 index 1',
      'n3->n1 appendResponse t1 index 1',
      // n2's answer made a majority with n1's own durable write: entry 1 commits, and both
      // followers hear of it at once (n2 from the commit broadcast, n3 once it answered).
      'n1->n2 append t1 prev 1/1 entries [] commit 1',
      'n1->n3 append t1 prev 1/1 entries [] commit 1',
      'n2->n1 appendResponse t1 index 1',
      'n3->n1 appendResponse t1 index 1',
    ]);
    for (const id of three) expect(cluster.node(id).status()).to.include({ term: 1, leader: 'n1', commit: 1 });
  });

  it('elects without pre-vote by raising the term at once', () => {
    const cluster = new RaftTestCluster(three, { preVote: false });
    cluster.tick('n1', 20);
    expect(cluster.node('n1').status()).to.include({ role: 'candidate', term: 1 });
    cluster.stabilize();
    expect(cluster.takeTrace().slice(0, 4)).to.deep.equal([
      'n1->n2 vote t1 last 0/0', 'n1->n3 vote t1 last 0/0', 'n2->n1 voteResponse t1 grant', 'n3->n1 voteResponse t1 grant',
    ]);
    expect(cluster.node('n1').status().role).to.equal('leader');
  });

  it('refuses a vote to a candidate whose log is behind (Raft §5.4.1)', () => {
    const cluster = new RaftTestCluster(three, { preVote: false, checkQuorum: false });
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    cluster.heal();
    cluster.tick('n3', 20);
    cluster.stabilize();
    expect(cluster.trace.filter((line) => line.startsWith('n2->n3 voteResponse'))).to.deep.equal(['n2->n3 voteResponse t2 reject']);
    expect(cluster.node('n3').status().role).to.not.equal('leader');
  });

  it('keeps a node that was cut off from disrupting the leader when it returns (pre-vote)', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    for (let round = 0; round < 5; round++) cluster.tick('n3', 20);
    cluster.stabilize();
    expect(cluster.node('n3').status().term, 'pre-votes never raise the term').to.equal(1);
    cluster.heal();
    cluster.tick('n3', 20);
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 1 });
    expect(cluster.node('n3').status()).to.include({ role: 'follower', term: 1, leader: 'n1' });
  });

  it('lets a returning node depose the leader without pre-vote (what pre-vote prevents)', () => {
    const cluster = new RaftTestCluster(three, { preVote: false, checkQuorum: false });
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.tick('n3', 60);
    expect(cluster.node('n3').status().term).to.be.greaterThan(2);
    cluster.heal();
    cluster.heartbeat('n1');
    expect(cluster.node('n1').status().role).to.equal('follower');
  });

  it('keeps the election timer of a node that refuses a stale candidate, so the candidate cannot starve it (pre-vote off)', () => {
    // n2 holds entry 'a', n3 does not, n1 is down: only n2 can win, and only with n3's vote.
    const cluster = new RaftTestCluster(three, { preVote: false, checkQuorum: false });
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    cluster.crash('n1');
    cluster.heal();
    const roundsMax = 5;
    let roundsToLeader: number | null = null;
    for (let round = 1; round <= roundsMax && roundsToLeader === null; round++) {
      cluster.tick('n3', 20);
      cluster.stabilize();
      // Fewer ticks than any election timeout since n3's request: only a timer that n3's request
      // did not restart can run out.
      cluster.tick('n2', 9);
      cluster.stabilize();
      if (cluster.node('n2').status().role === 'leader') roundsToLeader = round;
    }
    expect(cluster.trace.filter((line) => line.startsWith('n2->n3 voteResponse')), 'n3 campaigned and n2 refused it')
      .to.include.members([`n2->n3 voteResponse t2 reject`]);
    expect(roundsToLeader, `n2 should lead within ${roundsMax} rounds of n3's campaigns`).to.not.equal(null);
    expect(cluster.node('n3').status()).to.include({ role: 'follower', leader: 'n2' });
  });

  it('ignores vote requests while the leader lease holds (check-quorum)', () => {
    const cluster = new RaftTestCluster(three, { preVote: false });
    cluster.elect('n1');
    cluster.isolate('n3');
    cluster.tick('n3', 20);
    cluster.heal();
    cluster.takeTrace();
    cluster.deliver();
    // Ignored, not even rejected: answering with a term would be news n3 cannot use.
    expect(cluster.trace.filter((line) => line.includes('voteResponse'))).to.deep.equal([]);
    expect(cluster.node('n2').status()).to.include({ term: 1, leader: 'n1' });
    expect(cluster.node('n1').status()).to.include({ term: 1, role: 'leader' });
  });

  it('makes a leader that hears from no majority for an election timeout step down (check-quorum)', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n1');
    cluster.tick('n1', 9);
    cluster.stabilize();
    expect(cluster.node('n1').status().role).to.equal('leader');
    for (let tick = 0; tick < 20; tick++) cluster.tick('n1');
    expect(cluster.node('n1').status()).to.include({ role: 'follower', term: 1, leader: null });
  });

  it('keeps a leader that loses no majority for as long as it likes', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    for (let round = 0; round < 50; round++) cluster.heartbeat('n1');
    expect(cluster.node('n1').status().role).to.equal('leader');
  });

  it('fails over within a few ticks, not an election timeout, when followers see the leader connection close', () => {
    const cluster = new RaftTestCluster(three, { disconnectCampaignDelayTicksMax: 4 });
    cluster.elect('n1');
    cluster.crash('n1');
    // Both saw the close: each campaigns after its own random delay of 0..4 ticks, and the other
    // grants although it heard from n1 a moment ago, because it saw the close too.
    cluster.node('n2').peerDisconnected('n1');
    cluster.node('n3').peerDisconnected('n1');
    let ticks = 0;
    const leaderOf = (): string | undefined => ['n2', 'n3'].find((id) => cluster.node(id).status().role === 'leader');
    for (; ticks < 5 && leaderOf() === undefined; ticks++) {
      cluster.tick('n2');
      cluster.tick('n3');
      cluster.stabilize();
    }
    const leader = leaderOf();
    expect(leader, `no leader after ${ticks} ticks (election timeout is 10)`).to.not.equal(undefined);
    expect(cluster.node(leader as string).status().term).to.equal(2);
  });

  it('does not let a spurious connection close depose a healthy leader', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.takeTrace();
    cluster.node('n2').peerDisconnected('n1');
    cluster.processReadies('n2');
    cluster.stabilize();
    // n3 still hears n1 (lease) and ignores the pre-vote; n1 ignores it as the leader.
    expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 1 });
    expect(cluster.node('n2').status().term).to.equal(1);
    expect(cluster.trace.filter((line) => line.includes('voteResponse'))).to.deep.equal([]);
    cluster.heartbeat('n1');
    expect(cluster.node('n2').status()).to.include({ role: 'follower', leader: 'n1' });
  });

  for (const [preVote, checkQuorum] of [[false, true], [true, false], [false, false]] as const) {
    it(`starts no campaign on a connection close with preVote ${String(preVote)} and checkQuorum ${String(checkQuorum)}`, () => {
      const cluster = new RaftTestCluster(three, { preVote, checkQuorum });
      cluster.elect('n1');
      cluster.takeTrace();
      cluster.node('n2').peerDisconnected('n1');
      cluster.processReadies('n2');
      cluster.stabilize();
      for (let tick = 0; tick < 5; tick++) {
        cluster.tick('n2');
        cluster.heartbeat('n1');
      }
      // Without both guards a spurious close would let n2 depose n1: with pre-vote off n2's
      // higher term reaches n1; with check-quorum off n3 grants, holding no lease.
      expect(cluster.trace.filter((line) => line.includes(' vote '))).to.deep.equal([]);
      expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 1 });
      expect(cluster.node('n2').status()).to.include({ role: 'follower', term: 1, leader: 'n1' });
    });
  }

  it('ignores a connection close of a node that is not the leader', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.node('n2').peerDisconnected('n3');
    expect(cluster.node('n2').hasReady()).to.equal(false);
    expect(cluster.node('n2').status().leader).to.equal('n1');
  });

  it('spreads the early campaign over a few ticks when a delay is configured', () => {
    const cluster = new RaftTestCluster(three, { disconnectCampaignDelayTicksMax: 3 });
    cluster.elect('n1');
    cluster.crash('n1');
    cluster.node('n2').peerDisconnected('n1');
    cluster.tick('n2', 3);
    expect(cluster.node('n2').status().role).to.equal('preCandidate');
  });

  it('sends a new leader\'s first client entry to the voters at once, without waiting for the answer to its no-op', () => {
    const cluster = new RaftTestCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.propose('n1', 'x');
    cluster.stabilize();
    // n2 takes over; the answers to its no-op are lost (still on their way, as it were).
    cluster.node('n1').transferLeadership('n2');
    cluster.processReadies('n1');
    cluster.stabilize((message) => message.type === 'appendResponse' && message.to === 'n2');
    expect(cluster.node('n2').status().role).to.equal('leader');
    cluster.propose('n2', 'first');
    cluster.persist('n2');
    cluster.processReadies('n2');
    const toVoters = cluster.inFlight.filter((message) => message.type === 'append' && message.from === 'n2' && message.entries.length > 0);
    const carried = toVoters.flatMap((message) => (message.type === 'append' ? message.entries.map((entry) => entry.index) : []));
    expect(carried, 'the client entry (4) leaves before the no-op (3) is answered').to.include(4);
  });
});
