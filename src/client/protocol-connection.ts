/**
 * One client connection to one node's client port: frames (`[u32 big-endian length][MessagePack
 * map]`, docs/protocol.md), request ids, many requests in flight, replies matched by id in any
 * order. Requests made in one turn leave in one socket write. The building block of the SDK
 * (FalconClient) and of the benches and tests that drive a cluster as a user does.
 *
 * Depends on no server logic: only the protocol as docs/protocol.md writes it down, the codec,
 * the frame codec every connection shares (net/frame-decoder.ts), and `node:net`.
 *
 * Invariants: every request's promise settles exactly once: with its reply, with the error reply
 * as a `ProtocolError` of its code's class (errors.ts), or with an `UnavailableError` when the connection closes
 * first (its outcome is then unknown). Frames larger than `frameBytesMax` are refused both ways.
 *
 * Runs on: any thread of a client process.
 */
import { connect, type Socket } from 'node:net';
import { createCodec } from '../codec/msgpack.js';
import { FrameDecoder, encodeFrame } from '../net/frame-decoder.js';
import { InvalidArgumentError, UnavailableError, errorOfReply, type ProtocolError } from './errors.js';

export { ProtocolError } from './errors.js';

export interface ProtocolConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** The largest frame either way (the cluster's queue.clientFrameBytesMax). */
  readonly frameBytesMax?: number;
  readonly connectTimeoutMs?: number;
}

type Reply = Record<string, unknown> & { readonly id: number };

interface Pending {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: ProtocolError) => void;
}

const frameBytesMaxDefault = 4 * 1024 * 1024;

export class ProtocolConnection {
  private readonly socket: Socket;
  private readonly codec = createCodec();
  private readonly frameBytesMax: number;
  private readonly pending = new Map<number, Pending>();
  private readonly outgoing: Buffer[] = [];
  private flushScheduled = false;
  private readonly decoder: FrameDecoder;
  private nextId = 1;
  private closedBy: string | null = null;

  /** Frames received so far: a caller tells a busy node (answering others) from a silent one. */
  framesReceived = 0;
  /** When (Date.now() ms) the last frame came, or the connection opened. */
  lastFrameAtMs = Date.now();
  /** `host:port` of the node, for messages. */
  readonly address: string;

  private constructor(socket: Socket, frameBytesMax: number, address: string) {
    this.socket = socket;
    this.address = address;
    this.frameBytesMax = frameBytesMax;
    this.decoder = new FrameDecoder(frameBytesMax);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.fail('the connection closed'));
    socket.on('error', (error) => this.fail(`connection error: ${error.message}`));
  }

  /** Connects, or rejects with a ProtocolError (UNAVAILABLE) naming the address. */
  static async open(options: ProtocolConnectionOptions): Promise<ProtocolConnection> {
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    const timeoutMs = options.connectTimeoutMs ?? 2_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new UnavailableError(`no connection to ${options.host}:${options.port} within ${timeoutMs} ms`, { sent: false }));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new UnavailableError(`cannot connect to ${options.host}:${options.port}: ${error.message}`, { sent: false }));
      });
    });
    return new ProtocolConnection(socket, options.frameBytesMax ?? frameBytesMaxDefault, `${options.host}:${options.port}`);
  }

  get closed(): boolean {
    return this.closedBy !== null;
  }

  /** Requests in flight. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Sends `{ id, ...body }` and resolves with the reply, or rejects with its error. */
  request(body: Readonly<Record<string, unknown>> & { readonly type: string }): Promise<Reply> {
    if (this.closedBy !== null) return Promise.reject(new UnavailableError(`${this.closedBy}; the request was not sent`, { sent: false }));
    const id = this.nextId++;
    const encoded = this.codec.packr.pack({ id, ...body });
    if (encoded.byteLength > this.frameBytesMax) {
      return Promise.reject(new InvalidArgumentError(`the request is ${encoded.byteLength} bytes, more than the ${this.frameBytesMax}-byte frame bound`, { sent: false }));
    }
    this.outgoing.push(encodeFrame(encoded));
    this.scheduleFlush();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // At the end of this turn of the event loop: every request made in it (a pull's jobs' acks,
    // a burst of calls) leaves in one write.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.outgoing.length === 0 || this.closedBy !== null) return;
      this.socket.write(Buffer.concat(this.outgoing));
      this.outgoing.length = 0;
    });
  }

  private onData(chunk: Buffer): void {
    const streamError = this.decoder.push(chunk, (body) => {
      // A private copy: binary fields decode as views, and the decoder's buffer is reused.
      if (this.closedBy === null) this.onFrame(Buffer.from(body));
    });
    if (streamError !== undefined) this.close(`the node sent a bad frame: ${streamError.message}`);
  }

  private onFrame(body: Buffer): void {
    this.framesReceived += 1;
    this.lastFrameAtMs = Date.now();
    let reply: unknown;
    try {
      reply = this.codec.unpackr.unpack(body);
    } catch (error) {
      this.close(`the node sent a frame that is not MessagePack: ${(error as Error).message}`);
      return;
    }
    if (typeof reply !== 'object' || reply === null || typeof (reply as { id?: unknown }).id !== 'number') {
      this.close('the node sent a frame that is not a reply map with an id');
      return;
    }
    const { id, error } = reply as { id: number; error?: unknown };
    if (id === 0 && error !== undefined) {
      const refusal = errorOfReply(error);
      this.close(`the node closed the connection: ${refusal.code}: ${refusal.message}`);
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (error !== undefined) pending.reject(errorOfReply(error));
    else pending.resolve(reply as Reply);
  }

  private fail(reason: string): void {
    if (this.closedBy === null) this.closedBy = reason;
    for (const pending of this.pending.values()) {
      pending.reject(new UnavailableError(`${reason} before the reply came; the request's outcome is unknown`));
    }
    this.pending.clear();
  }

  /** Closes the connection; requests in flight reject with UNAVAILABLE. */
  close(reason = 'closed by the client'): void {
    this.fail(reason);
    this.socket.destroy();
  }
}
