/**
 * Opening a WAL directory: everything the engine trusts after a restart is decided here.
 *
 * Order: make the directory; delete `*.tmp` left by interrupted atomic writes; load the hard
 * state; load the newest snapshot (it must verify, see `onRejectedSnapshots`); scan the
 * segments (segment-recovery.ts); then reconcile the log with the snapshot the way Raft
 * installs one: keep the log if it holds the snapshot's (index, term) or only entries after it,
 * otherwise discard it (it was superseded).
 * Last, sync every kept file and the directory: nothing is reported (and so nothing becomes
 * `durableLastIndex` or the hard state Raft starts from) before its fdatasync returned, even if a
 * killed process left it readable in the page cache.
 *
 * A torn tail (segment-recovery.ts) is cut; when the first record dropped was whole on disk (it
 * failed its checksum, it was not cut short) the catch-up marker is persisted first, without the
 * repair flag: that record may have been acknowledged before it was damaged at rest.
 *
 * Corruption (a damaged record outside the newest segment's tail, a missing segment, a log that
 * does not meet its snapshot, a damaged hard-state file, a snapshot file that does not verify)
 * refuses to open with a CORRUPTION error naming file, offset and index; with `repairCorruption`
 * the damaged part is cut or dropped and the persisted `needs-catch-up` marker says the node
 * must be caught up by a leader before it may vote or lead. The marker stays until
 * `WriteAheadLog.clearNeedsCatchUp()`.
 *
 * Directory layout: `<first index>.seg` segments, `hard-state`, `snapshot-<index>.snap`,
 * `needs-catch-up`, and transient `*.tmp`.
 *
 * Runs on: WAL writer thread (at open).
 */
import path from 'node:path';
import { falconError, FalconFailure } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { SnapshotMetadata } from '../log/snapshot.js';
import { fileSystemError } from './file-system-error.js';
import { errnoOf, readWholeFile, type WalFileSystem } from './file-system.js';
import { temporaryFileSuffix, writeFileAtomically } from './atomic-file.js';
import { decodeHardStateFile, hardStateFileName, type LoadedHardState } from './hard-state-codec.js';
import { parseSegmentFileName, type Segment } from './segment.js';
import { cutFile, recoverSegments, type CorruptionFinding, type TornTailFinding } from './segment-recovery.js';
import { snapshotFileName, type SnapshotFileInfo } from './snapshot-file.js';
import { loadNewestSnapshot, removeSnapshotsBelow, type RejectedSnapshot } from './snapshot-store.js';
import type { WalOptions } from './wal-options.js';

export const needsCatchUpFileName = 'needs-catch-up';
const mustCatchUp = 'this node must be caught up from the leader before it may vote or lead.';
/** Bound on the small files read whole at open (hard state, marker). */
const smallFileBytesMax = 64 * 1024;

/** What `WriteAheadLog.open` found and decided. */
export interface WalRecovered {
  /** First index held in the log; `lastIndex + 1` when the log holds no entry. */
  readonly firstIndex: number;
  /** Last index in the log, else the snapshot's index, else 0. */
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotMetadata | null;
  /** A torn tail that was truncated (normal after a crash; when `wholeRecordDropped`, the
   *  catch-up marker was set too). */
  readonly tornTail: TornTailFinding | null;
  /** Corruption that was repaired by truncation (only with `repairCorruption`). */
  readonly corruption: CorruptionFinding | null;
  /** Why this node must be caught up before it may vote or lead (persisted marker), or null. */
  readonly needsCatchUp: string | null;
  /** Snapshot files that failed verification, deleted by repair (only with `repairCorruption`). */
  readonly rejectedSnapshots: readonly RejectedSnapshot[];
  /** True when the log was discarded because a snapshot superseded it. */
  readonly logDiscardedForSnapshot: boolean;
}

export interface RecoveryResult {
  readonly recovered: WalRecovered;
  readonly segments: Segment[];
  readonly snapshot: SnapshotFileInfo | null;
  /** The hard-state file's newest record with its sequence and slot (null: no file). */
  readonly hardStateFile: LoadedHardState | null;
}

interface Context {
  readonly fileSystem: WalFileSystem;
  readonly dir: string;
  readonly options: WalOptions;
  needsCatchUp: string | null;
  corruption: CorruptionFinding | null;
}

