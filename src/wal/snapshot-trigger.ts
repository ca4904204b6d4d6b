/**
 * When to take a snapshot: after enough entries or enough log bytes since the last one (both
 * configured in cluster.yaml). Pure.
 *
 * Runs on: WAL writer thread (and the Replicator, which may ask the same question).
 */

export interface SnapshotTrigger {
  /** Snapshot once this many entries follow the last snapshot's index. */
  readonly entriesSinceSnapshotMax: number;
  /** …or once the records after it take this many bytes on disk. */
  readonly bytesSinceSnapshotMax: number;
}

export function isSnapshotDue(trigger: SnapshotTrigger, entriesSinceSnapshot: number, bytesSinceSnapshot: number): boolean {
  return entriesSinceSnapshot >= trigger.entriesSinceSnapshotMax || bytesSinceSnapshot >= trigger.bytesSinceSnapshotMax;
}
