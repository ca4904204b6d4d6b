/**
 * The Raft log entry, in exactly the shape the WAL stores (`WalEntry` in src/wal/wal-entry.ts):
 * the two are kept separate so that the pure core never imports the WAL, and structural typing
 * makes a `RaftEntry` a `WalEntry` and back.
 *
 * Invariants: `index` ≥ 1 and `term` ≥ 1 are safe integers; indexes in a log are contiguous and
 * terms never decrease along a log; `type` is one of `entryTypes`; `data` is never mutated once
 * the entry is in a log (it may be a view into caller memory).
 *
 * Runs on: every thread (a pure type module).
 */

/** What an entry means to the core. Stored in one byte by the WAL. */
export const entryTypes = {
  /** State machine command: opaque to the core. */
  normal: 0,
  /** Cluster membership change. Reserved: this version refuses to propose one (voters are fixed). */
  membership: 1,
  /** The empty entry a new leader appends in its own term, so that it can commit (Raft §5.4.2). */
  noop: 2,
} as const;

export type EntryType = (typeof entryTypes)[keyof typeof entryTypes];

export interface RaftEntry {
  readonly term: number;
  readonly index: number;
  readonly type: number;
  readonly data: Uint8Array;
}

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
