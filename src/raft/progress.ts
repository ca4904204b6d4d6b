/**
 * What a leader knows about one follower, and the follower's flow control (Raft §5.3, thesis
 * §4.2.1 and §10.2.1 pipelining):
 *
 * - probe:     the leader does not know where the follower's log matches; one append per
 *              heartbeat round until an answer says where.
 * - replicate: the log matches up to `match`; appends are pipelined optimistically (`next`
 *              moves on send) within `inflightMessagesMax` messages AND `inflightBytesMax` bytes.
 * - snapshot:  the follower needs entries that were compacted; a snapshot is on its way and
 *              nothing else is sent until it is acknowledged, reported failed, or timed out.
 *
 * Invariants: 0 ≤ match < next; in replicate state the inflight window holds strictly
 * increasing last indexes, all ≥ next - the window's span; bytesInFlight equals the sum of the
 * window's bytes.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { assert } from '../errors.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded ring of (last index, bytes) of appends sent and not yet acknowledged. */
export class Inflights {
  private readonly messagesMax: number;
  private readonly bytesMax: number;
  private readonly lastIndexes: number[];
  private readonly sizesBytes: number[];
  private start = 0;
  private count = 0;
  private bytesInFlight = 0;

  constructor(messagesMax: number, bytesMax: number) {
    this.messagesMax = messagesMax;
    this.bytesMax = bytesMax;
    this.lastIndexes = new Array<number>(messagesMax).fill(0);
    this.sizesBytes = new Array<number>(messagesMax).fill(0);
  }

  get messages(): number {
    return this.count;
  }

  get bytes(): number {
    return this.bytesInFlight;
  }

  isFull(): boolean {
    return this.count >= this.messagesMax || this.bytesInFlight >= this.bytesMax;
  }

  add(lastIndex: number, bytes: number): void {
    assert(this.count < this.messagesMax, `inflight window full (${this.count} of ${this.messagesMax} messages)`);
    const slot = (this.start + this.count) % this.messagesMax;
    this.lastIndexes[slot] = lastIndex;
    this.sizesBytes[slot] = bytes;
    this.count++;
    this.bytesInFlight += bytes;
  }

  /** Frees every append whose last index is ≤ `index`. */
  freeUpTo(index: number): void {
    while (this.count > 0 && (this.lastIndexes[this.start] ?? 0) <= index) {
      this.bytesInFlight -= this.sizesBytes[this.start] ?? 0;
      this.start = (this.start + 1) % this.messagesMax;
      this.count--;
    }
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytesInFlight = 0;
  }
}

export class Progress {
  /** The highest index known to be durable on the follower and to match the leader's log.
   *  Invariant: 0 ≤ match < next. */
  match = 0;
  /** The index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append was sent and no answer or heartbeat response came since. */
  probeSent = false;
  /** Snapshot state: the index of the snapshot sent, and ticks since it was sent. */
  pendingSnapshotIndex = 0;
  snapshotElapsedTicks = 0;
  /** Heard from in the current check-quorum period. */
  recentActive = false;
  /** The highest commit index this follower can have learned from what was sent to it. */
  sentCommit = 0;
  /** An append answer came since the last heartbeat answer: the pipeline is moving. */
  appendAnsweredSinceHeartbeat = false;
  /** The newest ReadIndex round this follower acknowledged (in this leader's term). */
  readRoundAcked = 0;
  /** Its last answer said it is catching up (catch-up.ts): not counted toward commit. */
  catchingUp = false;
  /** The newest start of the follower heard from (its answers' bootId); older answers are void. */
  bootId = 0;
  /** While it catches up: this leader's last index when it heard the new start; the follower
   *  must match up to here before it may clear its marker (0: not catching up). */
  catchUpFloor = 0;
  /** While it catches up: the heartbeat round, started when this leader heard the new start,
   *  that a quorum without catching-up nodes must confirm before `catchUpFloor` is sent (0: none). */
  catchUpRound = 0;
  /** How often it answered with a log ending below its match, without the catch-up marker: it
   *  lost entries it had acknowledged (a disk that lied). Reported in status; never expected. */
  logLossesSeen = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightMessagesMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  private checkInvariant(): void {
    assert(this.match >= 0 && this.match < this.next, `progress invariant 0 ≤ match < next broken: match ${this.match}, next ${this.next}`);
  }

  becomeProbe(): void {
    // Why from the snapshot: a follower that was sent a snapshot most likely installed it.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshotIndex + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflights.reset();
    this.checkInvariant();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.pendingSnapshotIndex = 0;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.pendingSnapshotIndex = snapshotIndex;
    this.snapshotElapsedTicks = 0;
    this.inflights.reset();
  }

  /** The follower lost part of its log (it says it is catching up): what it matched is void.
   *  Probe from `next` (the leader's last index + 1); its rejections lead back to its log's end. */
  restartAfterLogLoss(next: number): void {
    this.match = 0;
    this.next = next;
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.sentCommit = 0;
    this.inflights.reset();
    this.checkInvariant();
  }

  /** The follower holds everything up to `index`. Returns true when that is news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append whose prevIndex was `rejectedIndex`; `matchHint` is where the
   * leader now expects the logs to match. Returns false when the rejection is stale (an answer to
   * an older append, already superseded).
   */
  maybeDecreaseTo(rejectedIndex: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejectedIndex <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejectedIndex) return false;
    this.next = Math.max(Math.min(rejectedIndex, matchHint + 1), this.match + 1);
    this.probeSent = false;
    this.checkInvariant();
    return true;
  }

  /** Sending is paused: the probe is out, the window is full, or a snapshot is on its way. */
  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.isFull();
    return true;
  }

  /** Records an append of entries up to `lastIndex` (`bytes` of payload) just sent. */
  sentEntries(lastIndex: number, bytes: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.inflights.add(lastIndex, bytes);
        this.next = lastIndex + 1;
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
