/**
 * Durability gating, the heart of the Ready protocol (ready.ts): a node never speaks for state
 * that is not yet durable — a vote, a vote answer, an append acknowledgement wait for the write
 * that carries them — while a leader's appends go out in parallel with its own write, and its
 * own vote for commit counts only once that write is durable. Also the restart rules: a node
 * starts from its durable state only, and a torn write cannot make it lie.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { LogEntry } from '../../src/log/log-entry.js';
import { entryTypes } from '../../src/raft/entry-types.js';
import { MemoryLogStorage } from '../../src/raft/memory-log-storage.js';
import { RaftLog } from '../../src/raft/raft-log.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import { SeededRandom } from '../../src/raft/random.js';
import { RaftTestCluster, testSettings } from './raft-test-cluster.js';

const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

function entry(index: number, term: number): LogEntry {
  return { index, term, type: entryTypes.normal, data: new Uint8Array([index]) };
}

describe('raft durability gating', () => {
  it('holds a granted vote until the vote is durable', () => {
    const cluster = new RaftTestCluster(three, { preVote: false });
    cluster.tick('n1', 20);
    cluster.persist('n1');
    const request = cluster.inFlight.find((message) => message.to === 'n2');
    if (request === undefined) throw new Error('n1 sent no vote request to n2');
    const voter = cluster.node('n2');
    voter.step(request);
    const ready = voter.ready();
    expect(ready.hardState).to.deep.equal({ term: 1, vote: 'n1', commit: 0 });
    expect(ready.messages).to.deep.equal([]);
    expect(ready.messagesAfterDurable.map((message) => message.type)).to.deep.equal(['voteResponse']);
    voter.advance(ready);
  });

  it('holds the candidate\'s own vote requests until its new term and vote are durable', () => {
    const cluster = new RaftTestCluster(three, { preVote: false });
    for (let tick = 0; tick < 20; tick++) cluster.node('n1').tick();
    const ready = cluster.node('n1').ready();
    expect(ready.hardState).to.deep.include({ term: 1, vote: 'n1' });
    expect(ready.messages).to.deep.equal([]);
    expect(ready.messagesAfterDurable.map((message) => message.type)).to.deep.equal(['vote', 'vote']);
    cluster.node('n1').advance(ready);
  });

  it('sends pre-votes and their answers at once: they change no durable state', () => {
    const cluster = new RaftTestCluster(three);
    for (let tick = 0; tick < 20; tick++) cluster.node('n1').tick();
    const ready = cluster.node('n1').ready();
    expect(ready.hardState).to.equal(null);
    expect(ready.messages.map((message) => message.type)).to.deep.equal(['vote', 'vote']);
    cluster.node('n1').advance(ready);
  });

  it('acknowledges appended entries only once they are durable', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'x');
    cluster.processReadies('n1');
    const append = cluster.inFlight.find((message) => message.to === 'n2' && message.type === 'append');
    if (append === undefined) throw new Error('no append to n2');
    const follower = cluster.node('n2');
    follower.step(append);
    const ready = follower.ready();
    expect(ready.entries.map((written) => written.index)).to.deep.equal([2]);
    expect(ready.messages).to.deep.equal([]);
    expect(ready.messagesAfterDurable.map((message) => message.type)).to.deep.equal(['appendResponse']);
    follower.advance(ready);
  });

  it('sends a leader\'s appends in the same Ready as its own write, before it is durable', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.propose('n1', 'x');
    const ready = cluster.node('n1').ready();
    expect(ready.entries.map((written) => written.index)).to.deep.equal([2]);
    expect(ready.messages.map((message) => message.type)).to.deep.equal(['append', 'append']);
    cluster.node('n1').advance(ready);
  });

  it('waits for the leader\'s own durable write when it is needed for a majority', () => {
    const cluster = new RaftTestCluster(three);
    cluster.elect('n1');
    cluster.crash('n3');
    cluster.propose('n1', 'x');
    cluster.processReadies('n1');
    cluster.deliver();
    cluster.persist('n2');
    cluster.deliver();
    expect(cluster.node('n1').status().peers.find((peer) => peer.id === 'n2')?.match).to.equal(2);
    expect(cluster.node('n1').status().commit, 'n2 holds it, n1 has not made it durable: one of three').to.equal(1);
    cluster.persist('n1');
    expect(cluster.node('n1').status().commit).to.equal(2);
  });

  it('commits without the leader\'s own write when the followers alone make a majority', () => {
    const cluster = new RaftTestCluster(five);
    cluster.elect('n1');
    cluster.propose('n1', 'x');
    cluster.processReadies('n1');
    cluster.deliver();
    for (const id of ['n2', 'n3', 'n4']) cluster.persist(id);
    cluster.deliver();
    expect(cluster.node('n1').status()).to.include({ commit: 2, durableIndex: 1 });
  });

  it('applies a committed entry only once it is durable on this node', () => {
    const cluster = new RaftTestCluster(five);
    cluster.elect('n1');
    cluster.propose('n1', 'x');
    cluster.processReadies('n1');
    cluster.deliver();
    for (const id of ['n2', 'n3', 'n4']) cluster.persist(id);
    cluster.deliver();
    cluster.processReadies('n1');
    expect(cluster.appliedData('n1'), 'committed, not durable here').to.deep.equal([]);
    cluster.persist('n1');
    expect(cluster.appliedData('n1')).to.deep.equal(['x']);
  });
});

describe('raft restart from durable state', () => {
  function startNode(storage: MemoryLogStorage, appliedIndex = 0): RaftNode {
    return new RaftNode({ ...testSettings, id: 'n1', voters: three, storage, random: new SeededRandom(1), appliedIndex });
  }

  it('takes the term of its last entry when a crash kept entries but not the hard state that raised the term', () => {
    const storage = new MemoryLogStorage();
    storage.append([entry(1, 1), entry(2, 3)]);
    storage.hardState = { term: 2, vote: 'n2', commit: 1 };
    const status = startNode(storage).status();
    expect(status).to.include({ term: 3, vote: null, commit: 1 });
  });

  it('lowers a persisted commit index to the entries that reached the disk', () => {
    const storage = new MemoryLogStorage();
    storage.append([entry(1, 1), entry(2, 1)]);
    storage.hardState = { term: 1, vote: 'n1', commit: 9 };
    expect(startNode(storage).status()).to.include({ commit: 2, lastIndex: 2 });
  });

  it('counts what a local snapshot holds as committed, even beyond the persisted commit', () => {
    const storage = new MemoryLogStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    storage.hardState = { term: 1, vote: null, commit: 1 };
    storage.saveLocalSnapshot(3, new Uint8Array(0), { voters: three, learners: [] });
    storage.compact(2);
    expect(startNode(storage, 3).status()).to.include({ commit: 3, applied: 3, firstIndex: 3 });
  });
});

describe('raft log durable reports', () => {
  it('moves to the durable side only what memory still holds of a write that was overwritten meanwhile', () => {
    const storage = new MemoryLogStorage();
    const log = new RaftLog(storage, 0, 0, 16);
    expect(log.maybeAppend(0, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)])).to.equal(3);
    log.handOut(null, log.entriesToPersist());
    // A new leader overwrites index 2 onwards before the first write is durable.
    expect(log.maybeAppend(1, 1, 0, [entry(2, 2)])).to.equal(2);
    log.handOut(null, log.entriesToPersist());
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    log.onDurable({ lastIndex: 3, term: 1 });
    expect(log.durableIndex(), 'index 2 on disk is the old entry').to.equal(1);
    storage.append([entry(2, 2)]);
    log.onDurable({ lastIndex: 2, term: 2 });
    expect(log.durableIndex()).to.equal(2);
    expect(log.termAt(2)).to.equal(2);
  });

  it('stops on a durable report that names no write in flight', () => {
    const log = new RaftLog(new MemoryLogStorage(), 0, 0, 16);
    expect(() => log.onDurable({ lastIndex: 5, term: 1 })).to.throw(/names no write in flight/);
  });

  it('stops when the Ready protocol is broken (a step between ready() and advance())', () => {
    const cluster = new RaftTestCluster(three);
    cluster.node('n1').ready();
    expect(() => cluster.node('n1').tick()).to.throw(/between ready\(\) and advance\(\)/);
  });

  it('stops on an append that would overwrite a committed entry', () => {
    const log = new RaftLog(new MemoryLogStorage(), 0, 0, 16);
    log.maybeAppend(0, 0, 2, [entry(1, 1), entry(2, 1)]);
    expect(() => log.maybeAppend(1, 1, 2, [entry(2, 2)])).to.throw(/overwrite committed index 2/);
  });
});
