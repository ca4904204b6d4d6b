/**
 * What a leader does: append its no-op, replicate to each follower within its flow-control
 * window, count durable matches to commit (only entries of its own term, Raft §5.4.2), heartbeat,
 * step down without a quorum (check-quorum), hand leadership over, and confirm ReadIndex rounds.
 *
 * A follower that says it is catching up (catch-up.ts) is probed afresh the first time, and its
 * match is not counted toward commit until it stops saying so.
 *
 * The leader's own vote for commit is its durable index, reported by the caller through
 * `onDurable`: appends go to followers in the same moment as the leader's own write, and an entry
 * is committed once a majority — counting the leader only once its write is durable — holds it.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { failure, falconError, success, type FalconError, type Outcome } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { NodeId } from '../log/node-id.js';
import { entryTypes } from './entry-types.js';
import { compacted, unavailable } from './log-storage.js';
import type { Progress } from './progress.js';
import { payloadBytesOf, type ProposalEntry } from './proposal-entry.js';
import type { AppendResponseMessage, HeartbeatResponseMessage } from './raft-messages.js';
import type { RaftState } from './raft-state.js';

/** Where an accepted proposal went: into this leader's log at these indexes, or to the leader. */
export type ProposalPlacement =
  | { readonly kind: 'appended'; readonly term: number; readonly firstIndex: number; readonly lastIndex: number }
  | { readonly kind: 'forwarded'; readonly leader: NodeId };

const emptyData = new Uint8Array(0);

export function becomeLeader(state: RaftState): void {
  state.becomeLeaderState();
  // Why a no-op: a leader cannot count replicas of older-term entries to commit them (§5.4.2);
  // committing an entry of its own term commits everything before it, and opens ReadIndex.
  state.log.appendAsLeader([{ term: state.term, index: state.log.lastIndex() + 1, type: entryTypes.noop, data: emptyData }]);
  broadcastAppend(state, true);
  if (state.voters.length === 1) maybeCommit(state);
}

export function proposeAsLeader(state: RaftState, proposals: readonly ProposalEntry[]): Outcome<ProposalPlacement> {
  if (state.leadTransferee !== null) {
    return failure(falconError('PROPOSAL_DROPPED', `leadership is being transferred to ${state.leadTransferee}`,
      { reason: 'transfer-in-progress', leader: state.leadTransferee }));
  }
  const bytes = payloadBytesOf(proposals);
  // Why allow one oversize batch when nothing is pending: a single large entry must get through.
  if (state.uncommitted.bytes > 0 && state.uncommitted.bytes + bytes > state.config.uncommittedBytesMax) {
    return failure(falconError('PROPOSAL_DROPPED',
      `${state.uncommitted.bytes} bytes are proposed and not committed; ${bytes} more would pass the bound of ${state.config.uncommittedBytesMax}`,
      { reason: 'uncommitted-bytes-limit', uncommittedBytes: state.uncommitted.bytes, uncommittedBytesMax: state.config.uncommittedBytesMax }));
  }
  const firstIndex = state.log.lastIndex() + 1;
  const entries: LogEntry[] = proposals.map((proposal, offset) => ({ term: state.term, index: firstIndex + offset, type: proposal.type, data: proposal.data }));
  state.log.appendAsLeader(entries);
  state.uncommitted.add(firstIndex + entries.length - 1, bytes);
  broadcastAppend(state, false);
  if (state.voters.length === 1) maybeCommit(state);
  return success({ kind: 'appended', term: state.term, firstIndex, lastIndex: firstIndex + entries.length - 1 });
}

export function broadcastAppend(state: RaftState, sendIfEmpty: boolean): void {
  for (const peer of state.progress.keys()) if (peer !== state.id) sendAppend(state, peer, sendIfEmpty);
}

/**
 * Sends the next append to `peer` if its flow control allows. With `force`, a paused follower in
 * replicate state still gets an empty append at its `next`: the way out of a window filled by
 * appends that were all lost (the follower answers, or rejects and the leader probes).
 */
