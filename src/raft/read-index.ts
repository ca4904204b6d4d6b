/**
 * The leader's queue of ReadIndex requests (thesis §6.4): a read may be served at index `i` once
 * the leader has confirmed, after the request arrived, that it was still the leader — a majority
 * answered a heartbeat round started after the request. Rounds are numbered; every heartbeat
 * carries the newest round and followers echo it, so one answer confirms every older round too.
 *
 * Requests that arrive before the leader committed an entry in its own term wait: until then
 * its commit index may be behind entries a previous leader committed.
 *
 * Invariants: `pending` is ordered by round (non-decreasing); waiting + pending ≤ pendingMax;
 * round only grows (across terms too, so that an old answer can never confirm a new round).
 *
 * Runs on: the thread that owns the RaftNode.
 */
import type { NodeId } from '../log/node-id.js';

/** A confirmed read: serve `context` once the state machine has applied `index`. */
export interface ReadState {
  readonly context: string;
  readonly index: number;
}

export interface PendingRead {
  readonly context: string;
  /** Who asked: this node, or the follower that forwarded it. */
  readonly from: NodeId;
  readonly index: number;
  readonly round: number;
}

export class ReadIndexTracker {
  private readonly pendingMax: number;
  private waiting: { context: string; from: NodeId }[] = [];
  private pending: PendingRead[] = [];
  /** The newest round started. */
  round = 0;
  /** The newest round a quorum confirmed (catching-up nodes not counted). */
  confirmedRound = 0;

  constructor(pendingMax: number) {
    this.pendingMax = pendingMax;
  }

  hasRoom(): boolean {
    return this.waiting.length + this.pending.length < this.pendingMax;
  }

  /** Holds a request until the leader has committed in its term. */
  wait(context: string, from: NodeId): void {
    this.waiting.push({ context, from });
  }

  takeWaiting(): { context: string; from: NodeId }[] {
    const taken = this.waiting;
    this.waiting = [];
    return taken;
  }

  /** Starts a new round for requests at `index`; returns the round to send in heartbeats. */
  startRound(requests: readonly { context: string; from: NodeId }[], index: number): number {
    this.round++;
    for (const request of requests) this.pending.push({ context: request.context, from: request.from, index, round: this.round });
    return this.round;
  }

  /** Removes and returns the requests whose round is ≤ `confirmedRound`. */
  confirm(confirmedRound: number): PendingRead[] {
    this.confirmedRound = Math.max(this.confirmedRound, confirmedRound);
    let count = 0;
    while (count < this.pending.length && (this.pending[count]?.round ?? Infinity) <= confirmedRound) count++;
    return count === 0 ? [] : this.pending.splice(0, count);
  }

  /** Forgets every request (leadership lost: the askers time out and retry elsewhere). */
  clear(): void {
    this.waiting = [];
    this.pending = [];
  }
}
