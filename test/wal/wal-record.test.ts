/**
 * The record format: what is encoded decodes to the same entries, every single-byte corruption
 * is detected, and scans say precisely where and why they stopped.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { LogEntry } from '../../src/log/log-entry.js';
import {
  encodeRecords, entryOf, findGoodRecordAfter, readRecordAt, recordBytesFor, recordHeaderBytes, RecordView, scanRecords,
} from '../../src/wal/wal-record.js';
import { entriesFor } from './wal-test-helpers.js';

const recordBytesMax = 1024 * 1024;

const entryArbitrary = fc.record({
  term: fc.maxSafeNat(),
  index: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  type: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 600 }),
});

function decodeAll(bytes: Buffer): LogEntry[] {
  const entries: LogEntry[] = [];
  const view = new RecordView();
  for (let offset = 0; offset < bytes.length; offset += view.recordBytes) {
    expect(readRecordAt(bytes, offset, bytes.length, recordBytesMax, view)).to.equal('ok');
    entries.push(entryOf(bytes, view));
  }
  return entries;
}

function sameEntry(actual: LogEntry, expected: LogEntry): boolean {
  return actual.term === expected.term && actual.index === expected.index && actual.type === expected.type
    && Buffer.from(actual.data).equals(Buffer.from(expected.data));
}

describe('WAL record format', () => {
  it('decodes exactly the entries it encoded, across the whole safe-integer range', () => {
    fc.assert(fc.property(fc.array(entryArbitrary, { maxLength: 20 }), (entries) => {
      const bytes = encodeRecords(entries);
      const expectedBytes = entries.reduce((total, entry) => total + recordBytesFor(entry.data.length), 0);
      expect(bytes.length).to.equal(expectedBytes);
      const decoded = decodeAll(bytes);
      expect(decoded).to.have.length(entries.length);
      decoded.forEach((entry, position) => expect(sameEntry(entry, entries[position] as LogEntry)).to.equal(true));
    }), { numRuns: 300 });
  });

  it('detects every single-byte corruption of a record (property)', () => {
    fc.assert(fc.property(entryArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), (entry, position, mask) => {
      const bytes = encodeRecords([entry]);
      const at = position % bytes.length;
      bytes[at] = (bytes[at] ?? 0) ^ mask;
      const status = readRecordAt(bytes, 0, bytes.length, recordBytesMax, new RecordView());
      expect(status, `byte ${at} xor ${mask} of a ${bytes.length}-byte record went undetected`).to.not.equal('ok');
    }), { numRuns: 3000 });
  });

  it('detects every single-byte corruption at every position of a few records (exhaustive)', () => {
    const samples: LogEntry[] = [
      { term: 0, index: 1, type: 0, data: new Uint8Array(0) },
      { term: 7, index: 123_456, type: 2, data: Uint8Array.from({ length: 40 }, (_, i) => i) },
      { term: Number.MAX_SAFE_INTEGER, index: Number.MAX_SAFE_INTEGER, type: 255, data: new Uint8Array(9).fill(0xff) },
    ];
    const view = new RecordView();
    for (const entry of samples) {
      const original = encodeRecords([entry]);
      for (let at = 0; at < original.length; at += 1) {
        for (let mask = 1; mask <= 255; mask += 1) {
          const bytes = Buffer.from(original);
          bytes[at] = (bytes[at] ?? 0) ^ mask;
          const status = readRecordAt(bytes, 0, bytes.length, recordBytesMax, view);
          if (status === 'ok') expect.fail(`byte ${at} xor ${mask} of record index ${entry.index} went undetected`);
        }
      }
    }
  });

  it('refuses to encode a term or index that is not a safe integer', () => {
    const data = new Uint8Array(1);
    expect(() => encodeRecords([{ term: 1, index: Number.MAX_SAFE_INTEGER + 1, type: 0, data }])).to.throw(/not storable/);
    expect(() => encodeRecords([{ term: -1, index: 1, type: 0, data }])).to.throw(/not storable/);
    expect(() => encodeRecords([{ term: 1, index: 0, type: 0, data }])).to.throw(/not storable/);
    expect(() => encodeRecords([{ term: 1, index: 1, type: 256, data }])).to.throw(/not storable/);
  });

  it('refuses a length above the record bound before reading any payload', () => {
    const bytes = encodeRecords(entriesFor(1, 1, 1, 300));
    bytes.writeUInt32LE(0x7fff_ffff, 0);
    expect(readRecordAt(bytes, 0, bytes.length, recordBytesMax, new RecordView())).to.equal('badLength');
  });

  it('reports a torn tail as incomplete at the offset of the cut record', () => {
    const entries = entriesFor(1, 10, 3);
    const bytes = encodeRecords(entries);
    const lastStart = bytes.length - recordBytesFor((entries[9] as LogEntry).data.length);
    for (const cut of [lastStart + 1, lastStart + 3, lastStart + recordHeaderBytes, bytes.length - 1]) {
      const scan = scanRecords(bytes, 0, cut, { expectedFirstIndex: 1, previousTerm: 0, recordBytesMax });
      expect(scan.failure, `cut at ${cut}`).to.deep.equal({ reason: 'incomplete', offset: lastStart });
      expect(scan.goodEnd).to.equal(lastStart);
      expect(scan.lastIndex).to.equal(9);
      expect(findGoodRecordAfter(bytes, lastStart, cut, 9, recordBytesMax)).to.equal(-1);
    }
  });

  it('stops at a corrupt record in the middle and still finds the good records after it', () => {
    const entries = entriesFor(1, 10, 3);
    const bytes = encodeRecords(entries);
    let fifthStart = 0;
    for (const entry of entries.slice(0, 4)) fifthStart += recordBytesFor(entry.data.length);
    bytes[fifthStart + recordHeaderBytes] = (bytes[fifthStart + recordHeaderBytes] ?? 0) ^ 0x40;
    const scan = scanRecords(bytes, 0, bytes.length, { expectedFirstIndex: 1, previousTerm: 0, recordBytesMax });
    expect(scan.failure).to.deep.equal({ reason: 'badChecksum', offset: fifthStart });
    expect(scan.recordCount).to.equal(4);
    const sixthStart = fifthStart + recordBytesFor((entries[4] as LogEntry).data.length);
    expect(findGoodRecordAfter(bytes, fifthStart, bytes.length, 4, recordBytesMax)).to.equal(sixthStart);
  });

  it('reports records out of sequence or with a lower term', () => {
    const gap = encodeRecords([...entriesFor(1, 2, 1), ...entriesFor(4, 1, 1)]);
    expect(scanRecords(gap, 0, gap.length, { expectedFirstIndex: 1, previousTerm: 0, recordBytesMax }).failure?.reason).to.equal('indexGap');
    const regression = encodeRecords([...entriesFor(1, 2, 5), ...entriesFor(3, 1, 4)]);
    expect(scanRecords(regression, 0, regression.length, { expectedFirstIndex: 1, previousTerm: 0, recordBytesMax }).failure?.reason)
      .to.equal('termRegression');
  });
});
