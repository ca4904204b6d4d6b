/**
 * What a follower does with its leader's messages: append (with conflict repair, Raft §5.3),
 * heartbeat (learn the commit index, echo the ReadIndex round), snapshot (install, or just learn
 * the commit when the log already holds the snapshot's last entry), and timeoutNow (campaign at
 * once for a leadership transfer).
 *
 * Every answer here speaks for durable state, so `send` holds it until the Ready that carries it
 * is durable: an accepted append is acknowledged only once the entries are on disk.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { campaign } from './election.js';
import type { AppendMessage, HeartbeatMessage, NodeId, SnapshotMessage } from './raft-messages.js';
import type { RaftState } from './raft-state.js';

function acceptAppend(state: RaftState, to: NodeId, index: number): void {
  state.send({ type: 'appendResponse', from: state.id, to, term: state.term, index, reject: false, rejectHintIndex: 0, rejectHintTerm: 0 });
}

export function onAppend(state: RaftState, message: AppendMessage): void {
  // Why: everything up to the commit index matches the leader already; an older append (late,
  // duplicated) must not be compared against it.
  if (message.prevIndex < state.log.committed) {
    acceptAppend(state, message.from, state.log.committed);
    return;
  }
  const lastNewIndex = state.log.maybeAppend(message.prevIndex, message.prevTerm, message.commit, message.entries);
  if (lastNewIndex >= 0) {
    acceptAppend(state, message.from, lastNewIndex);
    return;
  }
  const hint = state.log.findConflictByTerm(Math.min(message.prevIndex, state.log.lastIndex()), message.prevTerm);
  state.send({
    type: 'appendResponse', from: state.id, to: message.from, term: state.term, index: message.prevIndex, reject: true,
    rejectHintIndex: hint.index, rejectHintTerm: hint.term,
  });
}

export function onHeartbeat(state: RaftState, message: HeartbeatMessage): void {
  state.log.commitTo(message.commit);
  state.send({ type: 'heartbeatResponse', from: state.id, to: message.from, term: state.term, readRound: message.readRound });
}

export function onSnapshot(state: RaftState, message: SnapshotMessage): void {
  const snapshot = message.snapshot;
  if (snapshot.index <= state.log.committed) {
    acceptAppend(state, message.from, state.log.committed);
    return;
  }
  if (state.log.matchTerm(snapshot.index, snapshot.term)) {
    // The log already holds the snapshot's last entry: keep the log, learn the commit.
    state.log.commitTo(snapshot.index);
    acceptAppend(state, message.from, state.log.committed);
    return;
  }
  state.log.restore(snapshot);
  if (snapshot.membership.voters.length > 0) state.voters = [...snapshot.membership.voters];
  acceptAppend(state, message.from, snapshot.index);
}

export function onTimeoutNow(state: RaftState): void {
  campaign(state, 'transfer');
}
