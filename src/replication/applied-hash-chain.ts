/**
 * A running checksum over every entry a node applies, in order: `hash(n) = crc32(entry n, hash(n-1))`
 * over term, index, type and payload. Two nodes that applied the same entries at the same indexes
 * have the same hash at every index; a node that lost, reordered or changed one does not. Tests
 * and drills compare it across nodes (the hash-chain check of DESIGN.md §8), and it is the state
 * of the no-op state machine the Replicator runs until the queue's state machine lands: its
 * snapshot is this hash and its index.
 *
 * Runs on: Replicator thread.
 */
import { crc32 } from 'node:zlib';
import type { RaftEntry } from '../raft/raft-entry.js';

const headerBytes = 17;
const twoPow32 = 0x1_0000_0000;

export interface HashChainState {
  readonly index: number;
  readonly hash: number;
}

export class AppliedHashChain {
  private readonly header = Buffer.alloc(headerBytes);
  index: number;
  hash: number;

  constructor(start: HashChainState = { index: 0, hash: 0 }) {
    this.index = start.index;
    this.hash = start.hash;
  }

  apply(entry: RaftEntry): void {
    const header = this.header;
    header.writeUInt32LE(entry.term % twoPow32, 0);
    header.writeUInt32LE(Math.floor(entry.term / twoPow32), 4);
    header.writeUInt32LE(entry.index % twoPow32, 8);
    header.writeUInt32LE(Math.floor(entry.index / twoPow32), 12);
    header[16] = entry.type;
    this.hash = crc32(entry.data, crc32(header, this.hash));
    this.index = entry.index;
  }

  /** The snapshot body of the no-op state machine: 16 bytes, index then hash. */
  encode(): Uint8Array {
    const bytes = Buffer.alloc(16);
    bytes.writeUInt32LE(this.index % twoPow32, 0);
    bytes.writeUInt32LE(Math.floor(this.index / twoPow32), 4);
    bytes.writeUInt32LE(this.hash >>> 0, 8);
    return bytes;
  }

  static decode(bytes: Uint8Array): HashChainState | undefined {
    if (bytes.byteLength !== 16) return undefined;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { index: view.readUInt32LE(0) + view.readUInt32LE(4) * twoPow32, hash: view.readUInt32LE(8) };
  }
}
