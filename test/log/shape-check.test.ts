/**
 * The shape checks every decoder builds on (src/log/shape-check.ts, log-shapes.ts): a refusal
 * names the path to the field and what is wrong with it, in words a person can act on, and a
 * well-formed value passes.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { hardState, logEntry, membership, nodeId, snapshotMetadata } from '../../src/log/log-shapes.js';
import { arrayOf, fields, integerFrom, optional, orNull, readableProblem, safeInteger, text } from '../../src/log/shape-check.js';

describe('shape checks', () => {
  it('name the path to a nested field: maps with a dot, arrays with the position', () => {
    const check = fields({ batch: arrayOf(fields({ term: safeInteger })) });
    expect(check({ batch: [{ term: 1 }, { term: -1 }] })).to.equal('.batch[1].term is not a safe integer ≥ 0');
    expect(check({ batch: 'x' })).to.equal('.batch is not an array');
    expect(check(null)).to.equal('is not a map');
    expect(readableProblem('.batch[1].term is not a safe integer ≥ 0')).to.equal('batch[1].term is not a safe integer ≥ 0');
    expect(check({ batch: [{ term: 1 }] })).to.equal(undefined);
  });

  it('bound arrays, show the number given when it is out of range, and let absent or null pass only where said', () => {
    expect(arrayOf(text, 2)(['a', 'b', 'c'])).to.equal('holds more than 2 elements');
    expect(integerFrom(1, 10)(0)).to.equal('is not an integer from 1 to 10 (got 0)');
    expect(integerFrom(1, 10)('3')).to.equal('is not an integer from 1 to 10 (got string)');
    expect(optional(safeInteger)(undefined)).to.equal(undefined);
    expect(optional(safeInteger)(null)).to.equal('is not a safe integer ≥ 0');
    expect(orNull(safeInteger)(null)).to.equal(undefined);
  });

  it('hold the log\'s types to the invariants their files state', () => {
    const entry = { term: 1, index: 1, type: 0, data: new Uint8Array(1) };
    expect(logEntry(entry)).to.equal(undefined);
    expect(logEntry({ ...entry, index: 0 })).to.equal('.index is not a safe integer ≥ 1');
    expect(logEntry({ ...entry, type: 256 })).to.equal('.type is not an integer from 0 to 255 (got 256)');
    expect(logEntry({ ...entry, data: [1] })).to.equal('.data is not a byte array');
    expect(nodeId('')).to.equal('is not a node id');
    expect(nodeId('n'.repeat(256))).to.equal('is not a node id');
    // Counted in UTF-8 bytes, as the WAL stores and asserts them: 128 'é' are 256 bytes.
    expect(nodeId('é'.repeat(127))).to.equal(undefined);
    expect(nodeId('é'.repeat(128))).to.equal('is not a node id');
    expect(hardState({ term: 2, vote: 'é'.repeat(128), commit: 1 })).to.equal('.vote is not a node id');
    expect(hardState({ term: 2, vote: null, commit: 1 })).to.equal(undefined);
    expect(hardState({ term: 2, vote: 'n1', commit: 1, cluster: '' })).to.equal('.cluster is not a cluster name');
    expect(membership({ voters: ['n1'], learners: [] })).to.equal(undefined);
    expect(membership({ voters: Array.from({ length: 256 }, (_, at) => `n${at}`), learners: [] })).to.equal('.voters holds more than 255 elements');
    expect(snapshotMetadata({ index: 0, term: 1, membership: { voters: ['n1'], learners: [] } })).to.equal('.index is not a safe integer ≥ 1');
  });
});
