/**
 * Recovery of the segment files: read each one, verify every record's checksum and sequence,
 * rebuild the offset index, and classify the first failure.
 *
 * The rule (docs/wal-format.md):
 * - a failure in the NEWEST segment with no good record after it is a torn tail (a batch whose
 *   write was cut by a crash before its fdatasync): it is reported, and the caller truncates the
 *   file at the last good record, durably. When the first dropped record was whole on disk
 *   (`isWholeRecordAt`) it may have been synced and acknowledged, then damaged at rest: the
 *   finding says so (`wholeRecordDropped`) and the caller persists the catch-up marker first;
 * - any other failure (a bad record in an older segment, a bad record with good ones after it, a
 *   record out of sequence, a missing or empty older segment) is corruption: reported with file,
 *   offset and index; the caller refuses to open, or repairs when told to.
 *
 * Why the newest segment only: a segment is created on disk only after every older one is
 * durable (segment-log.ts), so a crash can tear only the newest.
 *
 * Runs on: WAL writer thread (at open).
 */
import path from 'node:path';
import { readWholeFile, type WalFileSystem } from './file-system.js';
import { Segment, segmentFileName } from './segment.js';
import {
  findGoodRecordAfter, isWholeRecordAt, scanRecords, type RecordFailureReason, type RecordStatus, type RecordView,
} from './wal-record.js';

/** The most bytes of one segment file recovery reads into memory (segment offsets are u32). */
export const segmentFileBytesMax = 0x7fff_ffff;

export interface TornTailFinding {
  readonly file: string;
  /** Where the file was truncated: the end of its last good record. */
  readonly offset: number;
  readonly bytesDropped: number;
  /** The last index kept (0 when the log is empty). */
  readonly lastGoodIndex: number;
  readonly reason: RecordFailureReason;
  /** The first dropped record was whole on disk and did not verify: not a write cut short, but
   *  possibly an acknowledged record damaged at rest. The node must be caught up. */
  readonly wholeRecordDropped: boolean;
}

export interface CorruptionFinding {
  readonly file: string;
  readonly offset: number;
  /** The index that should have been at `offset`. */
  readonly index: number;
  readonly reason: string;
}

export interface SegmentRecovery {
  /** Good segments in log order, the failing one (if any) cut at its last good record in memory
   *  only: the caller cuts the file of a torn tail (after persisting the marker it may need). */
  readonly segments: Segment[];
  /** Term of the last good entry, or 0. */
  readonly lastTerm: number;
  /** Term of the entry at the snapshot's index, if the log holds it. */
  readonly termAtSnapshotIndex: number | null;
  readonly tornTail: TornTailFinding | null;
  /** Corruption found; nothing has been changed on disk for it yet. */
  readonly corruption: CorruptionFinding | null;
  /** Segment files to delete when repairing (after the corrupt one, or from a missing one on), newest first. */
  readonly filesAfterCorruption: readonly string[];
}

type FramingFailure = Exclude<RecordStatus, 'ok'>;
const framingFailures: ReadonlySet<RecordFailureReason> = new Set<FramingFailure>(['incomplete', 'badLength', 'badChecksum', 'badNumber']);

function isFramingFailure(reason: RecordFailureReason): reason is FramingFailure {
  return framingFailures.has(reason);
}

interface ScanState {
  expectedIndex: number | null;
  lastTerm: number;
  termAtSnapshotIndex: number | null;
}

/** Scans the segments whose first indexes are `firstIndexes` (ascending); changes nothing on disk
 *  but deleting an empty newest segment. */
