/**
 * The pieces the Replicator wires around the Raft core: the term index, the durability tracker
 * (which decides when a write may be reported durable) and the applied hash chain.
 */
import { expect } from 'chai';
import { TermIndex } from '../../src/replication/term-index.js';
import { DurabilityTracker } from '../../src/replication/durability-tracker.js';
import { AppliedHashChain } from '../../src/replication/applied-hash-chain.js';
import type { RaftEntry } from '../../src/raft/raft-entry.js';

const entry = (index: number, term: number, text = `e${index}`): RaftEntry => ({ index, term, type: 0, data: Buffer.from(text) });

describe('term index', () => {
  it('answers the term of every index from runs, across truncation and rebase', () => {
    const terms = new TermIndex(0, 0);
    for (let index = 1; index <= 10; index += 1) terms.append(index, index <= 4 ? 1 : index <= 7 ? 2 : 5);
    expect([0, 1, 4, 5, 7, 8, 10].map((index) => terms.termAt(index))).to.deep.equal([0, 1, 1, 2, 2, 5, 5]);
    expect(terms.termAt(11)).to.equal(undefined);
    terms.truncateFrom(6);
    terms.append(6, 3);
    expect([5, 6, 7].map((index) => terms.termAt(index))).to.deep.equal([2, 3, undefined]);
    terms.rebase(5, 2);
    expect([4, 5, 6].map((index) => terms.termAt(index))).to.deep.equal([undefined, 2, 3]);
    expect(terms.firstIndex).to.equal(6);
  });

  it('refuses a gap or a term that goes back', () => {
    const terms = new TermIndex(0, 0);
    terms.append(1, 2);
    expect(() => terms.append(3, 2)).to.throw(/expected 2/);
    expect(() => terms.append(2, 1)).to.throw(/below the previous term/);
  });
});

describe('durability tracker', () => {
  it('completes writes in order, only when every part is durable', () => {
    const tracker = new DurabilityTracker(100);
    tracker.add({ entries: [entry(1, 1), entry(2, 1)], snapshot: null, hardState: true, messagesAfterDurable: [] });
    tracker.add({ entries: [entry(3, 1)], snapshot: null, hardState: false, messagesAfterDurable: [] });
    tracker.onDurable(3);
    expect(tracker.takeCompleted(), 'the first write still waits for its hard state').to.have.length(0);
    tracker.onHardStateSaved();
    expect(tracker.takeCompleted().map((write) => write.entries.length)).to.deep.equal([2, 1]);
  });

  it('does not let a durable report about the old log complete entries written after a truncation', () => {
    const tracker = new DurabilityTracker(100);
    tracker.add({ entries: [entry(5, 1), entry(6, 1), entry(7, 1)], snapshot: null, hardState: false, messagesAfterDurable: [] });
    tracker.truncationSent();
    tracker.add({ entries: [entry(6, 2)], snapshot: null, hardState: false, messagesAfterDurable: [] });
    tracker.onDurable(7); // the WAL flushed the old 5..7 before truncating
    expect(tracker.takeCompleted()).to.have.length(1);
    expect(tracker.size, 'the rewritten 6 is not durable yet although 7 >= 6').to.equal(1);
    tracker.onTruncated();
    tracker.onDurable(6);
    expect(tracker.takeCompleted()).to.have.length(1);
  });

  it('stops on more writes in flight than its bound', () => {
    const tracker = new DurabilityTracker(1);
    tracker.add({ entries: [entry(1, 1)], snapshot: null, hardState: false, messagesAfterDurable: [] });
    expect(() => tracker.add({ entries: [entry(2, 1)], snapshot: null, hardState: false, messagesAfterDurable: [] })).to.throw(/stopped answering/);
  });
});

describe('applied hash chain', () => {
  it('agrees on equal histories and differs on any change of term, index, type or payload', () => {
    const history = [entry(1, 1), entry(2, 1), entry(3, 2)];
    const hashOf = (entries: RaftEntry[]): number => {
      const chain = new AppliedHashChain();
      for (const applied of entries) chain.applyOne(applied);
      return chain.hash;
    };
    const reference = hashOf(history);
    expect(hashOf([...history])).to.equal(reference);
    expect(hashOf([entry(1, 1), entry(2, 1), entry(3, 3)])).to.not.equal(reference);
    expect(hashOf([entry(1, 1), entry(2, 1), { ...entry(3, 2), type: 2 }])).to.not.equal(reference);
    expect(hashOf([entry(1, 1), entry(2, 1), entry(3, 2, 'other')])).to.not.equal(reference);
    expect(hashOf([entry(1, 1), entry(3, 1, 'e2'), entry(4, 2, 'e3')])).to.not.equal(reference);
  });

  it('round-trips its state through a snapshot body', () => {
    const chain = new AppliedHashChain();
    chain.applyOne(entry(2 ** 33, 7));
    expect(AppliedHashChain.decode(chain.encode())).to.deep.equal({ index: 2 ** 33, hash: chain.hash });
    expect(AppliedHashChain.decode(new Uint8Array(3))).to.equal(undefined);
    expect(AppliedHashChain.fromSnapshot({ index: 2 ** 33, data: chain.encode() }).hash).to.equal(chain.hash);
  });

  it('stops on a snapshot body that is not its own state at the snapshot index', () => {
    const chain = new AppliedHashChain();
    chain.applyOne(entry(5, 1));
    expect(() => AppliedHashChain.fromSnapshot({ index: 6, data: chain.encode() })).to.throw(/snapshot at 6 holds no hash chain state/);
    expect(() => AppliedHashChain.fromSnapshot({ index: 5, data: new Uint8Array(4) })).to.throw(/4 bytes/);
  });
});
