/**
 * When a replica takes a local snapshot: once enough entries or enough bytes follow the last one
 * (`raft.snapshotEveryEntries` and `raft.snapshotEveryBytes` of the cluster file). Why both: the
 * entry count bounds how long a restart replays, the bytes bound the disk the log takes when
 * entries are large. Pure: the caller says how it measures entries and bytes since the snapshot.
 *
 * Invariants: the rule is monotone: more entries or more bytes never make a due snapshot not due.
 *
 * Runs on: Replicator thread (and the simulator and tests, which run the same replica loop).
 */

export interface SnapshotTrigger {
  /** Snapshot once this many entries follow the last snapshot's index. */
  readonly entriesSinceSnapshotMax: number;
  /** …or once this many bytes follow it. */
  readonly bytesSinceSnapshotMax: number;
}

export function isSnapshotDue(trigger: SnapshotTrigger, entriesSinceSnapshot: number, bytesSinceSnapshot: number): boolean {
  return entriesSinceSnapshot >= trigger.entriesSinceSnapshotMax || bytesSinceSnapshot >= trigger.bytesSinceSnapshotMax;
}
