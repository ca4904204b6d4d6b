/**
 * What the core reports of itself for /status and metrics: its role, term, indexes and, on a
 * leader, its view of each voter. Read on request (it allocates); hot paths use RaftNode's getters.
 *
 * Runs on: the thread that owns the core (the Replicator, or the simulator).
 */
import type { NodeId } from '../log/node-id.js';
import type { ProgressState } from './progress.js';
import type { RaftRole, RaftState } from './raft-state.js';

export interface PeerStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly inflightMessages: number;
  readonly inflightBytes: number;
  /** Answers that showed the follower lost entries it had acknowledged (progress.ts). */
  readonly logLossesSeen: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly durableIndex: number;
  readonly leadTransferee: NodeId | null;
  readonly uncommittedBytes: number;
  /** The node has the needs-catch-up marker and the caller has not confirmed it cleared. */
  readonly catchingUp: boolean;
  /** The leader's view of each voter (itself included); empty on other roles. */
  readonly peers: readonly PeerStatus[];
}

/** The status of the core whose state is `state`. */
export function raftStatusOf(state: RaftState): RaftStatus {
  const peers: PeerStatus[] = [];
  for (const [id, progress] of state.progress) {
    peers.push({ id, match: progress.match, next: progress.next, state: progress.state, recentActive: progress.recentActive,
      inflightMessages: progress.inflights.messages, inflightBytes: progress.inflights.bytes, logLossesSeen: progress.logLossesSeen });
  }
  return {
    id: state.id, role: state.role, term: state.term, vote: state.vote, leader: state.leader, commit: state.log.committed,
    applied: state.log.applied, firstIndex: state.log.firstIndex(), lastIndex: state.log.lastIndex(),
    durableIndex: state.log.durableIndex(), leadTransferee: state.leadTransferee, uncommittedBytes: state.uncommitted.bytes,
    catchingUp: state.isCatchingUp(), peers,
  };
}
