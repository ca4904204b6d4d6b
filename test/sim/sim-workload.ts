/**
 * The simulator's client workload: what a proposed entry carries, and the digest of an entry that
 * the log-matching registry keeps (sim-checker.ts). The state machine itself is the production
 * hash chain (src/replication/applied-hash-chain.ts).
 *
 * A workload entry's data is | u32 value | u32 proposer node index | zero padding |.
 *
 * Runs on: the simulator.
 */
import type { LogEntry } from '../../src/log/log-entry.js';

export const workloadHeaderBytes = 8;

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
export function workloadValueOf(entry: LogEntry): number {
  if (entry.data.byteLength < workloadHeaderBytes) return -1;
  return new DataView(entry.data.buffer, entry.data.byteOffset, workloadHeaderBytes).getUint32(0);
}

/** Two 32-bit lanes of an entry's identity hash (for the log-matching registry). */
export function entryDigest(entry: LogEntry): number {
  let h = mix(0x811c9dc5, entry.type);
  h = mix(h, entry.data.byteLength);
  if (entry.data.byteLength >= workloadHeaderBytes) {
    const view = new DataView(entry.data.buffer, entry.data.byteOffset, workloadHeaderBytes);
    h = mix(h, view.getUint32(0));
    h = mix(h, view.getUint32(4));
  }
  return h;
}
