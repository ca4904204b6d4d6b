/**
 * One client connection of the client server (client-server.ts): replies queued during a turn and
 * written together, a bounded send queue, and the two ways a connection ends on the node's side.
 *
 * Replies: `send` encodes at once and queues the frame; the server writes every connection's queue
 * in one socket write per turn (`flush`, on one `setImmediate` for all connections), so the replies
 * a batch of requests gets leave together.
 *
 * Bound: the bytes queued here plus the bytes Node holds for the socket (`writableLength`, what the
 * kernel has not taken) may not pass `sendQueueBytesMax`. A client that stops reading fills the
 * kernel's buffers, then this bound: the node cuts it off with a log line instead of buffering
 * without bound (its requests' effects stand; it retries on a new connection).
 *
 * Ends: `fail` answers an error frame about the stream (FRAME_TOO_LARGE, MALFORMED_FRAME), flushes
 * what is queued and closes after it (`end`, then a destroy after `closeGraceMs` in case the
 * client does not read); `close` destroys at once.
 *
 * Invariants: nothing is queued or written once `closing`; `queuedBytes` is the sum of the queued
 * frames' bytes.
 *
 * Runs on: Dispatcher thread.
 */
import type { Socket } from 'node:net';
import type { Packr } from '../codec/msgpack.js';
import { falconError, type FalconError } from '../errors.js';
import { connectionErrorId, errorReply } from './client-frames.js';
import { encodeFrames, frameHeaderBytes } from './frame-decoder.js';

/** After an error frame, how long a client that does not read it may keep the socket open. */
const closeGraceMs = 1_000;

/** What a connection shares with its server: limits, codec, counters and the turn's flush. */
export interface ClientConnectionHost {
  readonly frameBytesMax: number;
  readonly sendQueueBytesMax: number;
  readonly packr: Packr;
  readonly counters: ClientServerCounters;
  /** The connection has frames queued: write them at the end of this turn. */
  markDirty(connection: ClientConnection): void;
  /** The connection is closed (once), with why. */
  onClosed(connection: ClientConnection, reason: string): void;
  /** A log line about this connection's end on the node's side. */
  log(connection: ClientConnection, reason: string, fields: Readonly<Record<string, string | number>>): void;
}

/** Totals since the server started (connectionsOpen is the number now). For metrics. */
export interface ClientServerCounters {
  connectionsOpen: number;
  connectionsAccepted: number;
  /** Refused at accept because connectionsMax were open. */
  connectionsRefused: number;
  framesIn: number;
  framesOut: number;
  /** Socket writes of replies: framesOut / writes is how well replies batch. */
  writes: number;
  bytesIn: number;
  bytesOut: number;
  /** Well-formed frames with a bad field, answered with an error reply (connection kept). */
  invalidRequests: number;
  /** Oversize or malformed frames, answered with an error frame and a closed connection. */
  badFrames: number;
  /** Connections cut off because their send queue reached sendQueueBytesMax. */
  slowClientsCut: number;
  /** Replies larger than a frame may be, answered with RESOURCE_EXHAUSTED instead (a node bug). */
  oversizeReplies: number;
}

export class ClientConnection {
  /** This server's number for the connection, for logs and the handler's own tables. */
  readonly connectionId: number;
  readonly remoteAddress: string;
  private readonly socket: Socket;
  private readonly host: ClientConnectionHost;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private closing = false;
  private closed = false;

  constructor(connectionId: number, socket: Socket, host: ClientConnectionHost) {
    this.connectionId = connectionId;
    this.socket = socket;
    this.host = host;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
  }

  /**
   * Queues `reply` for this turn's write. False when the connection is closing or closed (the
   * reply is dropped), or when it would pass the send-queue bound (the connection is cut off).
   */
  send<Reply extends { readonly id: number }>(reply: Reply): boolean {
    if (this.closing) return false;
    let body = this.host.packr.pack(reply);
    if (body.length > this.host.frameBytesMax) {
      this.host.counters.oversizeReplies += 1;
      body = this.host.packr.pack(errorReply(reply.id, falconError('RESOURCE_EXHAUSTED',
        `the reply of ${body.length} bytes exceeds the frame maximum of ${this.host.frameBytesMax} bytes; ask for fewer jobs`,
        { replyBytes: body.length, frameBytesMax: this.host.frameBytesMax })));
    }
    const heldBytes = this.queuedBytes + this.socket.writableLength + frameHeaderBytes + body.length;
    if (heldBytes > this.host.sendQueueBytesMax) {
      this.host.counters.slowClientsCut += 1;
      this.host.log(this, 'cutting off a client that does not read its replies',
        { heldBytes, sendQueueBytesMax: this.host.sendQueueBytesMax });
      this.close('send queue full');
      return false;
    }
    this.enqueue(body);
    return true;
  }

  /** Bytes queued here and held by the socket, not yet taken by the kernel. */
  get heldBytes(): number {
    return this.queuedBytes + (this.closed ? 0 : this.socket.writableLength);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Writes everything queued in one socket write. */
  flush(): void {
    if (this.queue.length === 0 || this.closed) return;
    const frames = encodeFrames(this.queue);
    this.host.counters.framesOut += this.queue.length;
    this.host.counters.writes += 1;
    this.host.counters.bytesOut += frames.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.socket.write(frames);
  }

  /** Answers an error frame about the stream (id `id`, 0 when unknown), flushes, and closes. */
  fail(error: FalconError, id = connectionErrorId): void {
    if (this.closing) return;
    this.host.log(this, 'closing a client connection after a bad frame', { code: error.code, message: error.message });
    this.enqueue(this.host.packr.pack(errorReply(id, error)));
    this.closing = true;
    this.flush();
    this.socket.end();
    setTimeout(() => this.close('bad frame'), closeGraceMs).unref();
  }

  /** Closes at once, dropping what is queued. */
  close(reason: string): void {
    this.closing = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (!this.closed) this.socket.destroy();
    this.markClosed(reason);
  }

  /** The socket closed (either side): the server forgets the connection, once. */
  markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.host.onClosed(this, reason);
  }

  private enqueue(body: Uint8Array): void {
    this.queue.push(body);
    this.queuedBytes += frameHeaderBytes + body.length;
    if (this.queue.length === 1) this.host.markDirty(this);
  }
}