/** Runs recovery; throws FalconFailure (CORRUPTION, IO_ERROR, DISK_FULL) when it cannot open. */
export function recoverWal(dir: string, options: WalOptions): RecoveryResult {
  const context: Context = { fileSystem: options.fileSystem, dir, options, needsCatchUp: null, corruption: null };
  try {
    return recoverIn(context);
  } catch (error) {
    if (error instanceof FalconFailure) throw error;
    if (errnoOf(error) === undefined) throw error;
    throw new FalconFailure(fileSystemError('recovery', dir, error));
  }
}

function recoverIn(context: Context): RecoveryResult {
  const { fileSystem, dir, options } = context;
  makeDirectoryDurably(fileSystem, dir);
  const names = fileSystem.listDirectory(dir);
  removeTemporaryFiles(context, names);
  context.needsCatchUp = readMarker(context, names);
  const hardStateFile = loadHardState(context, names);
  const hardState = hardStateFile?.state ?? null;
  const { snapshot, rejectedSnapshots } = loadNewestSnapshot(fileSystem, dir, names, options.snapshotBytesMax);
  if (rejectedSnapshots.length > 0) onRejectedSnapshots(context, rejectedSnapshots, snapshot);
  const firstIndexes = names.map(parseSegmentFileName).filter((index): index is number => index !== null).sort((a, b) => a - b);
  const scan = recoverSegments(fileSystem, dir, firstIndexes, options.recordBytesMax, snapshot?.index ?? null);
  let segments = scan.segments;
  if (scan.tornTail !== null) cutTornTail(context, scan.tornTail);
  if (scan.corruption !== null) segments = repairSegments(context, scan.corruption, segments, scan.filesAfterCorruption);
  const log = reconcileWithSnapshot(context, segments, scan.lastTerm, scan.termAtSnapshotIndex, snapshot);
  syncEverythingReported(context, log.segments, hardState !== null, snapshot);
  // Older snapshot files are what a crash left behind: one a stream held (the holds died with the
  // process), or the one a new snapshot was replacing. The one loaded is durable: they go.
  if (snapshot !== null) removeSnapshotsBelow(fileSystem, dir, snapshot.index, new Map());
  const lastSegment = log.segments.at(-1);
  const lastIndex = lastSegment?.lastIndex ?? snapshot?.index ?? 0;
  const recovered: WalRecovered = {
    firstIndex: log.segments[0]?.firstIndex ?? lastIndex + 1,
    lastIndex,
    lastTerm: lastSegment === undefined ? (snapshot?.term ?? 0) : log.lastTerm,
    hardState,
    snapshot: snapshot === null ? null : { index: snapshot.index, term: snapshot.term, membership: snapshot.membership },
    tornTail: scan.tornTail,
    corruption: context.corruption,
    needsCatchUp: context.needsCatchUp,
    rejectedSnapshots,
    logDiscardedForSnapshot: log.discarded,
  };
  return { recovered, segments: log.segments, snapshot, hardStateFile };
}

/**
 * Makes durable every file and name recovery is about to report, before it reports them.
 *
 * Why: a process killed after `write` and before `fdatasync` (or after creating a segment or
 * renaming the hard state into place, before the directory fsync) leaves bytes and names in the
 * page cache. Recovery reads them back like any others; if it reported them durable without a
 * sync, the node could acknowledge entries, or repeat a vote, that a power loss then erases.
 *
 * Which segments: all that recovery keeps. With `fsync: 'always'` only the newest one can hold
 * unsynced bytes (a segment is created only after its predecessor's fdatasync, segment-log.ts),
 * but only if every earlier open synced the newest segment before the engine rotated past it; a
 * log written with `unsafeNoFsync`, or by an engine whose recovery did not sync, breaks that, and
 * recovery cannot tell. Recovery has just read every kept segment whole, so one fdatasync each
 * (nothing to write for those already durable) costs little beside that. The hard state, the
 * catch-up marker and the snapshot in use are synced too (their writers fsynced them before the
 * rename; a file put in place by other means may not be), then the directory, which makes every
 * creation, rename and unlink in it durable.
 */
