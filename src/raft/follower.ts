/**
 * What a follower does with its leader's messages: append (with conflict repair, Raft §5.3),
 * heartbeat (learn the commit index, echo the ReadIndex round), snapshot (install, or just learn
 * the commit when the log already holds the snapshot's last entry), and timeoutNow (campaign at
 * once for a leadership transfer).
 *
 * A heartbeat's commit index is learned only up to the entries known to match the leader; every
 * commit index a leader tells may end a catch-up (catch-up.ts), and every answer of a node still
 * catching up says so.
 *
 * Every answer here speaks for durable state, so `send` holds it until the Ready that carries it
 * is durable: an accepted append is acknowledged only once the entries are on disk.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import type { NodeId } from '../log/node-id.js';
import { noteCatchUpTo, noteLeaderCommit } from './catch-up.js';
import { campaign } from './election.js';
import type { AppendMessage, AppendResponseMessage, HeartbeatMessage, SnapshotMessage } from './raft-messages.js';
import type { RaftState } from './raft-state.js';

/** What every answer to the leader says of this node: its start, and whether it is catching up. */
function identity(state: RaftState): { catchingUp?: true; bootId?: number } {
  const bootId = state.config.bootId ?? 0;
  if (state.isCatchingUp()) return bootId > 0 ? { catchingUp: true, bootId } : { catchingUp: true };
  return bootId > 0 ? { bootId } : {};
}

function sendAppendResponse(state: RaftState, response: Omit<AppendResponseMessage, 'type' | 'from' | 'term' | 'catchingUp' | 'bootId'>): void {
  state.send({ type: 'appendResponse', from: state.id, term: state.term, ...response, ...identity(state) });
}

function acceptAppend(state: RaftState, to: NodeId, index: number): void {
  sendAppendResponse(state, { to, index, reject: false, rejectHintIndex: 0, rejectHintTerm: 0 });
}

export function onAppend(state: RaftState, message: AppendMessage): void {
  if (message.catchUpTo !== undefined && (message.catchUpBoot ?? 0) === (state.config.bootId ?? 0)) noteCatchUpTo(state, message.catchUpTo);
  // Why: everything up to the commit index matches the leader already; an older append (late,
  // duplicated) must not be compared against it.
  if (message.prevIndex < state.log.committed) {
    acceptAppend(state, message.from, state.log.committed);
    noteLeaderCommit(state, message.commit);
    return;
  }
  const lastNewIndex = state.log.maybeAppend(message.prevIndex, message.prevTerm, message.commit, message.entries);
  if (lastNewIndex >= 0) {
    state.appendMatchIndex = Math.max(state.appendMatchIndex, lastNewIndex);
    acceptAppend(state, message.from, lastNewIndex);
    noteLeaderCommit(state, message.commit);
    return;
  }
  const hint = state.log.findConflictByTerm(Math.min(message.prevIndex, state.log.lastIndex()), message.prevTerm);
  sendAppendResponse(state, {
    to: message.from, index: message.prevIndex, reject: true, rejectHintIndex: hint.index, rejectHintTerm: hint.term,
  });
  noteLeaderCommit(state, message.commit);
}

export function onHeartbeat(state: RaftState, message: HeartbeatMessage): void {
  // Why clamped: the leader caps the commit at what it believes this node holds, but a node whose
  // log was cut (repair, a wiped disk) holds less than the leader believes; learning a commit
  // beyond the entries known to match would be a lie (and stop the node on an assertion).
  state.log.commitTo(Math.min(message.commit, state.leaderMatchIndex()));
  if (message.successors !== undefined) state.successors = message.successors;
  if (message.catchUpTo !== undefined && (message.catchUpBoot ?? 0) === (state.config.bootId ?? 0)) noteCatchUpTo(state, message.catchUpTo);
  state.send({ type: 'heartbeatResponse', from: state.id, to: message.from, term: state.term, readRound: message.readRound, ...identity(state) });
  noteLeaderCommit(state, message.commit);
}

export function onSnapshot(state: RaftState, message: SnapshotMessage): void {
  installOrLearn(state, message);
  // A snapshot is committed on the leader: its index is a commit index the leader told.
  noteLeaderCommit(state, message.snapshot.index);
}

function installOrLearn(state: RaftState, message: SnapshotMessage): void {
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
  state.appendMatchIndex = Math.max(state.appendMatchIndex, snapshot.index);
  acceptAppend(state, message.from, snapshot.index);
}

export function onTimeoutNow(state: RaftState): void {
  campaign(state, 'transfer');
}
