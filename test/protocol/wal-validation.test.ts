/**
 * The WAL link's checkers: every message the Replicator and the WAL writer send each other passes
 * (after a trip through the ring's MessagePack codec, as on the real ring), and a message with a
 * missing or mistyped field is refused with an error naming the message type and the field.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { decode, encode } from '../../src/codec/msgpack.js';
import { falconError, isFalconError } from '../../src/errors.js';
import type { FromWal, ToWal } from '../../src/protocol/wal.js';
import { checkFromWal, checkToWal } from '../../src/protocol/wal-validation.js';

const snapshot = { index: 10, term: 2, membership: { voters: ['n1', 'n2', 'n3'], learners: [] } };
const entry = { term: 2, index: 11, type: 0, data: new Uint8Array([1, 2, 3]) };

const requests: ToWal[] = [
  { type: 'append', entries: [entry] },
  { type: 'appendRecords', records: new Uint8Array(25) },
  { type: 'truncate', fromIndex: 5 },
  { type: 'saveHardState', state: { term: 3, vote: 'n2', commit: 9 } },
  { type: 'saveHardState', state: { term: 3, vote: null, commit: 9, cluster: 'falcon' } },
  { type: 'read', requestId: 1, fromIndex: 1, toIndex: 9, bytesMax: 4096 },
  { type: 'read', requestId: -2, fromIndex: 1, toIndex: 9, bytesMax: 4096 }, // the start-up read: minus the incarnation
  { type: 'beginSnapshot', snapshot },
  { type: 'appendSnapshotChunk', index: 10, bytes: new Uint8Array(4) },
  { type: 'finishSnapshot', index: 10, term: 2 },
  { type: 'beginIncomingSnapshot', index: 10, fileBytes: 100, checksum: 0xffff_ffff },
  { type: 'writeIncomingSnapshot', index: 10, offset: 0, bytes: new Uint8Array(4) },
  { type: 'verifyIncomingSnapshot', index: 10 },
  { type: 'installSnapshot', index: 10, term: 2 },
  { type: 'readSnapshotChunk', requestId: 2, index: 10, part: 'file', offset: 0, bytesMax: 1024 },
  { type: 'holdSnapshot', index: 10 },
  { type: 'releaseSnapshot', index: 10 },
  { type: 'compact', uptoIndex: 8 },
  { type: 'markNeedsCatchUp', reason: 'torn tail' },
  { type: 'clearNeedsCatchUp' },
  { type: 'describe' },
];

const replies: FromWal[] = [
  { type: 'walRecovered', firstIndex: 1, lastIndex: 9, lastTerm: 2, hardState: { term: 2, vote: 'n1', commit: 9, cluster: null }, snapshot: null, needsCatchUp: null },
  { type: 'walRecovered', firstIndex: 11, lastIndex: 11, lastTerm: 2, hardState: null, snapshot, needsCatchUp: 'torn tail' },
  { type: 'walStarted', incarnation: 2 },
  { type: 'durable', lastIndex: 9, lastTerm: 2 },
  { type: 'truncated', lastIndex: 4, lastTerm: 1 },
  { type: 'hardStateSaved', state: { term: 3, vote: null, commit: 9 } },
  { type: 'entries', requestId: 1, entries: [entry] },
  { type: 'entries', requestId: -2, entries: [] },
  { type: 'snapshotSaved', snapshot },
  { type: 'snapshotChunkAppended', index: 10, dataBytes: 4 },
  { type: 'incomingSnapshotHeld', index: 10, heldBytes: 4 },
  { type: 'incomingSnapshotVerified', snapshot },
  { type: 'snapshotChunk', requestId: 2, index: 10, part: 'data', offset: 0, bytes: new Uint8Array(4), totalBytes: 4, checksum: 7 },
  { type: 'compacted', firstIndex: 9, segmentsRemoved: 1 },
  { type: 'needsCatchUpMarked', reason: 'torn tail' },
  { type: 'needsCatchUpCleared' },
  { type: 'walError', request: 'appendRecords', error: falconError('DISK_FULL', 'no space left') },
  { type: 'walError', request: 'read', requestId: 1, error: falconError('NOT_FOUND', 'compacted') },
];

/** As the receiving thread sees it: through the ring's codec. */
const overTheRing = (message: unknown): unknown => decode(encode(message));