export function sendAppend(state: RaftState, peer: NodeId, sendIfEmpty: boolean, force = false): boolean {
  const progress = state.progress.get(peer);
  if (progress === undefined) return false;
  const forcedEmpty = force && progress.state === 'replicate' && progress.isPaused();
  if (progress.isPaused() && !forcedEmpty) return false;
  const prevIndex = progress.next - 1;
  const prevTerm = state.log.termAt(prevIndex);
  if (prevTerm < 0) return sendSnapshot(state, peer, progress);
  let entries: readonly LogEntry[] = [];
  if (!forcedEmpty && progress.next <= state.log.lastIndex()) {
    const slice = state.log.slice(progress.next, state.log.lastIndex() + 1, state.config.appendBytesMax);
    if (slice === compacted) return sendSnapshot(state, peer, progress);
    // The explicit "fetch and re-step" path: nothing now, retried on the next heartbeat answer.
    if (slice === unavailable) return false;
    entries = slice;
  }
  if (entries.length === 0 && !sendIfEmpty && !forcedEmpty) return false;
  state.send({ type: 'append', from: state.id, to: peer, term: state.term, prevIndex, prevTerm, entries, commit: state.log.committed, ...catchUpFields(state, progress) });
  // A follower learns min(commit, last index of the message): never more than the message vouches for.
  progress.sentCommit = Math.max(progress.sentCommit, Math.min(state.log.committed, prevIndex + entries.length));
  const last = entries[entries.length - 1];
  if (last !== undefined) progress.sentEntries(last.index, payloadBytesOf(entries), entries.length);
  else if (!forcedEmpty) progress.sentEntries(prevIndex, 0, 0);
  return true;
}

function sendSnapshot(state: RaftState, peer: NodeId, progress: Progress): boolean {
  // Why only to active followers: a snapshot is large; a node that is down would waste it.
  if (!progress.recentActive) return false;
  const snapshot = state.config.storage.snapshot();
  if (snapshot === unavailable) return false;
  progress.becomeSnapshot(snapshot.index);
  state.send({ type: 'snapshot', from: state.id, to: peer, term: state.term, snapshot });
  return true;
}

export function broadcastHeartbeat(state: RaftState): void {
  const successors = successorRanking(state);
  for (const peer of state.progress.keys()) if (peer !== state.id) sendHeartbeat(state, peer, successors);
}

/** One heartbeat, with the commit index the follower may learn and the successor ranking. */
export function sendHeartbeat(state: RaftState, peer: NodeId, successors: readonly NodeId[] = successorRanking(state)): void {
  const progress = state.progress.get(peer);
  if (progress === undefined) return;
  // Why capped at match: the follower may not hold entries beyond it, or hold different ones.
  const commit = Math.min(progress.match, state.log.committed);
  progress.sentCommit = Math.max(progress.sentCommit, commit);
  state.send({ type: 'heartbeat', from: state.id, to: peer, term: state.term, commit, readRound: state.reads.round, successors, ...catchUpFields(state, progress) });
}

/**
 * The order in which followers campaign if this leader's connection closes (election.ts): the
 * most caught up first (it is the likeliest to get every vote), then those heard from in this
 * check-quorum period, then by node id; followers catching up are left out (they never campaign).
 */
