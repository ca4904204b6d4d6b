/**
 * What a log entry means to the Raft core: the values of `LogEntry.type`.
 *
 * Why here and not in src/log/: the log and the WAL store the type as one opaque byte; only the
 * core reads meaning into it (it refuses to propose anything but `normal`, appends a `noop` on
 * election, reserves `membership`). The queue's state machine sees `normal` entries only.
 *
 * Invariants: every value fits one byte (0..255); values are stable (they are on disk).
 *
 * Runs on: every thread (a pure constant module).
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
