/**
 * Failover in an order every survivor knows in advance (DESIGN.md §7a): the leader's heartbeats
 * carry a successor ranking (voters by match index, then node id). When the leader's connection
 * closes, the first in rank campaigns at once; the next only after `successorPauseTicks`, in
 * which it would hear of a winner; a fast campaign that does not win retries after a short
 * random pause, not a whole election timeout.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { RaftTestCluster } from './raft-test-cluster.js';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
const survivors = ['n2', 'n3', 'n4', 'n5'];

const toN2 = (message: RaftMessage): boolean => message.type === 'append' && message.to === 'n2';

/** n1 leads; n2 lags (its appends are lost), so the ranking n1 sends is n3, n4, n5, n2. */
function clusterWithRanking(): RaftTestCluster {
  const cluster = new RaftTestCluster(five);
  cluster.elect('n1');
  cluster.propose('n1', 'a');
  cluster.stabilize(toN2);
  for (let round = 0; round < 3; round++) {
    cluster.tick('n1');
    cluster.stabilize(toN2);
  }
  expect(cluster.node('n2').status().lastIndex, 'n2 lags').to.equal(1);
  expect(cluster.node('n3').status().lastIndex).to.equal(2);
  return cluster;
}

function leaderAmong(cluster: RaftTestCluster, ids: readonly string[]): string | undefined {
  return ids.find((id) => cluster.nodes.get(id)?.status().role === 'leader');
}

/** Ticks every survivor once per round until one leads; returns it and the rounds it took. */
function tickUntilLeader(cluster: RaftTestCluster, ids: readonly string[], roundsMax: number): { leader: string; rounds: number } {
  for (let rounds = 0; rounds <= roundsMax; rounds++) {
    const leader = leaderAmong(cluster, ids);
    if (leader !== undefined) return { leader, rounds };
    for (const id of ids) cluster.tick(id);
    cluster.stabilize();
  }
  throw new Error(`no leader among ${ids.join(', ')} within ${roundsMax} ticks`);
}

const campaigners = (trace: readonly string[]): string[] =>
  [...new Set(trace.filter((line) => / vote t\d+/.test(line)).map((line) => line.slice(0, line.indexOf('->'))))];