export function successorRanking(state: RaftState): NodeId[] {
  const ranked: { id: NodeId; progress: Progress }[] = [];
  for (const [id, progress] of state.progress) if (id !== state.id && !progress.catchingUp) ranked.push({ id, progress });
  ranked.sort((a, b) => b.progress.match - a.progress.match
    || Number(b.progress.recentActive) - Number(a.progress.recentActive)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked.map((entry) => entry.id);
}

/** Commits the highest index a quorum holds durably, if it is of this term. A follower still
 *  catching up (catch-up.ts) counts as holding nothing. */
export function maybeCommit(state: RaftState): boolean {
  const matches: number[] = [];
  for (const voter of state.voters) {
    const progress = state.progress.get(voter);
    matches.push(progress === undefined || progress.catchingUp ? 0 : progress.match);
  }
  matches.sort((a, b) => b - a);
  const quorumIndex = matches[state.quorum() - 1] ?? 0;
  if (quorumIndex <= state.log.committed || state.log.termAt(quorumIndex) !== state.term) return false;
  const firstInTerm = state.log.termAt(state.log.committed) !== state.term;
  state.log.commitTo(quorumIndex);
  state.uncommitted.releaseUpTo(quorumIndex);
  if (firstInTerm) startReadRound(state, state.reads.takeWaiting());
  return true;
}

/** The caller reported a write durable: the leader's own match moves, which may commit. */
export function onOwnDurable(state: RaftState): void {
  const own = state.progress.get(state.id);
  if (own === undefined) return;
  own.maybeUpdate(state.log.durableIndex());
  if (maybeCommit(state)) broadcastAppend(state, true);
}

/**
 * Reads who answered (catch-up.ts): an answer of an older start than one already heard is void
 * ('stale': it may speak of entries a cut log no longer holds). The first catching-up answer of a
 * start voids what the follower matched before (its log was cut): it is probed afresh, and must
 * match this leader's last index of now before it may clear its marker ('restarted'). Any answer
 * that is not stale marks the follower recently active (check-quorum counts it).
 */
function noteAnswer(state: RaftState, progress: Progress, answer: { readonly catchingUp?: boolean; readonly bootId?: number }): 'stale' | 'restarted' | 'current' {
  const bootId = answer.bootId ?? 0;
  if (bootId < progress.bootId) return 'stale';
  const newStart = bootId > progress.bootId;
  progress.bootId = bootId;
  const catchingUp = answer.catchingUp === true;
  const restarted = catchingUp && (newStart || !progress.catchingUp);
  progress.catchingUp = catchingUp;
  if (restarted) {
    progress.restartAfterLogLoss(state.log.lastIndex() + 1);
    progress.catchUpFloor = state.log.lastIndex();
    // Why a round first: this leader may be stale (a newer term may have committed entries the
    // follower acknowledged and forgot). A heartbeat round that a quorum of other nodes confirms
    // after now proves that no newer term exists, so this leader holds all that is committed.
    progress.catchUpRound = startLeadershipCheck(state);
  } else if (!catchingUp) {
    progress.catchUpFloor = 0;
    progress.catchUpRound = 0;
  }
  progress.recentActive = true;
  return restarted ? 'restarted' : 'current';
}

/** What an append or heartbeat to `progress`'s follower adds for catch-up (catch-up.ts): the
 *  floor, once a quorum without catching-up nodes confirmed this leader after the new start. */
function catchUpFields(state: RaftState, progress: Progress): { catchUpTo?: number; catchUpBoot?: number } {
  const confirmed = progress.catchUpRound > 0 && state.reads.confirmedRound >= progress.catchUpRound;
  if (!progress.catchingUp || progress.catchUpFloor === 0 || !confirmed) return {};
  // Why the boot: a message on its way when the follower starts again must not hand the new start
  // the floor of the old one (simulator seed 25583: damaged twice, caught up to a stale floor).
  return progress.bootId > 0 ? { catchUpTo: progress.catchUpFloor, catchUpBoot: progress.bootId } : { catchUpTo: progress.catchUpFloor };
}

export function onAppendResponse(state: RaftState, message: AppendResponseMessage): void {
  const progress = state.progress.get(message.from);
  if (progress === undefined) return;
  const answer = noteAnswer(state, progress, message);
  if (answer === 'stale') return;
  const restarted = answer === 'restarted';
  progress.appendAnsweredSinceHeartbeat = true;
  if (message.reject) {
    // Why the follower's own hint: its log agrees with this leader's up to `match`, so its search
    // back by term stops at `match` or above; below it, the log lost what it acknowledged. The
    // marker prevents that (catch-up.ts); should a disk lie anyway, void the match so that the
    // probe follows the hint below it, rather than retry at match + 1 for ever. Only the answer to
    // the probe out now counts: a reject from before the acknowledgement, arriving late, must not
    // reset the match.
    if (progress.state === 'probe' && message.index === progress.next - 1 && message.rejectHintIndex < progress.match) {
      progress.logLossesSeen += 1;
      progress.restartAfterLogLoss(progress.next);
    }
    let matchHint = message.rejectHintIndex;
    if (message.rejectHintTerm > 0) matchHint = state.log.findConflictByTerm(message.rejectHintIndex, message.rejectHintTerm).index;
    if (progress.maybeDecreaseTo(message.index, matchHint) || restarted) {
      if (progress.state === 'replicate') progress.becomeProbe();
      sendAppend(state, message.from, false);
    }
    return;
  }
  if (!progress.maybeUpdate(message.index)) return;
  if (progress.state === 'probe') progress.becomeReplicate();
  else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshotIndex) progress.becomeReplicate();
  else if (progress.state === 'replicate') progress.inflights.freeUpTo(message.index);
  if (maybeCommit(state)) broadcastAppend(state, true);
  // Why a loop: an answer may free room for several appends; each send fills the window or
  // exhausts the log, so this ends after at most inflightMessagesMax sends.
  let sent = false;
  while (sendAppend(state, message.from, false)) sent = true;
  // Nothing in flight and the follower may not know the commit yet: tell it now rather than at
  // the next heartbeat (it applies, and serves follower reads, that much sooner).
  if (!sent && progress.inflights.messages === 0 && progress.sentCommit < Math.min(state.log.committed, progress.match)) {
    sendAppend(state, message.from, true);
  }
  if (message.from === state.leadTransferee && progress.match === state.log.lastIndex()) sendTimeoutNow(state, message.from);
}

