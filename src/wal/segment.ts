/**
 * One segment file of the log, as the engine tracks it in memory: its first index, where each of
 * its records starts, and how many of its bytes are appended, written and durable.
 *
 * File name: the first index, zero-padded to 20 digits (every u64 fits), then `.seg`, e.g.
 * `00000000000000000001.seg`; names sort in log order. Inside: records back to back
 * (see wal-record.ts), the first one carrying the index of the name.
 *
 * Invariants:
 * - `durableBytes ≤ writtenBytes ≤ appendedBytes` (kept by segment-log.ts), all below 2^32
 *   (offsets are u32; asserted when a record is added).
 * - `recordOffsets[i]` is where the record of index `firstIndex + i` starts; records are added
 *   back to back (asserted).
 * - a segment is created on disk only once every older segment's bytes are durable
 *   (see segment-log.ts), so only the newest segment can hold a torn tail.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';

export const segmentFileSuffix = '.seg';
const indexDigits = 20;
const segmentNamePattern = /^(\d{20})\.seg$/;
const initialOffsetSlots = 1024;
const offsetMax = 0xffff_ffff;

export function segmentFileName(firstIndex: number): string {
  return `${String(firstIndex).padStart(indexDigits, '0')}${segmentFileSuffix}`;
}

/** The first index a segment file name carries, or null when it is not a segment name. */
export function parseSegmentFileName(name: string): number | null {
  const match = segmentNamePattern.exec(name);
  if (match === null || match[1] === undefined) return null;
  const firstIndex = Number(match[1]);
  return Number.isSafeInteger(firstIndex) && firstIndex >= 1 ? firstIndex : null;
}

export class Segment {
  readonly firstIndex: number;
  readonly filePath: string;
  /** Open descriptor while this segment is being written; null otherwise (reads open their own). */
  fd: number | null = null;
  /** False until the file exists on disk (a new segment is created when its first bytes are written). */
  createdOnDisk: boolean;
  /** Bytes appended in memory (written or still staged). */
  appendedBytes: number;
  /** Bytes handed to the OS with `write`. */
  writtenBytes: number;
  /** Bytes covered by a completed fdatasync. */
  durableBytes: number;
  private recordOffsets = new Uint32Array(initialOffsetSlots);
  private entryCount = 0;

  constructor(firstIndex: number, filePath: string, createdOnDisk: boolean, sizeBytes: number) {
    this.firstIndex = firstIndex;
    this.filePath = filePath;
    this.createdOnDisk = createdOnDisk;
    this.appendedBytes = sizeBytes;
    this.writtenBytes = sizeBytes;
    this.durableBytes = sizeBytes;
  }

  get entries(): number {
    return this.entryCount;
  }

  /** Index of the last record, or `firstIndex - 1` when the segment is empty. */
  get lastIndex(): number {
    return this.firstIndex + this.entryCount - 1;
  }

  contains(index: number): boolean {
    return index >= this.firstIndex && index <= this.lastIndex;
  }

  /** Where the record of `index` starts. */
  offsetOf(index: number): number {
    if (!this.contains(index)) assert(false, `index ${index} outside segment ${this.firstIndex}..${this.lastIndex}`);
    return this.recordOffsets[index - this.firstIndex] ?? 0;
  }

  /** Where the record after `index` starts (the segment's appended end for the last one). */
  endOffsetOf(index: number): number {
    return index === this.lastIndex ? this.appendedBytes : this.offsetOf(index + 1);
  }

  /** Records that the entry after `lastIndex` starts at `offset` and is `recordBytes` long. */
  addRecord(offset: number, recordBytes: number): void {
    if (offset !== this.appendedBytes) assert(false, `segment ${this.firstIndex}: record at ${offset}, appended end ${this.appendedBytes}`);
    if (offset + recordBytes > offsetMax) assert(false, `segment ${this.firstIndex} would pass ${offsetMax} bytes`);
    if (this.entryCount === this.recordOffsets.length) {
      const grown = new Uint32Array(this.recordOffsets.length * 2);
      grown.set(this.recordOffsets);
      this.recordOffsets = grown;
    }
    this.recordOffsets[this.entryCount] = offset;
    this.entryCount += 1;
    this.appendedBytes = offset + recordBytes;
  }

  /** Forgets every record from `index` on; the byte counters shrink to where `index` started. */
  dropFrom(index: number): void {
    assert(index >= this.firstIndex && index <= this.lastIndex + 1,
      `drop from ${index} outside segment ${this.firstIndex}..${this.lastIndex}`);
    const endBytes = index > this.lastIndex ? this.appendedBytes : this.offsetOf(index);
    this.entryCount = index - this.firstIndex;
    this.appendedBytes = endBytes;
    this.writtenBytes = Math.min(this.writtenBytes, endBytes);
    this.durableBytes = Math.min(this.durableBytes, endBytes);
  }
}
