/**
 * One established connection to a peer: frames in, batched frames out.
 *
 * Outgoing messages are encoded at once and queued. When they leave (the 64-event / 1-ms rule is
 * a bound on the wait, never a delay added to a lone message):
 * - a link with no frame awaiting its reply sends at once: the queue leaves on `setImmediate`, so
 *   everything sent in the same event-loop turn still goes out as ONE frame;
 * - while a frame awaits its reply, messages queue, and the queue leaves in one socket write when
 *   the reply comes, or `batchDelayMsMax` after the first queued message, or when it holds
 *   `batchEventsMax` messages — whichever comes first (one timer per batch, never per message);
 * - `batchDelayMsMax: 0` means at once: never a timer, always the `setImmediate` path.
 *
 * "Awaiting its reply" is a transport-level notion, since the transport knows nothing of Raft:
 * the link awaits a reply from the moment it writes a frame until ANY frame arrives from the peer
 * on that connection. This is Nagle's rule at the level of messages. Replies cannot be matched to
 * frames one for one (a peer answers several frames with one, or sends on its own), so a counter
 * of frames in flight would drift; one flag cannot. Write completion (`drain` or the write
 * callback) was rejected: on a LAN the kernel takes the bytes at once, so it would signal "idle"
 * after every write and no batch would ever form under load, whereas the round trip is exactly
 * the window in which a busy link has new messages to gather. A peer that never answers costs no
 * more than the old rule: each frame waits at most `batchDelayMsMax`. Both ends apply the same
 * rule, so a follower's replies to appends leave at once too when its link is idle.
 *
 * The queue is bounded in messages and bytes: past either bound `send` refuses (Raft retransmits,
 * so a refused message is a delay, not a loss). Incoming bytes go through FrameDecoder; a
 * malformed frame or undecodable body closes the connection with a log line — a peer's bytes
 * never crash the node.
 *
 * Invariants: `flushImmediate` and `flushTimer` are both unset whenever the queue is empty;
 * `flushTimer` is only ever set while `awaitingReply` and `batchDelayMsMax > 0`.
 *
 * Runs on: Replicator thread.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../logging/logger.js';
import { createCodec, type Packr, type Unpackr } from '../codec/msgpack.js';
import { FrameDecoder, encodeFrames } from './frame-decoder.js';

export interface PeerConnectionLimits {
  readonly frameBytesMax: number;
  readonly batchEventsMax: number;
  readonly batchDelayMsMax: number;
  readonly sendQueueMessagesMax: number;
  readonly sendQueueBytesMax: number;
}

export interface PeerConnectionStats {
  messagesSent: number;
  messagesReceived: number;
  batchesSent: number;
  bytesSent: number;
  sendRefusals: number;
}

export class PeerConnection {
  readonly peerId: string;
  readonly stats: PeerConnectionStats = { messagesSent: 0, messagesReceived: 0, batchesSent: 0, bytesSent: 0, sendRefusals: 0 };
  private readonly socket: Socket;
  private readonly limits: PeerConnectionLimits;
  private readonly logger: Logger;
  private readonly packr: Packr;
  private readonly unpackr: Unpackr;
  private readonly decoder: FrameDecoder;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushImmediate: NodeJS.Immediate | undefined;
  /** A frame was written and no frame has come back from the peer since (see the header). */
  private awaitingReply = false;
  private closed = false;

  constructor(peerId: string, socket: Socket, limits: PeerConnectionLimits, logger: Logger) {
    this.peerId = peerId;
    this.socket = socket;
    this.limits = limits;
    this.logger = logger;
    const codec = createCodec();
    this.packr = codec.packr;
    // Binary values decode as views into what is unpacked; attach() unpacks a private copy of each
    // frame (one copy per frame, not one allocation per entry payload), never the decoder's
    // buffer, which the next chunk from the socket overwrites.
    this.unpackr = codec.unpackr;
    this.decoder = new FrameDecoder(limits.frameBytesMax);
    socket.setNoDelay(true);
  }

  /** Starts reading; `onMessage` gets each decoded message, `onClose` fires once. */
  attach(onMessage: (message: unknown) => void, onClose: (reason: string) => void): void {
    this.socket.on('data', (chunk: Buffer) => {
      let framesIn = 0;
      const error = this.decoder.push(chunk, (body) => {
        framesIn += 1;
        let message: unknown;
        try {
          message = this.unpackr.unpack(Buffer.from(body));
        } catch (decodeError) {
          this.close(`undecodable frame body: ${String(decodeError)}`);
          return;
        }
        this.stats.messagesReceived += 1;
        if (!this.closed) onMessage(message);
      });
      if (error !== undefined) this.close(`${error.code}: ${error.message}`);
      else if (framesIn > 0) this.onReply();
    });
    this.socket.on('error', (error) => this.close(`socket error: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    this.socket.on('close', () => {
      this.close('connection closed by the peer');
      onClose(this.closeReason);
    });
  }

  private closeReason = '';

  /** Queues `message`; false when the send queue is at its bound (counted in stats). */
  send(message: unknown): boolean {
    if (this.closed) return false;
    const body = this.packr.pack(message);
    if (body.length > this.limits.frameBytesMax) throw new RangeError(`message of ${body.length} bytes exceeds frameBytesMax ${this.limits.frameBytesMax}`);
    if (this.queue.length >= this.limits.sendQueueMessagesMax || this.queuedBytes + body.length > this.limits.sendQueueBytesMax) {
      this.stats.sendRefusals += 1;
      return false;
    }
    this.queue.push(body);
    this.queuedBytes += body.length;
    if (this.queue.length >= this.limits.batchEventsMax) this.flush();
    else if (!this.awaitingReply || this.limits.batchDelayMsMax === 0) this.flushSoon();
    else if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), this.limits.batchDelayMsMax);
    return true;
  }

  /** Writes everything queued in one socket write; the link then awaits a reply. */
  flush(): void {
    this.cancelFlush();
    if (this.queue.length === 0 || this.closed) return;
    const frames = encodeFrames(this.queue);
    this.stats.messagesSent += this.queue.length;
    this.stats.batchesSent += 1;
    this.stats.bytesSent += frames.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.awaitingReply = true;
    this.socket.write(frames);
  }

  /** A frame came from the peer: the link is idle again, and what waited leaves at once. */
  private onReply(): void {
    this.awaitingReply = false;
    if (this.queue.length === 0 || this.closed) return;
    this.cancelFlush();
    this.flushSoon();
  }

  /** At once, but after this turn's other sends: they join the same frame. */
  private flushSoon(): void {
    if (this.flushImmediate === undefined) this.flushImmediate = setImmediate(() => this.flush());
  }

  private cancelFlush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate);
    this.flushTimer = undefined;
    this.flushImmediate = undefined;
  }

  /** Bytes written to the socket that the kernel has not taken yet (socket-level backpressure). */
  get socketBufferedBytes(): number {
    return this.socket.writableLength;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.cancelFlush();
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (reason !== 'connection closed by the peer' && reason !== 'transport stopping') {
      this.logger.warn({ peer: this.peerId, reason }, 'closing peer connection');
    }
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
