/**
 * The leader's side of streamed snapshots: for each follower the core sent a snapshot to (the
 * core's `snapshot` message carries metadata only), read the snapshot file from the WAL in chunks
 * and send them, with at most `windowChunks` chunks read or sent and not yet acknowledged
 * (flow control: memory per follower is bounded by the window, whatever the snapshot's size).
 *
 * Loss and resumption: the follower acknowledges the bytes it holds from offset 0 (`heldBytes`).
 * When no acknowledgement moved the stream for `resendTicks`, the stream goes back to what was
 * acknowledged (go-back-N), or to what the latest acknowledgement said if that is less (a
 * follower that lost its copy). An acknowledgement beyond what was sent (a follower that already
 * held part of this same file, e.g. after a reconnect or a new leader) skips ahead to it. After
 * `attemptsMax` resends without progress, or when the file is gone (NOT_FOUND: a newer snapshot
 * replaced it before the stream's hold reached the WAL), the stream ends and the core is told
 * (`reportSnapshot(peer, false)`) so that it retries with the newest snapshot. A `complete`
 * acknowledgement ends the stream: the follower's core takes it from there and answers the
 * leader's core as for any snapshot.
 *
 * Holding the file: a stream holds its snapshot in the WAL from its start to its end
 * (`holdSnapshot`, `releaseSnapshot`), so newer snapshots taken meanwhile do not end it; and the
 * replica loop keeps the log from `lowestStreamedIndex`, so that the follower goes on from the
 * entries after the snapshot it installs instead of needing a newer one.
 *
 * Invariants: at most one stream per follower; one hold per stream, released when it ends;
 * chunks read for an older generation of a stream (before a go-back) are dropped; every chunk is
 * at most `chunkBytes`.
 *
 * Runs on: the thread that runs the replica loop.
 */
import type { FromWal, ToWal } from '../protocol/wal.js';
import type { SnapshotMessage } from '../raft/raft-messages.js';
import type { SnapshotChunkAckMessage, SnapshotStreamMessage } from './snapshot-stream-messages.js';

export interface SnapshotSenderOptions {
  readonly id: string;
  readonly chunkBytes: number;
  readonly windowChunks: number;
  readonly resendTicks: number;
  readonly attemptsMax: number;
  readonly toWal: (message: ToWal) => void;
  readonly sendPeer: (message: SnapshotStreamMessage) => boolean;
  /** The stream to `peer` ended without delivering: the core must hear of it. */
  readonly failed: (peer: string) => void;
  readonly nextRequestId: () => number;
}

interface Stream {
  readonly peer: string;
  readonly index: number;
  term: number;
  /** Unknown (-1) until the first chunk was read. */
  fileBytes: number;
  checksum: number;
  /** Bytes the follower holds (the most it acknowledged). */
  ackedBytes: number;
  /** What its latest acknowledgement said. */
  lastHeldBytes: number;
  /** The next offset to read from the WAL. */
  nextOffset: number;
  /** Bumped on every go-back: reads of an older generation are dropped. */
  generation: number;
  readsInFlight: number;
  idleTicks: number;
  attempts: number;
}

export class SnapshotSender {
  private readonly options: SnapshotSenderOptions;
  private readonly streams = new Map<string, Stream>();
  private readonly reads = new Map<number, { peer: string; generation: number }>();
  readonly counters = { chunksSent: 0, resends: 0, streamsCompleted: 0, streamsFailed: 0 };

