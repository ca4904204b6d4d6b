/**
 * The WAL record format: encoding entries into one buffer for one write, and decoding/scanning
 * with precise results (good, incomplete tail, corrupt at an offset).
 *
 * One record, all integers little-endian:
 *
 * | offset | bytes | field    | meaning                                                        |
 * |-------:|------:|----------|----------------------------------------------------------------|
 * |      0 |     4 | length   | bytes after the checksum field: 17 + payload bytes             |
 * |      4 |     4 | checksum | CRC-32 of bytes [8, 8 + length), register seeded with `length` |
 * |      8 |     1 | type     | entry type, opaque to the WAL                                  |
 * |      9 |     8 | term     | u64, a safe integer (high word ≤ 0x1FFFFF)                     |
 * |     17 |     8 | index    | u64, a safe integer ≥ 1                                        |
 * |     25 |     n | payload  | opaque bytes, n = length - 17                                  |
 *
 * The checksum covers everything after it, as docs/wal-format.md says, and is seeded with the
 * length (zlib's `crc32(length, bytes)`): a flipped bit in the length then changes the expected
 * checksum too, instead of only re-framing the record. CRC-32 is affine in its seed, so two
 * different lengths over the same bytes never give the same checksum.
 *
 * Invariants: a record is never longer than `recordBytesMax` (a decoder refuses larger lengths as
 * corrupt, before it allocates or reads anything); terms and indexes are safe integers on both
 * sides of the disk (asserted when encoding, checked when decoding).
 *
 * Per-record checks are written `if (bad) assert(false, message)` here and along the append path,
 * so that the message (a template string) is only built when the check fails.
 *
 * Pure: no I/O, no clock; only the checksum comes from `checksum.ts`.
 *
 * Runs on: WAL writer thread (and tests, tools).
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import { entryTypeMax } from '../log/log-shapes.js';
import { checksumOf } from './checksum.js';

/** Bytes before the payload: length, checksum, type, term, index. */
export const recordHeaderBytes = 25;
/** Offset where the checksummed part of a record starts. */
export const recordChecksummedFrom = 8;
/** The part of `length` that is not payload: type, term, index. */
const lengthOverheadBytes = 17;
const twoPow32 = 0x1_0000_0000;
/** The high 32-bit word of a u64 that is still a safe integer (2^53 - 1). */
const safeHighWordMax = 0x1f_ffff;

/** Why a record (or a run of records) is not good. */
export type RecordStatus = 'ok' | 'incomplete' | 'badLength' | 'badChecksum' | 'badNumber';
export type RecordFailureReason = Exclude<RecordStatus, 'ok'> | 'indexGap' | 'termRegression';

/**
 * A reusable, mutable view of one decoded record, so that scanning a segment of a million
 * records allocates nothing per record. Valid until the next decode into it.
 */
export class RecordView {
  offset = 0;
  recordBytes = 0;
  type = 0;
  term = 0;
  index = 0;
  payloadOffset = 0;
  payloadBytes = 0;
}

/** Total bytes of a record carrying `payloadBytes` of payload. */
export function recordBytesFor(payloadBytes: number): number {
  return recordHeaderBytes + payloadBytes;
}

function writeU64(target: Buffer, value: number, offset: number): void {
  target.writeUInt32LE(value % twoPow32, offset);
  target.writeUInt32LE(Math.floor(value / twoPow32), offset + 4);
}

/** A u64 as a number, or -1 when it is not a safe integer. */
function readU64(source: Buffer, offset: number): number {
  const high = source.readUInt32LE(offset + 4);
  if (high > safeHighWordMax) return -1;
  return high * twoPow32 + source.readUInt32LE(offset);
}

/**
 * Encodes `entry` at `offset` of `target` and returns the offset just after it. The caller made
 * room (`recordBytesFor(entry.data.length)` bytes); a bad term, index or type is a programmer error.
 */
