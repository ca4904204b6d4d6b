/**
 * One entry of the replicated log, in the one shape every layer uses: the Raft core makes and
 * reads it, the WAL stores it, the rings carry it and the state machine applies it, without
 * reshaping (as etcd-io/raft and its WAL share raftpb's `Entry`).
 *
 * Invariants:
 * - `index` is a safe integer ≥ 1; indexes in a log are contiguous.
 * - `term` is a safe integer ≥ 0 (the core only makes entries of term ≥ 1); terms never
 *   decrease along a log.
 * - `type` is an integer 0..255 (stored in one byte). The log and the WAL treat it as opaque;
 *   the Raft core gives it its meaning (`entryTypes` in src/raft/entry-types.ts).
 * - `data` is opaque bytes, never mutated once the entry is in a log: an entry handed out may be
 *   a view into its holder's memory.
 *
 * Runs on: every thread (a pure type module).
 */

export interface LogEntry {
  readonly term: number;
  readonly index: number;
  readonly type: number;
  readonly data: Uint8Array;
}
