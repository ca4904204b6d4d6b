/**
 * One established connection to a peer: frames in, batched frames out.
 *
 * Outgoing messages are encoded at once and queued; the queue leaves in ONE socket write when it
 * holds `batchMaxEvents` messages or `batchMaxDelayMs` after the first one was queued, whichever
 * comes first (one timer per batch, never per message). The queue is bounded in messages and
 * bytes: past either bound `send` refuses (Raft retransmits, so a refused message is a delay, not
 * a loss). Incoming bytes go through FrameDecoder; a malformed frame or undecodable body closes
 * the connection with a log line — a peer's bytes never crash the node.
 *
 * Runs on: Replicator thread.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../logging/logger.js';
import { createCodec, type Packr, type Unpackr } from '../codec/msgpack.js';
import { FrameDecoder, encodeFrames } from './frame-decoder.js';

export interface PeerConnectionLimits {
  readonly frameBytesMax: number;
  readonly batchMaxEvents: number;
  readonly batchMaxDelayMs: number;
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
      const error = this.decoder.push(chunk, (body) => {
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
    if (this.queue.length >= this.limits.batchMaxEvents) this.flush();
    else if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), this.limits.batchMaxDelayMs);
    return true;
  }

  /** Writes everything queued in one socket write. */
  flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.queue.length === 0 || this.closed) return;
    const frames = encodeFrames(this.queue);
    this.stats.messagesSent += this.queue.length;
    this.stats.batchesSent += 1;
    this.stats.bytesSent += frames.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.socket.write(frames);
  }

  /** Bytes written to the socket that the kernel has not taken yet (socket-level backpressure). */
  get socketBufferedBytes(): number {
    return this.socket.writableLength;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
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
