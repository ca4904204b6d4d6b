/**
 * The sending side of one bounded link that never drops and never reorders: messages go straight
 * into the ring while it has room; once one does not fit, it and every message after it wait in a
 * FIFO backlog, and `pump` moves them into the ring in order as room appears.
 *
 * Why a class of its own: a send that waits for room while later sends go straight in lets the
 * later ones overtake it (issue 7, point 9: a WAL append deferred on a full ring reached the WAL
 * after later appends, and the WAL writer stopped the node). Ordering is therefore a property of
 * the link's sender, not of each caller.
 *
 *   send(m):  backlog empty and trySend(m) ─── true ──> in the ring ('sent')
 *             otherwise ──────────────────────────────> backlog tail ('queued')
 *   pump():   while backlog non-empty and trySend(head): remove head
 *
 * Invariants: every message handed to `send` reaches `trySend` successfully exactly once, in the
 * order `send` received them; `trySend` is never called with a message while an earlier one is in
 * the backlog; the backlog holds at most `backlogMessagesMax` messages and `backlogBytesMax` bytes.
 * A send beyond either bound is refused with RING_FULL (nothing is queued): the caller's receiver
 * is stuck, not slow, and the sending actor fails (see ordered-ring-sender.ts).
 *
 * Pure: no I/O, no timers, no clock. Whoever owns the ring calls `pump` when room may have
 * appeared (a ring wake-up in production, a simulated consumer step in the simulator).
 *
 * Runs on: the thread of the link's sending side (or the simulator's loop).
 */
import { failure, falconError, success, type Outcome } from '../errors.js';

export interface OrderedSenderOptions<M> {
  /** Writes one message into the ring now; false when it does not fit (the ring is full). */
  readonly trySend: (message: M) => boolean;
  /** Bytes the message holds while it waits (its encoded size), for the byte bound. */
  readonly bytesOf: (message: M) => number;
  /** Most messages waiting at once; a positive integer. */
  readonly backlogMessagesMax: number;
  /** Most bytes waiting at once (per `bytesOf`); a positive integer. */
  readonly backlogBytesMax: number;
  /** Names the link in errors, e.g. `replicator→walWriter`. */
  readonly link: string;
}

/** 'sent': it went straight into the ring; 'queued': it waits in the backlog, behind older ones. */
export type Delivery = 'sent' | 'queued';

const sentOutcome: Outcome<Delivery> = success('sent');
const queuedOutcome: Outcome<Delivery> = success('queued');
/** Consumed slots at the front of the backlog array before it is compacted. */
const compactAfterSlots = 1024;

export class OrderedSender<M> {
  private readonly options: OrderedSenderOptions<M>;
  /** Waiting messages are `backlog[backlogHead..]`, oldest first. */
  private backlog: M[] = [];
  private backlogHead = 0;
  /** Sum of bytesOf over the waiting messages. Invariant: 0 when the backlog is empty. */
  private backlogBytesNow = 0;
  private queuedCountTotal = 0;

  constructor(options: OrderedSenderOptions<M>) {
    for (const field of ['backlogMessagesMax', 'backlogBytesMax'] as const) {
      const value = options[field];
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`options.${field} must be a positive integer, got ${value}`);
    }
    this.options = options;
  }

  /** Messages waiting for room. */
  get backlogMessages(): number {
    return this.backlog.length - this.backlogHead;
  }

  /** Bytes waiting for room. */
  get backlogBytes(): number {
    return this.backlogBytesNow;
  }

  /** How many sends, since construction, had to wait in the backlog. */
  get queuedCount(): number {
    return this.queuedCountTotal;
  }

  /** The oldest waiting message (the next one `pump` writes), or undefined when none waits. */
  peek(): M | undefined {
    return this.backlogHead < this.backlog.length ? this.backlog[this.backlogHead] : undefined;
  }

  /**
   * Sends `message` after every message sent before it. Never drops: it goes into the ring now or
   * waits in the backlog; a backlog already at its bound refuses it with RING_FULL.
   */
  send(message: M): Outcome<Delivery> {
    if (this.backlogMessages === 0 && this.options.trySend(message)) return sentOutcome;
    const bytes = this.options.bytesOf(message);
    const { backlogMessagesMax, backlogBytesMax, link } = this.options;
    if (this.backlogMessages + 1 > backlogMessagesMax || this.backlogBytesNow + bytes > backlogBytesMax) {
      return failure(falconError('RING_FULL',
        `link ${link}: ${this.backlogMessages} messages (${this.backlogBytesNow} bytes) already wait for room and one more of ${bytes} bytes ` +
        `would pass the bound of ${backlogMessagesMax} messages / ${backlogBytesMax} bytes; the receiving actor has stopped taking messages`,
        { link, backlogMessages: this.backlogMessages, backlogBytes: this.backlogBytesNow, messageBytes: bytes, backlogMessagesMax, backlogBytesMax }));
    }
    this.backlog.push(message);
    this.backlogBytesNow += bytes;
    this.queuedCountTotal += 1;
    return queuedOutcome;
  }

  /**
   * Moves waiting messages into the ring, oldest first, until the backlog is empty or the ring is
   * full again. Call it whenever room may have appeared; calling it without room is harmless.
   * Returns how many it moved. Bounded by the backlog's length.
   */
  pump(): number {
    let moved = 0;
    while (this.backlogHead < this.backlog.length) {
      const head = this.backlog[this.backlogHead] as M;
      if (!this.options.trySend(head)) break;
      this.backlog[this.backlogHead] = undefined as M; // let the message be collected
      this.backlogHead += 1;
      this.backlogBytesNow -= this.options.bytesOf(head);
      moved += 1;
    }
    this.compact();
    return moved;
  }

  /** Drops consumed slots: all of them when empty, else once they are many and most of the array. */
  private compact(): void {
    if (this.backlogHead === this.backlog.length) {
      this.backlog = [];
      this.backlogHead = 0;
      this.backlogBytesNow = 0;
      return;
    }
    if (this.backlogHead >= compactAfterSlots && this.backlogHead * 2 >= this.backlog.length) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
  }
}