function syncEverythingReported(context: Context, segments: readonly Segment[], hasHardState: boolean, snapshot: SnapshotFileInfo | null): void {
  const { fileSystem, dir } = context;
  const filePaths = segments.map((segment) => segment.filePath);
  if (hasHardState) filePaths.push(path.join(dir, hardStateFileName));
  if (context.needsCatchUp !== null) filePaths.push(path.join(dir, needsCatchUpFileName));
  if (snapshot !== null) filePaths.push(path.join(dir, snapshotFileName(snapshot.index)));
  for (const filePath of filePaths) {
    const fd = fileSystem.open(filePath, 'read');
    try {
      fileSystem.fdatasync(fd);
    } finally {
      fileSystem.close(fd);
    }
  }
  fileSystem.syncDirectory(dir);
}

/** Creates `dir` and missing parents, fsyncing each new one's parent: a name must be durable
 *  before anything inside it can be. */
function makeDirectoryDurably(fileSystem: WalFileSystem, dir: string): void {
  const created: string[] = [];
  for (let current = path.resolve(dir); !fileSystem.exists(current); current = path.dirname(current)) created.push(current);
  if (created.length === 0) return;
  fileSystem.makeDirectory(dir);
  for (const newDirectory of created) fileSystem.syncDirectory(path.dirname(newDirectory));
}

function removeTemporaryFiles(context: Context, names: readonly string[]): void {
  const leftovers = names.filter((name) => name.endsWith(temporaryFileSuffix));
  for (const name of leftovers) context.fileSystem.unlink(path.join(context.dir, name));
  if (leftovers.length > 0) context.fileSystem.syncDirectory(context.dir);
}

function readMarker(context: Context, names: readonly string[]): string | null {
  if (!names.includes(needsCatchUpFileName)) return null;
  const text = readWholeFile(context.fileSystem, path.join(context.dir, needsCatchUpFileName), smallFileBytesMax).toString('utf8');
  return text.trim() === '' ? 'needs catch-up (no reason recorded)' : text.trim();
}

/** Refuses, or (with repair) persists the catch-up marker and goes on. */
function onCorruption(context: Context, finding: CorruptionFinding): void {
  const where = `${finding.file} at offset ${finding.offset} (index ${finding.index}): ${finding.reason}`;
  if (!context.options.repairCorruption) {
    throw new FalconFailure(falconError('CORRUPTION',
      `WAL corruption in ${where}. The node does not start; restart with the repair flag to truncate the log there `
      + 'and have it caught up from the leader before it may vote or lead.',
      { file: finding.file, offset: finding.offset, index: finding.index, reason: finding.reason }));
  }
  persistNeedsCatchUp(context, `WAL corruption repaired by truncation in ${where}; ${mustCatchUp}`);
  context.corruption = finding;
}

/**
 * Snapshot files newer than the one loaded did not verify. A crash never leaves that (a snapshot
 * is renamed into place only once complete and fsynced; an interrupted one is a `*.tmp`), and
 * the bad one may have replaced log entries this node acknowledged: refuse to open, naming the
 * file; with the repair flag, persist the marker, then delete the bad files and fall back.
 */
function onRejectedSnapshots(context: Context, rejected: readonly RejectedSnapshot[], fallback: SnapshotFileInfo | null): void {
  const newest = rejected[0];
  if (newest === undefined) return;
  if (!context.options.repairCorruption) {
    throw new FalconFailure(falconError('CORRUPTION',
      `snapshot ${newest.file} does not verify (${newest.reason}). The node does not start; restart with the repair flag `
      + 'to delete it, fall back to an older snapshot (or none), and have the node caught up from the leader before it may vote or lead.',
      { file: newest.file, reason: newest.reason }));
  }
  const fellBackTo = fallback === null ? 'no snapshot' : `the snapshot at index ${fallback.index}`;
  persistNeedsCatchUp(context, `snapshot ${newest.file} did not verify (${newest.reason}); deleted by repair, `
    + `recovery fell back to ${fellBackTo}; ${mustCatchUp}`);
  for (const { file } of rejected) context.fileSystem.unlink(file);
  context.fileSystem.syncDirectory(context.dir);
}

/** Durably writes the catch-up marker with `reason` (before whatever repair needs it). */
function persistNeedsCatchUp(context: Context, reason: string): void {
  writeNeedsCatchUpMarker(context.fileSystem, context.dir, reason);
  context.needsCatchUp = reason;
}

