/**
 * The TCP server of the client port: length-prefixed MessagePack frames in (frame-decoder.ts),
 * checked requests handed to a handler in batches, replies written in batches. It knows the
 * protocol's envelope (client-frames.ts), not its messages: the request checker and the handler
 * are given (protocol/client-validation.ts and the Dispatcher).
 *
 * Per socket read, every complete frame is
 * 1. length-checked before allocation (`frameBytesMax`): over it, FRAME_TOO_LARGE;
 * 2. decoded from a private copy (decode errors are caught: bad bytes never crash the node): not
 *    one MessagePack value, or not a map with a positive safe integer `id`, MALFORMED_FRAME;
 * 3. checked by `checkRequest`: a bad field is answered `{ id, error }` at once and the
 *    connection stays open; a valid request joins this read's batch.
 * The batch goes to `handler.onRequests(connection, requests)` once per read, so the Dispatcher
 * can turn everything that arrived in one turn into one log entry. A read that meets a frame of
 * kind 1 or 2 hands over nothing: the connection gets one error frame (id 0 when the id is
 * unknown) and is closed once that is flushed.
 *
 * Bounds, each with a default: `connectionsMax` open connections (one more is answered
 * UNAVAILABLE and closed), `sendQueueBytesMax` per connection (client-connection.ts).
 *
 * Invariants: `connections` holds exactly the connections not yet closed; `dirty` holds only
 * connections with queued frames, and is empty when no flush is scheduled.
 *
 * Runs on: Dispatcher thread.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createCodec, type Packr, type Unpackr } from '../codec/msgpack.js';
import { falconError, isFalconError, type FalconError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { ClientConnection, type ClientConnectionHost, type ClientServerCounters } from './client-connection.js';
import { connectionErrorId, errorReply, requestIdOf } from './client-frames.js';
import { FrameDecoder, encodeFrame } from './frame-decoder.js';

export { ClientConnection, type ClientServerCounters } from './client-connection.js';

/** Default bound on one connection's unsent replies (16 MiB): four full frames of the default
 *  clientFrameBytesMax, enough for any healthy pipeline, small enough for thousands of clients. */
export const clientSendQueueBytesMaxDefault = 16 * 1024 * 1024;
/** Default bound on open client connections: each holds a decoder buffer and a send queue. */
export const clientConnectionsMaxDefault = 1024;

/** What the Dispatcher implements. Called on the server's thread; must not throw for a client's
 *  input (a throw is a bug and stops the actor). */
export interface ClientRequestHandler<Request> {
  /** Every valid request of one socket read, in arrival order; answer each with `connection.send`. */
  onRequests(connection: ClientConnection, requests: readonly Request[]): void;
  /** The connection closed (either side, or cut off): forget its long polls and pending replies. */
  onConnectionClosed?(connection: ClientConnection, reason: string): void;
}

export interface ClientServerOptions<Request> {
  readonly host: string;
  /** 0 picks a free port (tests); see `address` after `listen`. */
  readonly port: number;
  /** queue.clientFrameBytesMax: the largest frame either way. */
  readonly frameBytesMax: number;
  readonly sendQueueBytesMax?: number;
  readonly connectionsMax?: number;
  /** A decoded frame (a map with a valid id) as a request, or the error to answer it with. */
  readonly checkRequest: (value: unknown) => Request | FalconError;
  readonly handler: ClientRequestHandler<Request>;
  readonly logger: Logger;
}

