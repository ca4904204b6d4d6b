/**
 * How the log names a node: in votes, in the membership, in every Raft message. The id is the
 * node's `id` in the cluster file.
 *
 * Invariants: 1..255 UTF-8 bytes (the WAL stores a vote and each member in a length byte).
 *
 * Runs on: every thread (a pure type module).
 */

export type NodeId = string;
