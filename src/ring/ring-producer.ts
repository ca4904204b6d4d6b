/**
 * The writing end of an SPSC ring (layout, positions and wake-up protocol: spsc-ring.ts).
 *
 * Invariants: only this object writes tail, the producer counters, producerClosed and the data
 * bytes between tail and head + capacity; records become visible to the consumer only when tail
 * is stored (publish), so a record is never seen half written. `writePosition` runs ahead of the
 * published tail only inside one call (a batch, or a reserve before its commit).
 *
 * Writes never block and never drop: a write that does not fit returns false (or null) and counts
 * in fullCount; the caller applies backpressure, for example by awaiting `waitForSpace`.
 *
 * Runs on: the thread of the actor that sends on this ring.
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

export class RingProducer {
  readonly capacityBytes: number;
  /** Largest payload one record can carry: capacityBytes / 2 - 4. */
  readonly recordBytesMax: number;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly buffer: SharedArrayBuffer;
  private readonly mask: number;
  /** Where the next record goes; equals the published tail between calls. */
  private writePosition: number;
  /** Last head we loaded; the real head only moves forward, so free space is at least this. */
  private headSeen: number;
  private recordsWritten: number;
  private payloadBytesWritten: number;
  private fullCount: number;
  /** SAB byte offset of the open reservation's length prefix, or -1 when none is open. */
  private reservedPrefixOffset = -1;
  private reservedPayloadBytes = 0;
  private closed = false;

  constructor(buffer: SharedArrayBuffer) {
    this.capacityBytes = readRingCapacity(buffer);
    this.recordBytesMax = recordBytesMaxFor(this.capacityBytes);
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.bytes = new Uint8Array(buffer);
    this.mask = this.capacityBytes - 1;
    this.writePosition = Atomics.load(this.words, Word.tail);
    this.headSeen = Atomics.load(this.words, Word.head);
    this.recordsWritten = Atomics.load(this.words, Word.recordsWritten);
    this.payloadBytesWritten = Atomics.load(this.words, Word.payloadBytesWritten);
    this.fullCount = Atomics.load(this.words, Word.fullCount);
    // A new producer (e.g. a restarted actor) opens the ring again if its predecessor closed it.
    Atomics.store(this.words, Word.producerClosed, 0);
  }

  /** Bytes between head and tail right now, padding included. */
  usedBytes(): number {
    return (this.writePosition - Atomics.load(this.words, Word.head)) >>> 0;
  }

  /** Copies `record` into the ring as one record. False when it does not fit now (ring full). */
  tryWrite(record: Uint8Array): boolean {
    const prefixOffset = this.claim(record.byteLength);
    if (prefixOffset < 0) return false;
    this.bytes.set(record, prefixOffset + recordHeaderBytes);
    this.place(prefixOffset, record.byteLength);
    this.publish();
    return true;
  }

  /**
   * Copies records from `records[start]` on, in order, and publishes them once (one tail store,
   * at most one notify). Returns how many were written; fewer than offered when the ring filled.
   */
  tryWriteMany(records: readonly Uint8Array[], start = 0): number {
    let written = 0;
    for (let index = start; index < records.length; index++) {
      const record = records[index];
      if (record === undefined) break;
      const prefixOffset = this.claim(record.byteLength);
      if (prefixOffset < 0) break;
      this.bytes.set(record, prefixOffset + recordHeaderBytes);
      this.place(prefixOffset, record.byteLength);
      written++;
    }
    if (written > 0) this.publish();
    return written;
  }

  /**
   * Zero-copy write, step 1: returns a view of `payloadBytes` bytes inside the ring for the caller
   * to fill, or null when the ring is full. Nothing is visible to the consumer until `commit`.
   * One reservation at a time; the view must not be used after commit.
   */
  reserve(payloadBytes: number): Uint8Array | null {
    const prefixOffset = this.claim(payloadBytes);
    if (prefixOffset < 0) return null;
    this.reservedPrefixOffset = prefixOffset;
    this.reservedPayloadBytes = payloadBytes;
    const payloadOffset = prefixOffset + recordHeaderBytes;
    return new Uint8Array(this.buffer, payloadOffset, payloadBytes);
  }

  /**
   * Zero-copy write, step 2: publishes the reserved record, trimmed to `payloadBytes` (at most
   * the reserved size) when the caller used less, e.g. after encoding into a worst-case reservation.
   */
  commit(payloadBytes: number = this.reservedPayloadBytes): void {
    const prefixOffset = this.reservedPrefixOffset;
    if (prefixOffset < 0) throw new Error('commit() called without an open reservation');
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > this.reservedPayloadBytes) {
      throw new RangeError(`commit(${payloadBytes}) must be an integer in [0, ${this.reservedPayloadBytes}] (the reserved size)`);
    }
    this.reservedPrefixOffset = -1;
    this.place(prefixOffset, payloadBytes);
    this.publish();
  }

  /** True when a record of `payloadBytes` would fit right now. Throws RangeError if it never can. */
  hasSpaceFor(payloadBytes: number): boolean {
    this.checkRecordSize(payloadBytes);
    const neededBytes = this.skipBytesFor(payloadBytes) + recordBytesFor(payloadBytes);
    this.headSeen = Atomics.load(this.words, Word.head);
    return this.capacityBytes - ((this.writePosition - this.headSeen) >>> 0) >= neededBytes;
  }

  /**
   * Resolves true once a record of `payloadBytes` fits, false after `timeoutMs`. It sleeps with
   * Atomics.waitAsync (the event loop stays free) and the consumer wakes it only because it set
   * producerWaiting: the mirror of the consumer's protocol in spsc-ring.ts. Like every
   * waitAsync, it does not keep a Node worker alive on its own (see ring-channel.ts `run`).
   */
  async waitForSpace(payloadBytes: number, timeoutMs: number = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadlineMs = performance.now() + timeoutMs;
    // Bounded by the deadline; each turn ends with a wake-up, a changed word, or a timeout.
    for (;;) {
      if (this.hasSpaceFor(payloadBytes)) return true;
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) return false;
      Atomics.store(this.words, Word.producerWaiting, 1);
      // Re-check after announcing: the consumer may have released just before it could see the flag.
      if (this.hasSpaceFor(payloadBytes)) {
        Atomics.store(this.words, Word.producerWaiting, 0);
        return true;
      }
      await settle(waitAsync(this.words, Word.producerWaiting, 1, remainingMs));
      Atomics.store(this.words, Word.producerWaiting, 0);
    }
  }

  /** Tells the consumer that no more records come; it still drains what is in the ring. */
  close(): void {
    this.closed = true;
    Atomics.store(this.words, Word.producerClosed, 1);
    Atomics.store(this.words, Word.consumerWaiting, 0);
    Atomics.notify(this.words, Word.consumerWaiting);
  }

  private checkRecordSize(payloadBytes: number): void {
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > this.recordBytesMax) {
      throw new RangeError(
        `record of ${payloadBytes} bytes cannot fit a ring of ${this.capacityBytes} bytes: ` +
          `the largest record is capacityBytes / 2 - ${recordHeaderBytes} = ${this.recordBytesMax} bytes`,
      );
    }
  }

  /** Padding needed before a record of `payloadBytes` so that it does not cross the region's end. */
  private skipBytesFor(payloadBytes: number): number {
    const bytesToEnd = this.capacityBytes - (this.writePosition & this.mask);
    return recordBytesFor(payloadBytes) <= bytesToEnd ? 0 : bytesToEnd;
  }

  /**
   * Makes room for one record at writePosition, writing the wrap marker when it must skip to the
   * start. Returns the SAB byte offset of its length prefix, or -1 (and counts it) when full.
   */
  private claim(payloadBytes: number): number {
    if (this.closed) throw new Error('write on a closed ring: close() means no more records');
    if (this.reservedPrefixOffset >= 0) throw new Error('write while a reservation is open: commit() it first');
    this.checkRecordSize(payloadBytes);
    const dataOffset = this.writePosition & this.mask;
    const bytesToEnd = this.capacityBytes - dataOffset;
    const recordBytes = recordBytesFor(payloadBytes);
    const skipBytes = recordBytes <= bytesToEnd ? 0 : bytesToEnd;
    const neededBytes = skipBytes + recordBytes;
    // Use the cached head first: it avoids touching the consumer's cache line on most writes.
    if (this.capacityBytes - ((this.writePosition - this.headSeen) >>> 0) < neededBytes) {
      this.headSeen = Atomics.load(this.words, Word.head);
      if (this.capacityBytes - ((this.writePosition - this.headSeen) >>> 0) < neededBytes) {
        this.fullCount = (this.fullCount + 1) | 0;
        Atomics.store(this.words, Word.fullCount, this.fullCount);
        return -1;
      }
    }
    if (skipBytes === 0) return ringHeaderBytes + dataOffset;
    this.words[(ringHeaderBytes + dataOffset) >> 2] = wrapMarker;
    this.writePosition = (this.writePosition + skipBytes) | 0;
    return ringHeaderBytes;
  }

  /** Writes the length prefix of a claimed record and moves writePosition past it (unpublished). */
  private place(prefixOffset: number, payloadBytes: number): void {
    this.words[prefixOffset >> 2] = payloadBytes;
    this.writePosition = (this.writePosition + recordBytesFor(payloadBytes)) | 0;
    this.recordsWritten = (this.recordsWritten + 1) | 0;
    this.payloadBytesWritten = (this.payloadBytesWritten + payloadBytes) | 0;
  }

  /** Makes every placed record visible, then wakes the consumer only if it announced a sleep. */
  private publish(): void {
    // Plain stores for the counters: the sequentially consistent tail store below orders them.
    this.words[Word.recordsWritten] = this.recordsWritten;
    this.words[Word.payloadBytesWritten] = this.payloadBytesWritten;
    Atomics.store(this.words, Word.tail, this.writePosition);
    if (Atomics.load(this.words, Word.consumerWaiting) !== 0) {
      Atomics.store(this.words, Word.consumerWaiting, 0);
      Atomics.notify(this.words, Word.consumerWaiting, 1);
    }
  }
}
