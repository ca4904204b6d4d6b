/**
 * The follower's side of streamed snapshots: chunks from the leader go to the WAL's incoming
 * snapshot temp file (`beginIncomingSnapshot`, `writeIncomingSnapshot`), every answer of the WAL
 * is acknowledged to the leader with the bytes held; once the file is held whole the WAL fsyncs and
 * verifies it (`verifyIncomingSnapshot`), and only then is the core handed the snapshot's metadata
 * (`deliver`), as if it had arrived whole. If the core installs it, its Ready asks the loop to
 * persist it: the WAL renames the verified file into place (`installSnapshot`).
 *
 * Resumption: the incoming file stays across reconnects and leader changes; a stream of the same
 * file (index, length, checksum) continues where it stopped (the WAL answers `beginIncomingSnapshot`
 * with the bytes it holds). Another file restarts it. A restart of the process deletes it
 * (recovery deletes `*.tmp`), and the leader starts again from 0.
 *
 * Once the core took a delivered snapshot (it will install it in its next Ready), the receiver
 * holds it: chunks of any other snapshot are dropped until `onInstalled` (the leader resends them),
 * since starting another would abandon the file the Ready is about to put in force.
 *
 * Invariants: at most one incoming snapshot; at most `writesInFlightMax` chunks handed to the WAL
 * and not answered (more are dropped, the leader resends): memory is bounded by that and the
 * leader's window.
 *
 * Runs on: the thread that runs the replica loop.
 */
import type { FromWal, ToWal } from '../protocol/wal.js';
import type { SnapshotMessage } from '../raft/raft-messages.js';
import type { SnapshotChunkMessage, SnapshotStreamMessage } from './snapshot-stream-messages.js';

export interface SnapshotReceiverOptions {
  readonly id: string;
  readonly writesInFlightMax: number;
  readonly toWal: (message: ToWal) => void;
  readonly sendPeer: (message: SnapshotStreamMessage) => boolean;
  /** The snapshot verified: step this message (metadata only) into the core. */
  readonly deliver: (message: SnapshotMessage) => void;
  readonly warn: (fields: Readonly<Record<string, unknown>>, message: string) => void;
}

interface Incoming {
  readonly index: number;
  readonly fileBytes: number;
  readonly checksum: number;
  leader: string;
  term: number;
  heldBytes: number;
  writesInFlight: number;
  phase: 'receiving' | 'verifying' | 'verified';
}

/** The body of a snapshot message the loop hands the core: the bytes are in the WAL. */
const bodyInWal = new Uint8Array(0);

export class SnapshotReceiver {
  private readonly options: SnapshotReceiverOptions;
  private incoming: Incoming | null = null;
  private verifiedMembership: SnapshotMessage['snapshot'] | null = null;
  /** The core took the verified snapshot: keep it until installed. */
  private held = false;
  readonly counters = { chunksReceived: 0, chunksDropped: 0, snapshotsVerified: 0, snapshotsRefused: 0 };

  constructor(options: SnapshotReceiverOptions) {
    this.options = options;
  }

  onChunk(chunk: SnapshotChunkMessage): void {
    this.counters.chunksReceived += 1;
    let incoming = this.incoming;
    const another = incoming === null || incoming.index !== chunk.index || incoming.fileBytes !== chunk.fileBytes || incoming.checksum !== chunk.checksum;
    // A late chunk of an older snapshot of the same or an older term: the leader has moved on.
    // Switching to it would abandon the newer file, and switching back would start that anew.
    if (another && incoming !== null && chunk.index < incoming.index && chunk.term <= incoming.term) {
      this.counters.chunksDropped += 1;
      return;
    }
    if (another && this.held) {
      this.counters.chunksDropped += 1;
      return;
    }
    if (incoming === null || another) {
      incoming = {
        index: chunk.index, fileBytes: chunk.fileBytes, checksum: chunk.checksum, leader: chunk.from, term: chunk.term,
        heldBytes: 0, writesInFlight: 1, phase: 'receiving',
      };
      this.incoming = incoming;
      this.verifiedMembership = null;
      this.options.toWal({ type: 'beginIncomingSnapshot', index: chunk.index, fileBytes: chunk.fileBytes, checksum: chunk.checksum });
    }
    incoming.leader = chunk.from;
    incoming.term = Math.max(incoming.term, chunk.term);
    if (incoming.phase !== 'receiving') {
      // Held whole already (a resend): say so again, and hand the core the snapshot again if it verified.
      if (incoming.phase === 'verified') this.deliverVerified(incoming);
      return;
    }
    if (incoming.writesInFlight >= this.options.writesInFlightMax || chunk.offset + chunk.bytes.byteLength <= incoming.heldBytes) {
      this.counters.chunksDropped += 1;
      if (chunk.offset + chunk.bytes.byteLength <= incoming.heldBytes) this.ack(incoming, false);
      return;
    }
    incoming.writesInFlight += 1;
    this.options.toWal({ type: 'writeIncomingSnapshot', index: chunk.index, offset: chunk.offset, bytes: chunk.bytes });
  }

