/**
 * ReadIndex (thesis §6.4): a linearizable read is served at the leader's commit index once a
 * heartbeat round started after the request was answered by a majority, and only after the
 * leader committed an entry of its own term. Followers forward reads to the leader.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];

describe('raft ReadIndex', () => {
  it('confirms a read on the leader only after a majority answered a heartbeat round', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'w');
    cluster.stabilize();
    expect(cluster.node('n1').readIndex('read-1')).to.deep.equal({ ok: true, value: null });
    cluster.processReadies('n1');
    expect(cluster.readStates.get('n1')).to.deep.equal([]);
    cluster.deliver((message) => message.type === 'heartbeat');
    cluster.persist('n2');
    cluster.deliver((message) => message.type === 'heartbeatResponse' && message.from === 'n2');
    expect(cluster.readStates.get('n1')).to.deep.equal([{ context: 'read-1', index: 2 }]);
  });

  it('holds reads until the new leader has committed an entry of its term', () => {
    const cluster = new RaftTestCluster(three);
    cluster.tick('n1', 20);
    cluster.stabilize((message) => message.type === 'append');
    expect(cluster.node('n1').status()).to.include({ role: 'leader', commit: 0 });
    cluster.node('n1').readIndex('early');
    for (let round = 0; round < 3; round++) {
      cluster.tick('n1');
      cluster.stabilize((message) => message.type === 'append');
    }
    expect(cluster.readStates.get('n1'), 'heartbeats were answered, but the no-op is not committed').to.deep.equal([]);
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n1').status().commit).to.equal(1);
    expect(cluster.readStates.get('n1')).to.deep.equal([{ context: 'early', index: 1 }]);
  });

  it('never confirms a read on a leader cut off from the majority', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n1');
    cluster.node('n1').readIndex('stale');
    cluster.heartbeat('n1', 5);
    expect(cluster.readStates.get('n1')).to.deep.equal([]);
  });

  it('forwards a read made on a follower and serves it at the leader\'s confirmed index', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'w');
    cluster.stabilize();
    expect(cluster.node('n3').readIndex('on-n3')).to.deep.equal({ ok: true, value: null });
    cluster.stabilize();
    expect(cluster.readStates.get('n3')).to.deep.equal([{ context: 'on-n3', index: 2 }]);
  });

  it('answers NOT_LEADER on a node that knows no leader, and RESOURCE_EXHAUSTED beyond the pending bound', () => {
    const cluster = new RaftTestCluster(three, { pendingReadsMax: 2 });
    const noLeader = cluster.node('n2').readIndex('x');
    if (noLeader.ok) expect.fail('a read was accepted with no leader');
    expect(noLeader.error.code).to.equal('NOT_LEADER');
    cluster.elect('n1');
    cluster.isolate('n1');
    cluster.node('n1').readIndex('a');
    cluster.node('n1').readIndex('b');
    const third = cluster.node('n1').readIndex('c');
    if (third.ok) expect.fail('a third read was accepted with a bound of 2');
    expect(third.error.code).to.equal('RESOURCE_EXHAUSTED');
  });
});
