/**
 * Property: whatever the record sizes, the interleaving of writes (single, batched, reserve/commit)
 * and drains, and where the positions start (near 0, 2^31 or 2^32), the consumer reads exactly the
 * records the producer wrote, in order, and a write is refused exactly when the documented
 * full/empty rule says it does not fit (no spurious backpressure, no overwrite).
 *
 * The model below is the rule from spsc-ring.ts written as plainly as possible: a queue of records
 * plus a tail and head counted in bytes modulo 2^32.
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with RING_PROPERTY_SEED=<seed>.
 *
 * Runs on: the mocha main thread.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { RingConsumer } from '../../src/ring/ring-consumer.js';
import { RingProducer } from '../../src/ring/ring-producer.js';
import { createRingBuffer } from '../../src/ring/spsc-ring.js';

const CAPACITY_BYTES = 256;
const MAX_RECORD_BYTES = CAPACITY_BYTES / 2 - 4;
const RUNS = 300;
const OPERATIONS_MAX = 300;

type Operation =
  | { readonly kind: 'write'; readonly sizes: readonly number[] }
  | { readonly kind: 'reserve'; readonly size: number; readonly trimTo: number }
  | { readonly kind: 'drain'; readonly recordsMax: number };

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: MAX_RECORD_BYTES }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 3, MAX_RECORD_BYTES - 1, MAX_RECORD_BYTES) },
);
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), sizes: fc.array(size, { minLength: 1, maxLength: 6 }) }),
  fc
    .record({ kind: fc.constant('reserve' as const), size, trim: fc.nat() })
    .map(({ size: reserved, trim }) => ({ kind: 'reserve' as const, size: reserved, trimTo: trim % (reserved + 1) })),
  fc.record({ kind: fc.constant('drain' as const), recordsMax: fc.integer({ min: 1, max: 8 }) }),
);
const startPosition = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 64 }).map((words) => 2 ** 31 - words * 4),
  fc.integer({ min: 0, max: 64 }).map((words) => 2 ** 32 - 4 - words * 4),
  fc.integer({ min: 0, max: 2 ** 30 - 1 }).map((words) => words * 4),
);

/** The documented rule: records never split, skip to the start when one does not fit before the end. */
class RingModel {
  private readonly queue: { readonly record: Uint8Array; readonly endPosition: number }[] = [];
  constructor(
    private tail: number,
    private head: number,
  ) {}
  static recordBytes(payloadBytes: number): number {
    return 4 + Math.ceil(payloadBytes / 4) * 4;
  }
  skipBytes(payloadBytes: number): number {
    const bytesToEnd = CAPACITY_BYTES - (this.tail % CAPACITY_BYTES);
    return RingModel.recordBytes(payloadBytes) <= bytesToEnd ? 0 : bytesToEnd;
  }
  fits(payloadBytes: number): boolean {
    return CAPACITY_BYTES - this.usedBytes() >= this.skipBytes(payloadBytes) + RingModel.recordBytes(payloadBytes);
  }
  /** `placedAsBytes`: the size the position was chosen for (a reservation may be trimmed after). */
  push(record: Uint8Array, placedAsBytes = record.byteLength): void {
    const endPosition = this.tail + this.skipBytes(placedAsBytes) + RingModel.recordBytes(record.byteLength);
    this.tail = endPosition % 2 ** 32;
    this.queue.push({ record, endPosition: this.tail });
  }
  shift(): Uint8Array | undefined {
    const entry = this.queue.shift();
    if (entry !== undefined) this.head = entry.endPosition;
    return entry?.record;
  }
  usedBytes(): number {
    return (this.tail - this.head + 2 ** 32) % 2 ** 32;
  }
  get length(): number {
    return this.queue.length;
  }
}

function recordOf(serial: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (serial * 31 + index) & 0xff);
}

function check(start: number, operations: readonly Operation[]): void {
  const buffer = createRingBuffer(CAPACITY_BYTES, { initialPositionForTests: start });
  const producer = new RingProducer(buffer);
  const consumer = new RingConsumer(buffer);
  const model = new RingModel(start, start);
  let serial = 0;
  const readRecord = (record: Uint8Array): void => {
    const expected = model.shift();
    expect(expected, 'the consumer read a record nobody wrote').to.not.equal(undefined);
    expect(record).to.deep.equal(expected);
  };
  for (const step of operations) {
    if (step.kind === 'write') {
      const records = step.sizes.map((length) => recordOf(serial++, length));
      let fitting = 0;
      // The model decides record by record, as tryWriteMany does.
      while (fitting < records.length && model.fits(records[fitting]?.byteLength ?? 0)) model.push(records[fitting++] as Uint8Array);
      const written = records.length === 1 ? Number(producer.tryWrite(records[0] as Uint8Array)) : producer.tryWriteMany(records);
      expect(written, `records written of ${records.length}`).to.equal(fitting);
    } else if (step.kind === 'reserve') {
      const fits = model.fits(step.size);
      const view = producer.reserve(step.size);
      expect(view !== null, `reserve(${step.size}) with ${model.usedBytes()} used`).to.equal(fits);
      if (view !== null) {
        const record = recordOf(serial++, step.trimTo);
        view.set(record);
        producer.commit(step.trimTo);
        // A trimmed record occupies what its final size needs; the skip was decided for the reserved size.
        model.push(record, step.size);
      }
    } else {
      const before = model.length;
      expect(consumer.drain(readRecord, step.recordsMax)).to.equal(Math.min(before, step.recordsMax));
    }
    expect(producer.usedBytes(), 'used bytes').to.equal(model.usedBytes());
  }
  consumer.drain(readRecord);
  expect(model.length, 'records written but never read').to.equal(0);
}

describe('SPSC ring: property', () => {
  it('the consumer reads exactly the records written, whatever the sizes, interleavings and start positions', () => {
    const seedText = process.env.RING_PROPERTY_SEED;
    fc.assert(
      fc.property(startPosition, fc.array(operation, { minLength: 1, maxLength: OPERATIONS_MAX, size: 'max' }), check),
      seedText === undefined ? { numRuns: RUNS } : { numRuns: RUNS, seed: Number(seedText) },
    );
  });
});
