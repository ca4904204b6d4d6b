/**
 * The single-producer/single-consumer ring over one SharedArrayBuffer: its memory layout, its
 * construction, its metrics, and the wake-up protocol both ends follow. The two ends live in
 * `ring-producer.ts` and `ring-consumer.ts`; `ring-channel.ts` puts typed messages on top.
 *
 * One ring carries one direction between two actors. Both ends can be built on different threads
 * from the same SharedArrayBuffer (it crosses threads through workerData or postMessage).
 * Exactly one RingProducer and one RingConsumer may use a buffer at a time. Nothing in the buffer
 * checks it, because a thread that was terminated cannot give its end back: the supervisor
 * guarantees it by awaiting the old thread's exit before a restarted actor attaches. A restarted
 * end goes on from the published head and tail: a record whose write was cut short was never
 * published (the consumer never sees half a record), and records whose drain was cut short are
 * delivered again (at least once).
 *
 * Header (Int32 words; each group sits in its own 128-byte slot so that no two groups share a
 * 64-byte cache line whatever the buffer's alignment, and the adjacent-line prefetcher does not
 * pair them):
 *
 * | byte | word | name                  | written by | meaning                                            |
 * |------|------|-----------------------|------------|----------------------------------------------------|
 * |    0 |    0 | magic                 | create     | 0x46515247 ("FQRG"): this buffer is a ring         |
 * |    4 |    1 | layoutVersion         | create     | 1                                                  |
 * |    8 |    2 | capacityBytes         | create     | size of the data region, a power of two            |
 * |  128 |   32 | tail                  | producer   | write position (see "Positions")                   |
 * |  132 |   33 | recordsWritten        | producer   | uint32 counter, wraps at 2^32                      |
 * |  136 |   34 | payloadBytesWritten   | producer   | uint32 counter of payload bytes, wraps at 2^32     |
 * |  140 |   35 | fullCount             | producer   | uint32: times a write found the ring full          |
 * |  144 |   36 | producerClosed        | producer   | 1 once the producer said it writes no more         |
 * |  256 |   64 | head                  | consumer   | read position                                      |
 * |  260 |   65 | recordsRead           | consumer   | uint32 counter, wraps at 2^32                      |
 * |  384 |   96 | consumerWaiting       | both       | 1: consumer sleeps on it; the producer clears it   |
 * |  512 |  128 | producerWaiting       | both       | 1: producer sleeps on it; the consumer clears it   |
 * |  640 |    - | data[capacityBytes]   |            | records                                            |
 *
 * Records (4-byte aligned, never split across the end of the data region):
 *
 * | bytes | field                                                                       |
 * |-------|-----------------------------------------------------------------------------|
 * | 0..3  | int32 payloadBytes (>= 0), or wrapMarker (-1): the rest of the region up    |
 * |       | to its end is padding and the next record starts at data offset 0           |
 * | 4..   | payload, then 0-3 bytes of padding up to the next multiple of 4             |
 *
 * Positions: head and tail count bytes that ever passed through the ring, modulo 2^32 (stored as
 * int32 and combined with `| 0`). The data offset of a position is `position & (capacity - 1)`,
 * which is exact across the 2^32 wrap because the capacity is a power of two that divides 2^32.
 * Used bytes are `(tail - head) >>> 0`, exact because used bytes never exceed the capacity <= 2^30.
 *
 * Full/empty rule: empty when head == tail; a record needs `skip + 4 + align4(payloadBytes)` free
 * bytes, where skip is the padding to the end of the region when the record does not fit before
 * it, and it is written only when `capacity - used >= needed`. Every byte of the region is usable;
 * a full ring never overwrites and never drops: the write returns false and the caller waits.
 *
 * Largest record: `capacityBytes / 2 - 4` payload bytes. Why half: a record must fit into an
 * empty ring wherever the tail happens to be. A record of at most half the capacity that does not
 * fit before the end leaves a skip smaller than itself, so skip + record < capacity always fits.
 *
 * Wake-up protocol (the same on both sides; shown for a consumer waiting for records):
 *   consumer: store consumerWaiting = 1; load tail; if records: clear the flag, go drain;
 *             else sleep while consumerWaiting == 1 (Atomics.waitAsync or Atomics.wait).
 *   producer: store tail (publish); load consumerWaiting; if 1: store 0 and Atomics.notify.
 * The lost wake-up this prevents: the consumer finds the ring empty, the producer then publishes
 * and sees no waiter, and the consumer goes to sleep on a record that has already arrived. All four
 * accesses are sequentially consistent Atomics, so in their single total order either the
 * consumer's load of tail comes after the producer's store (the consumer sees the record and does
 * not sleep) or the producer's load of the flag comes after the consumer's store (the producer
 * clears it and notifies). A notify that lands before the consumer actually sleeps is not lost
 * either: the consumer sleeps only while the word still holds 1, and the producer set it to 0.
 * Per publish the producer pays one load (a plain move on x86) of a cache line that the consumer
 * writes only when it goes to sleep; it calls Atomics.notify only when the consumer announced it.
 * Wake-ups can be early, never lost: a producer that loaded an announcement may clear it (and
 * notify) only after the consumer has woken, drained and announced its next sleep, which then
 * ends at once with nothing to read. Every waiting loop therefore re-checks and waits again.
 *
 * Runs on: any thread (the supervisor creates rings; actors attach the ends).
 */

