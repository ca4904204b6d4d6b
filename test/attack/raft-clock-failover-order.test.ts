/**
 * Attack on the Raft clock (src/replication/raft-timing.ts `clockTicker`) together with the
 * failover order (src/raft/election.ts): the second survivor in rank waits `successorPauseTicks`
 * (two ticks) after its leader's connection closed, "in which it would hear of a winner". That
 * pause is short on purpose, and it only works if the node reads its sockets between those ticks.
 * A timer callback that makes up for a busy thread by ticking several times back to back lets the
 * pause run out before the first in rank's pre-vote, already waiting in the socket, is read: both
 * survivors campaign, and their rounds can split the vote, which then costs a whole election
 * timeout (a drill, seed 7: kill -9 of the leader, both survivors candidates in one term, a leader
 * 742 ms later where the failover takes about 100 ms).
 *
 * The event loop is modelled as it runs: the timer callback, then the sockets read (every message
 * in flight delivered), then the next timer callback.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { clockTicker } from '../../src/replication/raft-timing.js';
import { RaftTestCluster } from '../raft/raft-test-cluster.js';

const campaigners = (trace: readonly string[]): string[] =>
  [...new Set(trace.filter((line) => / vote t\d+/.test(line)).map((line) => line.slice(0, line.indexOf('->'))))];

describe('attack: Raft ticks that follow the clock, and the failover order', () => {
  it('lets the second in rank read the first one\'s pre-vote before its pause runs out, when its thread was busy', () => {
    const cluster = new RaftTestCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.propose('n1', 'a');
    cluster.stabilize();
    cluster.heartbeat('n1');
    const [first, second] = cluster.node('n1').successorRanking();
    if (first === undefined || second === undefined) throw new Error('no ranking');
    let nowMs = 0;
    const secondClock = clockTicker((elapsedTicks?: number) => {
      cluster.node(second).tick(elapsedTicks);
      cluster.processReadies(second);
    }, () => nowMs);
    cluster.crash('n1');
    cluster.takeTrace();
    // Both see the close; the first in rank asks at once, its pre-vote now waits in the second's socket.
    cluster.node(first).peerDisconnected('n1');
    cluster.processReadies(first);
    cluster.node(second).peerDisconnected('n1');
    cluster.processReadies(second);
    // The second's thread was busy: its next timer callback comes 12 ms (two ticks and more) later.
    nowMs += 12;
    secondClock();
    // Then its event loop reads the sockets; the next callbacks follow, 5 ms apart.
    for (let callback = 0; callback < 10; callback += 1) {
      cluster.stabilize();
      nowMs += 5;
      secondClock();
    }
    cluster.stabilize();
    expect(campaigners(cluster.trace), 'only the first in rank asked for votes').to.deep.equal([first]);
    expect(cluster.node(first).status()).to.include({ role: 'leader', term: 2 });
  });

  it('still runs the election timeout by the ticks elapsed, made up for in few calls', () => {
    const cluster = new RaftTestCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.crash('n1');
    const electionTimeoutTicksMax = 20; // RaftTestCluster's
    // No close seen (a leader cut off): only the election timeout moves n2, in calls of 8 ticks.
    for (let calls = 0; calls * 8 < electionTimeoutTicksMax; calls += 1) {
      cluster.node('n2').tick(8);
      cluster.processReadies('n2');
    }
    expect(cluster.node('n2').status().role, 'campaigned within the largest timeout').to.not.equal('follower');
  });

  it('keeps a leader whose thread makes up 8 ticks per callback, and its followers, as they are (check-quorum, no campaign)', () => {
    const cluster = new RaftTestCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.stabilize();
    cluster.takeTrace();
    // Every node's callback comes 40 ms late (the most made up at once); the sockets are read in between.
    for (let callback = 0; callback < 200; callback += 1) {
      for (const id of ['n1', 'n2', 'n3']) {
        cluster.node(id).tick(8);
        cluster.processReadies(id);
      }
      cluster.stabilize();
    }
    expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 1 });
    expect(campaigners(cluster.trace), 'no campaign').to.deep.equal([]);
  });
});