export class ClientServer<Request> {
  readonly counters: ClientServerCounters = {
    connectionsOpen: 0, connectionsAccepted: 0, connectionsRefused: 0, framesIn: 0, framesOut: 0, writes: 0, bytesIn: 0, bytesOut: 0,
    invalidRequests: 0, badFrames: 0, slowClientsCut: 0, oversizeReplies: 0,
  };
  private readonly options: ClientServerOptions<Request>;
  private readonly connectionsMax: number;
  private readonly server: Server;
  private readonly packr: Packr;
  private readonly unpackr: Unpackr;
  private readonly host: ClientConnectionHost;
  private readonly connections = new Set<ClientConnection>();
  private readonly dirty: ClientConnection[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  private nextConnectionId = 1;

  constructor(options: ClientServerOptions<Request>) {
    this.options = options;
    this.connectionsMax = options.connectionsMax ?? clientConnectionsMaxDefault;
    const codec = createCodec();
    this.packr = codec.packr;
    this.unpackr = codec.unpackr;
    this.host = {
      frameBytesMax: options.frameBytesMax,
      sendQueueBytesMax: options.sendQueueBytesMax ?? clientSendQueueBytesMaxDefault,
      packr: this.packr,
      counters: this.counters,
      markDirty: (connection) => this.markDirty(connection),
      onClosed: (connection, reason) => this.onClosed(connection, reason),
      log: (connection, message, fields) => this.options.logger.warn({ connection: connection.connectionId, remote: connection.remoteAddress, ...fields }, message),
    };
    this.server = createServer({ noDelay: true }, (socket) => this.onSocket(socket));
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        this.server.on('error', (error) => this.options.logger.error({ err: error }, 'client server error'));
        resolve(this.address);
      });
    });
  }

  get address(): AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the client server is not listening');
    return address;
  }

  /** Open connections now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening and closes every connection (their queued replies are dropped). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of [...this.connections]) connection.close('server closing');
    if (this.flushScheduled !== undefined) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.dirty.length = 0;
    await closed;
  }

  private onSocket(socket: Socket): void {
    if (this.connections.size >= this.connectionsMax) {
      this.counters.connectionsRefused += 1;
      const refusal = falconError('UNAVAILABLE', `this node has ${this.connections.size} client connections open, its maximum; retry later or on another node`);
      socket.on('error', () => undefined);
      socket.end(encodeFrame(this.packr.pack(errorReply(connectionErrorId, refusal))));
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    const connection = new ClientConnection(this.nextConnectionId, socket, this.host);
    this.nextConnectionId += 1;
    this.connections.add(connection);
    this.counters.connectionsAccepted += 1;
    this.counters.connectionsOpen = this.connections.size;
    const decoder = new FrameDecoder(this.options.frameBytesMax);
    socket.on('data', (chunk: Buffer) => this.onData(connection, decoder, chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => connection.markClosed(`socket error: ${error.code ?? error.message}`));
    socket.on('close', () => connection.markClosed('connection closed'));
  }

  private onData(connection: ClientConnection, decoder: FrameDecoder, chunk: Buffer): void {
    if (connection.isClosing) return;
    this.counters.bytesIn += chunk.length;
    const requests: Request[] = [];
    let fatal: FalconError | undefined;
    const streamError = decoder.push(chunk, (body) => {
      if (fatal !== undefined) return;
      this.counters.framesIn += 1;
      const outcome = this.decodeFrame(body);
      if (isFalconError(outcome)) { fatal = outcome; return; }
      const checked = this.options.checkRequest(outcome.value);
      if (isFalconError(checked)) {
        this.counters.invalidRequests += 1;
        connection.send(errorReply(outcome.id, checked));
      } else {
        requests.push(checked);
      }
    });
    fatal ??= streamError;
    if (fatal !== undefined) {
      this.counters.badFrames += 1;
      connection.fail(fatal);
      return;
    }
    if (requests.length > 0 && !connection.isClosing) this.options.handler.onRequests(connection, requests);
  }

  /** One frame body as a map with an id, or the MALFORMED_FRAME that ends the connection. */
  private decodeFrame(body: Uint8Array): { readonly id: number; readonly value: unknown } | FalconError {
    let value: unknown;
    try {
      // A private copy: binary fields decode as views, and the decoder's buffer is reused.
      value = this.unpackr.unpack(Buffer.from(body));
    } catch (error) {
      return falconError('MALFORMED_FRAME', `the frame body is not one MessagePack value: ${error instanceof Error ? error.message : String(error)}`);
    }
    const id = requestIdOf(value);
    if (id !== undefined) return { id, value };
    const isMap = typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
    return falconError('MALFORMED_FRAME', isMap
      ? 'the request has no id: every request is a map { id: <a safe integer ≥ 1>, type, ... }'
      : 'the frame body is not a map: every request is a map { id, type, ... }');
  }

  private markDirty(connection: ClientConnection): void {
    this.dirty.push(connection);
    this.flushScheduled ??= setImmediate(() => this.flushAll());
  }

  /** One socket write per connection for everything queued during the turn. */
  private flushAll(): void {
    this.flushScheduled = undefined;
    const connections = this.dirty.splice(0);
    for (const connection of connections) connection.flush();
  }

  private onClosed(connection: ClientConnection, reason: string): void {
    this.connections.delete(connection);
    this.counters.connectionsOpen = this.connections.size;
    this.options.handler.onConnectionClosed?.(connection, reason);
  }
}
