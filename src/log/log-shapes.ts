/**
 * The shape checks of the log's shared types (log-entry.ts, hard-state.ts, membership.ts,
 * snapshot.ts, node-id.ts), written once from their stated invariants and used wherever one of
 * them arrives from another thread or another node: the WAL link, Raft messages, snapshot streams.
 * A value they accept will not trip the asserts the WAL and the core make on the same invariants.
 *
 * Runs on: every thread (pure).
 */
import { arrayOf, bytes, fields, integerFrom, optional, orNull, positiveSafeInteger, safeInteger, textOfUtf8Bytes, type FieldChecks } from './shape-check.js';
import type { HardState } from './hard-state.js';
import type { LogEntry } from './log-entry.js';
import type { Membership } from './membership.js';
import type { SnapshotMetadata } from './snapshot.js';

/** Node ids are 1..255 UTF-8 bytes, as the WAL stores them (the cluster file's rule is stricter). */
const nodeIdBytesMax = 255;
/** An entry's type is stored in one byte. */
export const entryTypeMax = 255;
/** Voters plus learners a membership may list: far more than a cluster of this version has (its
 *  voter set is fixed and small); a longer list is nonsense from a peer. */
export const membersMax = 255;

export const nodeId = textOfUtf8Bytes(1, nodeIdBytesMax, 'a node id');
const clusterName = textOfUtf8Bytes(1, 255, 'a cluster name');
export const nodeIds = arrayOf(nodeId, membersMax);

const logEntryFields: FieldChecks<LogEntry> = { term: safeInteger, index: positiveSafeInteger, type: integerFrom(0, entryTypeMax), data: bytes };
export const logEntry = fields(logEntryFields);
export const logEntries = arrayOf(logEntry);

const hardStateFields: FieldChecks<HardState> = { term: safeInteger, vote: orNull(nodeId), commit: safeInteger, cluster: optional(orNull(clusterName)) };
export const hardState = fields(hardStateFields);

const membershipFields: FieldChecks<Membership> = { voters: nodeIds, learners: nodeIds };
export const membership = fields(membershipFields);

export const snapshotMetadataFields: FieldChecks<SnapshotMetadata> = { index: positiveSafeInteger, term: safeInteger, membership };
export const snapshotMetadata = fields(snapshotMetadataFields);
