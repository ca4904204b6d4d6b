/**
 * Who belongs to the cluster, as a snapshot records it: the voters (who elect and commit) and the
 * learners (who receive the log but do not vote).
 *
 * Invariants: no node is named twice, in one list or across both; each name is a `NodeId`
 * (1..255 UTF-8 bytes, the WAL's limit). This version has no learners and fixed voters (the
 * membership entry type is reserved), so a snapshot's membership is the configured voters.
 *
 * Runs on: every thread (a pure type module).
 */
import type { NodeId } from './node-id.js';

export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}
