/**
 * The mutable state of one Raft node, shared by the handler modules (election.ts, leader.ts,
 * follower.ts) that raft-node.ts dispatches to, with the transitions between roles that every
 * handler needs. Not exported from the package: callers use `RaftNode`.
 *
 * Durability rule for outgoing messages (`send`): what a leader says as a leader (appends,
 * heartbeats, snapshots, timeoutNow), pre-votes and their answers, and follower→leader requests
 * may go out at once. Everything else — votes, vote answers, append and heartbeat answers —
 * speaks for state that must be durable first, so it waits in `messagesAfterDurable` until every
 * write handed out up to its Ready is durable.
 *
 * Invariants: a node votes at most once per term (vote changes only from null, or with the term);
 * term never decreases; leader === id exactly when role is 'leader'; progress is non-empty only
 * on a leader.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { assert } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { NodeId } from '../log/node-id.js';
import { initialCatchUpState, type CatchUpState } from './catch-up.js';
import { Progress } from './progress.js';
import type { ResolvedRaftConfig } from './raft-config.js';
import { RaftLog } from './raft-log.js';
import type { RaftMessage, VoteMessage } from './raft-messages.js';
import { randomBetween } from './random.js';
import { ReadIndexTracker, type ReadState } from './read-index.js';

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export type PollResult = 'won' | 'lost' | 'pending';

/** Bytes a leader proposed and has not committed yet, by index, to release them on commit. */
export class UncommittedBytes {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  bytes = 0;

