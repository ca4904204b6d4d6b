/**
 * The peer transport of a node: one TCP connection per pair of nodes, a handshake that refuses a
 * misconfigured peer, reconnection with exponential backoff and jitter, and batched frames.
 *
 * Who dials: for a pair (a, b), the node whose id sorts first dials, the other accepts; both use
 * that one connection in both directions. The dialer's first frame is a hello
 * `{ type: 'hello', version, cluster, from, to, blank }`; the acceptor answers
 * `{ type: 'welcome', from, blank }` or `{ type: 'refused', reason }` and closes. A refusal is
 * logged on both sides in one line that says what to fix (wrong cluster name, unknown node id, a
 * node that should be dialing us). The cluster name in the hello is also the identity kept in
 * each node's data directory (a node refuses to start on another cluster's directory), so data of
 * two clusters never meet.
 *
 * `blank` says whether the sender has made no Raft promise yet (term 0, no log, no snapshot, no
 * catch-up marker; src/replication/fresh-start.ts): a node whose data directory is empty decides
 * from its peers' `blank` whether it bootstraps a new cluster or must be caught up first. Each
 * side's value is read when its frame is written; `onPeerUp` reports the peer's. A peer that
 * omits it (an older version) counts as not blank, the safe side.
 *
 * Messages are opaque to the transport (plain values, MessagePack); the Replicator gives them
 * meaning. `onPeerDown` fires when an established connection closes: the Raft core may use a
 * closed connection to its leader to start a pre-vote early (fast failover on a crash).
 *
 * Runs on: Replicator thread.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { NodeConfig } from '../config/cluster-config.js';
import { listenHostOf } from '../config/listen-addresses.js';
import type { Logger } from '../logging/logger.js';
import { PeerConnection, type PeerConnectionLimits, type PeerConnectionStats } from './peer-connection.js';
import { FrameDecoder, encodeFrame } from './frame-decoder.js';
import { createCodec } from '../codec/msgpack.js';

export const peerProtocolVersion = 1;
/** A hello is small; anything bigger before the handshake is not a FalconQueue peer. */
const handshakeFrameBytesMax = 4096;
/** A connection that has not completed its handshake by then is closed. */
const handshakeTimeoutMs = 5_000;

export interface PeerTransportOptions extends PeerConnectionLimits {
  readonly clusterName: string;
  readonly self: NodeConfig;
  readonly peers: readonly NodeConfig[];
  readonly reconnectBackoffMsMin: number;
  readonly reconnectBackoffMsMax: number;
  readonly logger: Logger;
  readonly random: () => number;
  readonly onMessage: (from: string, message: unknown) => void;
  /** This node's handshake fields, read for every hello or welcome it sends (default: not blank). */
  readonly handshake?: () => PeerHandshake;
  /** A connection is established; `remote` is what the peer said of itself in its handshake. */
  readonly onPeerUp: (peer: string, remote: PeerHandshake) => void;
  readonly onPeerDown: (peer: string, reason: string) => void;
}

/** What a node says of itself in its handshake (the same shape as replication's PeerHandshake). */
export interface PeerHandshake {
  /** It has made no Raft promise yet: term 0, no log, no snapshot, no catch-up marker. */
  readonly blank: boolean;
}

type Hello = { type: 'hello'; version: number; cluster: string; from: string; to: string; blank: boolean };

interface PeerSlot {
  readonly config: NodeConfig;
  readonly dials: boolean;
  connection: PeerConnection | undefined;
  reconnectTimer: NodeJS.Timeout | undefined;
  failedAttempts: number;
  reconnects: number;
}

export class PeerTransport {
  private readonly options: PeerTransportOptions;
  private readonly slots = new Map<string, PeerSlot>();
  private readonly codec = createCodec();
  private server: Server | undefined;
  private stopped = false;

  constructor(options: PeerTransportOptions) {
    this.options = options;
    for (const peer of options.peers) {
      if (peer.id === options.self.id) continue;
      this.slots.set(peer.id, { config: peer, dials: options.self.id < peer.id, connection: undefined, reconnectTimer: undefined, failedAttempts: 0, reconnects: 0 });
    }
  }