function refusal(checked: ReturnType<typeof checkToWal> | ReturnType<typeof checkFromWal>): string {
  if (!isFalconError(checked)) throw new Error(`accepted ${JSON.stringify(checked)}`);
  expect(checked.code).to.equal('INTERNAL');
  return checked.message;
}

describe('the WAL link checks every message in both directions', () => {
  it('the WAL writer accepts every request the Replicator sends', () => {
    for (const request of requests) expect(isFalconError(checkToWal(overTheRing(request))), request.type).to.equal(false);
  });

  it('the Replicator accepts every answer the WAL writer sends', () => {
    for (const reply of replies) expect(isFalconError(checkFromWal(overTheRing(reply))), reply.type).to.equal(false);
  });

  it('a WAL answer with a missing or mistyped field is refused, naming the type and the field', () => {
    expect(refusal(checkFromWal({ type: 'durable', lastIndex: 9 }))).to.contain('durable.lastTerm');
    expect(refusal(checkFromWal({ type: 'entries', requestId: 1, entries: [{ ...entry, data: 'abc' }] }))).to.contain('entries.entries[0].data');
    expect(refusal(checkFromWal({ type: 'walRecovered', firstIndex: 1, lastIndex: 0, lastTerm: 0, hardState: { term: -1, vote: null, commit: 0 }, snapshot: null, needsCatchUp: null })))
      .to.contain('walRecovered.hardState.term');
    expect(refusal(checkFromWal({ type: 'walError', request: 'nonsense', error: falconError('IO_ERROR', 'x') }))).to.contain('walError.request');
    expect(refusal(checkFromWal({ type: 'snapshotSaved', snapshot: { index: 1, term: 1, membership: { voters: [1], learners: [] } } })))
      .to.contain('snapshotSaved.snapshot.membership.voters[0]');
  });

  it('a request to the WAL with a missing or mistyped field is refused, naming the type and the field', () => {
    expect(refusal(checkToWal({ type: 'truncate' }))).to.contain('truncate.fromIndex');
    expect(refusal(checkToWal({ type: 'read', requestId: 1, fromIndex: 1, toIndex: 1.5, bytesMax: 1 }))).to.contain('read.toIndex');
    expect(refusal(checkToWal({ type: 'readSnapshotChunk', requestId: 1, index: 1, part: 'both', offset: 0, bytesMax: 1 }))).to.contain('readSnapshotChunk.part');
  });

  it('a request that breaks an invariant of the log\'s types is refused here, not by an assertion deeper in the WAL', () => {
    expect(refusal(checkToWal({ type: 'append', entries: [{ ...entry, type: 300 }] }))).to.contain('append.entries[0].type is not an integer from 0 to 255');
    expect(refusal(checkToWal({ type: 'append', entries: [{ ...entry, index: 0 }] }))).to.contain('append.entries[0].index is not a safe integer ≥ 1');
    expect(refusal(checkToWal({ type: 'saveHardState', state: { term: 1, vote: '', commit: 0 } }))).to.contain('saveHardState.state.vote is not a node id');
    expect(refusal(checkToWal({ type: 'beginSnapshot', snapshot: { index: 0, term: 1, membership: { voters: ['n1'], learners: [] } } })))
      .to.contain('beginSnapshot.snapshot.index is not a safe integer ≥ 1');
    expect(refusal(checkToWal({ type: 'beginSnapshot', snapshot: { index: 2, term: 1, membership: { voters: ['n1', ''], learners: [] } } })))
      .to.contain('beginSnapshot.snapshot.membership.voters[1] is not a node id');
  });

  it('a message of an unknown type, or not a message at all, is refused in either direction', () => {
    expect(refusal(checkToWal({ type: 'durable', lastIndex: 1, lastTerm: 1 }))).to.contain('type durable');
    expect(refusal(checkFromWal({ type: 'append', entries: [] }))).to.contain('type append');
    expect(refusal(checkFromWal(null))).to.contain('not a map');
    expect(refusal(checkToWal([1, 2]))).to.contain('not a map');
  });
});
