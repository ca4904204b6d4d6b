/**
 * What a caller proposes to the Raft core (the core assigns term and index, making it a
 * `LogEntry`), and the payload measure every byte bound in the core uses.
 *
 * Invariants: `type` is one of `entryTypes` (entry-types.ts); `data` is never mutated once
 * proposed (it may be a view into caller memory).
 *
 * Runs on: every thread (a pure module).
 */

/** What a caller proposes: the core assigns term and index. */
export interface ProposalEntry {
  readonly type: number;
  readonly data: Uint8Array;
}

/** Payload bytes of `entries[from, to)`: the measure every byte bound in the core uses. */
export function payloadBytesOf(entries: readonly ProposalEntry[], from = 0, to = entries.length): number {
  let bytes = 0;
  for (let position = from; position < to; position++) bytes += entries[position]?.data.byteLength ?? 0;
  return bytes;
}
