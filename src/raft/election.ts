/**
 * Elections (Raft §5.2, thesis §9.6 pre-vote, §3.10 leadership transfer) and the fast-failover
 * input from DESIGN.md §7a.
 *
 * A follower that hears nothing for its randomized timeout first asks for pre-votes (no term
 * change), and only with a majority of them raises its term and asks for votes. Voters grant one
 * vote per term, to a candidate whose log is at least as up to date (§5.4.1), and — with
 * check-quorum — ignore requests while they heard from a leader within the minimum election
 * timeout (the lease), unless the request comes from a leadership transfer.
 *
 * Fast failover: `peerDisconnected(leader)` tells a follower its leader's connection closed (a
 * killed process closes its sockets). The follower drops its lease for that leader and campaigns
 * (a pre-vote) in an order every survivor knows in advance: the leader's heartbeats carry a
 * successor ranking (voters by match index, then node id; nodes catching up are left out). The
 * first in rank campaigns at once; rank r waits r × `successorPauseTicks`, in which it would hear
 * of a winner (its append or its vote request) and stand down. A fast campaign that has not won
 * by its next attempt tries again after a random 1..2 × `successorPauseTicks` ticks, up to
 * `fastCampaignAttemptsMax` attempts; then the election timeout governs. An attempt while the
 * round is still under way asks the voters that have not answered again, in the same term (slow
 * answers are not a lost round); after a lost round (a split vote) it starts a new one. A survivor
 * that gives its vote to a candidate holds its own attempt back for half the minimum election
 * timeout; one that is asked by a candidate with a shorter log campaigns at once. With no ranking
 * heard yet, a random delay of 0..`disconnectCampaignDelayTicksMax` ticks spreads the campaigns
 * (a leader sends its ranking on every new connection, so that is rare).
 *
 * Every follower that saw the same close drops its lease too, so they grant the pre-vote; a
 * follower that did not see it yet (the leader is alive and talks to it, or its close is still on
 * its way) ignores the request but holds it, and answers it if it sees the close itself
 * (raft-node.ts). A spurious close therefore cannot depose a healthy leader with a majority behind
 * it: the others never see a close, and drop what they hold when their leader speaks. That
 * needs both guards, so the shortcut is on only with pre-vote AND check-quorum. Safety does not
 * depend on it: elections are decided by votes and logs, and the ranking only orders who asks
 * first. The lease is used for nothing else — ReadIndex always confirms with a heartbeat round —
 * which is why dropping it early is safe.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import type { NodeId } from '../log/node-id.js';
import { becomeLeader } from './leader.js';
import type { VoteMessage, VoteResponseMessage } from './raft-messages.js';
import type { RaftState } from './raft-state.js';
import { randomBetween } from './random.js';

export type CampaignKind = 'preVote' | 'election' | 'transfer';

export function campaign(state: RaftState, kind: CampaignKind): void {
  // Why not while catching up: this log may lack entries this node acknowledged (catch-up.ts).
  if (!state.isVoter(state.id) || state.role === 'leader' || state.isCatchingUp() || state.retiring) return;
  const preVote = kind === 'preVote';
  if (preVote) {
    state.becomePreCandidate();
    state.electionElapsedTicks = 0;
    state.resetRandomizedElectionTimeout();
  } else {
    state.becomeCandidate();
  }
  const voteTerm = preVote ? state.term + 1 : state.term;
  if (state.poll(state.id, true) === 'won') {
    if (preVote) campaign(state, 'election');
    else becomeLeader(state);
    return;
  }
  // Why: the leader whose connection closed will not answer; counted as a refusal, a split vote
  // between two survivors is lost (and retried after a short pause) as soon as they refuse each
  // other, instead of waiting for an answer that never comes. Winning only gets harder: safe.
  const gone = state.fastCampaign?.gone;
  if (gone !== undefined && gone !== state.id && state.isVoter(gone)) state.poll(gone, false);
  const lastIndex = state.log.lastIndex();
  const lastTerm = state.log.lastTerm();
  for (const voter of state.voters) {
    if (voter === state.id) continue;
    state.send({ type: 'vote', from: state.id, to: voter, term: voteTerm, preVote, transfer: kind === 'transfer', lastIndex, lastTerm });
  }
}

/** A vote or pre-vote request, after the term rules (raft-node.ts) let it through. */
export function onVote(state: RaftState, message: VoteMessage): void {
  if (state.isCatchingUp()) {
    // This log may lack entries this node acknowledged: its vote could elect a leader without
    // a committed entry (catch-up.ts). Rejected, not ignored, so the candidate stops waiting.
    state.send({ type: 'voteResponse', from: state.id, to: message.from, term: state.term, preVote: message.preVote, reject: true });
    return;
  }
  const canVote = state.vote === message.from
    || (state.vote === null && state.leader === null)
    || (message.preVote && message.term > state.term);
  if (canVote && state.log.isUpToDate(message.lastIndex, message.lastTerm)) {
    // A granted pre-vote answers in the proposed term, so the candidate can tell it from a
    // rejection by a node already in that term.
    state.send({ type: 'voteResponse', from: state.id, to: message.from, term: message.term, preVote: message.preVote, reject: false });
    if (!message.preVote) {
      state.vote = message.from;
      state.electionElapsedTicks = 0;
      deferFastCampaign(state, 'voted');
    } else {
      yieldToEarlierInRank(state, message.from);
    }
    return;
  }
  state.send({ type: 'voteResponse', from: state.id, to: message.from, term: state.term, preVote: message.preVote, reject: true });
  // Why at once: a fast campaign is due here and the candidate's log is shorter than this one, so
  // this node's vote never goes to it; waiting out this node's place in the ranking would only
  // leave the cluster without a leader for longer.
  if (canVote && state.role === 'follower' && state.fastCampaign?.dueInTicks !== null && state.fastCampaign !== null) {
    startFastCampaign(state);
  }
}

