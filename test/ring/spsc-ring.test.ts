/**
 * The ring's edges, one thread: construction rules, empty and full, a record that exactly fills
 * the space before the end, a record that must wrap, the largest and the empty record, batches,
 * reserve/commit, counters, and positions that cross 2^31 and 2^32.
 *
 * Runs on: the mocha main thread.
 */
import { expect } from 'chai';
import { RingConsumer } from '../../src/ring/ring-consumer.js';
import { RingProducer } from '../../src/ring/ring-producer.js';
import {
  createRingBuffer,
  recordBytesMaxFor,
  readRingStats,
  recordBytesFor,
  capacityBytesMax,
  ringHeaderBytes,
} from '../../src/ring/spsc-ring.js';

const CAPACITY_BYTES = 256;

function openRing(capacityBytes = CAPACITY_BYTES, initialPositionForTests = 0): {
  buffer: SharedArrayBuffer;
  producer: RingProducer;
  consumer: RingConsumer;
} {
  const buffer = createRingBuffer(capacityBytes, { initialPositionForTests });
  return { buffer, producer: new RingProducer(buffer), consumer: new RingConsumer(buffer) };
}

function bytesOf(length: number, first: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (first + index) & 0xff);
}

/** Drains everything and returns copies of the records with the data offset each was read at. */
function drainCopies(consumer: RingConsumer): { bytes: Uint8Array; dataOffset: number }[] {
  const records: { bytes: Uint8Array; dataOffset: number }[] = [];
  consumer.drain((record) => records.push({ bytes: record.slice(), dataOffset: record.byteOffset - ringHeaderBytes }));
  return records;
}

describe('SPSC ring: construction', () => {
  it('refuses a capacity that is not a power of two, naming the rule', () => {
    expect(() => createRingBuffer(1000)).to.throw(RangeError, 'capacityBytes must be a power of two, got 1000');
  });

  it('refuses a capacity outside its bounds, naming them', () => {
    expect(() => createRingBuffer(128)).to.throw(RangeError, 'capacityBytes must be within [256, 1073741824], got 128');
    expect(() => createRingBuffer(capacityBytesMax * 2)).to.throw(RangeError, 'must be within');
    expect(() => createRingBuffer(256.5)).to.throw(RangeError, 'capacityBytes must be an integer');
  });

  it('refuses to attach to a buffer that is not a ring', () => {
    expect(() => new RingProducer(new SharedArrayBuffer(4096))).to.throw(TypeError, 'not a ring buffer');
  });

  it('states the largest record as capacityBytes / 2 - 4', () => {
    const { producer, consumer } = openRing();
    expect(recordBytesMaxFor(CAPACITY_BYTES)).to.equal(124);
    expect(producer.recordBytesMax).to.equal(124);
    expect(consumer.recordBytesMax).to.equal(124);
  });
});

describe('SPSC ring: empty and full', () => {
  it('an empty ring delivers nothing and reports no used bytes', () => {
    const { producer, consumer } = openRing();
    let calls = 0;
    expect(consumer.drain(() => calls++)).to.equal(0);
    expect(calls).to.equal(0);
    expect(consumer.hasRecords()).to.equal(false);
    expect(consumer.usedBytes()).to.equal(0);
    expect(producer.usedBytes()).to.equal(0);
  });

  it('uses every byte: four 64-byte records fill a 256-byte ring, the fifth is refused and counted', () => {
    const { buffer, producer, consumer } = openRing();
    for (let index = 0; index < 4; index++) expect(producer.tryWrite(bytesOf(60, index))).to.equal(true);
    expect(producer.usedBytes()).to.equal(256);
    expect(producer.tryWrite(bytesOf(60, 9))).to.equal(false);
    expect(producer.tryWrite(new Uint8Array(0))).to.equal(false);
    expect(readRingStats(buffer).fullCount).to.equal(2);
    const records = drainCopies(consumer);
    expect(records.map((record) => record.bytes)).to.deep.equal([0, 1, 2, 3].map((first) => bytesOf(60, first)));
    expect(producer.tryWrite(bytesOf(60, 9))).to.equal(true);
  });

  it('a record that exactly fills the space before the end needs no wrap marker', () => {
    const { producer, consumer } = openRing();
    expect(producer.tryWrite(bytesOf(124, 1))).to.equal(true); // 128 bytes: data offset 0..127
    drainCopies(consumer);
    expect(producer.tryWrite(bytesOf(124, 2))).to.equal(true); // 128 bytes: exactly 128..255
    expect(producer.usedBytes()).to.equal(128);
    expect(producer.tryWrite(bytesOf(8, 3))).to.equal(true); // the next one starts at offset 0
    expect(producer.usedBytes()).to.equal(128 + 12);
    const records = drainCopies(consumer);
    expect(records).to.deep.equal([
      { bytes: bytesOf(124, 2), dataOffset: 128 + 4 },
      { bytes: bytesOf(8, 3), dataOffset: 4 },
    ]);
  });

  it('a record that does not fit before the end wraps whole to the start, with the skip counted as used', () => {
    const { producer, consumer } = openRing(CAPACITY_BYTES, 200); // data offset 200: 56 bytes to the end
    expect(producer.tryWrite(bytesOf(60, 7))).to.equal(true); // 64 bytes do not fit in 56
    expect(producer.usedBytes()).to.equal(56 + 64);
    const records = drainCopies(consumer);
    expect(records).to.deep.equal([{ bytes: bytesOf(60, 7), dataOffset: 4 }]);
    expect(consumer.usedBytes()).to.equal(0);
  });

  it('a wrapping record that does not fit counts as full and leaves the ring unchanged', () => {
    const { buffer, producer, consumer } = openRing(CAPACITY_BYTES, 200);
    expect(producer.tryWrite(bytesOf(40, 1))).to.equal(true); // offset 200..243, 12 bytes to the end
    expect(producer.tryWrite(bytesOf(120, 2))).to.equal(true); // skip 12, then offset 0..123
    expect(producer.tryWrite(bytesOf(124, 3))).to.equal(false); // needs 128, only 76 free
    expect(readRingStats(buffer).fullCount).to.equal(1);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal([bytesOf(40, 1), bytesOf(120, 2)]);
  });
});