  /** Binds the peer port and starts dialing; rejects with the listen error (e.g. EADDRINUSE). */
  async start(): Promise<void> {
    const server = createServer((socket) => this.onInbound(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Bound on the node's listen address for `peer`; peers still dial its `host`.
      server.listen(this.options.self.peerPort, listenHostOf(this.options.self, 'peer'), () => {
        server.off('error', reject);
        server.on('error', (error) => this.options.logger.error({ err: error }, 'peer listener error'));
        resolve();
      });
    });
    for (const slot of this.slots.values()) if (slot.dials) this.dial(slot);
  }

  /** Queues `message` for `peer`; false when the peer is not connected or its queue is full. */
  send(peer: string, message: unknown): boolean {
    const connection = this.slots.get(peer)?.connection;
    return connection !== undefined && connection.send(message);
  }

  /** Closes the connection to `peer` (it sent something no peer should); a dialer reconnects. */
  closeConnection(peer: string, reason: string): void {
    this.slots.get(peer)?.connection?.close(reason);
  }

  isConnected(peer: string): boolean {
    const connection = this.slots.get(peer)?.connection;
    return connection !== undefined && !connection.isClosed;
  }

  stats(): Record<string, PeerConnectionStats & { connected: boolean; reconnects: number }> {
    const out: Record<string, PeerConnectionStats & { connected: boolean; reconnects: number }> = {};
    for (const [id, slot] of this.slots) {
      const stats = slot.connection?.stats ?? { messagesSent: 0, messagesReceived: 0, batchesSent: 0, bytesSent: 0, sendRefusals: 0 };
      out[id] = { ...stats, connected: this.isConnected(id), reconnects: slot.reconnects };
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.values()) {
      if (slot.reconnectTimer !== undefined) clearTimeout(slot.reconnectTimer);
      slot.connection?.flush();
      slot.connection?.close('transport stopping');
    }
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private dial(slot: PeerSlot): void {
    if (this.stopped) return;
    const socket = connect({ host: slot.config.host, port: slot.config.peerPort });
    socket.once('connect', () => {
      const hello: Hello = {
        type: 'hello', version: peerProtocolVersion, cluster: this.options.clusterName, from: this.options.self.id, to: slot.config.id,
        blank: this.localBlank(),
      };
      socket.write(encodeFrame(this.codec.packr.pack(hello)));
    });
    let remote: PeerHandshake = { blank: false };
    this.awaitHandshake(socket, (message) => {
      const answer = message as { type?: unknown; from?: unknown; reason?: unknown; blank?: unknown };
      if (answer.type === 'welcome' && answer.from === slot.config.id) {
        remote = { blank: answer.blank === true };
        return undefined;
      }
      if (answer.type === 'refused') return `peer ${slot.config.id} refused us: ${String(answer.reason)}`;
      return `peer ${slot.config.id} at ${slot.config.host}:${slot.config.peerPort} answered the hello with something else (${JSON.stringify(message)?.slice(0, 120)})`;
    }, (error) => {
      if (error === undefined) this.established(slot, socket, remote);
      else this.scheduleReconnect(slot, error);
    });
  }

  private onInbound(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    let from: PeerSlot | undefined;
    let remote: PeerHandshake = { blank: false };
    this.awaitHandshake(socket, (message) => {
      const refusal = this.checkHello(message);
      const reply = refusal === undefined ? { type: 'welcome', from: this.options.self.id, blank: this.localBlank() } : { type: 'refused', reason: refusal };
      socket.write(encodeFrame(this.codec.packr.pack(reply)));
      if (refusal === undefined) {
        from = this.slots.get((message as Hello).from);
        remote = { blank: (message as Partial<Hello>).blank === true };
      }
      return refusal;
    }, (error) => {
      if (error !== undefined || from === undefined) {
        this.options.logger.warn({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: error }, 'refused an inbound peer connection');
        socket.end();
        return;
      }
      this.established(from, socket, remote);
    });
  }

  private localBlank(): boolean {
    return this.options.handshake?.().blank === true;
  }

  private checkHello(message: unknown): string | undefined {
    const hello = message as Partial<Hello>;
    if (hello === null || typeof hello !== 'object' || hello.type !== 'hello') return 'the first frame must be a hello';
    if (hello.version !== peerProtocolVersion) return `peer protocol version ${String(hello.version)} is not ${peerProtocolVersion}`;
    if (hello.cluster !== this.options.clusterName) return `cluster name '${String(hello.cluster)}' is not this node's cluster '${this.options.clusterName}' (check cluster.name in both cluster files)`;
    if (hello.to !== this.options.self.id) return `the hello is for node '${String(hello.to)}', but this is node '${this.options.self.id}' (check the peer ports in the cluster file)`;
    const slot = typeof hello.from === 'string' ? this.slots.get(hello.from) : undefined;
    if (slot === undefined) return `node '${String(hello.from)}' is not in this node's cluster file`;
    if (slot.dials) return `node '${slot.config.id}' should be dialed by us, not dial us (the node with the smaller id dials); are the cluster files the same?`;
    return undefined;
  }

  /** Reads exactly one handshake frame (bounded size and time), then calls `done`. */
  private awaitHandshake(socket: Socket, check: (message: unknown) => string | undefined, done: (error: string | undefined) => void): void {
    const decoder = new FrameDecoder(handshakeFrameBytesMax);
    let finished = false;
    const finish = (error: string | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error !== undefined) socket.destroy();
      done(error);
    };
    const timer = setTimeout(() => finish(`no handshake within ${handshakeTimeoutMs} ms`), handshakeTimeoutMs);
    const onData = (chunk: Buffer): void => {
      // The peer may send a batch right behind the handshake: put those bytes back.
      const framing = decoder.push(chunk, (body) => {
        if (finished) return;
        let message: unknown;
        try {
          message = this.codec.unpackr.unpack(body);
        } catch {
          finish('the handshake frame is not MessagePack');
          return;
        }
        finish(check(message));
      });
      if (framing !== undefined) finish(`bad handshake frame: ${framing.message}`);
      else if (finished && decoder.pendingBytes > 0) socket.unshift(chunk.subarray(chunk.length - decoder.pendingBytes));
    };
    const onError = (error: Error): void => finish(`${(error as NodeJS.ErrnoException).code ?? error.message}`);
    const onClose = (): void => finish('connection closed during the handshake');
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  private established(slot: PeerSlot, socket: Socket, remote: PeerHandshake): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    slot.connection?.close('replaced by a new connection');
    const connection = new PeerConnection(slot.config.id, socket, this.options, this.options.logger);
    slot.connection = connection;
    slot.failedAttempts = 0;
    connection.attach(
      (message) => this.options.onMessage(slot.config.id, message),
      (reason) => {
        if (slot.connection !== connection) return;
        slot.connection = undefined;
        this.options.logger.info({ peer: slot.config.id, reason }, 'peer connection closed');
        this.options.onPeerDown(slot.config.id, reason);
        if (slot.dials) this.scheduleReconnect(slot, reason);
      },
    );
    this.options.logger.info({ peer: slot.config.id, blank: remote.blank }, 'peer connected');
    this.options.onPeerUp(slot.config.id, remote);
  }

  private scheduleReconnect(slot: PeerSlot, reason: string): void {
    if (this.stopped || slot.reconnectTimer !== undefined) return;
    slot.failedAttempts += 1;
    slot.reconnects += 1;
    const ceilingMs = Math.min(this.options.reconnectBackoffMsMax, this.options.reconnectBackoffMsMin * 2 ** Math.min(slot.failedAttempts - 1, 20));
    const delayMs = Math.round(ceilingMs / 2 + (this.options.random() * ceilingMs) / 2);
    if (slot.failedAttempts === 1 || slot.failedAttempts % 50 === 0) {
      this.options.logger.info({ peer: slot.config.id, reason, retryInMs: delayMs, attempt: slot.failedAttempts }, 'peer unreachable; will retry');
    }
    slot.reconnectTimer = setTimeout(() => {
      slot.reconnectTimer = undefined;
      this.dial(slot);
    }, delayMs);
  }
}