describe('raft failover order', () => {
  it('elects the top-ranked survivor at once, with no other campaign, when every survivor sees the close', () => {
    const cluster = clusterWithRanking();
    expect(cluster.node('n1').successorRanking()).to.deep.equal(['n3', 'n4', 'n5', 'n2']);
    cluster.crash('n1');
    cluster.takeTrace();
    for (const id of survivors) cluster.node(id).peerDisconnected('n1');
    for (const id of survivors) cluster.processReadies(id);
    cluster.stabilize();
    expect(leaderAmong(cluster, survivors), 'a leader without a single tick').to.equal('n3');
    expect(cluster.node('n3').status().term).to.equal(2);
    expect(campaigners(cluster.trace), 'no split: only n3 asked for votes').to.deep.equal(['n3']);
    // The others hear of the winner before their pause ends: no campaign later either.
    for (let tick = 0; tick < 6; tick++) {
      for (const id of survivors) cluster.tick(id);
      cluster.stabilize();
    }
    expect(campaigners(cluster.trace)).to.deep.equal(['n3']);
    expect(cluster.node('n3').status()).to.include({ role: 'leader', term: 2 });
  });

  it('lets the second in rank take over after its pause when the first cannot win', () => {
    const cluster = clusterWithRanking();
    cluster.isolate('n3');
    cluster.crash('n1');
    cluster.takeTrace();
    for (const id of survivors) cluster.node(id).peerDisconnected('n1');
    for (const id of survivors) cluster.processReadies(id);
    cluster.stabilize();
    const { leader, rounds } = tickUntilLeader(cluster, ['n2', 'n4', 'n5'], 10);
    expect(leader).to.equal('n4');
    expect(rounds, 'one pause of successorPauseTicks (2), not an election timeout (10)').to.equal(2);
    expect(campaigners(cluster.trace).filter((id) => id !== 'n3')).to.deep.equal(['n4']);
  });

  it('retries a fast campaign that did not win after a short pause, not an election timeout', () => {
    const cluster = clusterWithRanking();
    cluster.crash('n1');
    for (const id of survivors) cluster.node(id).peerDisconnected('n1');
    for (const id of survivors) cluster.processReadies(id);
    // n3 wins the pre-vote, but every answer to its real vote is lost: it stays a candidate.
    cluster.stabilize((message) => message.type === 'voteResponse' && !message.preVote);
    expect(cluster.node('n3').status()).to.include({ role: 'candidate', term: 2 });
    const { leader, rounds } = tickUntilLeader(cluster, survivors, 10);
    expect(leader).to.equal('n3');
    expect(rounds, 'within 2 × successorPauseTicks').to.be.at.most(4);
  });

  it('keeps the random spread when no ranking was heard yet', () => {
    const cluster = new RaftTestCluster(five, { disconnectCampaignDelayTicksMax: 0 });
    cluster.elect('n1');
    cluster.crash('n1');
    for (const id of survivors) cluster.node(id).peerDisconnected('n1');
    for (const id of survivors) expect(cluster.node(id).status().role, id).to.equal('preCandidate');
  });

  it('answers a pre-vote it ignored in its lease as soon as it sees the close itself, without a retry', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    cluster.heartbeat('n1');
    const [first, second] = cluster.node('n1').successorRanking();
    if (first === undefined || second === undefined) throw new Error('no ranking');
    cluster.crash('n1');
    // The first in rank sees the close and asks; the other still holds its lease and ignores it.
    cluster.node(first).peerDisconnected('n1');
    cluster.stabilize();
    expect(cluster.node(first).status().role).to.equal('preCandidate');
    cluster.node(second).peerDisconnected('n1');
    cluster.stabilize();
    expect(cluster.node(first).status(), 'leader with no tick and no retry').to.include({ role: 'leader', term: 2 });
  });

  it('forgets an ignored pre-vote once the leader is heard again, so a live leader is not deposed', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.heartbeat('n1');
    cluster.cutLink('n1', 'n2');
    cluster.node('n2').peerDisconnected('n1');
    cluster.stabilize();
    expect(cluster.node('n2').status().role).to.equal('preCandidate');
    // n3 ignored the pre-vote in its lease, then hears its leader: the held request is dropped.
    cluster.heartbeat('n1');
    cluster.node('n3').peerDisconnected('n2');
    cluster.stabilize();
    expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 1 });
  });

  it('tells a restarted follower its rank as soon as its connection is up, not at the next heartbeat', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three, { disconnectCampaignDelayTicksMax: 8, heartbeatIntervalTicks: 5 });
    cluster.elect('n1');
    cluster.heartbeat('n1', 1);
    // n2, first in rank (same log as n3, lower id), restarts and forgets the ranking.
    expect(cluster.node('n1').successorRanking()[0]).to.equal('n2');
    cluster.crash('n2');
    cluster.start('n2');
    cluster.node('n1').peerConnected('n2');
    cluster.stabilize();
    cluster.crash('n1');
    cluster.node('n2').peerDisconnected('n1');
    expect(cluster.node('n2').status().role, 'n2 campaigns at once, as first in rank').to.equal('preCandidate');
  });

  it('campaigns at once when the first in rank asks with a shorter log than its own', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.heartbeat('n1');
    const [first, second] = cluster.node('n1').successorRanking();
    if (first === undefined || second === undefined) throw new Error('no ranking');
    // After the last ranking, only the second in rank receives a new entry.
    cluster.propose('n1', 'a');
    cluster.stabilize((message) => message.type === 'append' && message.to === first);
    cluster.crash('n1');
    cluster.node(second).peerDisconnected('n1');
    cluster.node(first).peerDisconnected('n1');
    cluster.stabilize();
    expect(cluster.node(second).status(), 'the longer log leads with no tick').to.include({ role: 'leader', term: 2 });
  });

  it('keeps its term while the answers to its vote are slow, instead of starting over in a new term', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.heartbeat('n1');
    cluster.crash('n1');
    cluster.node('n2').peerDisconnected('n1');
    cluster.node('n3').peerDisconnected('n1');
    // The pre-vote succeeds; the vote answers take longer than the retry pause (slow fsyncs).
    cluster.stabilize((message) => message.type === 'voteResponse' && !message.preVote);
    expect(cluster.node('n2').status()).to.include({ role: 'candidate', term: 2 });
    // Four ticks: at least one retry of n2 (due 1-4 ticks after it asked), within n3's deferral.
    for (let tick = 0; tick < 4; tick++) {
      cluster.tick('n2');
      cluster.tick('n3');
    }
    // Every retry asked again in term 2; the answers that now arrive elect n2 in that term.
    cluster.stabilize();
    expect(cluster.node('n2').status()).to.include({ role: 'leader', term: 2 });
  });

  it('never splits the vote when the first two in rank start asking at the same moment: the second steps back', () => {
    const three = ['n1', 'n2', 'n3'];
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.heartbeat('n1');
    expect(cluster.node('n1').successorRanking()).to.deep.equal(['n2', 'n3']);
    cluster.crash('n1');
    cluster.takeTrace();
    // n2 asks at once; n3's own turn comes (two ticks) before n2's request reaches it (slow links).
    cluster.node('n2').peerDisconnected('n1');
    cluster.processReadies('n2');
    cluster.node('n3').peerDisconnected('n1');
    cluster.tick('n3', 2);
    expect(cluster.node('n3').status().role).to.equal('preCandidate');
    cluster.stabilize();
    expect(cluster.node('n2').status(), 'the first in rank leads in the next term').to.include({ role: 'leader', term: 2 });
    expect(cluster.trace.filter((line) => / vote t\d+/.test(line) && !line.includes('pre')).map((line) => line.slice(0, line.indexOf('->'))),
      'only n2 asked for real votes').to.satisfy((askers: string[]) => askers.every((id) => id === 'n2'));
  });

  it('counts the leader whose connection closed as a refusal, so a split vote is retried at once, not after an election timeout', () => {
    const three = ['n1', 'n2', 'n3'];
    // No ranking heard (a random delay of 0): both survivors campaign in the same instant.
    const cluster = new RaftTestCluster(three, { disconnectCampaignDelayTicksMax: 0, electionTimeoutTicksMin: 30, electionTimeoutTicksMax: 40 });
    cluster.elect('n1');
    cluster.crash('n1');
    cluster.node('n2').peerDisconnected('n1');
    cluster.node('n3').peerDisconnected('n1');
    cluster.stabilize();
    const { leader, rounds } = tickUntilLeader(cluster, ['n2', 'n3'], 30);
    expect(rounds, `${leader} leads within a few retry pauses (1-4 ticks each), far below the election timeout (30)`).to.be.at.most(12);
  });
});