/** Durably writes the `needs-catch-up` marker holding `reason` (temp file, fsync, rename, directory fsync). */
export function writeNeedsCatchUpMarker(fileSystem: WalFileSystem, dir: string, reason: string): void {
  writeFileAtomically(fileSystem, dir, needsCatchUpFileName, [Buffer.from(`${reason}\n`, 'utf8')]);
}

/**
 * Cuts the newest segment at its last good record. A dropped record that was whole on disk was
 * not cut short by a crash: it may have been synced and acknowledged, then damaged at rest, so
 * the marker is persisted first (a crash between the two then finds the marker, or the record
 * again), and the node must be caught up before it may vote or lead.
 */
function cutTornTail(context: Context, tornTail: TornTailFinding): void {
  if (tornTail.wholeRecordDropped) {
    persistNeedsCatchUp(context, `WAL recovery dropped a whole record that did not verify (${tornTail.reason}) at the tail of `
      + `${tornTail.file} at offset ${tornTail.offset} (index ${tornTail.lastGoodIndex + 1}); it may have been synced and `
      + `acknowledged, then damaged at rest; ${mustCatchUp}`);
  }
  cutFile(context.fileSystem, context.dir, tornTail.file, tornTail.offset);
}

function loadHardState(context: Context, names: readonly string[]): LoadedHardState | null {
  if (!names.includes(hardStateFileName)) return null;
  const filePath = path.join(context.dir, hardStateFileName);
  const decoded = decodeHardStateFile(readWholeFile(context.fileSystem, filePath, smallFileBytesMax));
  if (typeof decoded !== 'string') return decoded;
  onCorruption(context, { file: filePath, offset: 0, index: 0, reason: `hard state unreadable: ${decoded}` });
  context.fileSystem.unlink(filePath);
  context.fileSystem.syncDirectory(context.dir);
  return null;
}

/** Deletes the segments after the corruption and cuts the corrupt one, after `onCorruption` allowed it. */
function repairSegments(context: Context, finding: CorruptionFinding, segments: Segment[], filesAfter: readonly string[]): Segment[] {
  onCorruption(context, finding);
  for (const filePath of filesAfter) context.fileSystem.unlink(filePath);
  if (filesAfter.length > 0) context.fileSystem.syncDirectory(context.dir);
  const failing = segments.at(-1);
  if (failing === undefined || failing.filePath !== finding.file) return segments;
  cutFile(context.fileSystem, context.dir, failing.filePath, failing.durableBytes);
  return failing.entries === 0 ? segments.slice(0, -1) : segments;
}

function discardSegments(context: Context, segments: readonly Segment[]): void {
  for (const segment of [...segments].reverse()) context.fileSystem.unlink(segment.filePath);
  if (segments.length > 0) context.fileSystem.syncDirectory(context.dir);
}

function reconcileWithSnapshot(
  context: Context, segments: Segment[], lastTerm: number, termAtSnapshotIndex: number | null, snapshot: SnapshotFileInfo | null,
): { segments: Segment[]; lastTerm: number; discarded: boolean } {
  const first = segments[0];
  const last = segments.at(-1);
  if (first === undefined || last === undefined) return { segments, lastTerm, discarded: false };
  const expectedFirstMax = (snapshot?.index ?? 0) + 1;
  const startsLate = snapshot === null ? first.firstIndex !== 1 : first.firstIndex > expectedFirstMax;
  if (startsLate) {
    onCorruption(context, {
      file: first.filePath, offset: 0, index: expectedFirstMax,
      reason: snapshot === null ? `log starts at ${first.firstIndex} with no snapshot` : `log starts at ${first.firstIndex}, after snapshot index ${snapshot.index} + 1`,
    });
    discardSegments(context, segments);
    return { segments: [], lastTerm: 0, discarded: false };
  }
  if (snapshot === null) return { segments, lastTerm, discarded: false };
  const superseded = last.lastIndex < snapshot.index || (termAtSnapshotIndex !== null && termAtSnapshotIndex !== snapshot.term);
  if (!superseded) return { segments, lastTerm, discarded: false };
  discardSegments(context, segments);
  return { segments: [], lastTerm: snapshot.term, discarded: true };
}
