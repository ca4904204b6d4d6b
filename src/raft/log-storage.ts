/**
 * The contract between the core and the caller's durable log (the WAL, or `MemoryLogStorage`).
 *
 * The core keeps only the part of the log that is not yet durable in memory; everything at or
 * below its stable boundary it reads from here. The caller updates what `LogStorage` returns as
 * writes become durable, and BEFORE it reports them with `RaftNode.onDurable`.
 *
 * Reads are synchronous, with one explicit escape: `entries` may answer 'unavailable' for entries
 * at or below the applied index (old entries a slow follower needs, which a real WAL reads from
 * disk on another thread). The core then sends nothing to that follower; the caller starts
 * loading the range and calls `RaftNode.entriesLoaded()` once it is in memory, and the core sends
 * then (or on the follower's next heartbeat response, whichever comes first).
 * Entries above the applied index and every term in [firstIndex() - 1, last durable index] must
 * be answered at once (the caller keeps them in memory: they were in the core moments ago, and a
 * term index is a few runs of numbers).
 *
 * Invariants the caller keeps: firstIndex() ≥ 1; term(firstIndex() - 1) is the snapshot's term
 * (0 at index 0); entries are contiguous; nothing above the core's `compactableIndex()` is ever
 * compacted.
 *
 * Runs on: the thread that owns the RaftNode (the Replicator actor, or a test).
 */
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Membership } from '../log/membership.js';
import type { Snapshot } from '../log/snapshot.js';

/** Marker for a term or an entry below the first index still held. */
export const compacted = 'compacted';
/** Marker for entries the caller has on disk but not in memory right now. */
export const unavailable = 'unavailable';

export interface InitialState {
  readonly hardState: HardState;
  /** From the newest snapshot; null when there is none (then the configured voters apply). */
  readonly membership: Membership | null;
}

export interface LogStorage {
  /** The durable hard state and membership, read once when a node starts. */
  initialState(): InitialState;
  /** The index of the first entry held: the snapshot index + 1 (1 for a fresh log). */
  firstIndex(): number;
  /** The index of the last durable entry (the snapshot index when the log is empty). Read once
   *  when a node starts; afterwards the core tracks its own stable boundary. */
  lastIndex(): number;
  /** The term of the entry at `index`, for firstIndex() - 1 ≤ index ≤ the last durable index. */
  term(index: number): number | typeof compacted;
  /** Entries [fromIndex, toIndex) in order, at least one, then as many as fit in `bytesMax`. */
  entries(fromIndex: number, toIndex: number, bytesMax: number): readonly LogEntry[] | typeof compacted | typeof unavailable;
  /** The newest snapshot, to send to a follower that needs compacted entries; 'unavailable' while
   *  one is being made (the core retries later). */
  snapshot(): Snapshot | typeof unavailable;
}
