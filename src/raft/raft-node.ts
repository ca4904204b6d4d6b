/**
 * RaftNode: the public face of the pure Raft core. Inputs: `tick()`, `step(message)`,
 * `propose(entries)`, `readIndex(context)`, `transferLeadership(to)`, `peerDisconnected(peer)`,
 * `reportSnapshot(peer, delivered)`, `onDurable(report)` when a write is durable, and
 * `onNeedsCatchUpCleared()` once the needs-catch-up marker is cleared (catch-up.ts). Output: a
 * `Ready` (ready.ts) saying what to persist, send, apply and install, taken with `ready()` and
 * acknowledged with `advance()`.
 *
 * Pure: no I/O, no timers, no clock, no random source except the injected one; the same code runs
 * in the Replicator actor and in the seeded simulator (test/sim).
 *
 * Term rules applied to every message before its handler (Raft §5.1, thesis §4.2.3 and §9.6):
 * - higher term: adopt it and follow — except a (pre-)vote request while the lease holds
 *   (ignored, unless it comes from a leadership transfer), a pre-vote request (never changes the
 *   term) and a granted pre-vote (it carries the proposed term);
 * - lower term: ignored, except an append/heartbeat from a deposed leader (answered with the
 *   current term so it steps down, when check-quorum or pre-vote is on or this node is catching
 *   up and so never campaigns) and a pre-vote (rejected with the current term);
 * - `propose`, `readIndex`, `readIndexResponse` carry no term rules (follower↔leader requests).
 *
 * Invariants: between `ready()` and `advance()` no other method is called; two leaders in one
 * term is impossible (an append from another leader of this node's own term stops the node).
 *
 * Runs on: the thread that owns the node (the Replicator actor, or the simulator).
 */
import { assert, failure, falconError, success, type FalconError, type Outcome } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { NodeId } from '../log/node-id.js';
import { maybeFinishCatchUp } from './catch-up.js';
import { onPeerDisconnected, onVote, onVoteResponse, tickElection } from './election.js';
import { onAppend, onHeartbeat, onSnapshot, onTimeoutNow } from './follower.js';
import {
  abandonTransfer, broadcastAppend, onAppendResponse, onHeartbeatResponse, onOwnDurable, proposeAsLeader, readIndexAsLeader, reportSnapshot, sendHeartbeat, successorRanking,
  tickLeader, transferLeadership, type ProposalPlacement,
} from './leader.js';
import { proposalError, type ProposalEntry } from './proposal-entry.js';
import { resolveRaftConfig, type RaftConfig } from './raft-config.js';
import type { DurableReport } from './raft-log.js';
import { isTermFree, type RaftMessage } from './raft-messages.js';
import { RaftState, type RaftRole } from './raft-state.js';
import type { Ready } from './ready.js';
import { raftStatusOf, type RaftStatus } from './raft-status.js';

export type { ProposalPlacement } from './leader.js';
export type { PeerStatus, RaftStatus } from './raft-status.js';

const accepted: Outcome<null> = success(null);

