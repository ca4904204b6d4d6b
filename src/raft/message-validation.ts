/**
 * Checks that a value decoded from a peer's frame is a well-formed `RaftMessage` before it is
 * stepped into the core: the core asserts its invariants and would stop on nonsense, while bad
 * bytes from a peer must only close that connection (DESIGN.md §6). Shape only — types, safe
 * integers, byte arrays — not Raft meaning (a well-formed lie from an authenticated peer is
 * outside this check's reach).
 *
 * Invariant: a value this accepts has every field its `type` declares, with the types
 * raft-messages.ts gives them and the invariants src/log/ states for entries and snapshots
 * (log-shapes.ts); anything else is a MALFORMED_FRAME error naming the field. The table is typed
 * per field: a field added to raft-messages.ts without a check here does not compile. A
 * well-formed message costs no allocation to check (src/log/shape-check.ts).
 *
 * Runs on: the Replicator actor (the thread that decodes peer frames).
 */
import { falconError, type FalconError } from '../errors.js';
import { entryTypeMax, logEntries, nodeId, nodeIds, snapshotMetadataFields } from '../log/log-shapes.js';
import {
  arrayOf, asChecked, boolean, bytes, compile, fields, integerFrom, isMap, optional, readableProblem, safeInteger, text,
  type FieldChecks, type MessageChecks,
} from '../log/shape-check.js';
import type { Snapshot } from '../log/snapshot.js';
import type { ProposalEntry } from './proposal-entry.js';
import type { RaftMessage } from './raft-messages.js';

const header = { from: nodeId, to: nodeId, term: safeInteger } as const;

const proposalEntryFields: FieldChecks<ProposalEntry> = { type: integerFrom(0, entryTypeMax), data: bytes };
const snapshotFields: FieldChecks<Snapshot> = { ...snapshotMetadataFields, data: bytes };

/** Every Raft message type and its fields (the header's included): the one list of them. */
const fieldsByType: { readonly [Type in RaftMessage['type']]: MessageChecks<Extract<RaftMessage, { type: Type }>> } = {
  append: { ...header, prevIndex: safeInteger, prevTerm: safeInteger, commit: safeInteger, entries: logEntries,
    catchUpTo: optional(safeInteger), catchUpBoot: optional(safeInteger) },
  appendResponse: { ...header, index: safeInteger, reject: boolean, rejectHintIndex: safeInteger, rejectHintTerm: safeInteger,
    catchingUp: optional(boolean), bootId: optional(safeInteger) },
  heartbeat: { ...header, commit: safeInteger, readRound: safeInteger, successors: optional(nodeIds),
    catchUpTo: optional(safeInteger), catchUpBoot: optional(safeInteger) },
  heartbeatResponse: { ...header, readRound: safeInteger, catchingUp: optional(boolean), bootId: optional(safeInteger) },
  vote: { ...header, preVote: boolean, transfer: boolean, lastIndex: safeInteger, lastTerm: safeInteger },
  voteResponse: { ...header, preVote: boolean, reject: boolean },
  snapshot: { ...header, snapshot: fields(snapshotFields) },
  timeoutNow: { ...header },
  propose: { ...header, entries: arrayOf(fields(proposalEntryFields)) },
  readIndex: { ...header, context: text },
  readIndexResponse: { ...header, context: text, index: safeInteger },
};

const checksByType = compile(fieldsByType);

function malformed(problem: string): FalconError {
  return falconError('MALFORMED_FRAME', `malformed Raft message: ${problem}`);
}

/**
 * `value` as a RaftMessage addressed to `localId`, or MALFORMED_FRAME naming what is wrong.
 * `peerId`, when given, must be the sender (the id the connection's handshake proved).
 */
export function parseRaftMessage(value: unknown, localId: string, peerId?: string): RaftMessage | FalconError {
  if (!isMap(value)) return malformed('message is not a map');
  const type = value['type'];
  const check = typeof type === 'string' ? checksByType.get(type) : undefined;
  if (check === undefined) return malformed(`type ${String(type)} is not a Raft message type`);
  const problem = check(value);
  if (problem !== undefined) return malformed(readableProblem(problem));
  if (value['to'] !== localId) return malformed(`to is ${String(value['to'])}, this node is ${localId}`);
  if (peerId !== undefined && value['from'] !== peerId) return malformed(`from is ${String(value['from'])} on ${peerId}'s connection`);
  return asChecked<RaftMessage>(value);
}
