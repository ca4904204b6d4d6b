/**
 * A snapshot of the state machine: the last log index and term it includes, the membership at
 * that point, and (held whole) the state machine's opaque bytes. The Raft core sends and installs
 * it, the replica loop streams it, the WAL stores it (its file format is
 * src/wal/snapshot-file.ts).
 *
 * Invariants: `index` is a safe integer ≥ 1 and `term` a safe integer ≥ 0, the term of the entry
 * at `index`; a snapshot replaces every entry up to `index`.
 *
 * Runs on: every thread (a pure type module).
 */
import type { Membership } from './membership.js';

export interface SnapshotMetadata {
  /** The last log index the snapshot includes. */
  readonly index: number;
  /** The term of that entry. */
  readonly term: number;
  readonly membership: Membership;
}

/**
 * Metadata plus the state machine's bytes. Held whole only where it is small or a stand-in: in
 * tests, in `WriteAheadLog.saveSnapshot`, and in the core, whose `data` the replica loop keeps in
 * the WAL and streams chunk by chunk.
 */
export interface Snapshot extends SnapshotMetadata {
  readonly data: Uint8Array;
}
