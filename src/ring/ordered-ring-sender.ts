/**
 * A RingSender whose sends never drop and never reorder: the OrderedSender (ordered-sender.ts)
 * over a real SPSC ring, with the ring's wake-up for room driving its `pump`. Every actor link
 * sends through one of these, so that no caller can let a later message overtake an earlier one.
 *
 *   send(m) ── encode ──> OrderedSender ── ring has room, nothing waiting ──> ring
 *                              │ otherwise: backlog (bounded), then one waker:
 *                              └─ loop: waitForSpace(head) → pump() ── until the backlog is empty
 *
 * Invariants: messages enter the ring in `send` order; at most one waker runs; the waker ends when
 * the backlog is empty or the sender is closed. A send past the backlog's bound throws a
 * FalconFailure(RING_FULL) naming the link and the numbers: the receiver is stuck, and the
 * sending actor fails (the supervisor's policy applies) rather than drop or reorder.
 *
 * Runs on: the thread of the actor that sends on this ring.
 */
import { FalconFailure } from '../errors.js';
import { OrderedSender } from './ordered-sender.js';
import { RingSender, type RingSenderOptions } from './ring-channel.js';

/**
 * Default bounds of one link's backlog, on top of the ring itself. A backlog grows only while the
 * receiver is slower than the sender: a follower catching up hands its WAL what the leader sends,
 * at most raft.inflightBytesMax (8 MiB by default) per round trip; a leader's uncommitted tail is
 * bounded by raft.uncommittedBytesMax (64 MiB). 256 MiB is several times what a slow disk explains:
 * past it the receiver has stopped, and failing the actor beats holding memory without bound.
 * 65,536 messages matches the Replicator's writes in flight (writesInFlightMax; each write is at
 * least one message) and the WAL writer's former reply outbox.
 */
export const linkBacklogMessagesMax = 65_536;
export const linkBacklogBytesMax = 256 * 1024 * 1024;
/** Longest single sleep of the waker before it looks again (keeps `close` prompt). */
const roomWaitMsMax = 1_000;

export interface OrderedRingSenderOptions extends RingSenderOptions {
  /** Names the link in errors, e.g. `replicator→walWriter`. */
  readonly link: string;
  readonly backlogMessagesMax?: number;
  readonly backlogBytesMax?: number;
}

export class OrderedRingSender<T> {
  private readonly sender: RingSender<T>;
  private readonly ordered: OrderedSender<Uint8Array>;
  private waking = false;
  private closed = false;

  constructor(buffer: SharedArrayBuffer, options: OrderedRingSenderOptions) {
    this.sender = new RingSender<T>(buffer, options);
    const producer = this.sender.producer;
    this.ordered = new OrderedSender<Uint8Array>({
      trySend: (record) => producer.tryWrite(record),
      bytesOf: (record) => record.byteLength,
      backlogMessagesMax: options.backlogMessagesMax ?? linkBacklogMessagesMax,
      backlogBytesMax: options.backlogBytesMax ?? linkBacklogBytesMax,
      link: options.link,
    });
  }

  /**
   * Sends `message` after everything sent before it: into the ring now (true) or, when the ring is
   * full or older messages still wait, into the backlog (false), which drains in order as the
   * receiver frees room. Throws FalconFailure(RING_FULL) past the backlog's bound.
   */
  send(message: T): boolean {
    const outcome = this.ordered.send(this.sender.encode(message));
    if (!outcome.ok) throw new FalconFailure(outcome.error);
    if (outcome.value === 'sent') return true;
    if (!this.waking) void this.wakeOnRoom();
    return false;
  }

  /** Messages and bytes waiting for room, and how many sends ever had to wait. */
  backlog(): { readonly messages: number; readonly bytes: number; readonly queuedTotal: number } {
    return { messages: this.ordered.backlogMessages, bytes: this.ordered.backlogBytes, queuedTotal: this.ordered.queuedCount };
  }

  /** No more messages: the waker stops, and the receiver's `run` ends once it drained the ring. */
  close(): void {
    this.closed = true;
    this.sender.close();
  }

  /**
   * The one waker: sleeps until the oldest waiting message fits, then pumps. Bounded by the
   * backlog (each turn moves at least one message, or sleeps at most roomWaitMsMax) and by close.
   */
  private async wakeOnRoom(): Promise<void> {
    this.waking = true;
    try {
      for (let head = this.ordered.peek(); head !== undefined && !this.closed; head = this.ordered.peek()) {
        await this.sender.producer.waitForSpace(head.byteLength, roomWaitMsMax);
        if (!this.closed) this.ordered.pump();
      }
    } finally {
      this.waking = false;
    }
  }
}
