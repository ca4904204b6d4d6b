/**
 * The simulator's state machine: a hash chain over every applied entry (NATS-style). Two nodes
 * that applied the same entries in the same order hold the same hash at the same index, so
 * comparing hashes compares whole histories in O(1).
 *
 * A workload entry's data is | u32 value | u32 proposer node index | zero padding |; the hash
 * covers term, index, type, the 8-byte header and the data length (the padding is zero).
 * Snapshot data is | u32 index low | u32 index high | u32 hashHigh | u32 hashLow | (16 bytes).
 *
 * Invariant: appliedIndex only grows, one entry at a time, except through `restore`.
 *
 * Runs on: the simulator.
 */
import { assert } from '../../src/errors.js';
import type { RaftEntry } from '../../src/raft/raft-entry.js';
import type { RaftSnapshot } from '../../src/raft/raft-messages.js';

export const workloadHeaderBytes = 8;
const twoPow32 = 0x1_0000_0000;

function mix(hash: number, value: number): number {
  let h = Math.imul(hash ^ value, 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

export function encodeWorkloadData(value: number, proposerIndex: number, paddingBytes: number): Uint8Array {
  const data = new Uint8Array(workloadHeaderBytes + paddingBytes);
  const view = new DataView(data.buffer);
  view.setUint32(0, value);
  view.setUint32(4, proposerIndex);
  return data;
}

/** The workload value in an entry's data, or -1 for entries that carry none (no-ops). */
export function workloadValueOf(entry: RaftEntry): number {
  if (entry.data.byteLength < workloadHeaderBytes) return -1;
  return new DataView(entry.data.buffer, entry.data.byteOffset, workloadHeaderBytes).getUint32(0);
}

/** Two 32-bit lanes of an entry's identity hash (for the log-matching registry). */
export function entryDigest(entry: RaftEntry): number {
  let h = mix(0x811c9dc5, entry.type);
  h = mix(h, entry.data.byteLength);
  if (entry.data.byteLength >= workloadHeaderBytes) {
    const view = new DataView(entry.data.buffer, entry.data.byteOffset, workloadHeaderBytes);
    h = mix(h, view.getUint32(0));
    h = mix(h, view.getUint32(4));
  }
  return h;
}

export class SimStateMachine {
  appliedIndex = 0;
  hashHigh = 0;
  hashLow = 0;

  apply(entry: RaftEntry): void {
    assert(entry.index === this.appliedIndex + 1, `state machine applies index ${entry.index} after ${this.appliedIndex}`);
    const digest = entryDigest(entry);
    this.hashHigh = mix(mix(mix(this.hashHigh, entry.term), entry.index % twoPow32), digest);
    this.hashLow = mix(mix(this.hashLow ^ 0x5bd1e995, digest), entry.term + 7);
    this.appliedIndex = entry.index;
  }

  snapshotData(): Uint8Array {
    const data = new Uint8Array(16);
    const view = new DataView(data.buffer);
    view.setUint32(0, this.appliedIndex % twoPow32);
    view.setUint32(4, Math.floor(this.appliedIndex / twoPow32));
    view.setUint32(8, this.hashHigh);
    view.setUint32(12, this.hashLow);
    return data;
  }

  restore(snapshot: RaftSnapshot | null): void {
    if (snapshot === null) {
      this.appliedIndex = 0;
      this.hashHigh = 0;
      this.hashLow = 0;
      return;
    }
    const view = new DataView(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength);
    const index = view.getUint32(0) + view.getUint32(4) * twoPow32;
    assert(index === snapshot.index, `snapshot data says index ${index}, metadata says ${snapshot.index}`);
    this.appliedIndex = index;
    this.hashHigh = view.getUint32(8);
    this.hashLow = view.getUint32(12);
  }
}
