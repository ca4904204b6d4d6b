/**
 * The WAL engine: a checksummed, segmented Raft log with group commit, the hard-state file,
 * snapshots and compaction, over an injected file system. The WAL writer actor drains its ring
 * into `appendEncoded` (records its producer already encoded and checksummed; `append` takes
 * entries and encodes them here), calls `flush` once per drain, and reports the index `flush`
 * returns. Measured (bench/wal-bench.ts): with pre-encoded records the engine stays near the raw
 * write+fdatasync ceiling at every batch size; encoding on this thread costs ~0.4 µs a record.
 *
 * Durability contract:
 * - `append` only stages (no syscall unless a staging buffer fills); `flush` writes everything
 *   staged with one write and makes it durable with one fdatasync (two of each when the batch
 *   crosses a segment rotation), and only then returns the new durable last index.
 *   Nothing is reported durable before its fdatasync returned.
 * - `truncateFrom`, `saveHardState`, `finishSnapshot`, `installIncomingSnapshot`, `compact`,
 *   `markNeedsCatchUp` and `clearNeedsCatchUp` are durable when they return success. Snapshots are
 *   written and read in chunks (snapshot-writer.ts, `readSnapshotChunk`): the engine never holds one whole.
 * - `open` reports nothing durable that recovery did not sync first (recovery.ts).
 *
 * Errors (values, see file-system-error.ts):
 * - IO_ERROR (EIO and anything unexpected, and every failed fsync) and CORRUPTION found on read
 *   are fatal: the engine keeps the error and every later call returns it at once. It never
 *   retries an fsync.
 * - DISK_FULL from a write or a file creation: the batch staged since the last durable flush is
 *   dropped (lastIndex goes back to durableLastIndex), the segment is cut back to its durable
 *   length, and the engine goes on: reads work, and appends may be retried once space is freed.
 *   A DISK_FULL from saveHardState/saveSnapshot leaves the previous file in force.
 *
 * Invariants: durableLastIndex ≤ lastIndex; firstIndex ≤ lastIndex + 1; firstIndex ≤ snapshot
 * index + 1 when a snapshot exists; an entry not yet written to the OS is in the tail cache.
 *
 * Runs on: WAL writer thread (one thread owns one engine; no method is reentrant).
 */
import path from 'node:path';
import { assert, failure, falconError, FalconFailure, success, type FalconError, type Outcome } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot, SnapshotMetadata } from '../log/snapshot.js';
import { removeFileDurably } from './atomic-file.js';
import { fileSystemError, isSurvivable } from './file-system-error.js';
import { errnoOf } from './file-system.js';
import { HardStateFile } from './hard-state-file.js';
import { needsCatchUpFileName, recoverWal, writeNeedsCatchUpMarker, type WalRecovered } from './recovery.js';
import type { Segment } from './segment.js';
import { SegmentLog } from './segment-log.js';
import { snapshotFileName, type SnapshotFileInfo } from './snapshot-file.js';
import { oversizeSnapshotError, readSnapshotRange, removeSnapshotsBelow, snapshotReadChunkBytes } from './snapshot-store.js';
import { IncomingSnapshot, LocalSnapshotWriter } from './snapshot-writer.js';
import { readRange } from './range-read.js';
import { TailCache } from './tail-cache.js';
import { resolveWalOptions, type WalOptions } from './wal-options.js';
import { readOwnRecordAt, recordBytesFor, recordChecksummedFrom, recordHeaderBytes, RecordView } from './wal-record.js';

/** A local snapshot that was abandoned (failed, or superseded by a leader's): not fatal. */
function localSnapshotGone(index: number): FalconError {
  return falconError('NOT_FOUND', `no snapshot at ${index} is being written (it failed or a newer one replaced it)`, { index });
}

/** Bytes of a snapshot read by `readSnapshotChunk`, with what identifies the file. */
export interface SnapshotChunk {
  readonly bytes: Uint8Array;
  /** Bytes of the part read (the whole file, or its data). */
  readonly totalBytes: number;
  /** The file's checksum (from its header). */
  readonly checksum: number;
}