export function onVoteResponse(state: RaftState, message: VoteResponseMessage): void {
  if (message.preVote) {
    if (state.role !== 'preCandidate') return;
    // Why: a grant for an older round (proposed term ≠ term + 1) says nothing about this one.
    if (!message.reject && message.term !== state.term + 1) return;
  } else if (state.role !== 'candidate' || message.term !== state.term) {
    return;
  }
  // A real answer from the leader whose connection closed replaces the refusal presumed for it.
  if (message.from === state.fastCampaign?.gone) state.votes.delete(message.from);
  const result = state.poll(message.from, !message.reject);
  if (result === 'won') {
    if (message.preVote) campaign(state, 'election');
    else becomeLeader(state);
  } else if (result === 'lost') {
    state.becomeFollower(state.term, null);
  }
}

/** `elapsedTicks` of time passed: the election timeout follows it; a fast campaign's pause counts
 *  one per call (raft-node.ts `tick`). */
export function tickElection(state: RaftState, elapsedTicks = 1): void {
  state.electionElapsedTicks += elapsedTicks;
  if (tickFastCampaign(state)) return;
  if (state.electionElapsedTicks >= state.randomizedElectionTimeoutTicks && state.isVoter(state.id)) {
    state.electionElapsedTicks = 0;
    // The fast campaign is over: the leader whose connection closed may be back, and must be
    // asked, not counted as a refusal (a live majority never elected a leader otherwise).
    state.fastCampaign = null;
    campaign(state, state.config.preVote ? 'preVote' : 'election');
  }
}

/** The fast campaign is on only with both guards: without pre-vote a spurious close would raise
 *  the term and depose a live leader; without check-quorum no follower holds a lease, so they
 *  would all grant the pre-vote. */
export function fastCampaignEnabled(state: RaftState): boolean {
  const config = state.config;
  return config.campaignOnLeaderDisconnect && config.preVote && config.checkQuorum;
}

