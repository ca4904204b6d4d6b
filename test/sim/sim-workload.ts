/**
 * The digest of an entry that the log-matching registry keeps (sim-checker.ts): its type, length
 * and every byte of its data (queue entries are MessagePack maps: the bytes that tell two apart
 * may be anywhere). The workload itself is the queue's client model (sim-queue-clients.ts).
 *
 * Runs on: the simulator.
 */
import type { LogEntry } from '../../src/log/log-entry.js';

function mix(hash: number, value: number): number {
  let h = Math.imul(hash ^ value, 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

/** A 32-bit digest of an entry's identity (for the log-matching registry). */
export function entryDigest(entry: LogEntry): number {
  let h = mix(0x811c9dc5, entry.type);
  h = mix(h, entry.data.byteLength);
  const data = entry.data;
  let position = 0;
  if (data.byteLength >= 4) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; position + 4 <= data.byteLength; position += 4) h = mix(h, view.getUint32(position));
  }
  for (; position < data.byteLength; position++) h = mix(h, data[position] as number);
  return h;
}
