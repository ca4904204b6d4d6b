/**
 * What a failed WAL request means for the replica loop: housekeeping (a catch-up read, a local
 * snapshot, a compaction, the delete of a snapshot file) is warned about and tried again later;
 * a failed write the core was promised stops the node.
 *
 * (A failed read of a snapshot's body is the restores' or the streams' to judge: snapshot-restores.ts,
 * snapshot-streams.ts.)
 *
 * Runs on: Replicator thread, or the simulator.
 */
import type { FalconError } from '../errors.js';
import type { FromWal } from '../protocol/wal.js';
import type { CatchUpReads } from './catch-up-reads.js';
import type { LocalSnapshots } from './local-snapshots.js';
import type { ReadyWrites } from './ready-writes.js';
import type { ReplicaHost } from './replica-loop-options.js';

export interface WalFailurePolicyOptions {
  readonly host: ReplicaHost;
  readonly writes: ReadyWrites;
  readonly local: LocalSnapshots;
  readonly catchUpReads: CatchUpReads;
  /** Stops the loop for good (a promised write failed). */
  readonly stop: (error: FalconError) => void;
}

export class WalFailurePolicy {
  private readonly options: WalFailurePolicyOptions;

  constructor(options: WalFailurePolicyOptions) {
    this.options = options;
  }

  onWalError(reply: Extract<FromWal, { type: 'walError' }>): void {
    const { host, writes, local } = this.options;
    if (reply.request === 'read') {
      this.options.catchUpReads.onAnswered();
      return;
    }
    if (reply.request === 'beginSnapshot' || reply.request === 'appendSnapshotChunk') {
      local.onChunkFailed(reply, reply.request);
      return;
    }
    const purpose = reply.request === 'finishSnapshot' || reply.request === 'installSnapshot' ? writes.onSnapshotSaveFailed() : undefined;
    if (purpose === 'taken' || reply.request === 'compact' || reply.request === 'releaseSnapshot') {
      // A local snapshot, a compaction or the delete of a snapshot file no stream reads any more is
      // housekeeping, not a promise: the previous snapshot and the log stay (a file left behind
      // goes with the next snapshot), and the next due snapshot tries again.
      if (purpose === 'taken') local.abandon();
      host.warn({ request: reply.request, code: reply.error.code }, `WAL ${reply.request} failed: ${reply.error.message}`);
      return;
    }
    // Every other failed request is a write the core was promised: DISK_FULL dropped the batch
    // (nothing of it reported durable), anything else is worse. The node stops taking writes it
    // cannot keep; an operator frees space and restarts it, and it recovers from what is durable.
    this.options.stop(reply.error);
  }
}
