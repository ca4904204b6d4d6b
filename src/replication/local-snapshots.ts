/**
 * The replica loop's own snapshots: one is taken every `snapshotEveryEntries` applied entries or
 * `snapshotEveryBytes` bytes of log records applied (snapshot-trigger.ts), its body streamed from the
 * state machine to the WAL in chunks (snapshot-pumps.ts); once it is durable the WAL compacts the
 * log below it — never at or above the state machine's compaction floor, nor above a snapshot
 * still being streamed to a follower or not yet answered for.
 *
 * A state machine whose reader captures lazily (`prepare`) is captured a slice per scheduler turn;
 * committed entries wait meanwhile (`defer`) and are applied once it is whole, so that a large
 * state never holds the thread (a leader that stops heartbeating for 300 ms loses its leadership).
 *
 * Invariants: at most one local snapshot is being captured or saved; `snapshotIndex` is the index of the
 * snapshot in force (taken here or installed from the leader); `logBytesSinceSnapshot` counts
 * the WAL record bytes (payload and header) of the entries applied after it. A failed save is housekeeping, not a promise: the previous
 * snapshot and the log stay, and the next due snapshot tries again.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { FromWal } from '../protocol/wal.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { ReplicaHost } from './replica-loop-options.js';
import type { ReplicatorLogStorage } from './replicator-log-storage.js';
import { LocalSnapshotSave } from './snapshot-pumps.js';
import { isSnapshotDue, type SnapshotTrigger } from './snapshot-trigger.js';
import type { SnapshotReader, StateMachine } from '../log/state-machine.js';
import type { SnapshotMetadata } from '../log/snapshot.js';
import { recordBytesFor } from '../wal/wal-record.js';

/** The body of every snapshot the core sees: the bytes are in the WAL. */
const bodyInWal = new Uint8Array(0);

export interface LocalSnapshotsOptions {
  readonly host: ReplicaHost;
  readonly machine: StateMachine<unknown>;
  readonly voters: readonly string[];
  readonly trigger: SnapshotTrigger;
  readonly chunkBytes: number;
  /** Chunks sent to the WAL and not yet answered. */
  readonly windowChunks: number;
  /** The loop's counters: one more per snapshot taken and durable. */
  readonly counters: { snapshotsTaken: number };
  /** A `finishSnapshot` goes to the WAL: its `snapshotSaved` comes in the order of saves (ready-writes.ts). */
  readonly expectSaved: () => void;
}

export class LocalSnapshots {
  private readonly options: LocalSnapshotsOptions;
  private readonly machine: StateMachine<unknown>;
  private taken: LocalSnapshotSave | undefined;
  /** A snapshot being captured in slices (SnapshotReader.prepare), and the committed entries that
   *  wait for it to be whole. */
  private capture: { readonly reader: SnapshotReader; readonly metadata: SnapshotMetadata } | undefined;
  private waiting: LogEntry[] = [];
  private snapshotIndexValue = 0;
  /** Bytes the WAL holds for the entries applied since the snapshot in force: records, not payloads,
   *  since `snapshotEveryBytes` bounds the log on disk (small entries cost their 25-byte header too). */
  private logBytesSinceSnapshot = 0;

  constructor(options: LocalSnapshotsOptions) {
    this.options = options;
    this.machine = options.machine;
  }

  /** The index of the snapshot in force. */
  get snapshotIndex(): number {
    return this.snapshotIndexValue;
  }

  /** The core was built over the snapshot at `snapshotIndex` (0: none). */
  begin(snapshotIndex: number): void {
    this.snapshotIndexValue = snapshotIndex;
  }

  /** Entries were applied to the state machine: their log records count towards the next snapshot. */
  onApplied(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.logBytesSinceSnapshot += recordBytesFor(entry.data.byteLength);
  }

  /** A leader's snapshot was put in force: the next one is due counting from it. */
  onInstalled(index: number): void {
    this.snapshotIndexValue = index;
    this.logBytesSinceSnapshot = 0;
  }

  /** True while a snapshot is being captured in slices (the loop applies nothing meanwhile). */
  get capturing(): boolean {
    return this.capture !== undefined;
  }

  /** Committed entries while a capture runs: applied once it is whole. */
  defer(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.waiting.push(entry);
  }

