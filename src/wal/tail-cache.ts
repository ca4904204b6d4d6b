/**
 * The in-memory tail of the log: the most recent entries, held as (staging buffer, offset) pairs
 * pointing at the very bytes the batch was written from, so caching costs no copy and no object
 * per entry. Reads of recent entries (followers a little behind) are served from here.
 *
 * Ring of `entriesMax` slots; slot of index i is `(headSlot + i - firstIndex) mod entriesMax`.
 * Entries are contiguous: indexes firstIndex .. firstIndex + count - 1.
 *
 * Bounds: at most `entriesMax` entries and `bytesMax` record bytes. The engine evicts only
 * entries already handed to the OS (`evictableUpTo`), because an entry not yet written can be read
 * from nowhere else; when eviction is blocked the engine writes its staged bytes first.
 *
 * Staging buffers are recycled once no cached entry points into them (`oldestBuffer` tells the
 * segment log which ones are still needed), so `entryAt` hands out a copy of the payload, never a
 * view that a later batch could overwrite.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import { readOwnRecordAt, RecordView } from './wal-record.js';

export class TailCache {
  readonly entriesMax: number;
  readonly bytesMax: number;
  private readonly buffers: (Buffer | undefined)[];
  private readonly offsets: Float64Array;
  private readonly sizes: Float64Array;
  private headSlot = 0;
  private count = 0;
  private first = 1;
  private bytes = 0;
  private readonly view = new RecordView();

  constructor(entriesMax: number, bytesMax: number) {
    this.entriesMax = entriesMax;
    this.bytesMax = bytesMax;
    this.buffers = new Array<Buffer | undefined>(entriesMax).fill(undefined);
    this.offsets = new Float64Array(entriesMax);
    this.sizes = new Float64Array(entriesMax);
  }

  get firstIndex(): number {
    return this.first;
  }

  get lastIndex(): number {
    return this.first + this.count - 1;
  }

  get entries(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  has(index: number): boolean {
    return this.count > 0 && index >= this.first && index <= this.lastIndex;
  }

  /** True when adding `recordBytes` more needs an eviction first. */
  needsEviction(recordBytes: number): boolean {
    return this.count > 0 && (this.count === this.entriesMax || this.bytes + recordBytes > this.bytesMax);
  }

  /** Evicts oldest entries with index ≤ `evictableUpTo` until `recordBytes` more fit; false if blocked. */
  makeRoom(recordBytes: number, evictableUpTo: number): boolean {
    while (this.needsEviction(recordBytes)) {
      if (this.first > evictableUpTo) return false;
      this.evictOldest();
    }
    return true;
  }

  /** Adds the entry of `index`, whose record starts at `offset` of `buffer`. Call `makeRoom` first. */
  push(index: number, buffer: Buffer, offset: number, recordBytes: number): void {
    if (this.count === 0) this.first = index;
    if (index !== this.first + this.count) assert(false, `tail cache push of ${index}, expected ${this.first + this.count}`);
    if (this.count >= this.entriesMax) assert(false, `tail cache full at ${this.count} entries`);
    const slot = (this.headSlot + this.count) % this.entriesMax;
    this.buffers[slot] = buffer;
    this.offsets[slot] = offset;
    this.sizes[slot] = recordBytes;
    this.count += 1;
    this.bytes += recordBytes;
  }

  /** The cached entry of `index`, its payload copied out of the staging buffer. */
  entryAt(index: number): LogEntry {
    const buffer = this.viewAt(index);
    const start = this.view.payloadOffset;
    return { term: this.view.term, index, type: this.view.type, data: new Uint8Array(buffer.subarray(start, start + this.view.payloadBytes)) };
  }

  /** The term of the cached entry of `index` (no copy). */
  termAt(index: number): number {
    this.viewAt(index);
    return this.view.term;
  }

  /** The staging buffer of the oldest cached entry: it and every later one are still needed. */
  oldestBuffer(): Buffer | undefined {
    return this.count === 0 ? undefined : this.buffers[this.headSlot];
  }

  /** Decodes the header of `index` into `this.view`; returns the buffer it lives in. */
  private viewAt(index: number): Buffer {
    if (!this.has(index)) assert(false, `tail cache has ${this.first}..${this.lastIndex}, asked ${index}`);
    const slot = (this.headSlot + index - this.first) % this.entriesMax;
    const buffer = this.buffers[slot];
    if (buffer === undefined) assert(false, `tail cache slot ${slot} of index ${index} is empty`);
    readOwnRecordAt(buffer, this.offsets[slot] ?? 0, this.view);
    if (this.view.index !== index) assert(false, `tail cache slot of ${index} holds ${this.view.index}`);
    return buffer;
  }

  /** Record bytes of the cached entry of `index`. */
  recordBytesAt(index: number): number {
    if (!this.has(index)) assert(false, `tail cache has ${this.first}..${this.lastIndex}, asked ${index}`);
    return this.sizes[(this.headSlot + index - this.first) % this.entriesMax] ?? 0;
  }

  /** Forgets every entry from `index` on (a truncation or a dropped batch). */
  dropFrom(index: number): void {
    while (this.count > 0 && this.lastIndex >= index) {
      const slot = (this.headSlot + this.count - 1) % this.entriesMax;
      this.bytes -= this.sizes[slot] ?? 0;
      this.buffers[slot] = undefined;
      this.count -= 1;
    }
  }

  clear(): void {
    this.dropFrom(this.first);
  }

  private evictOldest(): void {
    const slot = this.headSlot;
    this.bytes -= this.sizes[slot] ?? 0;
    this.buffers[slot] = undefined;
    this.headSlot = (this.headSlot + 1) % this.entriesMax;
    this.count -= 1;
    this.first += 1;
  }
}
