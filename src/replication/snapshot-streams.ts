/**
 * The replica loop's snapshot streams between nodes: leader's WAL → peer → follower's WAL, in
 * chunks of at most `chunkBytes`, when a follower needs a snapshot (snapshot-sender.ts on the
 * leader, snapshot-receiver.ts on the follower). A `snapshot` message of the core never leaves the
 * node: it starts a stream here. The WAL's replies about streamed chunks and the peers' chunk and
 * ack messages (validated here, never trusted) come through this class; once a follower's WAL
 * holds a whole, verified snapshot, its metadata is delivered to the core as the leader's
 * `snapshot` message.
 *
 * Invariants: a stream runs only while this node leads (`tick` stops them all otherwise); a
 * snapshot the core took stays on disk until the Ready installs it.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { isFalconError } from '../errors.js';
import type { FromWal, ToWal } from '../protocol/wal.js';
import type { SnapshotMessage } from '../raft/raft-messages.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { PeerLink, ReplicaHost } from './replica-loop-options.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { SnapshotSender } from './snapshot-sender.js';
import { parseSnapshotStreamMessage, type PeerMessage } from './snapshot-stream-messages.js';

/** Snapshot chunks read or sent and not yet acknowledged, per follower. */
const snapshotWindowChunks = 4;
/** Ticks without progress after which a snapshot stream goes back to what the follower acknowledged. */
const snapshotResendTicksDefault = 50;
/** Resends without progress after which a snapshot stream ends and the core retries. */
const snapshotResendAttemptsMax = 20;

export interface SnapshotStreamsOptions {
  readonly id: string;
  readonly host: ReplicaHost;
  readonly peers: PeerLink;
  readonly chunkBytes: number;
  readonly resendTicks: number | undefined;
  /** The loop's counters: peer messages taken in or refused as malformed. */
  readonly counters: { peerMessagesIn: number; badPeerMessages: number };
  /** The core, once built (undefined before). */
  readonly core: () => RaftNode | undefined;
  /** Sends to a peer (the loop's send, with its drop count). */
  readonly sendPeer: (message: PeerMessage) => boolean;
  readonly nextRequestId: () => number;
  readonly schedule: () => void;
}

export class SnapshotStreams {
  private readonly options: SnapshotStreamsOptions;
  private readonly sender: SnapshotSender;
  private readonly receiver: SnapshotReceiver;

  constructor(options: SnapshotStreamsOptions) {
    this.options = options;
    const host = options.host;
    const toWal = (message: ToWal): void => host.toWal(message);
    this.sender = new SnapshotSender({
      id: options.id, chunkBytes: options.chunkBytes, windowChunks: snapshotWindowChunks, resendTicks: options.resendTicks ?? snapshotResendTicksDefault,
      attemptsMax: snapshotResendAttemptsMax, toWal, sendPeer: options.sendPeer, nextRequestId: options.nextRequestId,
      failed: (peer) => {
        options.core()?.reportSnapshot(peer, false);
        options.schedule();
      },
    });
    this.receiver = new SnapshotReceiver({
      id: options.id, writesInFlightMax: snapshotWindowChunks * 2, toWal, sendPeer: options.sendPeer, warn: (fields, message) => host.warn(fields, message),
      deliver: (message) => this.deliver(message),
    });
  }

  /** Snapshot streaming figures (sender: leader side; receiver: follower side). */
  get counters(): Readonly<Record<string, number>> {
    return { ...this.sender.counters, ...this.receiver.counters };
  }

  /** The lowest snapshot index a stream reads, or null: the leader keeps its log from there. */
  get lowestStreamedIndex(): number | null {
    return this.sender.lowestStreamedIndex;
  }

  /** The core's `snapshot` message to a follower: its body streams from the WAL in chunks. */
  start(message: SnapshotMessage): void {
    this.sender.start(message);
  }

  /** Streams move on while this node leads, and all stop when it does not. */
  tick(leading: boolean): void {
    if (leading) this.sender.tick();
    else this.sender.stopAll();
  }

  /** True when the verified incoming snapshot of `index` is what the WAL can install. */
  holdsVerified(index: number, term: number): boolean {
    return this.receiver.holdsVerified(index, term);
  }

  /** The core installed the snapshot at `index` (its Ready asks to persist it): the WAL owns the file now. */
  onInstalled(index: number): void {
    this.receiver.onInstalled(index);
  }

  /** A WAL reply about a streamed snapshot (a chunk read, a chunk written, their failures); false when it was not one. */
  onWalReply(reply: FromWal): boolean {
    if (reply.type === 'snapshotChunk') {
      if (this.sender.onWalChunk(reply)) this.options.schedule();
      return true;
    }
    if (reply.type === 'walError' && reply.request === 'readSnapshotChunk') {
      this.sender.onWalError(reply.requestId ?? -1);
      return true;
    }
    return this.receiver.onWalReply(reply);
  }

  /** A snapshot chunk or ack from a peer, as decoded from its frame (isSnapshotStreamType said so). */
  onPeerMessage(from: string, value: unknown): void {
    const message = parseSnapshotStreamMessage(value, this.options.id, from);
    if (isFalconError(message)) {
      this.options.counters.badPeerMessages += 1;
      this.options.peers.closeConnection(from, message.message);
      return;
    }
    this.options.counters.peerMessagesIn += 1;
    if (message.type === 'snapshotChunk') this.receiver.onChunk(message);
    else this.sender.onAck(message);
    this.options.schedule();
  }

  /** A whole received snapshot goes to the core as the leader's `snapshot` message. */
  private deliver(message: SnapshotMessage): void {
    const core = this.options.core();
    if (core === undefined) return;
    core.step(message);
    // Taken: its body must stay until the Ready installs it, whatever chunks arrive before.
    const taken = core.snapshotTaken();
    if (taken !== null && taken.index === message.snapshot.index && taken.term === message.snapshot.term) this.receiver.holdUntilInstalled();
    this.options.schedule();
  }
}
