/**
 * The pieces the Replicator wires around the Raft core: the term index, the durability tracker
 * (which decides when a write may be reported durable), the applied hash chain and the log view.
 */
import { expect } from 'chai';
import type { LogEntry } from '../../src/log/log-entry.js';
import { entryTypes } from '../../src/raft/entry-types.js';
import { TermIndex } from '../../src/replication/term-index.js';
import { DurabilityTracker } from '../../src/replication/durability-tracker.js';
import { AppliedHashChain } from '../../src/replication/applied-hash-chain.js';
import { compacted, unavailable } from '../../src/raft/log-storage.js';
import { ReplicatorLogStorage } from '../../src/replication/replicator-log-storage.js';

const entry = (index: number, term: number, text = `e${index}`): LogEntry => ({ index, term, type: 0, data: Buffer.from(text) });

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
    const hashOf = (entries: LogEntry[]): number => {
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

describe('the log view of the Replicator', () => {
  const membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
  const entry = (index: number, term: number): LogEntry => ({ index, term, type: entryTypes.normal, data: new Uint8Array([index & 0xff]) });
  const entries = (from: number, to: number, term: number): LogEntry[] => {
    const out: LogEntry[] = [];
    for (let index = from; index <= to; index += 1) out.push(entry(index, term));
    return out;
  };

  it('keeps the entries after an older snapshot still being streamed when a newer one is taken, then lets them go', () => {
    const loads: Array<[number, number]> = [];
    const storage = new ReplicatorLogStorage({ hardState: null, snapshot: null, entries: entries(1, 60, 2) }, 5, (from, to) => loads.push([from, to]));
    storage.trimBehind(60);
    storage.onSnapshotDurable({ index: 16, term: 2, membership, data: new Uint8Array(0) });
    expect(storage.firstIndex()).to.equal(17);
    // A snapshot at 42 is taken while the one at 16 is streamed to a follower: the log is kept after 16.
    storage.onSnapshotDurable({ index: 42, term: 2, membership, data: new Uint8Array(0) }, 16);
    expect(storage.firstIndex(), 'the follower goes on from 17 once it installs 16').to.equal(17);
    expect(storage.snapshot()).to.deep.include({ index: 42 });
    expect(storage.term(16)).to.equal(2);
    expect(storage.term(42)).to.equal(2);
    expect(storage.entries(17, 20, 1 << 20), 'below the window: read from the WAL, not compacted').to.equal(unavailable);
    expect(loads[0]?.[0]).to.equal(17);
    // The next snapshot, with no stream left: the log goes up to it.
    storage.onSnapshotDurable({ index: 50, term: 2, membership, data: new Uint8Array(0) });
    expect(storage.firstIndex()).to.equal(51);
    expect(storage.entries(20, 30, 1 << 20)).to.equal(compacted);
    expect(storage.entries(58, 61, 1 << 20)).to.deep.equal(entries(58, 60, 2));
    // A kept-after index below what is already gone changes nothing: a log is never uncompacted.
    storage.onSnapshotDurable({ index: 55, term: 2, membership, data: new Uint8Array(0) }, 30);
    expect(storage.firstIndex()).to.equal(51);
  });
});
