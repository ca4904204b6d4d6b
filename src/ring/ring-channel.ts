/**
 * Typed messages over an SPSC ring: RingSender<T> encodes each message as one MessagePack record,
 * RingReceiver<T> decodes it. Encoding goes through src/codec/msgpack.ts (plain MessagePack, the
 * pure-JavaScript build of msgpackr).
 *
 * Invariants: one message is one record; a message the ring cannot hold at all
 * (encoded size > messageBytesMax) is a programmer error (RangeError with both sizes), because
 * callers bound what they send (frames and batches are size-checked where they enter the node).
 * Binary values (Buffer, Uint8Array) decode as copies: a decoded message never points into the
 * ring, whose bytes the producer reuses as soon as a drain returns.
 *
 * Runs on: the sending actor's thread (RingSender) and the receiving actor's thread (RingReceiver).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createCodec, Unpackr, type Packr } from '../codec/msgpack.js';
import { RingConsumer } from './ring-consumer.js';
import { RingProducer } from './ring-producer.js';

/**
 * Most messages `run` handles before it lets the event loop serve sockets and timers once: a
 * producer that never stops must not starve the receiving actor's I/O.
 */
export const receiveMessagesPerTurnMax = 4096;

export interface RingSenderOptions {
  /** An encoder of the caller's own (e.g. from createCodec()); by default a fresh one. */
  readonly packr?: Packr;
}

export class RingSender<T> {
  readonly producer: RingProducer;
  private readonly packr: Packr;
  private readonly encodedBatch: Uint8Array[] = [];

  constructor(buffer: SharedArrayBuffer, options: RingSenderOptions = {}) {
    this.producer = new RingProducer(buffer);
    this.packr = options.packr ?? createCodec().packr;
  }

  /** Largest encoded message this ring can carry. */
  get messageBytesMax(): number {
    return this.producer.recordBytesMax;
  }

  /** Encodes and writes one message. False when the ring is full right now (apply backpressure). */
  send(message: T): boolean {
    return this.producer.tryWrite(this.encode(message));
  }

  /**
   * Writes `messages[start..]` in order with one publish; returns how many were written (fewer
   * when the ring filled: resend the rest later). Bounded by `messages.length`.
   */
  sendMany(messages: readonly T[], start = 0): number {
    const batch = this.encodedBatch;
    batch.length = 0;
    for (let index = start; index < messages.length; index++) batch.push(this.encode(messages[index] as T));
    const written = this.producer.tryWriteMany(batch);
    batch.length = 0;
    return written;
  }

  /**
   * Writes one message, waiting (without blocking the event loop) for space when the ring is full.
   * Resolves false if no space came within `timeoutMs`; the caller reports RING_FULL.
   * It orders nothing: a `send` made while it waits overtakes it. A link where more sends follow
   * uses OrderedRingSender (ordered-ring-sender.ts), which keeps every message in order.
   */
  async sendAsync(message: T, timeoutMs: number = Number.POSITIVE_INFINITY): Promise<boolean> {
    const encoded = this.encode(message);
    if (this.producer.tryWrite(encoded)) return true;
    const deadlineMs = performance.now() + timeoutMs;
    // Bounded by the deadline: each turn waits for the consumer to free space.
    for (;;) {
      const remainingMs = deadlineMs - performance.now();
      if (!(await this.producer.waitForSpace(encoded.byteLength, remainingMs))) return false;
      if (this.producer.tryWrite(encoded)) return true;
    }
  }

  /** No more messages: the receiver's `run` ends once it has handled everything sent. */
  close(): void {
    this.producer.close();
  }

  /**
   * The message as the record `send` would write (a RangeError when the ring could never hold it).
   * It may be kept: msgpackr never writes over bytes it has returned (later encodings go after
   * them or into a fresh buffer).
   */
  encode(message: T): Uint8Array {
    const encoded = this.packr.pack(message);
    if (encoded.byteLength > this.producer.recordBytesMax) {
      throw new RangeError(
        `message encodes to ${encoded.byteLength} bytes; this ring of ${this.producer.capacityBytes} bytes ` +
          `carries at most ${this.producer.recordBytesMax} bytes per message`,
      );
    }
    return encoded;
  }
}

export interface RingReceiverOptions<T> {
  /**
   * Checks a decoded value and returns it typed. By default the value is trusted: both ends of a
   * ring are this process's own code, and RingSender<T> wrote a T.
   */
  readonly parse?: (value: unknown) => T;
}

export class RingReceiver<T> {
  readonly consumer: RingConsumer;
  private readonly unpackr: Unpackr;
  private readonly parse: ((value: unknown) => T) | undefined;
  private handler: ((message: T) => void) | undefined;
  /** Allocated once: drain calls it per record without creating a closure per call. */
  private readonly onRecord = (record: Uint8Array): void => {
    const value: unknown = this.unpackr.unpack(record);
    const message = this.parse === undefined ? (value as T) : this.parse(value);
    (this.handler as (message: T) => void)(message);
  };

  constructor(buffer: SharedArrayBuffer, options: RingReceiverOptions<T> = {}) {
    this.consumer = new RingConsumer(buffer);
    // The shared codec's options plus copyBuffers: by default msgpackr returns binary values as
    // views of the input, which here is ring memory that the producer is about to reuse.
    const { unpackr } = createCodec();
    this.unpackr = new Unpackr({ ...unpackr, copyBuffers: true });
    this.parse = options.parse;
  }

  /**
   * Decodes and hands to `handler` every message available now, up to `messagesMax`, releasing
   * ring space batch by batch. Returns the number handled. A handler that throws stops the call;
   * the message it threw on is delivered again by the next call.
   */
  receiveAll(handler: (message: T) => void, messagesMax: number = receiveMessagesPerTurnMax): number {
    this.handler = handler;
    let received = 0;
    // Bounded by messagesMax; each drain is bounded by the tail it loaded.
    while (received < messagesMax) {
      const drained = this.consumer.drain(this.onRecord, messagesMax - received);
      if (drained === 0) break;
      received += drained;
    }
    return received;
  }

  /**
   * Receives until the sender closes the ring (after every message was handled) or `signal`
   * aborts (check `signal.aborted` to tell which). Drains everything available, then sleeps with
   * Atomics.waitAsync, so the thread keeps serving its sockets and timers; after
   * receiveMessagesPerTurnMax messages in a row it yields one event-loop turn.
   *
   * Keep the thread alive yourself: a pending Atomics.waitAsync does not keep a Node 20 worker (or
   * the main thread) alive. A thread with nothing else holding its event loop open simply exits,
   * silently, in the middle of this loop. The actor runtime keeps a `parentPort` listener or
   * another handle open for as long as `run` should run.
   */
  async run(handler: (message: T) => void, signal?: AbortSignal): Promise<void> {
    const onAbort = (): void => this.consumer.interruptWait();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Bounded by the sender's close or the abort; every turn either handles messages or sleeps.
      while (signal?.aborted !== true) {
        const received = this.receiveAll(handler, receiveMessagesPerTurnMax);
        if (received === receiveMessagesPerTurnMax) {
          await yieldToEventLoop();
          continue;
        }
        if (this.consumer.isFinished()) return;
        await this.consumer.waitForData();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
