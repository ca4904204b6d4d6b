/**
 * The hard state: what Raft must have durable before it speaks (current term, vote, commit
 * index), and the identity of the data directory that holds it. The Raft core makes it, the
 * replica loop hands it to the WAL, the WAL stores it in its own small file (its codec is
 * src/wal/hard-state-codec.ts) and gives it back at recovery.
 *
 * Invariants: `term` and `commit` are safe integers ≥ 0; `vote` is null or a node of `term`'s
 * election; `cluster`, once on disk, never changes (the WAL asserts it).
 *
 * Runs on: every thread (a pure type module).
 */
import type { NodeId } from './node-id.js';

export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
  /**
   * The cluster this data directory belongs to (`cluster.name`). The Raft core never sets or
   * reads it: the replica loop adds it to what it saves. Null when unknown (a version-1 file);
   * absent in a request to save, which keeps the name already on disk (wal.ts).
   */
  readonly cluster?: string | null;
}
