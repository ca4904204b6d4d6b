/**
 * The small pieces of the core: configuration validation that names the field, messages that
 * stay plain data (so the transport can MessagePack them as they are), the inflight window, the
 * seeded random source, and the in-memory storage twin's compaction rules.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { decode, encode } from '../../src/codec/msgpack.js';
import { FalconFailure } from '../../src/errors.js';
import { entryTypes } from '../../src/raft/entry-types.js';
import { MemoryLogStorage } from '../../src/raft/memory-log-storage.js';
import { parseRaftMessage } from '../../src/raft/message-validation.js';
import { Inflights } from '../../src/raft/progress.js';
import { resolveRaftConfig } from '../../src/raft/raft-config.js';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { randomBelow, SeededRandom } from '../../src/raft/random.js';

const base = { id: 'n1', voters: ['n1', 'n2', 'n3'], storage: new MemoryLogStorage(), random: new SeededRandom(1), appliedIndex: 0 };

/** `value` with every byte array (Uint8Array or Buffer) as a plain array, for comparison. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plain(inner)]));
  }
  return value;
}

describe('raft core pieces', () => {
  it('refuses a configuration naming the field and the rule', () => {
    const attempts: [Record<string, unknown>, RegExp][] = [
      [{ heartbeatIntervalTicks: 30 }, /raft.heartbeatIntervalTicks must be below electionTimeoutTicksMin/],
      [{ electionTimeoutTicksMax: 30 }, /raft.electionTimeoutTicksMax must be above/],
      [{ inflightMessagesMax: 0 }, /raft.inflightMessagesMax must be a positive integer/],
      [{ voters: ['n1', 'n1'] }, /raft.voters must not repeat a node/],
    ];
    for (const [override, message] of attempts) {
      expect(() => resolveRaftConfig({ ...base, ...override }), JSON.stringify(override)).to.throw(FalconFailure, message);
    }
    expect(resolveRaftConfig(base).electionTimeoutTicksMin).to.equal(30);
  });

  it('keeps every message type plain data that survives a MessagePack round trip', () => {
    const entries = [{ index: 2, term: 1, type: entryTypes.normal, data: new Uint8Array([1, 2, 3]) }];
    const header = { from: 'n1', to: 'n2', term: 3 };
    const snapshot = { index: 9, term: 2, membership: { voters: ['n1'], learners: [] }, data: new Uint8Array([7]) };
    const messages: RaftMessage[] = [
      { ...header, type: 'append', prevIndex: 1, prevTerm: 1, entries, commit: 1 },
      { ...header, type: 'appendResponse', index: 2, reject: true, rejectHintIndex: 1, rejectHintTerm: 1 },
      { ...header, type: 'heartbeat', commit: 1, readRound: 4, successors: ['n3', 'n2'] },
      { ...header, type: 'heartbeatResponse', readRound: 4, catchingUp: true },
      { ...header, type: 'vote', preVote: true, transfer: false, lastIndex: 2, lastTerm: 1 },
      { ...header, type: 'voteResponse', preVote: false, reject: false },
      { ...header, type: 'snapshot', snapshot },
      { ...header, type: 'timeoutNow' },
      { ...header, type: 'propose', entries: [{ type: entryTypes.normal, data: new Uint8Array([5]) }] },
      { ...header, type: 'readIndex', context: 'r1' },
      { ...header, type: 'readIndexResponse', context: 'r1', index: 2 },
    ];
    for (const message of messages) expect(plain(decode(encode(message))), message.type).to.deep.equal(plain(message));
  });

  it('bounds the inflight window in messages and in bytes, freeing in order as a ring', () => {
    const window = new Inflights(3, 100);
    for (let round = 0; round < 5; round++) {
      const first = round * 3 + 1;
      window.add(first, 10);
      window.add(first + 1, 10);
      window.add(first + 2, 10);
      expect(window.isFull(), 'three messages of three').to.equal(true);
      window.freeUpTo(first + 1);
      expect([window.messages, window.bytes]).to.deep.equal([1, 10]);
      window.freeUpTo(first + 2);
    }
    window.add(1, 60);
    window.add(2, 40);
    expect(window.isFull(), '100 bytes of 100').to.equal(true);
  });

  it('draws the same numbers from the same seed, always in range', () => {
    const first = new SeededRandom(42);
    const second = new SeededRandom(42);
    const other = new SeededRandom(43);
    const a = Array.from({ length: 100 }, () => first.nextUint32());
    expect(a).to.deep.equal(Array.from({ length: 100 }, () => second.nextUint32()));
    expect(a).to.not.deep.equal(Array.from({ length: 100 }, () => other.nextUint32()));
    for (let draw = 0; draw < 10_000; draw++) {
      const value = randomBelow(first, 7);
      expect(value >= 0 && value < 7 && Number.isInteger(value), String(value)).to.equal(true);
    }
  });

  it('compacts storage only up to what a snapshot covers', () => {
    const storage = new MemoryLogStorage();
    storage.append([1, 2, 3, 4].map((index) => ({ index, term: 1, type: entryTypes.normal, data: new Uint8Array(0) })));
    expect(() => storage.compact(2)).to.throw(/beyond the snapshot/);
    storage.saveLocalSnapshot(3, new Uint8Array(0), { voters: ['n1'], learners: [] });
    storage.compact(2);
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(2), storage.term(1)]).to.deep.equal([3, 4, 1, 'compacted']);
  });
});

describe('raft message validation (peer frames)', () => {
  const valid = { type: 'heartbeat', from: 'n2', to: 'n1', term: 3, commit: 1, readRound: 0 };

  it('accepts a well-formed message addressed to this node from the connection\'s peer', () => {
    expect(parseRaftMessage(decode(encode(valid)), 'n1', 'n2')).to.deep.equal(valid);
    const append = { type: 'append', from: 'n2', to: 'n1', term: 3, prevIndex: 1, prevTerm: 1, commit: 1,
      entries: [{ index: 2, term: 3, type: 0, data: new Uint8Array([1]) }] };
    expect(parseRaftMessage(decode(encode(append)), 'n1')).to.not.have.property('code');
    const catchingUp = { type: 'appendResponse', from: 'n2', to: 'n1', term: 3, index: 2, reject: false, rejectHintIndex: 0, rejectHintTerm: 0,
      catchingUp: true };
    expect(parseRaftMessage(decode(encode(catchingUp)), 'n1')).to.deep.equal(catchingUp);
    const ranked = { ...valid, successors: ['n3', 'n1'] };
    expect(parseRaftMessage(decode(encode(ranked)), 'n1', 'n2')).to.deep.equal(ranked);
  });

  it('refuses malformed messages with MALFORMED_FRAME naming the field, without throwing', () => {
    const attempts: [unknown, RegExp][] = [
      [null, /message is not a map/],
      [{ ...valid, type: 'gossip' }, /type gossip is not a Raft message type/],
      [{ ...valid, term: -1 }, /term is not a safe integer/],
      [{ ...valid, commit: 2 ** 60 }, /commit is not a safe integer/],
      [{ ...valid, to: 'n9' }, /to is n9, this node is n1/],
      [{ ...valid, from: 'n3' }, /from is n3 on n2's connection/],
      [{ type: 'append', from: 'n2', to: 'n1', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: 0, data: 'x' }] },
        /entries\[0\].data is not a byte array/],
      [{ type: 'vote', from: 'n2', to: 'n1', term: 1, lastIndex: 0, lastTerm: 0, preVote: 'yes', transfer: false }, /preVote is not a boolean/],
      [{ type: 'appendResponse', from: 'n2', to: 'n1', term: 1, index: 0, reject: false, rejectHintIndex: 0, rejectHintTerm: 0, catchingUp: 1 },
        /catchingUp is not a boolean/],
      [{ type: 'heartbeatResponse', from: 'n2', to: 'n1', term: 1, readRound: 0, catchingUp: 'yes' }, /catchingUp is not a boolean/],
      [{ ...valid, successors: 'n3' }, /successors is not an array/],
      [{ ...valid, successors: ['n3', ''] }, /successors\[1\] is not a node id/],
      [{ type: 'append', from: 'n2', to: 'n1', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ term: 1, index: 1, type: 256, data: new Uint8Array(1) }] },
        /entries\[0\].type is not an integer from 0 to 255/],
      [{ type: 'append', from: 'n2', to: 'n1', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ term: 1, index: 0, type: 0, data: new Uint8Array(1) }] },
        /entries\[0\].index is not a safe integer ≥ 1/],
      [{ type: 'snapshot', from: 'n2', to: 'n1', term: 1, snapshot: { index: 3, term: 1, membership: { voters: ['n1', ''], learners: [] }, data: new Uint8Array(1) } },
        /snapshot.membership.voters\[1\] is not a node id/],
      [{ ...valid, successors: Array.from({ length: 256 }, (_, index) => `n${index}`) }, /successors holds more than 255 elements/],
    ];
    for (const [value, message] of attempts) {
      const parsed = parseRaftMessage(value, 'n1', 'n2');
      expect(parsed, JSON.stringify(value)).to.have.property('code', 'MALFORMED_FRAME');
      expect((parsed as { message: string }).message).to.match(message);
    }
  });
});