  constructor(options: SnapshotSenderOptions) {
    this.options = options;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** The lowest snapshot index a stream reads, or null: the leader keeps its log from there (a
   *  follower that installs it needs the entries after it). */
  get lowestStreamedIndex(): number | null {
    let lowest: number | null = null;
    for (const stream of this.streams.values()) lowest = Math.min(lowest ?? stream.index, stream.index);
    return lowest;
  }

  /** The core sent a snapshot to a follower: stream it (or keep streaming it). */
  start(message: SnapshotMessage): void {
    const current = this.streams.get(message.to);
    if (current !== undefined && current.index === message.snapshot.index) {
      current.term = message.term;
      return;
    }
    if (current !== undefined) this.end(current);
    const stream: Stream = {
      peer: message.to, index: message.snapshot.index, term: message.term, fileBytes: -1, checksum: 0,
      ackedBytes: 0, lastHeldBytes: 0, nextOffset: 0, generation: 0, readsInFlight: 0, idleTicks: 0, attempts: 0,
    };
    this.streams.set(message.to, stream);
    // The file stays readable for as long as the stream runs, whatever newer snapshot is taken.
    this.options.toWal({ type: 'holdSnapshot', index: stream.index });
    this.pump(stream);
  }

  /** A chunk the WAL read; false when it was not one of ours. */
  onWalChunk(reply: Extract<FromWal, { type: 'snapshotChunk' }>): boolean {
    const read = this.reads.get(reply.requestId);
    if (read === undefined) return false;
    this.reads.delete(reply.requestId);
    const stream = this.streams.get(read.peer);
    if (stream === undefined || stream.index !== reply.index) return true;
    if (read.generation !== stream.generation) return true;
    stream.readsInFlight -= 1;
    stream.fileBytes = reply.totalBytes;
    stream.checksum = reply.checksum;
    if (this.options.sendPeer({
      type: 'snapshotChunk', from: this.options.id, to: stream.peer, term: stream.term, index: stream.index,
      fileBytes: reply.totalBytes, checksum: reply.checksum, offset: reply.offset, bytes: reply.bytes,
    })) this.counters.chunksSent += 1;
    this.pump(stream);
    return true;
  }

  /** A read failed (the file is no longer the snapshot in force): the stream ends. */
  onWalError(requestId: number): boolean {
    const read = this.reads.get(requestId);
    if (read === undefined) return false;
    this.reads.delete(requestId);
    const stream = this.streams.get(read.peer);
    if (stream !== undefined && read.generation === stream.generation) this.fail(stream);
    return true;
  }

  onAck(ack: SnapshotChunkAckMessage): void {
    const stream = this.streams.get(ack.from);
    if (stream === undefined || stream.index !== ack.index || stream.fileBytes !== ack.fileBytes || stream.checksum !== ack.checksum) return;
    if (ack.complete) {
      this.end(stream);
      this.counters.streamsCompleted += 1;
      return;
    }
    stream.lastHeldBytes = ack.heldBytes;
    if (ack.heldBytes <= stream.ackedBytes) return;
    stream.idleTicks = 0;
    stream.attempts = 0;
    stream.ackedBytes = ack.heldBytes;
    // The follower already held more than was sent (a resumed stream): continue from there.
    if (ack.heldBytes > stream.nextOffset) this.goBack(stream);
    else this.pump(stream);
  }

  /** Per tick: streams that made no progress for `resendTicks` go back to what was acknowledged. */
  tick(): void {
    for (const stream of [...this.streams.values()]) {
      stream.idleTicks += 1;
      if (stream.idleTicks < this.options.resendTicks) continue;
      stream.idleTicks = 0;
      stream.attempts += 1;
      if (stream.attempts > this.options.attemptsMax) {
        this.fail(stream);
        continue;
      }
      this.counters.resends += 1;
      // Acknowledgements may arrive out of order, so one below what was acknowledged is acted on
      // only here: the follower lost its copy (it restarted), and the stream starts over from it.
      stream.ackedBytes = Math.min(stream.ackedBytes, stream.lastHeldBytes);
      this.goBack(stream);
    }
  }

  /** No longer the leader (or a new term): every stream ends quietly (the core forgot them too). */
  stopAll(): void {
    for (const stream of [...this.streams.values()]) this.end(stream);
    this.reads.clear();
  }

  private goBack(stream: Stream): void {
    stream.generation += 1;
    stream.readsInFlight = 0;
    stream.nextOffset = stream.ackedBytes;
    this.pump(stream);
  }

  /** Reads the next chunks while the window has room. */
  private pump(stream: Stream): void {
    const windowBytes = this.options.windowChunks * this.options.chunkBytes;
    for (;;) {
      const known = stream.fileBytes >= 0;
      if (!known && stream.readsInFlight > 0) return;
      if (known && stream.nextOffset >= stream.fileBytes) return;
      if (stream.nextOffset - stream.ackedBytes >= windowBytes) return;
      const requestId = this.options.nextRequestId();
      this.reads.set(requestId, { peer: stream.peer, generation: stream.generation });
      stream.readsInFlight += 1;
      this.options.toWal({ type: 'readSnapshotChunk', requestId, index: stream.index, part: 'file', offset: stream.nextOffset, bytesMax: this.options.chunkBytes });
      stream.nextOffset += known ? Math.min(this.options.chunkBytes, stream.fileBytes - stream.nextOffset) : this.options.chunkBytes;
    }
  }

  private fail(stream: Stream): void {
    this.end(stream);
    this.counters.streamsFailed += 1;
    this.options.failed(stream.peer);
  }

  private end(stream: Stream): void {
    this.streams.delete(stream.peer);
    for (const [requestId, read] of this.reads) if (read.peer === stream.peer) this.reads.delete(requestId);
    this.options.toWal({ type: 'releaseSnapshot', index: stream.index });
  }
}
