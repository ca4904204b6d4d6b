/**
 * The framing of the queue's snapshot: a sequence of records, each `[u32 big-endian length]
 * [MessagePack body]`, cut into chunks of `queueSnapshotChunkBytes` (a record may span chunks),
 * and the parser that reassembles records from chunks of any size.
 *
 *   chunk 0                     chunk 1                     last chunk (shorter)
 *   | len | body | len | bo.. | | ..dy | len | body | ... | | len | body |
 *
 * Invariants: the writer's chunks are all `queueSnapshotChunkBytes` long but the last; the parser
 * yields each record exactly once, in order, decoded while `push` runs: byte arrays in a record
 * are views into the chunk, valid only during `onRecord` (the restorer copies what it keeps).
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { assert } from '../errors.js';
import { decode, encode } from '../codec/msgpack.js';
import { snapshotChunkBytesMax } from '../log/state-machine.js';

/** Bytes of one snapshot chunk: a quarter of the seam's bound keeps each WAL write and peer frame
 *  small while the per-chunk overhead stays negligible. */
export const queueSnapshotChunkBytes = Math.min(256 * 1024, snapshotChunkBytesMax);

const lengthBytes = 4;

export class SnapshotRecordWriter {
  private readonly chunks: Uint8Array[] = [];
  private chunk = new Uint8Array(queueSnapshotChunkBytes);
  private filled = 0;
  private readonly lengthField = new Uint8Array(lengthBytes);
  private readonly lengthView = new DataView(this.lengthField.buffer);

  /** Appends one record. */
  add(value: unknown): void {
    const body = encode(value);
    this.lengthView.setUint32(0, body.byteLength);
    this.write(this.lengthField);
    this.write(body);
  }

  /** The chunks, the last one trimmed; the writer is spent. */
  finish(): Uint8Array[] {
    if (this.filled > 0) this.chunks.push(this.chunk.subarray(0, this.filled));
    return this.chunks;
  }

  private write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const room = this.chunk.byteLength - this.filled;
      const taken = Math.min(room, bytes.byteLength - offset);
      this.chunk.set(bytes.subarray(offset, offset + taken), this.filled);
      this.filled += taken;
      offset += taken;
      if (this.filled === this.chunk.byteLength) {
        this.chunks.push(this.chunk);
        this.chunk = new Uint8Array(queueSnapshotChunkBytes);
        this.filled = 0;
      }
    }
  }
}

export class SnapshotRecordParser {
  private pending = new Uint8Array(0);

  /** Adds a chunk; calls `onRecord` with each record it completes, in order. */
  push(chunk: Uint8Array, onRecord: (record: unknown) => void): void {
    let bytes = chunk;
    if (this.pending.byteLength > 0) {
      bytes = new Uint8Array(this.pending.byteLength + chunk.byteLength);
      bytes.set(this.pending, 0);
      bytes.set(chunk, this.pending.byteLength);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (bytes.byteLength - offset >= lengthBytes) {
      const bodyBytes = view.getUint32(offset);
      if (bytes.byteLength - offset - lengthBytes < bodyBytes) break;
      const start = offset + lengthBytes;
      onRecord(decode(bytes.subarray(start, start + bodyBytes)));
      offset = start + bodyBytes;
    }
    // A copy: the caller may reuse its chunk's buffer once `push` returns.
    this.pending = bytes.slice(offset);
  }

  /** Asserts that no partial record is left. */
  finish(): void {
    assert(this.pending.byteLength === 0, `queue snapshot ends inside a record (${this.pending.byteLength} bytes left over)`);
  }
}