export function onHeartbeatResponse(state: RaftState, message: HeartbeatResponseMessage): void {
  const progress = state.progress.get(message.from);
  if (progress === undefined) return;
  const answer = noteAnswer(state, progress, message);
  if (answer === 'stale') return;
  const restarted = answer === 'restarted';
  progress.probeSent = false;
  if (message.readRound > progress.readRoundAcked && message.readRound <= state.reads.round) {
    progress.readRoundAcked = message.readRound;
    confirmReads(state);
  }
  // Why only when no append was answered since the previous heartbeat answer: a moving pipeline
  // needs no help, and an empty append racing entries still on their way would be rejected and
  // throw the pipeline back to probing. A stalled one (its appends lost) gets a probe.
  const stalled = !progress.appendAnsweredSinceHeartbeat || restarted;
  progress.appendAnsweredSinceHeartbeat = false;
  if (progress.match < state.log.lastIndex()) sendAppend(state, message.from, stalled, stalled);
}

function sendTimeoutNow(state: RaftState, peer: NodeId): void {
  state.send({ type: 'timeoutNow', from: state.id, to: peer, term: state.term });
}

/** Gives up a leadership transfer: proposals are accepted again. */
export function abandonTransfer(state: RaftState): void {
  state.leadTransferee = null;
  state.transferElapsedTicks = 0;
}

/** `elapsedTicks` of time passed: every timeout here follows it (raft-node.ts `tick`). */
export function tickLeader(state: RaftState, elapsedTicks = 1): void {
  state.heartbeatElapsedTicks += elapsedTicks;
  state.electionElapsedTicks += elapsedTicks;
  if (state.leadTransferee !== null && (state.transferElapsedTicks += elapsedTicks) >= state.config.electionTimeoutTicksMin) {
    // The target did not take over within an election timeout: give up, accept proposals again.
    abandonTransfer(state);
  }
  for (const [peer, progress] of state.progress) {
    if (progress.state === 'snapshot' && (progress.snapshotElapsedTicks += elapsedTicks) >= state.config.snapshotRetryTicks) {
      progress.becomeProbe();
      sendAppend(state, peer, false);
    }
  }
  if (state.electionElapsedTicks >= state.config.electionTimeoutTicksMin) {
    state.electionElapsedTicks = 0;
    if (state.config.checkQuorum && !quorumActive(state)) {
      state.becomeFollower(state.term, null);
      return;
    }
  }
  if (state.heartbeatElapsedTicks >= state.config.heartbeatIntervalTicks) {
    state.heartbeatElapsedTicks = 0;
    broadcastHeartbeat(state);
  }
}

/** True when a quorum (this leader included) was heard from in the period now ending; starts
 *  the next period. */