export function recoverSegments(
  fileSystem: WalFileSystem, dir: string, firstIndexes: readonly number[], recordBytesMax: number, snapshotIndex: number | null,
): SegmentRecovery {
  const segments: Segment[] = [];
  const state: ScanState = { expectedIndex: null, lastTerm: 0, termAtSnapshotIndex: null };
  let tornTail: TornTailFinding | null = null;
  for (const [position, firstIndex] of firstIndexes.entries()) {
    const filePath = path.join(dir, segmentFileName(firstIndex));
    const isNewest = position === firstIndexes.length - 1;
    const pathsFrom = (from: number): string[] => firstIndexes.slice(from).reverse().map((index) => path.join(dir, segmentFileName(index)));
    if (state.expectedIndex !== null && firstIndex !== state.expectedIndex) {
      const corruption = { file: filePath, offset: 0, index: state.expectedIndex, reason: `segment starts at ${firstIndex}, expected ${state.expectedIndex} (missing segment)` };
      return { segments, lastTerm: state.lastTerm, termAtSnapshotIndex: state.termAtSnapshotIndex, tornTail, corruption, filesAfterCorruption: pathsFrom(position) };
    }
    const bytes = readWholeFile(fileSystem, filePath, segmentFileBytesMax);
    const segment = new Segment(firstIndex, filePath, true, 0);
    const scan = scanRecords(bytes, 0, bytes.length, { expectedFirstIndex: firstIndex, previousTerm: state.lastTerm, recordBytesMax },
      (view: RecordView) => {
        segment.addRecord(view.offset, view.recordBytes);
        if (view.index === snapshotIndex) state.termAtSnapshotIndex = view.term;
      });
    segment.writtenBytes = scan.goodEnd;
    segment.durableBytes = scan.goodEnd;
    if (scan.failure !== null) {
      const reason = scan.failure.reason;
      const tornReason = isNewest && isFramingFailure(reason)
        && findGoodRecordAfter(bytes, scan.failure.offset, bytes.length, scan.lastIndex, recordBytesMax) < 0 ? reason : null;
      if (tornReason === null) {
        segments.push(segment);
        const corruption = { file: filePath, offset: scan.failure.offset, index: scan.lastIndex + 1, reason: describeFailure(scan.failure.reason) };
        return { segments, lastTerm: scan.lastTerm, termAtSnapshotIndex: state.termAtSnapshotIndex, tornTail, corruption, filesAfterCorruption: pathsFrom(position + 1) };
      }
      const wholeRecordDropped = isWholeRecordAt(bytes, scan.goodEnd, bytes.length, tornReason, recordBytesMax);
      tornTail = {
        file: filePath, offset: scan.goodEnd, bytesDropped: bytes.length - scan.goodEnd, lastGoodIndex: scan.lastIndex, reason: tornReason, wholeRecordDropped,
      };
    } else if (scan.recordCount === 0 && !isNewest) {
      const corruption = { file: filePath, offset: 0, index: firstIndex, reason: 'empty segment before the newest one' };
      return { segments, lastTerm: state.lastTerm, termAtSnapshotIndex: state.termAtSnapshotIndex, tornTail, corruption, filesAfterCorruption: pathsFrom(position) };
    } else if (scan.recordCount === 0) {
      cutFile(fileSystem, dir, filePath, 0);
    }
    if (segment.entries > 0) segments.push(segment);
    state.expectedIndex = scan.lastIndex + 1;
    state.lastTerm = scan.lastTerm;
  }
  return { segments, lastTerm: state.lastTerm, termAtSnapshotIndex: state.termAtSnapshotIndex, tornTail, corruption: null, filesAfterCorruption: [] };
}

/** Truncates a segment file at `lengthBytes` durably, or deletes it when nothing is left. */
export function cutFile(fileSystem: WalFileSystem, dir: string, filePath: string, lengthBytes: number): void {
  if (lengthBytes === 0) {
    fileSystem.unlink(filePath);
    fileSystem.syncDirectory(dir);
    return;
  }
  const fd = fileSystem.open(filePath, 'readWrite');
  try {
    fileSystem.truncate(fd, lengthBytes);
    fileSystem.fdatasync(fd);
  } finally {
    fileSystem.close(fd);
  }
}

function describeFailure(reason: RecordFailureReason): string {
  switch (reason) {
    case 'incomplete': return 'record runs past the end of the file, with good records after it';
    case 'badLength': return 'record length out of range';
    case 'badChecksum': return 'checksum mismatch';
    case 'badNumber': return 'term or index is not a safe integer';
    case 'indexGap': return 'record index out of sequence';
    case 'termRegression': return 'record term lower than the one before';
  }
}