/** Smallest ring: room for a few records and their wrap padding. */
export const capacityBytesMin = 256;
/** Largest ring: 1 GiB keeps `(tail - head) >>> 0` exact (used bytes < 2^31) with room to spare. */
export const capacityBytesMax = 2 ** 30;
/** Bytes of the length prefix before every payload. */
export const recordHeaderBytes = 4;
/** Length prefix value that marks padding up to the end of the data region. */
export const wrapMarker = -1;
/** Bytes before the data region: five 128-byte slots (see the table above). */
export const ringHeaderBytes = 640;

const ringMagic = 0x46515247;
const ringLayoutVersion = 1;

/** Word indexes into the Int32Array over the whole buffer. */
export const Word = {
  magic: 0,
  layoutVersion: 1,
  capacityBytes: 2,
  tail: 32,
  recordsWritten: 33,
  payloadBytesWritten: 34,
  fullCount: 35,
  producerClosed: 36,
  head: 64,
  recordsRead: 65,
  consumerWaiting: 96,
  producerWaiting: 128,
} as const;

export interface CreateRingOptions {
  /**
   * For tests only: the position head and tail start at, so that a test can cross the 2^31 and
   * 2^32 boundaries without pushing 4 GiB through the ring. A multiple of 4 in [0, 2^32).
   */
  readonly initialPositionForTests?: number;
}

/** The payload size limit of a ring of `capacityBytes` (see "Largest record" above). */
export function recordBytesMaxFor(capacityBytes: number): number {
  return capacityBytes / 2 - recordHeaderBytes;
}

/** Bytes a record of `payloadBytes` occupies in the data region, padding included. */
export function recordBytesFor(payloadBytes: number): number {
  return recordHeaderBytes + ((payloadBytes + 3) & ~3);
}

/**
 * Allocates and initialises one ring. Throws a RangeError naming the rule when `capacityBytes` is
 * not a power of two within [capacityBytesMin, capacityBytesMax]: ring sizes come
 * from code or validated configuration, so a bad one is a programmer error.
 */
export function createRingBuffer(capacityBytes: number, options: CreateRingOptions = {}): SharedArrayBuffer {
  validateCapacity(capacityBytes);
  const initialPosition = options.initialPositionForTests ?? 0;
  if (!Number.isSafeInteger(initialPosition) || initialPosition < 0 || initialPosition >= 2 ** 32 || initialPosition % 4 !== 0) {
    throw new RangeError(`initialPositionForTests must be a multiple of 4 in [0, 2^32), got ${initialPosition}`);
  }
  const buffer = new SharedArrayBuffer(ringHeaderBytes + capacityBytes);
  const words = new Int32Array(buffer);
  words[Word.magic] = ringMagic;
  words[Word.layoutVersion] = ringLayoutVersion;
  words[Word.capacityBytes] = capacityBytes;
  words[Word.tail] = initialPosition | 0;
  words[Word.head] = initialPosition | 0;
  return buffer;
}