function quorumActive(state: RaftState): boolean {
  let active = 0;
  for (const [peer, progress] of state.progress) {
    if (peer === state.id || progress.recentActive) active++;
    if (peer !== state.id) progress.recentActive = false;
  }
  return active >= state.quorum();
}

export function transferLeadership(state: RaftState, target: NodeId): FalconError | null {
  if (!state.isVoter(target)) return falconError('INVALID_ARGUMENT', `${target} is not a voter`, { target });
  if (target === state.id || target === state.leadTransferee) return null;
  const progress = state.progress.get(target);
  if (progress === undefined) return falconError('INVALID_ARGUMENT', `no progress for ${target}`, { target });
  // A node catching up ignores timeoutNow (catch-up.ts): the transfer could only time out.
  if (progress.catchingUp) return falconError('INVALID_ARGUMENT', `${target} is catching up and cannot lead yet`, { target });
  state.leadTransferee = target;
  state.transferElapsedTicks = 0;
  if (progress.match === state.log.lastIndex()) sendTimeoutNow(state, target);
  else sendAppend(state, target, true);
  return null;
}

export function reportSnapshot(state: RaftState, peer: NodeId, delivered: boolean): void {
  const progress = state.progress.get(peer);
  if (progress === undefined || progress.state !== 'snapshot') return;
  // Delivered: wait in probe for the follower's answer; failed: probe again from match.
  if (!delivered) progress.pendingSnapshotIndex = 0;
  progress.becomeProbe();
  progress.probeSent = delivered;
}

/** ReadIndex on the leader, for this node (`from === id`) or a follower that forwarded it. */
export function readIndexAsLeader(state: RaftState, context: string, from: NodeId): FalconError | null {
  if (!state.reads.hasRoom()) {
    return falconError('RESOURCE_EXHAUSTED', `${state.config.pendingReadsMax} reads already wait for confirmation`,
      { pendingReadsMax: state.config.pendingReadsMax });
  }
  if (state.log.termAt(state.log.committed) !== state.term) {
    state.reads.wait(context, from);
    return null;
  }
  startReadRound(state, [{ context, from }]);
  return null;
}

function startReadRound(state: RaftState, requests: readonly { context: string; from: NodeId }[]): void {
  if (requests.length === 0) return;
  state.reads.startRound(requests, state.log.committed);
  confirmOwnRound(state);
}

/** Starts a heartbeat round with no read in it (catch-up.ts); returns its number. */
function startLeadershipCheck(state: RaftState): number {
  const round = state.reads.startRound([], state.log.committed);
  confirmOwnRound(state);
  return round;
}

function confirmOwnRound(state: RaftState): void {
  const own = state.progress.get(state.id);
  if (own !== undefined) own.readRoundAcked = state.reads.round;
  if (state.voters.length === 1) confirmReads(state);
  else broadcastHeartbeat(state);
}

/**
 * Releases the reads whose round a quorum (this leader included) acknowledged. A node catching
 * up counts as acknowledging nothing: it may have forgotten a newer term (a wiped disk) and
 * would confirm a stale leader. A newly confirmed round may also let catching-up followers have
 * their floor: they are told at once.
 */
function confirmReads(state: RaftState): void {
  const acked: number[] = [];
  for (const voter of state.voters) {
    const progress = state.progress.get(voter);
    acked.push(progress === undefined || progress.catchingUp ? 0 : progress.readRoundAcked);
  }
  acked.sort((a, b) => b - a);
  const confirmedRound = acked[state.quorum() - 1] ?? 0;
  const before = state.reads.confirmedRound;
  const confirmed = state.reads.confirm(confirmedRound);
  if (state.reads.confirmedRound > before) {
    for (const [peer, progress] of state.progress) {
      if (progress.catchingUp && progress.catchUpRound > before && progress.catchUpRound <= state.reads.confirmedRound) sendHeartbeat(state, peer);
    }
  }
  for (const read of confirmed) {
    if (read.from === state.id) state.readStates.push({ context: read.context, index: read.index });
    else state.send({ type: 'readIndexResponse', from: state.id, to: read.from, term: state.term, context: read.context, index: read.index });
  }
}