export function encodeRecordInto(target: Buffer, offset: number, entry: LogEntry): number {
  if (!isStorable(entry)) assert(false, `WAL entry not storable: term ${entry.term} index ${entry.index} type ${entry.type}`);
  const payloadBytes = entry.data.length;
  const end = offset + recordHeaderBytes + payloadBytes;
  if (end > target.length) assert(false, `record of ${end - offset} bytes does not fit at ${offset} in ${target.length}`);
  const length = lengthOverheadBytes + payloadBytes;
  target.writeUInt32LE(length, offset);
  target[offset + 8] = entry.type;
  writeU64(target, entry.term, offset + 9);
  writeU64(target, entry.index, offset + 17);
  target.set(entry.data, offset + recordHeaderBytes);
  const checksum = checksumOf(target.subarray(offset + recordChecksummedFrom, end), length);
  target.writeUInt32LE(checksum, offset + 4);
  return end;
}

/** Encodes `entries` back to back into one new buffer (one write's worth). */
export function encodeRecords(entries: readonly LogEntry[]): Buffer {
  let totalBytes = 0;
  for (const entry of entries) totalBytes += recordBytesFor(entry.data.length);
  const target = Buffer.allocUnsafe(totalBytes);
  let offset = 0;
  for (const entry of entries) offset = encodeRecordInto(target, offset, entry);
  return target;
}

/**
 * Decodes the record at `offset` (bytes up to `end` are readable) into `into`.
 * - 'incomplete': the record (or its length field) runs past `end`: a torn tail candidate.
 * - 'badLength': the length is below the minimum or above `recordBytesMax`.
 * - 'badChecksum': the bytes do not match the checksum.
 * - 'badNumber': checksum good but term/index is not a safe integer or index is 0.
 */
export function readRecordAt(
  source: Buffer, offset: number, end: number, recordBytesMax: number, into: RecordView,
): RecordStatus {
  if (end - offset < 4) return 'incomplete';
  const length = source.readUInt32LE(offset);
  if (length < lengthOverheadBytes || length + recordChecksummedFrom > recordBytesMax) return 'badLength';
  const recordEnd = offset + recordChecksummedFrom + length;
  if (recordEnd > end) return 'incomplete';
  const expected = checksumOf(source.subarray(offset + recordChecksummedFrom, recordEnd), length);
  if (source.readUInt32LE(offset + 4) !== expected) return 'badChecksum';
  const term = readU64(source, offset + 9);
  const index = readU64(source, offset + 17);
  if (term < 0 || index < 1) return 'badNumber';
  into.offset = offset;
  into.recordBytes = recordChecksummedFrom + length;
  into.type = source[offset + 8] ?? 0;
  into.term = term;
  into.index = index;
  into.payloadOffset = offset + recordHeaderBytes;
  into.payloadBytes = length - lengthOverheadBytes;
  return 'ok';
}

/**
 * True when the record at `offset`, which failed with `status`, was whole on disk: every byte of
 * it is there, so it did not fail because its write was cut short (a torn write leaves a prefix of
 * what was written). Whole means either
 * - its length is in range and the bytes it names all lie before `end` (it then failed its
 *   checksum, or carries impossible numbers under a good one), or
 * - its length field is itself damaged, and the bytes from `offset` to `end` form a record of the
 *   length that `end` implies whose checksum verifies with that length (the checksum is seeded
 *   with the length, so a match is no accident). Only the file's last record can be recognised so.
 * Anything else (fewer than 4 bytes; an in-range length that runs past `end`; an out-of-range
 * length, e.g. the zeros of a write that never reached the disk) is a record cut short.
 */
export function isWholeRecordAt(source: Buffer, offset: number, end: number, status: Exclude<RecordStatus, 'ok'>, recordBytesMax: number): boolean {
  if (status === 'badChecksum' || status === 'badNumber') return true;
  const impliedLength = end - offset - recordChecksummedFrom;
  if (impliedLength < lengthOverheadBytes || impliedLength + recordChecksummedFrom > recordBytesMax) return false;
  return source.readUInt32LE(offset + 4) === checksumOf(source.subarray(offset + recordChecksummedFrom, end), impliedLength);
}

/**
 * Decodes the header of a record this process encoded itself and still holds in memory (the tail
 * cache), without recomputing its checksum: those bytes never left the process.
 */
