/**
 * Moving a snapshot between the state machine and the WAL, one chunk at a time, never whole:
 *
 * - `LocalSnapshotSave`: a snapshot taken from the state machine (its SnapshotReader) goes to the
 *   WAL as `beginSnapshot`, `appendSnapshotChunk`… and `finishSnapshot`, with at most
 *   `windowChunks` chunks sent and not yet answered.
 * - `SnapshotRestore`: the snapshot in force is read back from the WAL (`readSnapshotChunk`, part
 *   'data') chunk by chunk into the state machine's SnapshotWriter, one read in flight at a time;
 *   `finish` once the last byte arrived. Used at start and after installing a leader's snapshot.
 *
 * Memory: a window of chunks (save) or one chunk (restore), each at most `chunkBytes`.
 *
 * Runs on: the thread that runs the replica loop.
 */
import { assert } from '../errors.js';
import type { FromWal, ToWal } from '../protocol/wal.js';
import type { SnapshotMetadata } from '../log/snapshot.js';
import type { SnapshotReader, SnapshotWriter } from '../log/state-machine.js';

export class LocalSnapshotSave {
  readonly snapshot: SnapshotMetadata;
  private readonly reader: SnapshotReader;
  private readonly toWal: (message: ToWal) => void;
  private readonly chunkBytes: number;
  private readonly windowChunks: number;
  private pending: Uint8Array | null = null;
  private inFlight = 0;
  private readerDone = false;
  private finishSent = false;
  private failed = false;

  constructor(snapshot: SnapshotMetadata, reader: SnapshotReader, toWal: (message: ToWal) => void, chunkBytes: number, windowChunks: number) {
    this.snapshot = snapshot;
    this.reader = reader;
    this.toWal = toWal;
    this.chunkBytes = chunkBytes;
    this.windowChunks = windowChunks;
    toWal({ type: 'beginSnapshot', snapshot: { index: snapshot.index, term: snapshot.term, membership: snapshot.membership } });
    this.pump();
  }

  /** The WAL appended a chunk: send more. 'abandoned' once a failed save has no request left in flight. */
  onChunkAppended(reply: Extract<FromWal, { type: 'snapshotChunkAppended' }>): 'saving' | 'abandoned' {
    if (reply.index !== this.snapshot.index) return 'saving';
    this.inFlight -= 1;
    this.pump();
    return this.failed && this.inFlight === 0 ? 'abandoned' : 'saving';
  }

  /**
   * `beginSnapshot` or a chunk failed (a full disk, the size bound, or a leader's snapshot that
   * replaced it): nothing more is sent; 'abandoned' once no chunk is in flight (their answers,
   * failures too, arrive before anything a later save sends).
   */
  onFailed(request: 'beginSnapshot' | 'appendSnapshotChunk'): 'saving' | 'abandoned' {
    this.failed = true;
    if (request === 'appendSnapshotChunk') this.inFlight -= 1;
    return this.inFlight === 0 ? 'abandoned' : 'saving';
  }

  private pump(): void {
    if (this.failed) return;
    while (this.inFlight < this.windowChunks && !this.readerDone) {
      const chunk = this.nextPiece();
      if (chunk === null) {
        this.readerDone = true;
        break;
      }
      this.inFlight += 1;
      this.toWal({ type: 'appendSnapshotChunk', index: this.snapshot.index, bytes: chunk });
    }
    if (this.readerDone && this.inFlight === 0 && !this.finishSent) {
      this.finishSent = true;
      this.toWal({ type: 'finishSnapshot', index: this.snapshot.index, term: this.snapshot.term });
    }
  }

  /** The reader's next chunk, cut to `chunkBytes` (a reader may hand out up to snapshotChunkBytesMax). */
  private nextPiece(): Uint8Array | null {
    const chunk = this.pending ?? this.reader.next();
    this.pending = null;
    if (chunk === null || chunk.byteLength <= this.chunkBytes) return chunk;
    this.pending = chunk.subarray(this.chunkBytes);
    return chunk.subarray(0, this.chunkBytes);
  }
}

export class SnapshotRestore {
  readonly index: number;
  private readonly writer: SnapshotWriter;
  private readonly toWal: (message: ToWal) => void;
  private readonly chunkBytes: number;
  private readonly requestId: () => number;
  private readonly done: () => void;
  private expectedRequestId = -1;
  private offset = 0;

  constructor(index: number, writer: SnapshotWriter, toWal: (message: ToWal) => void, chunkBytes: number, requestId: () => number, done: () => void) {
    this.index = index;
    this.writer = writer;
    this.toWal = toWal;
    this.chunkBytes = chunkBytes;
    this.requestId = requestId;
    this.done = done;
    this.readNext();
  }

  /** A chunk the WAL read; false when it was not this restore's. */
  onWalChunk(reply: Extract<FromWal, { type: 'snapshotChunk' }>): boolean {
    if (reply.requestId !== this.expectedRequestId) return false;
    assert(reply.index === this.index && reply.offset === this.offset && reply.part === 'data',
      `restore of snapshot ${this.index} at ${this.offset} got ${reply.part} ${reply.index} at ${reply.offset}`);
    if (reply.bytes.byteLength > 0 || this.offset === 0) this.writer.write(reply.bytes);
    this.offset += reply.bytes.byteLength;
    if (this.offset >= reply.totalBytes) {
      this.expectedRequestId = -1;
      this.writer.finish();
      this.done();
      return true;
    }
    assert(reply.bytes.byteLength > 0, `restore of snapshot ${this.index} read nothing at ${this.offset} of ${reply.totalBytes}`);
    this.readNext();
    return true;
  }

  /** True when `requestId` is this restore's read (its failure stops the node). */
  owns(requestId: number | undefined): boolean {
    return requestId !== undefined && requestId === this.expectedRequestId;
  }

  private readNext(): void {
    this.expectedRequestId = this.requestId();
    this.toWal({ type: 'readSnapshotChunk', requestId: this.expectedRequestId, index: this.index, part: 'data', offset: this.offset, bytesMax: this.chunkBytes });
  }
}