  /** One slice of the capture; once whole, its save starts and the entries that waited are returned
   *  (to apply), else undefined. */
  captureStep(): LogEntry[] | undefined {
    const capture = this.capture;
    if (capture === undefined || capture.reader.prepare?.() === false) return undefined;
    this.capture = undefined;
    this.startSave(capture.metadata, capture.reader);
    const waiting = this.waiting;
    this.waiting = [];
    return waiting;
  }

  /** A leader's snapshot replaces the state: a capture under way is given up; the entries that
   *  waited for it are returned. */
  abandonCapture(): LogEntry[] {
    this.capture = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    return waiting;
  }

  /** Starts a snapshot when one is due; call only while no restore runs. */
  maybeTake(core: RaftNode): void {
    if (this.taken !== undefined || this.capture !== undefined) return;
    const applied = this.machine.appliedIndex;
    const index = Math.min(applied, core.compactableIndex());
    const due = isSnapshotDue(this.options.trigger, index - this.snapshotIndexValue, this.logBytesSinceSnapshot);
    if (!due || index !== applied || index <= this.snapshotIndexValue) return;
    const term = core.logTerm(index);
    if (term < 0) return;
    const reader = this.machine.snapshot();
    assert(reader.index === index, `state machine snapshot at ${reader.index}, applied ${index}`);
    const metadata = { index, term, membership: { voters: [...this.options.voters], learners: [] } };
    if (reader.prepare?.() === false) {
      this.capture = { reader, metadata };
      return;
    }
    this.startSave(metadata, reader);
  }

  private startSave(metadata: SnapshotMetadata, reader: SnapshotReader): void {
    const host = this.options.host;
    this.taken = new LocalSnapshotSave(metadata, reader, (message) => {
      if (message.type === 'finishSnapshot') this.options.expectSaved();
      host.toWal(message);
    }, this.options.chunkBytes, this.options.windowChunks);
  }

  /**
   * The snapshot being taken is durable: the log below it goes, up to what followers still need
   * (`lowestStreamedIndex`: the snapshot-sender's lowest stream) and the state machine reads back.
   */
  onSaved(core: RaftNode | undefined, storage: ReplicatorLogStorage | undefined, lowestStreamedIndex: number | null): void {
    const save = this.taken;
    this.taken = undefined;
    if (save === undefined) return;
    const snapshot = { ...save.snapshot, data: bodyInWal };
    this.snapshotIndexValue = snapshot.index;
    this.logBytesSinceSnapshot = 0;
    this.options.counters.snapshotsTaken += 1;
    // The log below the snapshot goes, except the entries after a snapshot still being streamed
    // to a follower or not yet answered for (it goes on from them once it installed that
    // snapshot; without them it would need this newer one, and a transfer or an install slower
    // than the snapshot interval would never end) and what the state machine still reads back.
    const awaited = core?.lowestSnapshotIndexAwaited() ?? null;
    const logKeptAfter = Math.min(snapshot.index, lowestStreamedIndex ?? snapshot.index, awaited ?? snapshot.index);
    storage?.onSnapshotDurable(snapshot, logKeptAfter);
    const uptoIndex = Math.min(logKeptAfter, this.machine.compactionFloor() - 1);
    if (uptoIndex > 0) this.options.host.toWal({ type: 'compact', uptoIndex });
  }

  onChunkAppended(reply: Extract<FromWal, { type: 'snapshotChunkAppended' }>): void {
    if (this.taken?.onChunkAppended(reply) === 'abandoned') this.taken = undefined;
  }

  /** A `beginSnapshot` or `appendSnapshotChunk` failed: the save may go on or be abandoned. */
  onChunkFailed(reply: Extract<FromWal, { type: 'walError' }>, request: 'beginSnapshot' | 'appendSnapshotChunk'): void {
    const save = this.taken;
    if (save !== undefined && save.onFailed(request) === 'abandoned') this.taken = undefined;
    if (request === 'beginSnapshot' || reply.error.code !== 'NOT_FOUND') {
      this.options.host.warn({ request, code: reply.error.code }, `WAL ${request} failed: ${reply.error.message}`);
    }
  }

  /** Its `finishSnapshot` failed: this snapshot is given up. */
  abandon(): void {
    this.taken = undefined;
  }
}
