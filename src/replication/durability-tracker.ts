/**
 * Which of the Raft core's writes are durable yet, from the WAL writer's replies.
 *
 * Each Ready becomes one write: a snapshot, entries (maybe after a truncation), a hard state, any
 * of them or none. The WAL handles requests in ring order and answers in that order, so:
 * - `durable(lastIndex)` covers the entries of every write whose entries were sent in the same
 *   truncation epoch (between two truncations) and end at or below lastIndex. The epoch matters:
 *   after a truncation, a `durable` about the old, longer log must not mark the new entries.
 * - `hardStateSaved` and `snapshotSaved` complete the oldest write still waiting for one.
 * A write completes when all its parts are durable AND every write before it completed (the core
 * requires durability reports in order, and messages after durable wait for all earlier writes).
 *
 * Invariants: `pending` is in the order writes were sent; ackedEpoch ≤ sentEpoch; the queue
 * holds at most `writesInFlightMax` writes (more means the WAL stopped answering: a bug).
 *
 * Runs on: Replicator thread.
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import type { RaftMessage } from '../raft/raft-messages.js';

export interface PendingWrite {
  readonly entries: readonly LogEntry[];
  readonly snapshot: Snapshot | null;
  readonly messagesAfterDurable: readonly RaftMessage[];
  readonly epoch: number;
  entriesDurable: boolean;
  hardStateDurable: boolean;
  snapshotDurable: boolean;
}

export class DurabilityTracker {
  private readonly pending: PendingWrite[] = [];
  private readonly writesInFlightMax: number;
  private sentEpoch = 0;
  private ackedEpoch = 0;

  constructor(writesInFlightMax: number) {
    this.writesInFlightMax = writesInFlightMax;
  }

  /** A truncation was sent to the WAL ahead of the next write's entries. */
  truncationSent(): void {
    this.sentEpoch += 1;
  }

  add(parts: { entries: readonly LogEntry[]; snapshot: Snapshot | null; hardState: boolean; messagesAfterDurable: readonly RaftMessage[] }): void {
    assert(this.pending.length < this.writesInFlightMax, `${this.pending.length} writes wait for the WAL: it stopped answering`);
    this.pending.push({
      entries: parts.entries, snapshot: parts.snapshot, messagesAfterDurable: parts.messagesAfterDurable, epoch: this.sentEpoch,
      entriesDurable: parts.entries.length === 0, hardStateDurable: !parts.hardState, snapshotDurable: parts.snapshot === null,
    });
  }

  onTruncated(): void {
    this.ackedEpoch += 1;
    assert(this.ackedEpoch <= this.sentEpoch, `WAL acknowledged truncation ${this.ackedEpoch}, only ${this.sentEpoch} were sent`);
  }

  onDurable(lastIndex: number): void {
    for (const write of this.pending) {
      if (write.entriesDurable || write.epoch !== this.ackedEpoch) continue;
      const last = write.entries[write.entries.length - 1];
      if (last !== undefined && last.index <= lastIndex) write.entriesDurable = true;
    }
  }

  onHardStateSaved(): void {
    const write = this.pending.find((candidate) => !candidate.hardStateDurable);
    assert(write !== undefined, 'WAL saved a hard state nobody asked for');
    write.hardStateDurable = true;
  }

  onSnapshotSaved(): void {
    const write = this.pending.find((candidate) => !candidate.snapshotDurable);
    assert(write !== undefined, 'WAL saved a snapshot no write asked for');
    write.snapshotDurable = true;
  }

  /** The writes that completed, in order, removed from the queue. */
  takeCompleted(): PendingWrite[] {
    let count = 0;
    for (const write of this.pending) {
      if (!(write.entriesDurable && write.hardStateDurable && write.snapshotDurable)) break;
      count += 1;
    }
    return this.pending.splice(0, count);
  }

  get size(): number {
    return this.pending.length;
  }
}