describe('SPSC ring: record sizes', () => {
  it('a largest record fits into an empty ring wherever the tail is', () => {
    for (let dataOffset = 0; dataOffset < CAPACITY_BYTES; dataOffset += 4) {
      const { producer, consumer } = openRing(CAPACITY_BYTES, dataOffset);
      expect(producer.tryWrite(bytesOf(124, dataOffset)), `tail at data offset ${dataOffset}`).to.equal(true);
      expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal([bytesOf(124, dataOffset)]);
    }
  });

  it('a record larger than the ring can ever hold is a RangeError with both sizes', () => {
    const { producer } = openRing();
    expect(() => producer.tryWrite(new Uint8Array(125))).to.throw(
      RangeError,
      'record of 125 bytes cannot fit a ring of 256 bytes: the largest record is capacityBytes / 2 - 4 = 124 bytes',
    );
    expect(() => producer.reserve(1000)).to.throw(RangeError, 'record of 1000 bytes');
    expect(() => producer.hasSpaceFor(-1)).to.throw(RangeError);
  });

  it('a zero-length record is delivered as an empty view and occupies 4 bytes', () => {
    const { producer, consumer } = openRing();
    expect(producer.tryWrite(new Uint8Array(0))).to.equal(true);
    expect(producer.usedBytes()).to.equal(4);
    const records = drainCopies(consumer);
    expect(records.length).to.equal(1);
    expect(records[0]?.bytes.byteLength).to.equal(0);
  });

  it('payloads are padded to 4 bytes so that every length prefix is aligned', () => {
    expect([0, 1, 3, 4, 5, 8].map(recordBytesFor)).to.deep.equal([4, 8, 8, 8, 12, 12]);
    const { producer, consumer } = openRing();
    for (const length of [1, 2, 3, 5]) expect(producer.tryWrite(bytesOf(length, length))).to.equal(true);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal([1, 2, 3, 5].map((length) => bytesOf(length, length)));
  });
});

describe('SPSC ring: batches and zero-copy writes', () => {
  it('tryWriteMany writes in order until the ring is full and says how many', () => {
    const { producer, consumer } = openRing();
    const records = [0, 1, 2, 3, 4, 5].map((first) => bytesOf(60, first));
    expect(producer.tryWriteMany(records)).to.equal(4);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal(records.slice(0, 4));
    expect(producer.tryWriteMany(records, 4)).to.equal(2);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal(records.slice(4));
  });

  it('a reserved record is invisible until commit, and commit may trim it', () => {
    const { producer, consumer } = openRing();
    const view = producer.reserve(100);
    expect(view?.byteLength).to.equal(100);
    view?.set(bytesOf(100, 5));
    expect(consumer.hasRecords()).to.equal(false);
    producer.commit(30);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal([bytesOf(30, 5)]);
    expect(producer.usedBytes()).to.equal(0);
  });

  it('reserve returns null when full, and misuse of reserve/commit is refused', () => {
    const { producer } = openRing();
    expect(() => producer.commit()).to.throw('commit() called without an open reservation');
    producer.reserve(100);
    expect(() => producer.reserve(4)).to.throw('reservation is open');
    expect(() => producer.tryWrite(new Uint8Array(1))).to.throw('reservation is open');
    expect(() => producer.commit(101)).to.throw(RangeError, 'commit(101) must be an integer in [0, 100]');
    producer.commit();
    producer.reserve(120);
    producer.commit();
    expect(producer.reserve(120)).to.equal(null);
  });
});

