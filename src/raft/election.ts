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
 * within a few ticks. Every follower that saw the same close drops its lease too, so they grant
 * the pre-vote; a follower that did not see it (the leader is alive and talks to it) still
 * refuses, and so does the leader, so a spurious close cannot depose a healthy leader with a
 * majority behind it. Safety does not depend on this: elections are decided by votes and logs.
 * The lease is used for nothing else — ReadIndex always confirms with a heartbeat round — which is
 * why dropping it early is safe.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { becomeLeader } from './leader.js';
import type { NodeId, VoteMessage, VoteResponseMessage } from './raft-messages.js';
import type { RaftState } from './raft-state.js';
import { randomBetween } from './random.js';

export type CampaignKind = 'preVote' | 'election' | 'transfer';

export function campaign(state: RaftState, kind: CampaignKind): void {
  // Why not while catching up: this log may lack entries this node acknowledged (catch-up.ts).
  if (!state.isVoter(state.id) || state.role === 'leader' || state.isCatchingUp()) return;
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
    }
    return;
  }
  state.send({ type: 'voteResponse', from: state.id, to: message.from, term: state.term, preVote: message.preVote, reject: true });
}

export function onVoteResponse(state: RaftState, message: VoteResponseMessage): void {
  if (message.preVote) {
    if (state.role !== 'preCandidate') return;
    // Why: a grant for an older round (proposed term ≠ term + 1) says nothing about this one.
    if (!message.reject && message.term !== state.term + 1) return;
  } else if (state.role !== 'candidate' || message.term !== state.term) {
    return;
  }
  const result = state.poll(message.from, !message.reject);
  if (result === 'won') {
    if (message.preVote) campaign(state, 'election');
    else becomeLeader(state);
  } else if (result === 'lost') {
    state.becomeFollower(state.term, null);
  }
}

export function tickElection(state: RaftState): void {
  state.electionElapsedTicks++;
  if (state.electionElapsedTicks >= state.randomizedElectionTimeoutTicks && state.isVoter(state.id)) {
    state.electionElapsedTicks = 0;
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
  // Why a random delay of a few ticks: every follower saw the same close; if all campaigned in
  // the same instant their votes would split and cost a full election timeout.
  const delayTicks = randomBetween(state.config.random, 0, state.config.disconnectCampaignDelayTicksMax);
  if (delayTicks === 0) {
    state.electionElapsedTicks = 0;
    campaign(state, state.config.preVote ? 'preVote' : 'election');
    return;
  }
  state.electionElapsedTicks = Math.max(state.electionElapsedTicks, state.randomizedElectionTimeoutTicks - delayTicks);
}
