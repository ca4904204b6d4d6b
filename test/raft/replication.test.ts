/**
 * Log replication (Raft §5.3, §5.4.2; thesis §10.2 pipelining and flow control): commit needs a
 * majority in the leader's own term, conflicting suffixes are repaired with one round trip per
 * term, appends in flight are bounded in messages and bytes, uncommitted bytes are bounded with
 * an explicit drop, and proposals on a follower are forwarded (or refused with NOT_LEADER).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { entryTypes } from '../../src/raft/entry-types.js';
import { unavailable } from '../../src/raft/log-storage.js';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { RaftTestCluster } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('raft replication', () => {
  it('replicates and applies a proposal on every node once a majority holds it', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    const outcome = cluster.propose('n1', 'job-1');
    expect(outcome).to.deep.equal({ ok: true, value: { kind: 'appended', term: 1, firstIndex: 2, lastIndex: 2 } });
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id)).to.deep.equal(['job-1']);
  });

  it('never commits on a leader cut off in a minority, and its entries are replaced after the heal', () => {
    const cluster = new RaftTestCluster(five);
    cluster.elect('n1');
    cluster.partition(['n1', 'n2']);
    cluster.propose('n1', 'lost');
    for (let round = 0; round < 5; round++) cluster.heartbeat('n1');
    expect(cluster.node('n1').status().commit, 'the minority cannot commit').to.equal(1);
    const leader = cluster.advanceUntilLeader(['n3', 'n4', 'n5']);
    cluster.propose(leader, 'kept');
    cluster.stabilize();
    expect(cluster.node(leader).status().commit).to.equal(3);
    cluster.heal();
    cluster.heartbeat(leader, 2);
    for (const id of five) {
      expect(cluster.appliedData(id), id).to.deep.equal(['kept']);
      expect(cluster.node(id).status()).to.include({ term: 2, leader });
    }
  });

  it('repairs a conflicting suffix with one rejection per differing term', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n1');
    for (let entry = 0; entry < 5; entry++) cluster.propose('n1', `stale-${entry}`);
    cluster.stabilize();
    const leader = cluster.advanceUntilLeader(['n2', 'n3']);
    for (let entry = 0; entry < 3; entry++) cluster.propose(leader, `fresh-${entry}`);
    cluster.stabilize();
    cluster.heal();
    cluster.takeTrace();
    cluster.heartbeat(leader, 2);
    const rejections = cluster.trace.filter((line) => line.startsWith(`n1->${leader} appendResponse`) && line.includes('reject'));
    expect(rejections.length, rejections.join('\n')).to.be.at.most(2);
    for (let index = 1; index <= cluster.node(leader).status().lastIndex; index++) {
      expect(cluster.node('n1').logTerm(index), `term at ${index}`).to.equal(cluster.node(leader).logTerm(index));
    }
    expect(cluster.appliedData('n1')).to.deep.equal(['fresh-0', 'fresh-1', 'fresh-2']);
  });

  it('counts replicas of an older term only through an entry of the current term (Raft §5.4.2)', () => {
    const cluster = new RaftTestCluster(three, { preVote: false, checkQuorum: false, appendBytesMax: 1 });
    cluster.elect('n1');
    cluster.isolate('n1');
    cluster.propose('n1', 'old-term');
    cluster.persist('n1');
    cluster.heal();
    cluster.crash('n1');
    cluster.start('n1');
    cluster.cutLink('n1', 'n3');
    cluster.tick('n1', 20);
    // n2 receives the term-1 entry at index 2, but every append carrying the term-2 no-op is lost.
    const carriesNewTerm = (message: RaftMessage): boolean => message.type === 'append' && message.entries.some((entry) => entry.term === 2);
    cluster.stabilize(carriesNewTerm);
    expect(cluster.node('n1').status()).to.include({ role: 'leader', term: 2 });
    expect([cluster.node('n1').logTerm(2), cluster.node('n2').logTerm(2)]).to.deep.equal([1, 1]);
    // n2 tells n1 it holds index 2 (what it answers to "prev 1/1 entries [2/1]").
    cluster.node('n1').step({ type: 'appendResponse', from: 'n2', to: 'n1', term: 2, index: 2, reject: false, rejectHintIndex: 0, rejectHintTerm: 0 });
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n2')?.match).to.equal(2);
    expect(cluster.node('n1').status().commit, 'index 2 (term 1) is on a majority but is not committed by counting').to.equal(1);
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n1').status().commit, 'the no-op of term 2 commits, and index 2 with it').to.equal(3);
  });

  it('keeps at most inflightMessagesMax appends in flight to a follower that does not answer', () => {
    const cluster = new RaftTestCluster(three, { inflightMessagesMax: 2, appendBytesMax: 1 });
    cluster.elect('n1');
    cluster.cutLink('n2', 'n1');
    cluster.takeTrace();
    for (let entry = 0; entry < 10; entry++) {
      cluster.propose('n1', `e${entry}`);
      cluster.processReadies('n1');
    }
    const toSilentFollower = cluster.trace.filter((line) => line.startsWith('n1->n2 append') && !line.includes('entries []'));
    expect(toSilentFollower).to.have.length(2);
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n2')).to.include({ state: 'replicate', inflightMessages: 2 });
    cluster.stabilize();
    expect(cluster.node('n1').status().commit, 'n3 answers: the majority commits').to.equal(11);
  });

  it('keeps the bytes in flight under inflightBytesMax', () => {
    const cluster = new RaftTestCluster(three, { inflightMessagesMax: 100, inflightBytesMax: 10, appendBytesMax: 1 });
    cluster.elect('n1');
    cluster.cutLink('n2', 'n1');
    cluster.takeTrace();
    for (let entry = 0; entry < 10; entry++) {
      cluster.propose('n1', 'xxxx');
      cluster.processReadies('n1');
    }
    const toSilentFollower = cluster.trace.filter((line) => line.startsWith('n1->n2 append') && !line.includes('entries []'));
    // 4-byte entries: the third takes the window to 12 ≥ 10 bytes, and sending stops.
    expect(toSilentFollower).to.have.length(3);
  });

  it('recovers a follower whose appends were all lost (probe on the heartbeat answer)', () => {
    const cluster = new RaftTestCluster(three, { inflightMessagesMax: 2, appendBytesMax: 1 });
    cluster.elect('n1');
    for (let entry = 0; entry < 6; entry++) {
      cluster.propose('n1', `e${entry}`);
      cluster.processReadies('n1');
    }
    cluster.inFlight = cluster.inFlight.filter((message) => !(message.type === 'append' && message.to === 'n2'));
    cluster.stabilize();
    cluster.heartbeat('n1', 3);
    expect(cluster.appliedData('n2')).to.deep.equal(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('drops proposals beyond the uncommitted-bytes bound with PROPOSAL_DROPPED, and accepts them again after commit', () => {
    const cluster = new RaftTestCluster(three, { uncommittedBytesMax: 10 });
    cluster.elect('n1');
    cluster.partition(['n1']);
    expect(cluster.propose('n1', 'aaaa').ok).to.equal(true);
    expect(cluster.propose('n1', 'bbbb').ok).to.equal(true);
    const dropped = cluster.propose('n1', 'cccc');
    expect(dropped.ok).to.equal(false);
    if (!dropped.ok) {
      expect(dropped.error.code).to.equal('PROPOSAL_DROPPED');
      expect(dropped.error.detail).to.include({ reason: 'uncommitted-bytes-limit', uncommittedBytes: 8 });
    }
    cluster.heal();
    cluster.heartbeat('n1', 2);
    expect(cluster.node('n1').status().uncommittedBytes).to.equal(0);
    expect(cluster.propose('n1', 'cccc').ok).to.equal(true);
  });

  it('forwards a proposal made on a follower to the leader', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    expect(cluster.propose('n2', 'via-n2')).to.deep.equal({ ok: true, value: { kind: 'forwarded', leader: 'n1' } });
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id)).to.deep.equal(['via-n2']);
  });

  it('answers NOT_LEADER with the leader id when forwarding is off, and without one when no leader is known', () => {
    const cluster = new RaftTestCluster(three, { forwardToLeader: false });
    const before = cluster.propose('n2', 'x');
    expect(before.ok).to.equal(false);
    if (!before.ok) expect(before.error).to.deep.include({ code: 'NOT_LEADER', detail: { leader: '' } });
    cluster.elect('n1');
    const after = cluster.propose('n2', 'x');
    if (after.ok) expect.fail('a follower with forwarding off accepted a proposal');
    expect(after.error).to.deep.include({ code: 'NOT_LEADER', detail: { leader: 'n1' } });
  });

  it('refuses empty proposals and entry types a caller may not propose', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    const empty = cluster.node('n1').propose([]);
    const noop = cluster.node('n1').propose([{ type: entryTypes.noop, data: new Uint8Array(0) }]);
    expect([empty.ok, noop.ok]).to.deep.equal([false, false]);
    if (!noop.ok) expect(noop.error.code).to.equal('INVALID_ARGUMENT');
  });

  it('drops a forwarded proposal of an entry type a caller may not propose, as it refuses a local one', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    const lastIndexBefore = cluster.node('n1').status().lastIndex;
    for (const type of [entryTypes.membership, entryTypes.noop, 7]) {
      cluster.node('n1').step({ type: 'propose', from: 'n2', to: 'n1', term: 1, entries: [{ type, data: new Uint8Array(0) }] });
    }
    cluster.node('n1').step({ type: 'propose', from: 'n2', to: 'n1', term: 1, entries: [] });
    cluster.stabilize();
    expect(cluster.node('n1').status().lastIndex, 'nothing appended').to.equal(lastIndexBefore);
    cluster.node('n1').step({ type: 'propose', from: 'n2', to: 'n1', term: 1,
      entries: [{ type: entryTypes.normal, data: new TextEncoder().encode('ok') }] });
    cluster.stabilize();
    for (const id of three) expect(cluster.appliedData(id)).to.deep.equal(['ok']);
  });

  it('sends entries its storage had to load from disk as soon as they are loaded, not at the next heartbeat answer', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.isolate('n3');
    for (let index = 0; index < 10; index++) cluster.propose('n1', `e${index}`);
    cluster.stabilize();
    // The leader's old entries are on disk only: its storage answers 'unavailable' until loaded.
    const storage = cluster.storage('n1');
    const inMemory = storage.entries.bind(storage);
    let loaded = false;
    let unavailableAnswers = 0;
    storage.entries = (fromIndex, toIndex, bytesMax) => {
      if (!loaded && fromIndex <= 11) {
        unavailableAnswers++;
        return unavailable;
      }
      return inMemory(fromIndex, toIndex, bytesMax);
    };
    cluster.heal();
    cluster.heartbeat('n1', 2);
    expect(unavailableAnswers, 'the leader asked for entries it did not have in memory').to.be.greaterThan(0);
    expect(cluster.appliedData('n3')).to.deep.equal([]);
    loaded = true;
    cluster.node('n1').entriesLoaded();
    cluster.stabilize();
    expect(cluster.appliedData('n3'), 'caught up with no heartbeat in between').to.have.length(10);
  });
});
