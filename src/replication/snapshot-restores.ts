/**
 * The replica loop's restores of the state machine from the snapshot in force: at start (before
 * the core is built, replica-start.ts) and after the core installed a leader's snapshot. The body
 * is read back from the WAL chunk by chunk (`SnapshotRestore`, snapshot-pumps.ts); meanwhile the
 * state machine applies nothing, and the entries the core commits wait in `applyBacklog`, applied
 * once the restore is done. Also the source of the ids of every `readSnapshotChunk` request, the
 * snapshot streams' too, so that a chunk or a failed read is answered to the one that asked.
 *
 * Invariants: at most one restore runs (a newer install replaces one under way); `applyBacklog`
 * is empty while none does and holds only entries above the restore's index; request ids are
 * unique across incarnations of the Replicator (incarnation in the high bits).
 *
 * Runs on: Replicator thread, or the simulator.
 */
import type { FalconError } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import type { FromWal } from '../protocol/wal.js';
import type { ReplicaHost, ReplicaObserver } from './replica-loop-options.js';
import { SnapshotRestore } from './snapshot-pumps.js';
import type { StateMachine } from '../log/state-machine.js';

export interface SnapshotRestoresOptions {
  readonly host: ReplicaHost;
  readonly machine: StateMachine<unknown>;
  readonly observer: ReplicaObserver | undefined;
  readonly incarnation: number;
  readonly chunkBytes: number;
  /** Applies committed entries to the state machine (the loop's own apply, with its bookkeeping). */
  readonly apply: (entries: readonly LogEntry[]) => void;
  readonly schedule: () => void;
  /** A read of the snapshot in force failed: the node cannot go on. */
  readonly fail: (error: FalconError) => void;
}

export class SnapshotRestores {
  private readonly options: SnapshotRestoresOptions;
  /** The state machine being restored from the snapshot in force (at start, or after an install). */
  private restore: SnapshotRestore | undefined;
  /** Committed entries handed out by the core while a restore runs, applied once it is done. */
  private applyBacklog: LogEntry[] = [];
  private snapshotRequestId = 0;

  constructor(options: SnapshotRestoresOptions) {
    this.options = options;
  }

  /** True while the state machine is being restored from a snapshot. */
  get restoring(): boolean {
    return this.restore !== undefined;
  }

  /** The id of the next `readSnapshotChunk` request, a restore's or a stream's. */
  nextRequestId(): number {
    this.snapshotRequestId += 1;
    return this.options.incarnation * 2 ** 32 + this.snapshotRequestId;
  }

  /** Restores the state machine from the snapshot in force (chunk by chunk), then runs `then`. */
  restoreThen(snapshot: Snapshot | null, then: () => void): void {
    if (snapshot === null) {
      then();
      return;
    }
    this.restore = this.begin(snapshot.index, () => {
      this.restore = undefined;
      then();
    });
  }

  /**
   * The core installed a leader's snapshot: the WAL puts it in force (the Ready's write, before
   * this), then the state machine is restored from it chunk by chunk; entries committed meanwhile wait.
   */
  beginInstalled(snapshot: Snapshot): void {
    const observer = this.options.observer;
    // A newer snapshot installed while an older one is still being restored replaces it (that
    // restore is dropped, its reads' answers ignored): the entries that waited behind the older
    // one are in the newer one up to its index, and applying them after it would go back (found
    // by the simulator, seed 11779 on 3 nodes: a restore at 140 superseded by one at 146, then
    // 141..144 applied on top of 146).
    if (this.restore !== undefined) this.applyBacklog = this.applyBacklog.filter((entry) => entry.index > snapshot.index);
    this.restore = this.begin(snapshot.index, () => {
      this.restore = undefined;
      observer?.onSnapshotRestored?.(snapshot);
      const backlog = this.applyBacklog;
      this.applyBacklog = [];
      if (backlog.length > 0) this.options.apply(backlog);
      observer?.onCommitted?.(this.options.machine.appliedIndex);
      this.options.schedule();
    });
  }

  /** Committed entries while a restore runs: they are applied once it is done. */
  defer(entries: readonly LogEntry[]): void {
    this.applyBacklog.push(...entries);
  }

  /** A WAL reply about a restore's read (its chunk, or its failure); false when it was not one. */
  onWalReply(reply: FromWal): boolean {
    const restore = this.restore;
    if (restore === undefined) return false;
    if (reply.type === 'snapshotChunk') return restore.onWalChunk(reply);
    if (reply.type === 'walError' && reply.request === 'readSnapshotChunk' && restore.owns(reply.requestId)) {
      this.options.fail(reply.error);
      return true;
    }
    return false;
  }

  private begin(index: number, done: () => void): SnapshotRestore {
    const host = this.options.host;
    return new SnapshotRestore(index, this.options.machine.beginRestore(index), (message) => host.toWal(message),
      this.options.chunkBytes, () => this.nextRequestId(), done);
  }
}
