/**
 * The reading end of an SPSC ring (layout, positions and wake-up protocol: spsc-ring.ts).
 *
 * Invariants: only this object writes head, recordsRead, and reads the data bytes between head
 * and tail. A drain reads tail once, hands every record up to it to the callback, and releases the
 * batch with one head store (one notify at most, and only if the producer sleeps), or one per
 * quarter ring in a long drain (releaseChunksPerRing): the head's cache line and the wake-up
 * path are touched once per batch, not once per record.
 *
 * Record views handed to `drain` callbacks point into the shared buffer: they are valid only
 * during the callback. After the batch is released the producer overwrites those bytes; copy
 * (`record.slice()`) or decode before returning anything that must outlive the call.
 *
 * Runs on: the thread of the actor that receives on this ring.
 */
import {
  recordBytesMaxFor,
  readRingCapacity,
  recordBytesFor,
  recordHeaderBytes,
  ringHeaderBytes,
  settle,
  waitAsync,
  Word,
  wrapMarker,
} from './spsc-ring.js';

/**
 * A drain releases space at least this many times per ring's worth of records. Why not only at
 * the end: when the producer sleeps on a full ring, releasing only after the whole ring is drained
 * leaves it asleep (and then waking, tens of microseconds) while the consumer works, and the
 * consumer then finds the ring empty and sleeps in turn. Releasing a quarter at a time wakes the
 * producer while three quarters are still left to drain, so both threads keep working.
 */
export const releaseChunksPerRing = 4;

/** Called once per record; `record` is valid only until the callback returns. */
export type RecordHandler = (record: Uint8Array) => void;

export class RingConsumer {
  readonly capacityBytes: number;
  readonly recordBytesMax: number;
  private readonly words: Int32Array;
  private readonly buffer: SharedArrayBuffer;
  private readonly mask: number;
  /** A long drain releases space every this many bytes (see the header). */
  private readonly releaseChunkBytes: number;
  /** Our copy of head: only this object moves it. */
  private readPosition: number;
  private recordsRead: number;

  constructor(buffer: SharedArrayBuffer) {
    this.capacityBytes = readRingCapacity(buffer);
    this.recordBytesMax = recordBytesMaxFor(this.capacityBytes);
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.mask = this.capacityBytes - 1;
    this.releaseChunkBytes = this.capacityBytes / releaseChunksPerRing;
    this.readPosition = Atomics.load(this.words, Word.head);
    this.recordsRead = Atomics.load(this.words, Word.recordsRead);
  }

  /** Bytes between head and tail right now, padding included. */
  usedBytes(): number {
    return (Atomics.load(this.words, Word.tail) - this.readPosition) >>> 0;
  }

  hasRecords(): boolean {
    return Atomics.load(this.words, Word.tail) !== this.readPosition;
  }

  /** True when the producer closed the ring and every record was drained: nothing more will come. */
  isFinished(): boolean {
    // Closed first, then tail: the producer stores tail before closed, so a tail loaded after
    // seeing closed includes every record.
    return Atomics.load(this.words, Word.producerClosed) === 1 && !this.hasRecords();
  }

  /**
   * Hands every record published so far (at most `recordsMax`) to `onRecord`, in order, and
   * releases their space after the batch (and every quarter ring on the way). Returns the number
   * of records delivered. The loop is bounded by the tail loaded at the start (at most
   * capacityBytes / 4 records) and by `recordsMax`.
   * If `onRecord` throws, the records before it stay consumed, the one that threw is not consumed
   * (a later drain delivers it again), and the error propagates.
   */
  drain(onRecord: RecordHandler, recordsMax: number = Number.POSITIVE_INFINITY): number {
    const tail = Atomics.load(this.words, Word.tail);
    let position = this.readPosition;
    let delivered = 0;
    let releasedRecords = 0;
    try {
      while (position !== tail && delivered < recordsMax) {
        const dataOffset = position & this.mask;
        const prefixOffset = ringHeaderBytes + dataOffset;
        const payloadBytes = this.readPrefix(prefixOffset, position, tail);
        if (payloadBytes === wrapMarker) {
          position = (position + this.capacityBytes - dataOffset) | 0;
          continue;
        }
        onRecord(new Uint8Array(this.buffer, prefixOffset + recordHeaderBytes, payloadBytes));
        position = (position + recordBytesFor(payloadBytes)) | 0;
        delivered++;
        if (((position - this.readPosition) >>> 0) >= this.releaseChunkBytes) {
          this.release(position, delivered - releasedRecords);
          releasedRecords = delivered;
        }
      }
    } finally {
      if (position !== this.readPosition) this.release(position, delivered - releasedRecords);
    }
    return delivered;
  }