export class WriteAheadLog {
  readonly dir: string;
  private readonly options: WalOptions;
  private readonly segmentLog: SegmentLog;
  private readonly cache: TailCache;
  private last: number;
  private lastEntryTerm: number;
  private durableLast: number;
  private durableLastTerm: number;
  private hardStateValue: HardState | null;
  private readonly hardStateFile: HardStateFile;
  /** The snapshot in force (verified at open, or written since). */
  private snapshotInfo: SnapshotFileInfo | null;
  /** A snapshot taken here, being written chunk by chunk. */
  private localSnapshot: LocalSnapshotWriter | null = null;
  /** A leader's snapshot being received chunk by chunk. */
  private incoming: IncomingSnapshot | null = null;
  /** Snapshots a stream to a follower reads (`holdSnapshot`): kept readable, file and all, after a
   *  newer one is put in force, until the last holder releases them. Index → file, holders. */
  private readonly heldSnapshots = new Map<number, { readonly info: SnapshotFileInfo; holders: number }>();
  private catchUpReason: string | null;
  private fatal: FalconError | null = null;
  /** Reused to read headers of encoded records (no object per record). */
  private readonly headerView = new RecordView();

  /**
   * Opens (creating if needed) the WAL in `dir` and runs recovery. Throws FalconFailure with
   * CORRUPTION (file, offset, index in message and detail), IO_ERROR, DISK_FULL or CONFIG_INVALID.
   */
  static open(dir: string, options: Partial<WalOptions> = {}): { wal: WriteAheadLog; recovered: WalRecovered } {
    const resolved = resolveWalOptions(options);
    const { recovered, segments, snapshot, hardStateFile } = recoverWal(dir, resolved);
    return { wal: new WriteAheadLog(dir, resolved, segments, recovered, snapshot, new HardStateFile(resolved.fileSystem, dir, hardStateFile)), recovered };
  }

  private constructor(dir: string, options: WalOptions, segments: Segment[], recovered: WalRecovered, snapshot: SnapshotFileInfo | null, hardStateFile: HardStateFile) {
    this.dir = dir;
    this.hardStateFile = hardStateFile;
    this.options = options;
    const cache = new TailCache(options.tailCacheEntries, options.tailCacheBytes);
    this.cache = cache;
    this.segmentLog = new SegmentLog(options.fileSystem, dir, options, segments, recovered.lastIndex, () => cache.oldestBuffer());
    this.last = recovered.lastIndex;
    this.lastEntryTerm = recovered.lastTerm;
    this.durableLast = recovered.lastIndex;
    this.durableLastTerm = recovered.lastTerm;
    this.hardStateValue = recovered.hardState;
    this.snapshotInfo = snapshot;
    this.catchUpReason = recovered.needsCatchUp;
  }

  /** First index held in the log (`lastIndex + 1` when it holds none). */
  get firstIndex(): number {
    return this.segmentLog.firstIndex ?? this.last + 1;
  }

  /** Last index appended (durable or not). */
  get lastIndex(): number {
    return this.last;
  }

  get lastTerm(): number {
    return this.lastEntryTerm;
  }

  /** Last index covered by a completed fdatasync: the only index that may be reported durable. */
  get durableLastIndex(): number {
    return this.durableLast;
  }

  get hardState(): HardState | null {
    return this.hardStateValue;
  }

  get snapshot(): SnapshotMetadata | null {
    const info = this.snapshotInfo;
    return info === null ? null : { index: info.index, term: info.term, membership: info.membership };
  }

  /** Why this node must be caught up before it may vote or lead (persisted), or null. */
  get needsCatchUp(): string | null {
    return this.catchUpReason;
  }

  /** The fatal error that stopped the engine, or null while it runs. */
  get failed(): FalconError | null {
    return this.fatal;
  }