  /** Answers of the WAL about the incoming snapshot; false for any other reply. */
  onWalReply(reply: FromWal): boolean {
    const incoming = this.incoming;
    switch (reply.type) {
      case 'incomingSnapshotHeld':
        if (incoming === null || incoming.index !== reply.index) return true;
        incoming.writesInFlight = Math.max(0, incoming.writesInFlight - 1);
        // The WAL answers in order, each answer what its file holds at that moment: the latest is
        // the truth. (Not the largest: answers to writes into an abandoned file of the same index
        // can arrive after the file was begun anew.)
        incoming.heldBytes = reply.heldBytes;
        if (incoming.phase === 'receiving' && incoming.heldBytes === incoming.fileBytes) {
          incoming.phase = 'verifying';
          this.options.toWal({ type: 'verifyIncomingSnapshot', index: incoming.index });
        }
        this.ack(incoming, false);
        return true;
      case 'incomingSnapshotVerified':
        if (incoming === null || incoming.index !== reply.snapshot.index || incoming.phase !== 'verifying') return true;
        incoming.phase = 'verified';
        this.counters.snapshotsVerified += 1;
        this.verifiedMembership = { ...reply.snapshot, data: bodyInWal };
        this.deliverVerified(incoming);
        return true;
      case 'walError':
        if (reply.request !== 'beginIncomingSnapshot' && reply.request !== 'writeIncomingSnapshot' && reply.request !== 'verifyIncomingSnapshot') return false;
        // The transfer failed (a full disk, or a file damaged on the way): the previous snapshot
        // stays. No answer: the leader's resend timer paces the next try (an answer here would
        // turn a full disk into a busy loop), and after its last attempt its core starts over.
        this.counters.snapshotsRefused += 1;
        this.options.warn({ request: reply.request, code: reply.error.code }, `receiving a snapshot failed: ${reply.error.message}`);
        this.incoming = null;
        this.verifiedMembership = null;
        this.held = false;
        return true;
      default:
        return false;
    }
  }

  /** The core installed the snapshot at `index` (its Ready asks to persist it): the WAL owns the file now. */
  onInstalled(index: number): void {
    if (this.incoming?.index === index) {
      this.incoming = null;
      this.verifiedMembership = null;
      this.held = false;
    }
  }

  /** The core took the verified snapshot just delivered: no other stream may replace it now. */
  holdUntilInstalled(): void {
    if (this.incoming?.phase === 'verified') this.held = true;
  }

  /** True when the verified incoming snapshot of `index` is what the WAL can install. */
  holdsVerified(index: number, term: number): boolean {
    const snapshot = this.verifiedMembership;
    return this.incoming?.phase === 'verified' && snapshot !== null && snapshot.index === index && snapshot.term === term;
  }

  private deliverVerified(incoming: Incoming): void {
    const snapshot = this.verifiedMembership;
    if (snapshot === null) return;
    this.options.deliver({ type: 'snapshot', from: incoming.leader, to: this.options.id, term: incoming.term, snapshot });
    this.ack(incoming, true);
  }

  private ack(incoming: Incoming, complete: boolean): void {
    this.options.sendPeer({
      type: 'snapshotChunkAck', from: this.options.id, to: incoming.leader, term: incoming.term, index: incoming.index,
      fileBytes: incoming.fileBytes, checksum: incoming.checksum, heldBytes: incoming.heldBytes, complete,
    });
  }
}