export function readOwnRecordAt(source: Buffer, offset: number, into: RecordView): void {
  const length = source.readUInt32LE(offset);
  into.offset = offset;
  into.recordBytes = recordChecksummedFrom + length;
  into.type = source[offset + 8] ?? 0;
  into.term = readU64(source, offset + 9);
  into.index = readU64(source, offset + 17);
  into.payloadOffset = offset + recordHeaderBytes;
  into.payloadBytes = length - lengthOverheadBytes;
}

/** The entry `view` describes; its data is a view into `source` (no copy). */
export function entryOf(source: Buffer, view: RecordView): LogEntry {
  return {
    term: view.term,
    index: view.index,
    type: view.type,
    data: source.subarray(view.payloadOffset, view.payloadOffset + view.payloadBytes),
  };
}

/** What a scan of consecutive records found. */
export interface RecordScan {
  /** Offset just after the last good record (== start when none was good). */
  readonly goodEnd: number;
  readonly recordCount: number;
  /** Index and term of the last good record; `expectedFirstIndex - 1` and `previousTerm` if none. */
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Null when every byte in [start, end) belongs to a good record. */
  readonly failure: { readonly reason: RecordFailureReason; readonly offset: number } | null;
}

export interface RecordScanExpectation {
  /** The index the first record must carry (records then count up by one). */
  readonly expectedFirstIndex: number;
  /** Terms never go below this (the term of the record before the first one). */
  readonly previousTerm: number;
  readonly recordBytesMax: number;
}

/**
 * Walks records from `start` while they are good and in sequence (index +1, term not lower),
 * calling `onRecord` for each. Stops at the first bad one and says where and why.
 */
export function scanRecords(
  source: Buffer, start: number, end: number, expect: RecordScanExpectation,
  onRecord?: (view: RecordView) => void,
): RecordScan {
  const view = new RecordView();
  let offset = start;
  let recordCount = 0;
  let lastIndex = expect.expectedFirstIndex - 1;
  let lastTerm = expect.previousTerm;
  let failure: RecordScan['failure'] = null;
  while (offset < end) {
    const status = readRecordAt(source, offset, end, expect.recordBytesMax, view);
    let reason: RecordFailureReason | null = status === 'ok' ? null : status;
    if (reason === null && view.index !== lastIndex + 1) reason = 'indexGap';
    if (reason === null && view.term < lastTerm) reason = 'termRegression';
    if (reason !== null) {
      failure = { reason, offset };
      break;
    }
    onRecord?.(view);
    recordCount += 1;
    lastIndex = view.index;
    lastTerm = view.term;
    offset += view.recordBytes;
  }
  return { goodEnd: offset, recordCount, lastIndex, lastTerm, failure };
}

/**
 * The offset of the first good record after `from` whose index is above `indexAbove`, or -1.
 * Recovery uses it to tell a torn tail (nothing good after the failure) from corruption in the
 * middle of a segment (good, later records after it). The index window keeps the number of
 * checksums computed small: a record at offset q cannot carry an index further than the number
 * of minimal records that fit between `from` and q.
 */
export function findGoodRecordAfter(
  source: Buffer, from: number, end: number, indexAbove: number, recordBytesMax: number,
): number {
  const view = new RecordView();
  for (let offset = from + 1; offset + recordHeaderBytes <= end; offset += 1) {
    const index = readU64(source, offset + 17);
    const indexMax = indexAbove + 1 + Math.floor((offset - from) / recordHeaderBytes);
    if (index <= indexAbove || index > indexMax) continue;
    if (readRecordAt(source, offset, end, recordBytesMax, view) === 'ok') return offset;
  }
  return -1;
}

/** True when `entry` has a storable term, index and type (a programmer check, not input validation). */
function isStorable(entry: LogEntry): boolean {
  return Number.isSafeInteger(entry.index) && entry.index >= 1
    && Number.isSafeInteger(entry.term) && entry.term >= 0
    && Number.isInteger(entry.type) && entry.type >= 0 && entry.type <= entryTypeMax;
}