function validateCapacity(capacityBytes: number): void {
  if (!Number.isSafeInteger(capacityBytes)) {
    throw new RangeError(`capacityBytes must be an integer, got ${capacityBytes}`);
  }
  if (capacityBytes < capacityBytesMin || capacityBytes > capacityBytesMax) {
    throw new RangeError(
      `capacityBytes must be within [${capacityBytesMin}, ${capacityBytesMax}], got ${capacityBytes}`,
    );
  }
  if ((capacityBytes & (capacityBytes - 1)) !== 0) {
    throw new RangeError(`capacityBytes must be a power of two, got ${capacityBytes}`);
  }
}

/** Checks that `buffer` holds a ring made by createRingBuffer and returns its capacity. */
export function readRingCapacity(buffer: SharedArrayBuffer): number {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < ringHeaderBytes + capacityBytesMin) {
    throw new TypeError('expected a SharedArrayBuffer made by createRingBuffer');
  }
  const words = new Int32Array(buffer, 0, ringHeaderBytes / 4);
  const magic = Atomics.load(words, Word.magic);
  const version = Atomics.load(words, Word.layoutVersion);
  const capacityBytes = Atomics.load(words, Word.capacityBytes);
  if (magic !== ringMagic || version !== ringLayoutVersion) {
    throw new TypeError(`not a ring buffer of layout ${ringLayoutVersion} (magic ${magic}, version ${version})`);
  }
  if (buffer.byteLength !== ringHeaderBytes + capacityBytes) {
    throw new TypeError(`ring header says ${capacityBytes} data bytes but the buffer holds ${buffer.byteLength - ringHeaderBytes}`);
  }
  return capacityBytes;
}

/** A point-in-time view of a ring's counters, readable from any thread (e.g. for /metrics). */
export interface RingStats {
  readonly capacityBytes: number;
  /** Bytes between head and tail, padding and wrap skips included. */
  readonly usedBytes: number;
  /** The uint32 counters wrap at 2^32: compute rates as `(now - before) >>> 0`. */
  readonly recordsWritten: number;
  readonly payloadBytesWritten: number;
  readonly recordsRead: number;
  readonly fullCount: number;
  readonly producerClosed: boolean;
}

export function readRingStats(buffer: SharedArrayBuffer): RingStats {
  const capacityBytes = readRingCapacity(buffer);
  const words = new Int32Array(buffer, 0, ringHeaderBytes / 4);
  const head = Atomics.load(words, Word.head);
  const tail = Atomics.load(words, Word.tail);
  return {
    capacityBytes,
    usedBytes: (tail - head) >>> 0,
    recordsWritten: Atomics.load(words, Word.recordsWritten) >>> 0,
    payloadBytesWritten: Atomics.load(words, Word.payloadBytesWritten) >>> 0,
    recordsRead: Atomics.load(words, Word.recordsRead) >>> 0,
    fullCount: Atomics.load(words, Word.fullCount) >>> 0,
    producerClosed: Atomics.load(words, Word.producerClosed) === 1,
  };
}

type WaitAsyncResult =
  | { readonly async: false; readonly value: 'not-equal' | 'timed-out' }
  | { readonly async: true; readonly value: Promise<'ok' | 'timed-out'> };

/**
 * `Atomics.waitAsync`, typed here because the project's `lib` (ES2023) predates it; Node 20 has
 * it. A pending waitAsync does not keep a Node worker alive: see ring-channel.ts `run`.
 */
export function waitAsync(words: Int32Array, index: number, expected: number, timeoutMs: number): WaitAsyncResult {
  const atomics = Atomics as unknown as {
    waitAsync(array: Int32Array, index: number, value: number, timeout: number): WaitAsyncResult;
  };
  return atomics.waitAsync(words, index, expected, timeoutMs);
}

/** Awaits a waitAsync result; resolves with no value once the sleep ended for any reason. */
export async function settle(result: WaitAsyncResult): Promise<void> {
  if (result.async) await result.value;
}