export function onPeerDisconnected(state: RaftState, peer: NodeId): void {
  if (!fastCampaignEnabled(state) || state.role !== 'follower' || state.leader !== peer || state.isCatchingUp()) return;
  state.leader = null;
  // Why an order: every survivor saw the same close; if all campaigned in the same instant their
  // votes would split and cost a full election timeout.
  const rank = state.successorRank();
  const delayTicks = rank >= 0
    ? rank * state.config.successorPauseTicks
    : randomBetween(state.config.random, 0, state.config.disconnectCampaignDelayTicksMax);
  state.fastCampaign = { dueInTicks: delayTicks, attempts: 0, gone: peer };
  if (delayTicks === 0) startFastCampaign(state);
}

/**
 * This node just granted a candidate its vote (or pre-vote): give it time before campaigning
 * itself. After a vote, half the minimum election timeout: a candidate that has this vote wins as
 * soon as it counts it, and campaigning meanwhile would only raise the term under it when the
 * answers are slow. After a pre-vote, the candidate's retry window: its vote request follows.
 */
function deferFastCampaign(state: RaftState, granted: 'voted' | 'preVoted'): void {
  const fast = state.fastCampaign;
  if (fast === null || fast.dueInTicks === null) return;
  const retryWindowTicks = 2 * state.config.successorPauseTicks + 1;
  const deferTicks = granted === 'voted' ? Math.max(retryWindowTicks, Math.floor(state.config.electionTimeoutTicksMin / 2)) : retryWindowTicks;
  fast.dueInTicks = Math.max(fast.dueInTicks, deferTicks);
}

/**
 * A pre-vote was granted during a fast campaign. When the asker comes before this node in the
 * ranking, this node steps back from a pre-vote round of its own (two rounds that both succeed
 * become two candidates in one term: a split vote) and holds its next attempt back.
 */
function yieldToEarlierInRank(state: RaftState, asker: NodeId): void {
  if (state.fastCampaign === null) return;
  const askerRank = state.successorRank(asker);
  const ownRank = state.successorRank();
  const earlier = askerRank >= 0 && askerRank < ownRank;
  if (state.role === 'preCandidate') {
    if (!earlier) return;
    state.becomeFollower(state.term, null);
  }
  deferFastCampaign(state, 'preVoted');
}

/** Counts down to the next fast campaign attempt; true when it started one. */
function tickFastCampaign(state: RaftState): boolean {
  const fast = state.fastCampaign;
  if (fast === null || fast.dueInTicks === null || state.role === 'leader') return false;
  fast.dueInTicks--;
  if (fast.dueInTicks > 0) return false;
  startFastCampaign(state);
  return true;
}

function startFastCampaign(state: RaftState): void {
  const fast = state.fastCampaign;
  if (fast === null) return;
  fast.attempts++;
  // Armed now, so that a campaign that has not won by then (split, lost, ignored) tries again
  // soon; cancelled when a leader is heard (raft-node.ts) or this node leads.
  const pause = state.config.successorPauseTicks;
  fast.dueInTicks = fast.attempts < state.config.fastCampaignAttemptsMax ? randomBetween(state.config.random, 1, 2 * pause) : null;
  // Why ask again rather than start over: a campaign still under way has not lost; its answers
  // may only be slow (each voter syncs its vote before answering). A new campaign would raise the
  // term and throw away the votes on their way. Asking again in the same round is harmless: a
  // voter grants the same candidate again.
  if (state.role === 'preCandidate' || state.role === 'candidate') askAgain(state);
  else campaign(state, 'preVote');
}

/** Sends the current round's vote (or pre-vote) request again to the voters that have not answered. */
function askAgain(state: RaftState): void {
  const preVote = state.role === 'preCandidate';
  const term = preVote ? state.term + 1 : state.term;
  const lastIndex = state.log.lastIndex();
  const lastTerm = state.log.lastTerm();
  for (const voter of state.voters) {
    if (voter === state.id || state.votes.has(voter)) continue;
    state.send({ type: 'vote', from: state.id, to: voter, term, preVote, transfer: false, lastIndex, lastTerm });
  }
}