  /** Stages `entries` (contiguous, continuing the log, terms not decreasing); returns the new last index. */
  append(entries: readonly LogEntry[]): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    try {
      for (const entry of entries) this.appendOne(entry);
    } catch (error) {
      return this.onWriteError('append', error);
    }
    return success(this.last);
  }

  /**
   * Stages records a producer already encoded with `encodeRecordInto` (checksums included), back
   * to back in `records[start, end)`, e.g. straight from a ring. Lengths, index sequence and terms
   * are checked here; checksums are not recomputed: the producer computed them where the bytes
   * were made, which also covers the bytes' trip through the ring, and every read from disk
   * verifies them. This keeps the WAL thread's per-record work to a header check and a memcpy.
   */
  appendEncoded(records: Buffer, start = 0, end = records.length): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    try {
      for (let offset = start; offset < end;) offset += this.appendEncodedOne(records, offset, end);
      this.segmentLog.copyDeferred();
    } catch (error) {
      return this.onWriteError('append', error);
    }
    return success(this.last);
  }

  /** One write + one fdatasync for everything staged; returns the durable last index. */
  flush(): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    if (this.last === this.durableLast) return success(this.durableLast);
    try {
      this.segmentLog.writePending(true);
    } catch (error) {
      return this.onWriteError('flush', error);
    }
    this.durableLast = this.last;
    this.durableLastTerm = this.lastEntryTerm;
    return success(this.durableLast);
  }

  /** Durably drops every entry from `index` on (a Raft conflict); returns the new last index. */
  truncateFrom(index: number): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    const snapshotIndex = this.snapshotInfo?.index ?? 0;
    assert(Number.isSafeInteger(index) && index > snapshotIndex && index <= this.last + 1,
      `truncateFrom(${index}) outside ${snapshotIndex + 1}..${this.last + 1}`);
    if (index > this.last) return success(this.last);
    const flushed = this.flush();
    if (!flushed.ok) return flushed;
    try {
      const termBefore = this.termAtOrNull(index - 1);
      assert(termBefore !== null, `no term for index ${index - 1} before truncation`);
      this.segmentLog.truncateFrom(index);
      this.cache.dropFrom(index);
      this.last = this.durableLast = index - 1;
      this.lastEntryTerm = this.durableLastTerm = termBefore;
    } catch (error) {
      return this.stop('truncate', error);
    }
    return success(this.last);
  }

  /**
   * Entries `fromIndex`..`toIndex` (inclusive, cut at the last index), stopping before
   * `bytesMax` of records are passed (at least one entry is returned). Recent entries come from
   * the tail cache, older ones from disk in reads of at most `readBytesMax`. Entries below
   * `firstIndex` were compacted: NOT_FOUND (send the snapshot instead).
   */
  read(fromIndex: number, toIndex: number, bytesMax: number): Outcome<LogEntry[]> {
    if (this.fatal !== null) return failure(this.fatal);
    assert(Number.isSafeInteger(fromIndex) && fromIndex >= 1 && Number.isSafeInteger(toIndex) && bytesMax >= 0,
      `read(${fromIndex}, ${toIndex}, ${bytesMax}) with bad arguments`);
    if (fromIndex < this.firstIndex) {
      return failure(falconError('NOT_FOUND', `entries below ${this.firstIndex} were compacted into the snapshot at ${this.snapshotInfo?.index ?? 0}`,
        { firstIndex: this.firstIndex, snapshotIndex: this.snapshotInfo?.index ?? 0 }));
    }
    try {
      return success(readRange(this.cache, this.segmentLog, fromIndex, Math.min(toIndex, this.last), bytesMax, this.options.readBytesMax));
    } catch (error) {
      return this.stop('read', error);
    }
  }

  /** The term of the entry at `index` (the snapshot's term at its index, 0 at index 0), or null if not held. */
  termAt(index: number): Outcome<number | null> {
    if (this.fatal !== null) return failure(this.fatal);
    try {
      return success(this.termAtOrNull(index));
    } catch (error) {
      return this.stop('read', error);
    }
  }

  /**
   * Persists term, vote, commit and cluster (one slot overwritten in place and fdatasynced;
   * hard-state-file.ts) before returning. A state that does not name its cluster keeps the one on disk: the identity, once
   * written, is never dropped by a later save; naming another cluster is a programmer error (the
   * Replicator refuses to start on a directory of another cluster).
   */
  saveHardState(state: HardState): Outcome<HardState> {
    if (this.fatal !== null) return failure(this.fatal);
    const previous = this.hardStateValue;
    assert(state.term >= (previous?.term ?? 0), `hard state term going back from ${previous?.term} to ${state.term}`);
    const kept = previous?.cluster ?? null;
    const cluster = state.cluster ?? kept;
    assert(kept === null || cluster === kept, `hard state cluster changing from '${kept}' to '${cluster}'`);
    const saved: HardState = { term: state.term, vote: state.vote, commit: state.commit, cluster };
    try {
      this.hardStateFile.save(saved);
    } catch (error) {
      return this.onFileError('saveHardState', error);
    }
    this.hardStateValue = saved;
    return success(saved);
  }

  /**
   * Starts writing a snapshot taken from this node's state machine (snapshot-writer.ts): data
   * follows with `appendSnapshotChunk`, `finishSnapshot` makes it durable. A snapshot being
   * written before is abandoned (its temp file deleted).
   */
  beginSnapshot(metadata: SnapshotMetadata): Outcome<null> {
    if (this.fatal !== null) return failure(this.fatal);
    assert(metadata.index >= (this.snapshotInfo?.index ?? 0), `snapshot index going back from ${this.snapshotInfo?.index} to ${metadata.index}`);
    this.localSnapshot?.abort();
    this.localSnapshot = null;
    try {
      this.localSnapshot = new LocalSnapshotWriter(this.options.fileSystem, this.dir, metadata, this.options.snapshotBytesMax);
    } catch (error) {
      return this.onFileError('saveSnapshot', error);
    }
    return success(null);
  }

  /**
   * Appends data to the snapshot being written at `index`; returns its data bytes so far. A file
   * that would pass `snapshotBytesMax` is refused (RESOURCE_EXHAUSTED, not fatal): the snapshot is
   * abandoned and the previous one stays in force.
   */
  appendSnapshotChunk(index: number, bytes: Uint8Array): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    const writer = this.localSnapshot;
    if (writer === null || writer.metadata.index !== index) return failure(localSnapshotGone(index));
    try {
      const refused = writer.append(bytes);
      if (refused !== null) {
        this.abandonLocalSnapshot();
        return failure(refused);
      }
    } catch (error) {
      this.abandonLocalSnapshot();
      return this.onFileError('saveSnapshot', error);
    }
    return success(writer.dataBytes);
  }

  /** Makes the snapshot being written at `index` durable, then applies it (see `afterSnapshotDurable`). */
  finishSnapshot(index: number): Outcome<SnapshotMetadata> {
    if (this.fatal !== null) return failure(this.fatal);
    const writer = this.localSnapshot;
    if (writer === null || writer.metadata.index !== index) return failure(localSnapshotGone(index));
    let info: SnapshotFileInfo;
    try {
      info = writer.finish();
    } catch (error) {
      this.abandonLocalSnapshot();
      return this.onFileError('saveSnapshot', error);
    } finally {
      this.localSnapshot = null;
    }
    return this.afterSnapshotDurable(info);
  }

  /**
   * Durably writes a snapshot held whole: for small ones (tests, tools); the replica loop streams
   * through `beginSnapshot`/`appendSnapshotChunk`/`finishSnapshot`.
   */
  saveSnapshot(snapshot: Snapshot): Outcome<SnapshotMetadata> {
    const begun = this.beginSnapshot(snapshot);
    if (!begun.ok) return begun;
    for (let offset = 0; offset < snapshot.data.byteLength; offset += snapshotReadChunkBytes) {
      const appended = this.appendSnapshotChunk(snapshot.index, snapshot.data.subarray(offset, offset + snapshotReadChunkBytes));
      if (!appended.ok) return appended;
    }
    return this.finishSnapshot(snapshot.index);
  }

  /**
   * Starts receiving a leader's snapshot file of `fileBytes` bytes and checksum `checksum` (its
   * header's) into a temp file. Resumes when one of the same index, length and checksum is
   * already being received (the bytes held so far are kept); any other is abandoned. Returns the
   * bytes held. A file above `snapshotBytesMax` is refused (RESOURCE_EXHAUSTED, not fatal).
   */
  beginIncomingSnapshot(index: number, fileBytes: number, checksum: number): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    const current = this.incoming;
    if (current !== null && current.index === index && current.fileBytes === fileBytes && current.checksum === checksum) return success(current.heldBytes);
    this.abandonIncomingSnapshot();
    if (fileBytes > this.options.snapshotBytesMax) return failure(oversizeSnapshotError(index, fileBytes, this.options.snapshotBytesMax));
    try {
      this.incoming = new IncomingSnapshot(this.options.fileSystem, this.dir, index, fileBytes, checksum);
    } catch (error) {
      return this.onFileError('receiveSnapshot', error);
    }
    return success(0);
  }

  /** Writes a chunk of the incoming snapshot at `offset` (ignored unless it continues what is held); returns the bytes held. */
  writeIncomingSnapshot(index: number, offset: number, bytes: Uint8Array): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    const incoming = this.incoming;
    if (incoming === null || incoming.index !== index) return success(0);
    try {
      return success(incoming.write(offset, bytes));
    } catch (error) {
      this.abandonIncomingSnapshot();
      return this.onFileError('receiveSnapshot', error);
    }
  }

  /**
   * fsyncs the whole incoming snapshot and verifies it (chunk by chunk). One that does not verify
   * was damaged on the way (not at rest): it is abandoned and CORRUPTION returned, not fatal.
   */
  verifyIncomingSnapshot(index: number): Outcome<SnapshotMetadata> {
    if (this.fatal !== null) return failure(this.fatal);
    const incoming = this.incoming;
    if (incoming === null || incoming.index !== index) return failure(falconError('NOT_FOUND', `no incoming snapshot at ${index}`));
    let verified: SnapshotFileInfo | string;
    try {
      verified = incoming.verify(this.options.snapshotBytesMax);
    } catch (error) {
      this.abandonIncomingSnapshot();
      return this.onFileError('receiveSnapshot', error);
    }
    if (typeof verified === 'string') {
      this.abandonIncomingSnapshot();
      return failure(falconError('CORRUPTION', `the snapshot received at index ${index} does not verify: ${verified}`, { index }));
    }
    const { term, membership } = verified;
    return success({ index, term, membership });
  }

  /** Puts the verified incoming snapshot of (`index`, `term`) in force, durably (see `afterSnapshotDurable`). */
  installIncomingSnapshot(index: number, term: number): Outcome<SnapshotMetadata> {
    if (this.fatal !== null) return failure(this.fatal);
    const incoming = this.incoming;
    const info = incoming?.verifiedInfo ?? null;
    assert(incoming !== null && info !== null && info.index === index && info.term === term,
      `install of snapshot (${index}, ${term}) that was not received and verified`);
    assert(index >= (this.snapshotInfo?.index ?? 0), `snapshot index going back from ${this.snapshotInfo?.index} to ${index}`);
    this.incoming = null;
    // A local snapshot still being written is older than this one: it is abandoned.
    this.abandonLocalSnapshot();
    try {
      incoming.install();
    } catch (error) {
      incoming.abort();
      return this.onFileError('installSnapshot', error);
    }
    return this.afterSnapshotDurable(info);
  }

  /**
   * A new snapshot file is durable: older ones are deleted; if the log does not hold the
   * snapshot's (index, term), the log is superseded and discarded, as Raft does when it installs a
   * snapshot; otherwise it is kept.
   */
  private afterSnapshotDurable(info: SnapshotFileInfo): Outcome<SnapshotMetadata> {
    try {
      removeSnapshotsBelow(this.options.fileSystem, this.dir, info.index, this.heldSnapshots);
      const termInLog = info.index <= this.last ? this.termAtOrNull(info.index) : null;
      const metadata = { index: info.index, term: info.term, membership: info.membership };
      this.snapshotInfo = info;
      if (termInLog !== info.term) this.discardLogFor(metadata);
      return success(metadata);
    } catch (error) {
      return this.stop('saveSnapshot', error);
    }
  }

  /**
   * Keeps the snapshot at `index` readable until `releaseSnapshot(index)`, even once a newer one is
   * put in force: a stream to a follower reads one file from its start to its end, however many
   * snapshots are taken meanwhile. Holds count (one per stream). False when `index` is neither in
   * force nor held: there is nothing left to hold, and reads of it answer NOT_FOUND.
   */
  holdSnapshot(index: number): boolean {
    const held = this.heldSnapshots.get(index);
    if (held !== undefined) {
      held.holders += 1;
      return true;
    }
    const info = this.snapshotInfo;
    if (this.fatal !== null || info === null || info.index !== index) return false;
    this.heldSnapshots.set(index, { info, holders: 1 });
    return true;
  }

  /**
   * Drops one hold of the snapshot at `index` (none held: nothing to do). The last hold of a
   * snapshot no longer in force deletes its file, durably.
   */
  releaseSnapshot(index: number): Outcome<null> {
    const held = this.heldSnapshots.get(index);
    if (held === undefined) return success(null);
    held.holders -= 1;
    if (held.holders > 0) return success(null);
    this.heldSnapshots.delete(index);
    return this.removeUnheldSnapshotsBelowTheOneInForce();
  }

  /** Drops every hold (a restarted Replicator streams nothing yet); files no longer needed go. */
  releaseAllSnapshots(): Outcome<null> {
    if (this.heldSnapshots.size === 0) return success(null);
    this.heldSnapshots.clear();
    return this.removeUnheldSnapshotsBelowTheOneInForce();
  }

  private removeUnheldSnapshotsBelowTheOneInForce(): Outcome<null> {
    if (this.fatal !== null) return failure(this.fatal);
    const inForce = this.snapshotInfo?.index ?? 0;
    try {
      removeSnapshotsBelow(this.options.fileSystem, this.dir, inForce, this.heldSnapshots);
    } catch (error) {
      return this.onFileError('removeSnapshot', error);
    }
    return success(null);
  }

  /** Snapshot files kept for streams although a newer one is in force (for tests). */
  get heldSnapshotIndexes(): number[] {
    return [...this.heldSnapshots.keys()].filter((index) => index !== this.snapshotInfo?.index).sort((a, b) => a - b);
  }

  /**
   * Up to `bytesMax` bytes of the snapshot at `index`, from `offset`: of its file (`part: 'file'`,
   * what a leader streams to a follower) or of its data (`part: 'data'`, what a state machine is
   * restored from). NOT_FOUND when `index` is neither the snapshot in force nor a held one.
   */
  readSnapshotChunk(index: number, part: 'file' | 'data', offset: number, bytesMax: number): Outcome<SnapshotChunk> {
    if (this.fatal !== null) return failure(this.fatal);
    const info = this.snapshotInfo?.index === index ? this.snapshotInfo : this.heldSnapshots.get(index)?.info ?? null;
    if (info === null) {
      return failure(falconError('NOT_FOUND', `snapshot ${index} is neither the one in force (${this.snapshotInfo?.index ?? 'none'}) nor held by a stream`, { index }));
    }
    const start = part === 'file' ? 0 : info.headerBytes;
    const totalBytes = info.fileBytes - start;
    assert(Number.isSafeInteger(offset) && offset >= 0 && offset <= totalBytes && bytesMax > 0, `snapshot read at ${offset} of ${totalBytes}`);
    try {
      const bytes = readSnapshotRange(this.options.fileSystem, path.join(this.dir, snapshotFileName(index)), start + offset, Math.min(bytesMax, totalBytes - offset));
      return success({ bytes, totalBytes, checksum: info.checksum });
    } catch (error) {
      return this.stop('readSnapshot', error);
    }
  }

  /** The newest durable snapshot read whole: for small ones only (tests, tools). */
  loadLatestSnapshot(): Outcome<Snapshot | null> {
    const info = this.snapshotInfo;
    if (info === null) return this.fatal === null ? success(null) : failure(this.fatal);
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < info.fileBytes - info.headerBytes;) {
      const chunk = this.readSnapshotChunk(info.index, 'data', offset, snapshotReadChunkBytes);
      if (!chunk.ok) return chunk;
      parts.push(chunk.value.bytes);
      offset += chunk.value.bytes.byteLength;
    }
    return success({ index: info.index, term: info.term, membership: info.membership, data: Buffer.concat(parts) });
  }

  private abandonLocalSnapshot(): void {
    this.localSnapshot?.abort();
    this.localSnapshot = null;
  }

  private abandonIncomingSnapshot(): void {
    this.incoming?.abort();
    this.incoming = null;
  }

  /** Deletes the segments wholly at or below `uptoIndex` (≤ the snapshot index); returns how many. */
  compact(uptoIndex: number): Outcome<number> {
    if (this.fatal !== null) return failure(this.fatal);
    const snapshotIndex = this.snapshotInfo?.index ?? 0;
    assert(uptoIndex <= snapshotIndex, `compact(${uptoIndex}) beyond the snapshot index ${snapshotIndex}`);
    try {
      return success(this.segmentLog.removeUpTo(Math.min(uptoIndex, this.durableLast)));
    } catch (error) {
      return this.stop('compact', error);
    }
  }

  /**
   * Durably writes the catch-up marker with `reason` at run time (recovery writes it for what it
   * repaired): this node must be caught up by a leader before it may vote or lead. Used when a
   * node that found its directory empty hears that its peers hold this cluster's log.
   */
  markNeedsCatchUp(reason: string): Outcome<string> {
    if (this.fatal !== null) return failure(this.fatal);
    assert(reason.trim() !== '', 'markNeedsCatchUp without a reason');
    try {
      writeNeedsCatchUpMarker(this.options.fileSystem, this.dir, reason);
    } catch (error) {
      return this.onFileError('markNeedsCatchUp', error);
    }
    this.catchUpReason = reason;
    return success(reason);
  }

  /** Removes the persisted catch-up marker, once the Raft layer knows this node caught up. */
  clearNeedsCatchUp(): Outcome<null> {
    if (this.fatal !== null) return failure(this.fatal);
    try {
      removeFileDurably(this.options.fileSystem, this.dir, needsCatchUpFileName);
    } catch (error) {
      return this.onFileError('clearNeedsCatchUp', error);
    }
    this.catchUpReason = null;
    return success(null);
  }

  /** Closes the files. Staged, unflushed entries are dropped (they were never reported durable). */
  close(): void {
    if (this.fatal === null) this.fatal = falconError('UNAVAILABLE', `WAL ${this.dir} is closed`);
    this.segmentLog.close();
    this.hardStateFile.close();
  }

  private appendOne(entry: LogEntry): void {
    if (entry.index !== this.last + 1) assert(false, `append of index ${entry.index} after ${this.last}`);
    if (entry.term < this.lastEntryTerm) assert(false, `append of term ${entry.term} after term ${this.lastEntryTerm} (index ${entry.index})`);
    const recordBytes = recordBytesFor(entry.data.length);
    this.makeCacheRoom(recordBytes);
    const offset = this.segmentLog.stage(entry);
    this.cache.push(entry.index, this.segmentLog.stagingBuffer, offset, recordBytes);
    this.last = entry.index;
    this.lastEntryTerm = entry.term;
  }

  /** Checks and stages the encoded record at `offset`; returns its length in bytes. */
  private appendEncodedOne(source: Buffer, offset: number, end: number): number {
    const header = this.headerView;
    const length = end - offset >= recordHeaderBytes ? source.readUInt32LE(offset) : -1;
    const recordBytes = length + recordChecksummedFrom;
    if (length < recordHeaderBytes - recordChecksummedFrom || offset + recordBytes > end) {
      assert(false, `encoded record at ${offset} of length ${length} does not fit in ${end - offset} bytes`);
    }
    readOwnRecordAt(source, offset, header);
    if (header.index !== this.last + 1) assert(false, `append of encoded index ${header.index} after ${this.last}`);
    if (header.term < this.lastEntryTerm) assert(false, `append of encoded term ${header.term} after term ${this.lastEntryTerm}`);
    this.makeCacheRoom(recordBytes);
    const stagedOffset = this.segmentLog.stageEncoded(source, offset, recordBytes, header.index);
    this.cache.push(header.index, this.segmentLog.stagingBuffer, stagedOffset, recordBytes);
    this.last = header.index;
    this.lastEntryTerm = header.term;
    return recordBytes;
  }

  private makeCacheRoom(recordBytes: number): void {
    if (this.cache.makeRoom(recordBytes, this.segmentLog.writtenLastIndex)) return;
    // Every cached entry is still unwritten: write them out (no fsync) so they can be evicted.
    this.segmentLog.writePending(false);
    if (!this.cache.makeRoom(recordBytes, this.segmentLog.writtenLastIndex)) {
      assert(false, `tail cache still full after writing up to ${this.segmentLog.writtenLastIndex}`);
    }
  }

  private termAtOrNull(index: number): number | null {
    if (index === 0) return 0;
    if (this.snapshotInfo !== null && index === this.snapshotInfo.index) return this.snapshotInfo.term;
    if (index > this.last || index < this.firstIndex) return null;
    if (this.cache.has(index)) return this.cache.termAt(index);
    return this.segmentLog.readFromDisk(index, index, 0, true)[0]?.term ?? null;
  }

  private discardLogFor(snapshot: SnapshotMetadata): void {
    this.segmentLog.removeAll(snapshot.index);
    this.cache.clear();
    this.last = this.durableLast = snapshot.index;
    this.lastEntryTerm = this.durableLastTerm = snapshot.term;
  }

  /** A failed append/flush: survive a full disk by dropping the batch, stop on anything else. */
  private onWriteError(operation: string, error: unknown): Outcome<never> {
    if (!isSurvivable(error)) return this.stop(operation, error);
    try {
      this.segmentLog.rollbackTo(this.durableLast);
      this.cache.dropFrom(this.durableLast + 1);
      this.last = this.durableLast;
      this.lastEntryTerm = this.durableLastTerm;
    } catch (rollbackError) {
      return this.stop('rollback after a full disk', rollbackError);
    }
    return failure(fileSystemError(operation, this.dir, error));
  }

  /** A failed atomic file write: the old file is still in force; survive a full disk. */
  private onFileError(operation: string, error: unknown): Outcome<never> {
    if (isSurvivable(error)) return failure(fileSystemError(operation, this.dir, error));
    return this.stop(operation, error);
  }

  /** Enters the failed state (fatal errors); programmer errors are rethrown, never swallowed. */
  private stop(operation: string, error: unknown): Outcome<never> {
    if (error instanceof FalconFailure) {
      this.fatal = error.error;
    } else if (errnoOf(error) !== undefined) {
      const mapped = fileSystemError(operation, this.dir, error);
      this.fatal = mapped.code === 'IO_ERROR' ? mapped : falconError('IO_ERROR', mapped.message, mapped.detail);
    } else {
      throw error;
    }
    return failure(this.fatal);
  }
}
