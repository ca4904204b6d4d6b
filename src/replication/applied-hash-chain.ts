/**
 * A running checksum over every entry a node applies, in order:
 * `hash(n) = crc32(payload n, mix(hash(n-1), term, index, type))`, where `mix` folds the entry's
 * numbers into the running value with integer multiplies (one native crc32 call per entry: the
 * hash runs on every node for every entry, so it is on the hot path). Two nodes that applied the same entries at the same indexes
 * have the same hash at every index; a node that lost, reordered or changed one does not. Tests,
 * drills and the simulator compare it across nodes (the hash-chain check of DESIGN.md §8). It is
 * the first implementation of the state-machine seam (state-machine.ts): the state machine the
 * Replicator runs until the queue's lands, and the simulator's. Its snapshot is one 16-byte chunk,
 * index then hash; it needs no log behind its applied index.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { SnapshotReader, SnapshotWriter, StateMachine } from '../log/state-machine.js';

const twoPow32 = 0x1_0000_0000;
/** The chain's commands have no results. */
const noResults: readonly void[] = [];

export interface HashChainState {
  readonly index: number;
  readonly hash: number;
}

export class AppliedHashChain implements StateMachine {
  index: number;
  hash: number;

  constructor(start: HashChainState = { index: 0, hash: 0 }) {
    this.index = start.index;
    this.hash = start.hash;
  }

  /** Folds one entry into the chain. */
  applyOne(entry: LogEntry): void {
    let seed = this.hash ^ Math.imul(entry.index % twoPow32, 0x9e3779b1);
    seed = Math.imul(seed ^ (seed >>> 16), 0x85ebca6b) ^ Math.imul(Math.floor(entry.index / twoPow32) + entry.term % twoPow32, 0xc2b2ae35);
    seed = Math.imul(seed ^ (seed >>> 13), 0x27d4eb2f) ^ Math.imul(Math.floor(entry.term / twoPow32) + entry.type + 1, 0x165667b1);
    this.hash = crc32(entry.data, (seed ^ (seed >>> 16)) >>> 0);
    this.index = entry.index;
  }

  get appliedIndex(): number {
    return this.index;
  }

  apply(entries: readonly LogEntry[]): readonly void[] {
    for (const entry of entries) {
      assert(entry.index === this.index + 1, `hash chain applies index ${entry.index} after ${this.index}`);
      this.applyOne(entry);
    }
    return noResults;
  }

  snapshot(): SnapshotReader {
    const body = this.encode();
    let read = false;
    return {
      index: this.index,
      next: () => {
        if (read) return null;
        read = true;
        return body;
      },
    };
  }

  beginRestore(index: number): SnapshotWriter {
    const chunks: Uint8Array[] = [];
    return {
      write: (chunk) => {
        chunks.push(chunk);
      },
      finish: () => {
        const restored = AppliedHashChain.fromSnapshot({ index, data: chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks) });
        this.index = restored.index;
        this.hash = restored.hash;
      },
    };
  }

  compactionFloor(): number {
    return this.index + 1;
  }

  /** The snapshot body of the no-op state machine: 16 bytes, index then hash. */
  encode(): Uint8Array {
    const bytes = Buffer.alloc(16);
    bytes.writeUInt32LE(this.index % twoPow32, 0);
    bytes.writeUInt32LE(Math.floor(this.index / twoPow32), 4);
    bytes.writeUInt32LE(this.hash >>> 0, 8);
    return bytes;
  }

  /** The chain as a snapshot left it. A body that is not one this module wrote is a bug: stop. */
  static fromSnapshot(snapshot: { readonly index: number; readonly data: Uint8Array }): AppliedHashChain {
    const state = AppliedHashChain.decode(snapshot.data);
    assert(state !== undefined && state.index === snapshot.index,
      `snapshot at ${snapshot.index} holds no hash chain state (${snapshot.data.byteLength} bytes)`);
    return new AppliedHashChain(state);
  }

  static decode(bytes: Uint8Array): HashChainState | undefined {
    if (bytes.byteLength !== 16) return undefined;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { index: view.readUInt32LE(0) + view.readUInt32LE(4) * twoPow32, hash: view.readUInt32LE(8) };
  }
}