  /**
   * Resolves true once records are available or the producer closed; false after `timeoutMs`,
   * after `interruptWait`, or after an early wake-up (spsc-ring.ts): callers drain and loop.
   * Sleeps with Atomics.waitAsync: for threads that own sockets or timers. Drain before calling.
   * A pending waitAsync does not keep a Node worker alive: see ring-channel.ts `run`.
   */
  async waitForData(timeoutMs: number = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.announceSleep()) return true;
    await settle(waitAsync(this.words, Word.consumerWaiting, 1, timeoutMs));
    return this.endSleep();
  }

  /**
   * The blocking twin of waitForData, for a thread that has nothing else to do (a dedicated
   * consumer with no sockets, timers or messages): Atomics.wait freezes the thread's event loop
   * while it sleeps. Never call it on a thread that serves I/O.
   */
  waitSync(timeoutMs: number = Number.POSITIVE_INFINITY): boolean {
    if (this.announceSleep()) return true;
    Atomics.wait(this.words, Word.consumerWaiting, 1, timeoutMs);
    return this.endSleep();
  }

  /** Ends a pending waitForData early (e.g. on abort). Safe from any thread. */
  interruptWait(): void {
    Atomics.store(this.words, Word.consumerWaiting, 0);
    Atomics.notify(this.words, Word.consumerWaiting);
  }

  /**
   * Step one of a sleep (spsc-ring.ts, "Wake-up protocol"): announce, then re-check. Returns true
   * when there is no need to sleep (records, or closed), with the announcement withdrawn.
   */
  private announceSleep(): boolean {
    if (this.hasRecords()) return true;
    Atomics.store(this.words, Word.consumerWaiting, 1);
    if (this.hasRecords() || Atomics.load(this.words, Word.producerClosed) === 1) {
      Atomics.store(this.words, Word.consumerWaiting, 0);
      return true;
    }
    return false;
  }

  private endSleep(): boolean {
    Atomics.store(this.words, Word.consumerWaiting, 0);
    return this.hasRecords() || Atomics.load(this.words, Word.producerClosed) === 1;
  }

  /** Reads and checks a length prefix: a bad one means the ring is corrupt, so stop loudly. */
  private readPrefix(prefixOffset: number, position: number, tail: number): number {
    const payloadBytes = this.words[prefixOffset >> 2] ?? wrapMarker;
    const availableBytes = (tail - position) >>> 0;
    const isValidWrap = payloadBytes === wrapMarker && availableBytes >= this.capacityBytes - (position & this.mask);
    const isValidRecord = payloadBytes >= 0 && payloadBytes <= this.recordBytesMax && recordBytesFor(payloadBytes) <= availableBytes;
    if (!isValidWrap && !isValidRecord) {
      throw new Error(
        `assertion failed: corrupt ring record at position ${position >>> 0} (data offset ${position & this.mask}): ` +
          `length prefix ${payloadBytes}, ${availableBytes} bytes published, max record ${this.recordBytesMax}`,
      );
    }
    return payloadBytes;
  }

  /** Publishes the new head once per batch, and wakes the producer only if it announced a sleep. */
  private release(position: number, delivered: number): void {
    this.readPosition = position;
    this.recordsRead = (this.recordsRead + delivered) | 0;
    this.words[Word.recordsRead] = this.recordsRead;
    Atomics.store(this.words, Word.head, position);
    if (Atomics.load(this.words, Word.producerWaiting) !== 0) {
      Atomics.store(this.words, Word.producerWaiting, 0);
      Atomics.notify(this.words, Word.producerWaiting, 1);
    }
  }
}
