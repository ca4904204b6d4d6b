/**
 * The messages Raft nodes exchange, as a discriminated union of plain data (strings, numbers,
 * booleans, Uint8Array, arrays) so that the transport can MessagePack them as they are.
 *
 * | type                | from → to              | carries                                         |
 * |---------------------|------------------------|-------------------------------------------------|
 * | `append`            | leader → follower      | prevIndex/prevTerm, entries, leader commit      |
 * | `appendResponse`    | follower → leader      | match index, or the rejected prevIndex + hint;  |
 * |                     |                        | catchingUp (optional)                           |
 * | `heartbeat`         | leader → follower      | commit (capped at the follower's match), round, |
 * |                     |                        | successor ranking (optional)                    |
 * | `heartbeatResponse` | follower → leader      | the ReadIndex round echoed; catchingUp (opt.)   |
 * | `vote`              | candidate → voter      | last log index/term; preVote; transfer          |
 * | `voteResponse`      | voter → candidate      | granted or rejected                             |
 * | `snapshot`          | leader → follower      | the whole snapshot (chunking is the transport's)|
 * | `timeoutNow`        | leader → transfer target| "campaign now, skip pre-vote"                  |
 * | `propose`           | follower → leader      | forwarded proposal (no term check)              |
 * | `readIndex`         | follower → leader      | forwarded ReadIndex request (no term check)     |
 * | `readIndexResponse` | leader → follower      | the confirmed read index (no term check)        |
 *
 * Invariants: `term`, indexes and rounds are safe integers ≥ 0. For a granted pre-vote the
 * response's `term` is the term the candidate proposed (not the voter's term).
 *
 * Runs on: every thread (a pure type module).
 */
import type { LogEntry } from '../log/log-entry.js';
import type { NodeId } from '../log/node-id.js';
import type { Snapshot } from '../log/snapshot.js';
import type { ProposalEntry } from './proposal-entry.js';

interface MessageHeader {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface AppendMessage extends MessageHeader {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly LogEntry[];
  readonly commit: number;
  /** To a follower catching up: it may clear its marker only once its log matches the leader's
   *  up to here (catch-up.ts). Absent means none known yet. */
  readonly catchUpTo?: number;
  /** With `catchUpTo`: the start (bootId) of the follower it was worked out for. A follower that
   *  started again since ignores it (the floor of its new start is not known yet). */
  readonly catchUpBoot?: number;
}

export interface AppendResponseMessage extends MessageHeader {
  readonly type: 'appendResponse';
  /** When accepted: the follower's log matches the leader's up to here (durably). When
   *  rejected: the `prevIndex` that did not match. */
  readonly index: number;
  readonly reject: boolean;
  /** When rejected: the follower's largest index ≤ min(prevIndex, its last index) whose term is
   *  ≤ the rejected prevTerm, and that term (0 when unknown), so the leader can skip a whole term. */
  readonly rejectHintIndex: number;
  readonly rejectHintTerm: number;
  /** The follower has the needs-catch-up marker (catch-up.ts): the leader moves its progress but
   *  does not count it toward commit. Absent means false. */
  readonly catchingUp?: boolean;
  /** The answering node's start (RaftConfig.bootId); absent means 0. */
  readonly bootId?: number;
}

export interface HeartbeatMessage extends MessageHeader {
  readonly type: 'heartbeat';
  /** min(leader commit, follower match): never beyond what the follower is known to hold. */
  readonly commit: number;
  /** The newest ReadIndex round the leader started; echoed in the response. */
  readonly readRound: number;
  /** The voters other than the leader, in the order they should campaign if the leader's
   *  connection closes (election.ts): by match index, then node id. Absent: no ranking. */
  readonly successors?: readonly NodeId[];
  /** As on `append`. */
  readonly catchUpTo?: number;
  /** As on `append`. */
  readonly catchUpBoot?: number;
}

export interface HeartbeatResponseMessage extends MessageHeader {
  readonly type: 'heartbeatResponse';
  readonly readRound: number;
  /** As on `appendResponse`: a leader that learns it this way probes the follower's log again. */
  readonly catchingUp?: boolean;
  readonly bootId?: number;
}

export interface VoteMessage extends MessageHeader {
  readonly type: 'vote';
  /** A pre-vote asks "would you vote for me in `term`?" and changes no state (thesis §9.6). */
  readonly preVote: boolean;
  /** Sent because the leader handed over leadership: voters skip the leader-lease check. */
  readonly transfer: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteResponseMessage extends MessageHeader {
  readonly type: 'voteResponse';
  readonly preVote: boolean;
  readonly reject: boolean;
}

export interface SnapshotMessage extends MessageHeader {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

export interface TimeoutNowMessage extends MessageHeader {
  readonly type: 'timeoutNow';
}

export interface ProposeMessage extends MessageHeader {
  readonly type: 'propose';
  readonly entries: readonly ProposalEntry[];
}

export interface ReadIndexMessage extends MessageHeader {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponseMessage extends MessageHeader {
  readonly type: 'readIndexResponse';
  readonly context: string;
  readonly index: number;
}

export type RaftMessage =
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage
  | ProposeMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type RaftMessageType = RaftMessage['type'];

/** Messages that are requests between a follower and its leader rather than Raft RPCs: the
 *  receiver does not apply the term rules to them (they carry the sender's term for logs only). */
export function isTermFree(message: RaftMessage): boolean {
  return message.type === 'propose' || message.type === 'readIndex' || message.type === 'readIndexResponse';
}