export class RaftNode {
  private readonly state: RaftState;
  private persistedHardState: HardState;
  private readyOutstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.state = new RaftState(resolveRaftConfig(config));
    this.persistedHardState = config.storage.initialState().hardState;
    this.state.becomeFollower(this.state.term, null);
  }

  get id(): NodeId {
    return this.state.id;
  }

  /** Cheap reads of the fields `status()` reports, for hot paths (no allocation). */
  get role(): RaftRole {
    return this.state.role;
  }

  get term(): number {
    return this.state.term;
  }

  get leader(): NodeId | null {
    return this.state.leader;
  }

  get vote(): NodeId | null {
    return this.state.vote;
  }

  /** The follower leadership is being handed to, or null. */
  get leadTransferee(): NodeId | null {
    return this.state.leadTransferee;
  }

  get commitIndex(): number {
    return this.state.log.committed;
  }

  get appliedIndex(): number {
    return this.state.log.applied;
  }

  get lastIndex(): number {
    return this.state.log.lastIndex();
  }

  private checkNoReadyOutstanding(action: string): void {
    assert(this.readyOutstanding === null, `${action} called between ready() and advance() on ${this.state.id}`);
  }

  /**
   * `elapsedTicks` ticks of time passed (a host whose thread was busy makes up for late timer
   * callbacks). Timeouts (election, heartbeat, check-quorum, transfer, snapshot retry) advance by
   * all of them. The pauses in which this node waits to hear a message (a fast campaign's turn in
   * the successor ranking, its retry, a held vote) advance by one per call: the host reads its
   * sockets between two calls, and a pause that ran out within one call would end before the
   * message it waits for, already in the socket, is read.
   */
  tick(elapsedTicks = 1): void {
    this.checkNoReadyOutstanding('tick');
    assert(Number.isSafeInteger(elapsedTicks) && elapsedTicks >= 1, `tick(${elapsedTicks}): elapsedTicks must be a positive integer`);
    if (this.state.role === 'leader') tickLeader(this.state, elapsedTicks);
    else tickElection(this.state, elapsedTicks);
    for (const [from, held] of this.state.heldVotes) if (--held.ticksLeft <= 0) this.state.heldVotes.delete(from);
  }

  step(message: RaftMessage): void {
    this.checkNoReadyOutstanding('step');
    assert(message.to === this.state.id, `message for ${message.to} stepped into ${this.state.id}`);
    if (isTermFree(message)) {
      this.stepTermFree(message);
      return;
    }
    const state = this.state;
    if (message.term > state.term) {
      if (message.type === 'vote' && !message.transfer && state.inLease()) {
        state.heldVotes.set(message.from, { message, ticksLeft: 2 * state.config.successorPauseTicks + 1 });
        return;
      }
      const keepsTerm = (message.type === 'vote' && message.preVote)
        || (message.type === 'voteResponse' && message.preVote && !message.reject);
      if (message.type === 'vote' && !keepsTerm) state.becomeFollowerOfVoteRequest(message.term);
      else if (!keepsTerm) {
        const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
        state.becomeFollower(message.term, fromLeader ? message.from : null);
      }
    } else if (message.term < state.term) {
      this.answerStaleTerm(message);
      return;
    }
    this.dispatch(message);
  }

  private answerStaleTerm(message: RaftMessage): void {
    const state = this.state;
    // Why answer at all: without it, a deposed leader cut off by check-quorum or pre-vote might
    // never learn the new term. A node catching up must answer too, with neither on: it never
    // campaigns, so without the answer the leader keeps its older term, this node keeps ignoring
    // it, and it is never caught up (simulator seed 52189: restarted at term 15 with a damaged
    // tail, it ignored the term-14 leader's heartbeats for good).
    const catchingUp = state.catchUp === 'catchingUp';
    if ((message.type === 'append' || message.type === 'heartbeat') && (state.config.checkQuorum || state.config.preVote || catchingUp)) {
      state.send({ type: 'appendResponse', from: state.id, to: message.from, term: state.term, index: 0, reject: false,
        rejectHintIndex: 0, rejectHintTerm: 0 });
    } else if (message.type === 'vote' && message.preVote) {
      state.send({ type: 'voteResponse', from: state.id, to: message.from, term: state.term, preVote: true, reject: true });
    }
  }

  private dispatch(message: RaftMessage): void {
    const state = this.state;
    switch (message.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        assert(state.role !== 'leader', `two leaders in term ${state.term}: ${state.id} and ${message.from}`);
        if (state.role !== 'follower') state.becomeFollower(message.term, message.from);
        state.leader = message.from;
        state.electionElapsedTicks = 0;
        // A leader is heard: no fast campaign is due any more, and no held vote request will be
        // answered (election.ts).
        state.fastCampaign = null;
        state.heldVotes.clear();
        if (message.type === 'append') onAppend(state, message);
        else if (message.type === 'heartbeat') onHeartbeat(state, message);
        else onSnapshot(state, message);
        return;
      case 'appendResponse':
        if (state.role === 'leader') onAppendResponse(state, message);
        return;
      case 'heartbeatResponse':
        if (state.role === 'leader') onHeartbeatResponse(state, message);
        return;
      case 'vote':
        onVote(state, message);
        return;
      case 'voteResponse':
        onVoteResponse(state, message);
        return;
      case 'timeoutNow':
        if (state.role === 'follower') onTimeoutNow(state);
        return;
      default:
        return;
    }
  }

  private stepTermFree(message: RaftMessage): void {
    const state = this.state;
    if (message.type === 'propose') {
      // Dropped when this node is no longer the leader: never forwarded twice, no loops. A
      // forwarded proposal passes the same check as a local one (a peer may not append a no-op
      // or a membership change), and is dropped when it fails: the peer's caller times out.
      if (state.role === 'leader' && proposalError(message.entries) === null) proposeAsLeader(state, message.entries);
    } else if (message.type === 'readIndex') {
      if (state.role === 'leader') readIndexAsLeader(state, message.context, message.from);
    } else if (message.type === 'readIndexResponse') {
      state.readStates.push({ context: message.context, index: message.index });
    }
  }

  /**
   * Proposes entries (type `normal`). On the leader they are appended and replicated: the outcome
   * names their indexes and term (they are applied only if committed at those indexes in that
   * term). On a follower that knows its leader they are forwarded (no promise: the caller
   * matches them when applied). Otherwise NOT_LEADER (with the leader's id when known), or
   * PROPOSAL_DROPPED with a reason: transfer in progress, uncommitted bytes over the bound.
   */
  propose(entries: readonly ProposalEntry[]): Outcome<ProposalPlacement> {
    this.checkNoReadyOutstanding('propose');
    const error = proposalError(entries);
    if (error !== null) return failure(error);
    const state = this.state;
    if (state.role === 'leader') return proposeAsLeader(state, entries);
    if (state.leader !== null && state.config.forwardToLeader) {
      state.send({ type: 'propose', from: state.id, to: state.leader, term: state.term, entries });
      return success({ kind: 'forwarded', leader: state.leader });
    }
    return failure(this.notLeader());
  }

  private notLeader(): FalconError {
    const leader = this.state.leader;
    return falconError('NOT_LEADER', leader === null ? `${this.state.id} is not the leader and knows none` : `the leader is ${leader}`,
      { leader: leader ?? '' });
  }

  /**
   * Asks for a linearizable read. When confirmed, a ReadState { context, index } comes out in a
   * Ready (on a follower: after the leader confirmed it); serve the read once applied ≥ index.
   * Unconfirmed requests are forgotten when leadership changes: the caller times out and retries.
   */
  readIndex(context: string): Outcome<null> {
    this.checkNoReadyOutstanding('readIndex');
    const state = this.state;
    if (state.role === 'leader') {
      const error = readIndexAsLeader(state, context, state.id);
      return error === null ? accepted : failure(error);
    }
    if (state.leader !== null && state.config.forwardToLeader) {
      state.send({ type: 'readIndex', from: state.id, to: state.leader, term: state.term, context });
      return accepted;
    }
    return failure(this.notLeader());
  }

  /** Hands leadership to `target` once it is caught up (thesis §3.10); proposals are dropped
   *  meanwhile, and the transfer is abandoned after an election timeout. */
  transferLeadership(target: NodeId): Outcome<null> {
    this.checkNoReadyOutstanding('transferLeadership');
    if (this.state.role !== 'leader') return failure(this.notLeader());
    const error = transferLeadership(this.state, target);
    return error === null ? accepted : failure(error);
  }

  /** On the leader: the followers in the order they would take over (most caught up first, none
   *  catching up; see election.ts), e.g. to pick a leadership-transfer target. Empty elsewhere. */
  successorRanking(): NodeId[] {
    return this.state.role === 'leader' ? successorRanking(this.state) : [];
  }

  /** The transport saw `peer`'s connection close (DESIGN.md §7a); see election.ts. */
  peerDisconnected(peer: NodeId): void {
    this.checkNoReadyOutstanding('peerDisconnected');
    // A transfer to a node whose connection closed would only wait out its timeout: that node is
    // down or stopping too (a whole cluster stopped at once).
    if (this.state.role === 'leader' && this.state.leadTransferee === peer) abandonTransfer(this.state);
    onPeerDisconnected(this.state, peer);
    if (this.state.inLease() || this.state.heldVotes.size === 0) return;
    // The lease is gone: answer what it held, under the rules of now (a late copy of a message).
    const held = [...this.state.heldVotes.values()];
    this.state.heldVotes.clear();
    for (const { message } of held) this.step(message);
  }

  /** Leader: the lowest snapshot index a follower was sent and has not answered for yet (its
   *  install may be slow), or null. The caller keeps the log after it: the follower goes on from
   *  there once it installed the snapshot. */
  lowestSnapshotIndexAwaited(): number | null {
    if (this.state.role !== 'leader') return null;
    let lowest: number | null = null;
    for (const [peer, progress] of this.state.progress) {
      if (peer === this.state.id || progress.state !== 'snapshot') continue;
      lowest = Math.min(lowest ?? progress.pendingSnapshotIndex, progress.pendingSnapshotIndex);
    }
    return lowest;
  }

  /**
   * Entries the storage answered 'unavailable' for are in memory now (log-storage.ts): send them
   * at once to the followers that wait for them, instead of at their next heartbeat answer, which
   * would hold a follower catching up from disk to one read per heartbeat interval.
   */
  entriesLoaded(): void {
    this.checkNoReadyOutstanding('entriesLoaded');
    // Flow control decides as for any send: a follower in snapshot state, or with a full window,
    // is paused, and one with nothing to send gets nothing.
    if (this.state.role === 'leader') broadcastAppend(this.state, false);
  }

  /** This node is stopping: from now on it never campaigns (a leader may still hand over). */
  retire(): void {
    this.state.retiring = true;
    this.state.fastCampaign = null;
  }

  /** The transport established a connection to `peer`: a leader tells it at once what its
   *  heartbeats say (commit, successor ranking), so a restarted follower need not wait for one. */
  peerConnected(peer: NodeId): void {
    this.checkNoReadyOutstanding('peerConnected');
    if (this.state.role === 'leader') sendHeartbeat(this.state, peer);
  }

  /** The transport delivered (or failed to deliver) the snapshot sent to `peer`. */
  reportSnapshot(peer: NodeId, delivered: boolean): void {
    this.checkNoReadyOutstanding('reportSnapshot');
    if (this.state.role === 'leader') reportSnapshot(this.state, peer, delivered);
  }

  /** A write handed out by a Ready is durable (with every earlier one); see ready.ts. */
  onDurable(report: DurableReport): void {
    this.checkNoReadyOutstanding('onDurable');
    this.state.log.onDurable(report);
    if (this.state.role === 'leader') onOwnDurable(this.state);
    else maybeFinishCatchUp(this.state);
  }

  /** The caller cleared the needs-catch-up marker durably, as the Ready's `needsCatchUpCleared`
   *  asked: from now on this node votes, campaigns and counts toward commit (catch-up.ts). */
  onNeedsCatchUpCleared(): void {
    this.checkNoReadyOutstanding('onNeedsCatchUpCleared');
    assert(this.state.catchUp === 'reported', `onNeedsCatchUpCleared on ${this.state.id} while its catch-up is ${this.state.catchUp}`);
    this.state.catchUp = 'none';
  }

  private hardStateChanged(): boolean {
    const persisted = this.persistedHardState;
    const state = this.state;
    return persisted.term !== state.term || persisted.vote !== state.vote || persisted.commit !== state.log.committed;
  }

  hasReady(): boolean {
    const state = this.state;
    return state.messagesNow.length > 0 || state.messagesAfterDurable.length > 0 || state.readStates.length > 0
      || this.hardStateChanged() || state.log.snapshotToPersist() !== null || state.log.hasEntriesToPersist()
      || state.log.hasEntriesToApply() || state.catchUp === 'caughtUp';
  }

  ready(): Ready {
    this.checkNoReadyOutstanding('ready');
    const state = this.state;
    const ready: Ready = {
      hardState: this.hardStateChanged() ? state.hardState() : null,
      snapshot: state.log.snapshotToPersist(),
      entries: state.log.entriesToPersist(),
      messages: state.messagesNow,
      messagesAfterDurable: state.messagesAfterDurable,
      committedEntries: state.log.entriesToApply(state.config.applyBytesMax),
      readStates: state.readStates,
      needsCatchUpCleared: state.catchUp === 'caughtUp',
    };
    if (state.catchUp === 'caughtUp') state.catchUp = 'reported';
    state.messagesNow = [];
    state.messagesAfterDurable = [];
    state.readStates = [];
    this.readyOutstanding = ready;
    return ready;
  }

  advance(ready: Ready): void {
    assert(this.readyOutstanding === ready, `advance() with a Ready that is not the one outstanding on ${this.state.id}`);
    this.readyOutstanding = null;
    if (ready.hardState !== null) this.persistedHardState = ready.hardState;
    this.state.log.handOut(ready.snapshot, ready.entries);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) this.state.log.markApplied(lastApplied.index);
  }

  /** The (index, term) of a leader's snapshot this node took and has not yet handed out in a
   *  Ready, or null. A caller that streams snapshot bodies keeps that body until the Ready. */
  snapshotTaken(): { readonly index: number; readonly term: number } | null {
    const snapshot = this.state.log.snapshotToPersist();
    return snapshot === null ? null : { index: snapshot.index, term: snapshot.term };
  }

  /** The highest index the caller may compact its log up to (applied and durable). */
  compactableIndex(): number {
    return this.state.log.compactableIndex();
  }

  /** The term of the entry at `index` in this node's log, or -1 when compacted or absent. */
  logTerm(index: number): number {
    return this.state.log.termAt(index);
  }

  status(): RaftStatus {
    return raftStatusOf(this.state);
  }
}
