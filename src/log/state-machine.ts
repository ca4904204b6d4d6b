/**
 * The seam between the replicated log and what it replicates, in the style of hashicorp/raft's
 * FSM: the replica loop (replica-loop.ts) applies committed entries through it, takes snapshots
 * from it and restores it from a snapshot, and asks it how much of the log it still needs.
 *
 * Contracts every implementation keeps:
 * - `apply` is deterministic: the same entries from the same state give the same state and the
 *   same results on every node. No clock, no random source, no I/O inside (time and jitter come
 *   in the entries, put there by the leader).
 * - Entries arrive in log order, each exactly once, starting at `appliedIndex + 1`; no-op entries
 *   (entryTypes.noop) arrive too, so that `appliedIndex` follows the log.
 * - `snapshot()` captures the state at `appliedIndex` at the moment of the call; the reader it
 *   returns must yield the same bytes even if entries are applied while it is read (copy on
 *   write, or an immutable view), so that a large snapshot can be written and shipped in bounded
 *   chunks without stopping the apply path. A reader with `prepare` captures lazily instead: no
 *   entry is applied until its `prepare` answered true, after which the rule above holds.
 * - `restore` replaces the whole state with a snapshot's, chunk by chunk; the state is not used
 *   between `beginRestore` and `finish` (the loop applies nothing meanwhile). A body the
 *   implementation does not recognise (another state machine's, another format version) is a
 *   bug or a foreign data directory: it throws, and the node stops rather than diverge.
 * - `compactionFloor()` is the lowest log index the state machine still needs to read back from
 *   the log (a queue that keeps payloads in the log needs the entries of its oldest live job);
 *   `appliedIndex + 1` when it needs none. The log is never compacted at or above it.
 *
 * Runs on: the thread that runs the replica loop (the Replicator actor, or the simulator). It lives in
 * log/ so that a state machine (src/queue/) implements it without importing the replica loop.
 */
import type { LogEntry } from './log-entry.js';

/** Bytes of one snapshot chunk at most: the unit of memory, of a WAL write and of a peer frame. */
export const snapshotChunkBytesMax = 1024 * 1024;

/** A point-in-time snapshot, read in chunks of at most `snapshotChunkBytesMax` bytes. */
export interface SnapshotReader {
  /** The applied index the snapshot captures. */
  readonly index: number;
  /**
   * Optional: captures a bounded slice of the state per call, true once the snapshot is whole
   * (a large state is then captured over several turns instead of holding its thread). Until it
   * answers true the caller applies nothing (the replica loop defers committed entries), and
   * `next` would capture the rest at once.
   */
  prepare?(): boolean;
  /** The next chunk, or null once the whole snapshot was read. */
  next(): Uint8Array | null;
}

/** Receives a snapshot's chunks in order; `finish` makes it the state. */
export interface SnapshotWriter {
  write(chunk: Uint8Array): void;
  /** Completes the restore: the state is the snapshot's, at `index`. */
  finish(): void;
}

export interface StateMachine<Result = void> {
  /** The index of the last entry applied (or of the snapshot restored); 0 for an empty state. */
  readonly appliedIndex: number;
  /** Applies committed entries in order; one result per entry, in the same order (or an empty
   *  array from a state machine whose commands have no results). */
  apply(entries: readonly LogEntry[]): readonly Result[];
  /** A snapshot of the state as it is now (see the contract above). */
  snapshot(): SnapshotReader;
  /** Starts replacing the state with the snapshot taken at `index`. */
  beginRestore(index: number): SnapshotWriter;
  /** The lowest log index still needed; `appliedIndex + 1` when none. */
  compactionFloor(): number;
}

/** Reads a whole snapshot into one buffer (for snapshots that travel whole today). */
export function readWholeSnapshot(reader: SnapshotReader): Uint8Array {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (let chunk = reader.next(); chunk !== null; chunk = reader.next()) {
    chunks.push(chunk);
    bytes += chunk.byteLength;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const whole = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/** Restores `machine` from a snapshot body held whole, in chunks of the usual bound. */
export function restoreWhole(machine: StateMachine<unknown>, index: number, body: Uint8Array): void {
  const writer = machine.beginRestore(index);
  for (let offset = 0; offset < body.byteLength || offset === 0; offset += snapshotChunkBytesMax) {
    writer.write(body.subarray(offset, Math.min(body.byteLength, offset + snapshotChunkBytesMax)));
    if (body.byteLength === 0) break;
  }
  writer.finish();
}
