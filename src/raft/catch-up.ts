/**
 * Catching up after a repaired or wiped log (the WAL's needs-catch-up marker).
 *
 * A node whose log was cut by `--repair-corruption`, or whose data directory was wiped, may
 * have acknowledged entries it no longer holds: a leader may have counted it toward committing
 * them. If it voted as if new, a candidate missing such an entry could win and the entry be lost
 * (3 nodes: e committed on L and F1; F1 repaired drops e; L dies; F2 without e wins with F1's
 * vote). So, from start with the marker until caught up:
 * - it grants no vote and no pre-vote (it answers them with a rejection), and never campaigns
 *   (no election on timeout, none on a closed leader connection, timeoutNow ignored);
 * - its append and heartbeat answers carry `catchingUp: true`: the leader moves its progress
 *   (and probes its log afresh the first time it hears so: its old match is void) but does not
 *   count it toward commit, and commits with the other nodes.
 *
 * Caught up means both:
 * - the durable log holds, matching the leader, the commit index a leader of the current term
 *   told it, and that entry is of the current term. Why the term: a new leader's commit index
 *   may lag entries already committed in earlier terms; once it has committed an entry of its
 *   own term, everything committed before is at or below it (Leader Completeness);
 * - the durable log matches the leader up to the `catchUpTo` index that leader sent it. Why: in
 *   the current term, this node may have acknowledged entries before its restart, and the leader
 *   may have counted them (an acknowledgement still on its way, or a match it recorded) toward a
 *   commit it has not even made yet. The leader cannot tell those answers from new ones until it
 *   hears this node's new start: every answer carries the node's `bootId`, which grows with each
 *   start. When the leader first hears a catching-up answer of a new start, it voids the old
 *   match, ignores every answer of an older start from then on, and takes its last index then
 *   as `catchUpTo`: nothing this node acknowledged before can lie beyond it. The floor names the
 *   start it was worked out for (`catchUpBoot`); a node that started again since ignores it.
 * The leader sends `catchUpTo` only once a heartbeat round it started on hearing the new start is
 * confirmed by a quorum that does not count catching-up nodes. Why: the leader may be stale. A
 * wiped node forgot every term it saw; a leader of an older term, cut off while a newer term
 * committed entries with this node's help, would otherwise catch it up to its own shorter log,
 * and the two would form a majority that commits over those entries (simulator seed 701421).
 * A quorum of other nodes answering after the new start proves no newer term exists. For the
 * same reason a catching-up node confirms no ReadIndex round.
 * The core then reports `needsCatchUpCleared` in one Ready; it keeps behaving as catching up
 * until the caller has cleared the marker durably and called `onNeedsCatchUpCleared()`. A crash
 * in between leaves the marker on disk: the node simply catches up again after the restart.
 *
 * A single voter has no one to catch up from: its marker is reported cleared at once.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import type { RaftState } from './raft-state.js';

/**
 * - none:       no marker; the node behaves normally.
 * - catchingUp: the marker is set and the node has not caught up yet.
 * - caughtUp:   caught up; the next Ready reports `needsCatchUpCleared`.
 * - reported:   reported; waiting for the caller's `onNeedsCatchUpCleared()`.
 */
export type CatchUpState = 'none' | 'catchingUp' | 'caughtUp' | 'reported';

export function initialCatchUpState(needsCatchUp: boolean, voterCount: number): CatchUpState {
  if (!needsCatchUp) return 'none';
  return voterCount === 1 ? 'caughtUp' : 'catchingUp';
}

/** The leader of the current term named the index to match before the marker may go. */
export function noteCatchUpTo(state: RaftState, catchUpTo: number): void {
  if (catchUpTo > state.catchUpTo) state.catchUpTo = catchUpTo;
  maybeFinishCatchUp(state);
}

/** A leader of the current term told this node its commit index. */
export function noteLeaderCommit(state: RaftState, commit: number): void {
  if (commit > state.leaderCommitHeard) state.leaderCommitHeard = commit;
  maybeFinishCatchUp(state);
}

/** Moves to `caughtUp` once the durable log holds the commit index a leader told (see above). */
export function maybeFinishCatchUp(state: RaftState): void {
  if (state.catchUp !== 'catchingUp') return;
  const target = state.leaderCommitHeard;
  const log = state.log;
  if (target === 0 || log.committed < target || log.durableIndex() < target) return;
  if (log.termAt(target) !== state.term) return;
  const floor = state.catchUpTo;
  if (floor === 0 || state.leaderMatchIndex() < floor || log.durableIndex() < floor) return;
  state.catchUp = 'caughtUp';
}