  add(index: number, bytes: number): void {
    if (bytes === 0) return;
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  releaseUpTo(index: number): void {
    while (this.head < this.indexes.length && (this.indexes[this.head] ?? Infinity) <= index) {
      this.bytes -= this.sizes[this.head] ?? 0;
      this.head++;
    }
    // Why compact only now and then: shifting on every release would be quadratic.
    if (this.head > 1024 && this.head * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}

function sendsAtOnce(message: RaftMessage): boolean {
  switch (message.type) {
    case 'append': case 'heartbeat': case 'snapshot': case 'timeoutNow':
    case 'propose': case 'readIndex': case 'readIndexResponse':
      return true;
    case 'vote': case 'voteResponse':
      return message.preVote;
    default:
      return false;
  }
}

export class RaftState {
  readonly config: ResolvedRaftConfig;
  readonly id: NodeId;
  readonly log: RaftLog;
  voters: readonly NodeId[];
  term: number;
  /** Invariant: at most one vote per term. */
  vote: NodeId | null;
  role: RaftRole = 'follower';
  /** The leader of `term` as far as this node knows; null when unknown or when its lease was
   *  dropped on `peerDisconnected`. */
  leader: NodeId | null = null;
  /** Follower/candidate: ticks since the leader was last heard (or the election started).
   *  Leader: ticks in the current check-quorum period. */
  electionElapsedTicks = 0;
  heartbeatElapsedTicks = 0;
  /** Invariant: electionTimeoutTicksMin ≤ randomizedElectionTimeoutTicks < electionTimeoutTicksMax. */
  randomizedElectionTimeoutTicks = 0;
  readonly votes = new Map<NodeId, boolean>();
  readonly progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId | null = null;
  transferElapsedTicks = 0;
  readonly uncommitted = new UncommittedBytes();
  readonly reads: ReadIndexTracker;
  /** Follower: the successor ranking the leader of `term` last sent, or null when none was heard
   *  (election.ts). */
  successors: readonly NodeId[] | null = null;
  /** A fast campaign after the leader's connection closed (election.ts): ticks until the next
   *  attempt (null: none due), the attempts made, and the leader whose connection closed. Null
   *  when none is under way. */
  fastCampaign: { dueInTicks: number | null; attempts: number; gone: NodeId } | null = null;
  /** Follower: vote requests ignored in the lease, newest per candidate, each with the ticks it is
   *  still kept. Answered if this node sees its leader's connection close (election.ts), so a
   *  candidate that saw the close first need not retry; dropped when a leader is heard. */
  readonly heldVotes = new Map<NodeId, { message: VoteMessage; ticksLeft: number }>();
  /** This node is stopping (a graceful stop): it never campaigns again, not even when asked to
   *  take over; leadership would only be lost again at once. */
  retiring = false;
  /** The needs-catch-up marker's progress (catch-up.ts). */
  catchUp: CatchUpState;
  /** Follower: the highest commit index the leader of `term` told this node (0: none yet). */
  leaderCommitHeard = 0;
  /** Follower catching up: the index the leader of `term` says this node must match before it
   *  may clear its marker (0: none told yet; catch-up.ts). */
  catchUpTo = 0;
  /** Follower: the last index an accepted append of `term` vouched for: the log matches the
   *  leader of `term` up to here (that leader never drops its own entries). */
  appendMatchIndex = 0;
  messagesNow: RaftMessage[] = [];
  messagesAfterDurable: RaftMessage[] = [];
  readStates: ReadState[] = [];

  constructor(config: ResolvedRaftConfig) {
    this.config = config;
    this.id = config.id;
    const { hardState, membership } = config.storage.initialState();
    this.log = new RaftLog(config.storage, hardState.commit, config.appliedIndex, config.writesInFlightMax);
    this.voters = [...(membership?.voters ?? config.voters)];
    // Why: a crash may leave entries of a term on disk without the hard state that raised the term
    // (entries are written before the hard state). No vote in that term was ever released, so
    // taking the term with no vote is safe, and it keeps every log term ≤ the current term.
    const lastTerm = this.log.lastTerm();
    this.term = Math.max(hardState.term, lastTerm);
    this.vote = this.term === hardState.term ? hardState.vote : null;
    this.reads = new ReadIndexTracker(config.pendingReadsMax);
    this.catchUp = initialCatchUpState(config.needsCatchUp === true, this.voters.length);
    this.resetRandomizedElectionTimeout();
  }

  /** True from start with the needs-catch-up marker until the caller confirmed it cleared. */
  isCatchingUp(): boolean {
    return this.catchUp !== 'none';
  }

  /**
   * The last index known to match the log of the leader of `term`: everything committed, what an
   * accepted append of this term vouched for, and the whole log when its last entry is of this
   * term (only this term's leader makes such entries). A leader's commit index is learned only
   * up to here: beyond it this log may hold other entries, or none.
   */
  leaderMatchIndex(): number {
    const lastIndex = this.log.lastIndex();
    if (this.log.lastTerm() === this.term) return lastIndex;
    return Math.min(lastIndex, Math.max(this.log.committed, this.appendMatchIndex));
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  send(message: RaftMessage): void {
    if (sendsAtOnce(message)) this.messagesNow.push(message);
    else this.messagesAfterDurable.push(message);
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeoutTicks = randomBetween(this.config.random, this.config.electionTimeoutTicksMin,
      this.config.electionTimeoutTicksMax - 1);
  }

  /** `id`'s place in the last successor ranking heard (0 = first; after every ranked node when
   *  left out), or -1 when none was heard. */
  successorRank(id: NodeId = this.id): number {
    if (this.successors === null) return -1;
    const rank = this.successors.indexOf(id);
    return rank >= 0 ? rank : this.successors.length;
  }

  /** Lease (thesis §4.2.3): this follower heard from a leader within the minimum election
   *  timeout, so a vote request is from a node that is merely cut off; ignore it. */
  inLease(): boolean {
    return this.config.checkQuorum && this.leader !== null && this.electionElapsedTicks < this.config.electionTimeoutTicksMin;
  }

  private reset(term: number): void {
    assert(term >= this.term, `term going back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      this.leaderCommitHeard = 0;
      this.catchUpTo = 0;
      this.appendMatchIndex = 0;
      this.successors = null;
    }
    this.leader = null;
    this.heldVotes.clear();
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = null;
    this.transferElapsedTicks = 0;
    this.reads.clear();
    this.uncommitted.clear();
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  /**
   * A vote request of a higher term: follow that term with no leader, and keep the election timer
   * running (Raft §5.2: only a leader's message or a granted vote restarts it; onVote restarts it
   * on a grant). Why: with pre-vote off, candidates whose logs are behind can never win, yet each
   * of their requests would otherwise restart the timer of the one node that can, so it had to
   * out-draw all of them every round (simulator seed 141814 on 5 nodes: two nodes catching up,
   * two stale candidates, the up-to-date node starved for 5 s). A leader's count measures its
   * check-quorum period, not an election timeout: it starts afresh.
   */
  becomeFollowerOfVoteRequest(term: number): void {
    const keepsTimer = this.role !== 'leader';
    const elapsedTicks = this.electionElapsedTicks;
    const timeoutTicks = this.randomizedElectionTimeoutTicks;
    this.becomeFollower(term, null);
    if (!keepsTimer) return;
    this.electionElapsedTicks = elapsedTicks;
    this.randomizedElectionTimeoutTicks = timeoutTicks;
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', `leader ${this.id} cannot become a pre-candidate in term ${this.term}`);
    // Why no reset: a pre-vote changes no term and no vote; only the tally starts over.
    this.votes.clear();
    this.role = 'preCandidate';
    this.leader = null;
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', `leader ${this.id} cannot become a candidate in term ${this.term}`);
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  /** Prepares the leader role; leader.ts appends the no-op and starts replication. */
  becomeLeaderState(): void {
    assert(this.role === 'candidate', `${this.id} becomes leader from ${this.role} in term ${this.term}`);
    const granted = new Set([...this.votes].filter(([, grant]) => grant).map(([voter]) => voter));
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.fastCampaign = null;
    const next = this.log.lastIndex() + 1;
    for (const voter of this.voters) {
      const progress = new Progress(next, this.config.inflightMessagesMax, this.config.inflightBytesMax);
      if (voter === this.id) {
        progress.match = this.log.durableIndex();
        progress.becomeReplicate();
        progress.next = next;
        progress.recentActive = true;
      } else if (granted.has(voter)) {
        // Why pipeline at once: a voter's log is no longer than this one (it granted the vote),
        // so appends from `next` most likely match; the first client entry then follows the no-op
        // without waiting for the probe's answer. A mismatch is rejected and probed as usual.
        progress.becomeReplicate();
        progress.next = next;
      }
      this.progress.set(voter, progress);
    }
  }

  /** Records a vote (or pre-vote) answer and says where the election stands. */
  poll(from: NodeId, granted: boolean): PollResult {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let grantedCount = 0;
    let rejectedCount = 0;
    for (const voter of this.voters) {
      const answer = this.votes.get(voter);
      if (answer === true) grantedCount++;
      else if (answer === false) rejectedCount++;
    }
    if (grantedCount >= this.quorum()) return 'won';
    if (rejectedCount > this.voters.length - this.quorum()) return 'lost';
    return 'pending';
  }
}