describe('SPSC ring: consumer', () => {
  it('drain stops after recordsMax and leaves the rest', () => {
    const { producer, consumer } = openRing();
    for (let index = 0; index < 3; index++) producer.tryWrite(bytesOf(10, index));
    const seen: number[] = [];
    expect(consumer.drain((record) => seen.push(record[0] ?? -1), 2)).to.equal(2);
    expect(consumer.drain((record) => seen.push(record[0] ?? -1))).to.equal(1);
    expect(seen).to.deep.equal([0, 1, 2]);
  });

  it('a callback that throws keeps the records before it consumed and gets its record again', () => {
    const { producer, consumer } = openRing();
    for (let index = 0; index < 3; index++) producer.tryWrite(bytesOf(10, index));
    const seen: number[] = [];
    const failOnOne = (record: Uint8Array): void => {
      if (record[0] === 1 && !seen.includes(-1)) {
        seen.push(-1);
        throw new Error('handler failed');
      }
      seen.push(record[0] ?? -2);
    };
    expect(() => consumer.drain(failOnOne)).to.throw('handler failed');
    expect(consumer.drain(failOnOne)).to.equal(2);
    expect(seen).to.deep.equal([0, -1, 1, 2]);
  });

  it('a corrupt length prefix stops the consumer with the numbers', () => {
    const { buffer, producer, consumer } = openRing();
    producer.tryWrite(bytesOf(10, 0));
    new Int32Array(buffer)[ringHeaderBytes / 4] = 9999;
    expect(() => consumer.drain(() => undefined)).to.throw(/corrupt ring record at position 0 .*length prefix 9999, 16 bytes published/);
  });

  it('close lets the consumer finish after draining, and a later producer opens the ring again', () => {
    const { buffer, producer, consumer } = openRing();
    producer.tryWrite(bytesOf(10, 0));
    producer.close();
    expect(() => producer.tryWrite(bytesOf(1, 0))).to.throw('write on a closed ring');
    expect(consumer.isFinished()).to.equal(false);
    expect(drainCopies(consumer).length).to.equal(1);
    expect(consumer.isFinished()).to.equal(true);
    const restarted = new RingProducer(buffer);
    expect(consumer.isFinished()).to.equal(false);
    expect(restarted.tryWrite(bytesOf(3, 3))).to.equal(true);
    expect(drainCopies(consumer).map((record) => record.bytes)).to.deep.equal([bytesOf(3, 3)]);
  });

  it('counts records and payload bytes written and read, readable from the buffer alone', () => {
    const { buffer, producer, consumer } = openRing();
    producer.tryWrite(bytesOf(10, 0));
    producer.tryWriteMany([bytesOf(5, 0), bytesOf(0, 0)]);
    expect(readRingStats(buffer)).to.deep.include({ recordsWritten: 3, payloadBytesWritten: 15, recordsRead: 0, usedBytes: 32 });
    consumer.drain(() => undefined, 1);
    expect(readRingStats(buffer)).to.deep.include({ recordsRead: 1, usedBytes: 16, capacityBytes: 256, producerClosed: false });
  });
});

describe('SPSC ring: positions past 2^31 and 2^32', () => {
  for (const [name, start] of [
    ['2^31', 2 ** 31 - 64],
    ['2^32', 2 ** 32 - 64],
  ] as const) {
    it(`streams records intact while head and tail cross ${name}`, () => {
      const { buffer, producer, consumer } = openRing(CAPACITY_BYTES, start);
      let written = 0;
      let read = 0;
      let bytesPassed = 0;
      // 2,000 records of up to 124 bytes move far more than 64 bytes: both counters cross.
      while (read < 2000) {
        while (written < 2000 && producer.tryWrite(bytesOf(written % 125, written))) {
          bytesPassed += recordBytesFor(written % 125);
          written++;
        }
        const used = readRingStats(buffer).usedBytes;
        expect(used, 'used bytes').to.be.within(1, CAPACITY_BYTES);
        consumer.drain((record) => {
          expect(record, `record ${read}`).to.deep.equal(bytesOf(read % 125, read));
          read++;
        });
      }
      expect(bytesPassed).to.be.greaterThan(64);
      const stats = readRingStats(buffer);
      expect(stats.usedBytes).to.equal(0);
      expect(stats.recordsRead).to.equal(2000);
    });
  }
});
