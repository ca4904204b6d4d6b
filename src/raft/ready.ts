/**
 * What the core asks its caller to do, in one batch (etcd-io/raft's Ready, with the durable /
 * not-yet-durable split of its asynchronous storage writes).
 *
 * The caller, for each Ready, in this order:
 * 1. starts ONE write, in this order within it: `snapshot` (if any), then `entries` (the first
 *    may overwrite: drop everything from entries[0].index on first), then `hardState` (if any).
 *    Writes complete in the order they were started. A crash may keep any prefix of this
 *    sequence (a torn last record is dropped): never the hard state without the entries before
 *    it, which is what keeps a persisted commit index truthful;
 * 2. sends `messages` at once (they may overtake the write: the leader's appends go out in
 *    parallel with its own disk write);
 * 3. installs `snapshot` into the state machine, then applies `committedEntries` in order, and
 *    serves `readStates` once its applied index reaches theirs;
 * 4. calls `advance(ready)` before any other call on the node;
 * 5. when `needsCatchUpCleared`, clears the marker durably and then calls `onNeedsCatchUpCleared()`
 *    (independent of the write: a crash before it only means catching up again after restart);
 * 6. when the write is durable (and every earlier one), makes the storage return it, calls
 *    `onDurable({ lastIndex, term })` naming the write's last entry (or snapshot) if it had any,
 *    and only then sends `messagesAfterDurable` — even if this Ready wrote nothing itself, they
 *    wait for the writes before it.
 *
 * Invariants: every entry in `committedEntries` is committed and durable on this node; entries
 * are contiguous and follow the previous Ready's; `messagesAfterDurable` never includes a leader's
 * append, and `messages` never includes a vote, a granted vote or an append acknowledgement.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import type { RaftMessage } from './raft-messages.js';
import type { ReadState } from './read-index.js';

export interface Ready {
  /** Persist (last in the write) when non-null: it changed since the last Ready. */
  readonly hardState: HardState | null;
  /** Persist (first in the write) and install into the state machine: it replaces the log. */
  readonly snapshot: Snapshot | null;
  /** Append durably; entries[0] may overwrite a suffix of the log. */
  readonly entries: readonly LogEntry[];
  /** May be sent now. */
  readonly messages: readonly RaftMessage[];
  /** Must wait until this Ready's write, and every earlier one, is durable. */
  readonly messagesAfterDurable: readonly RaftMessage[];
  /** Apply to the state machine, in order. */
  readonly committedEntries: readonly LogEntry[];
  /** Confirmed linearizable reads. */
  readonly readStates: readonly ReadState[];
  /** True once (catch-up.ts): this node has caught up; clear the needs-catch-up marker durably,
   *  then call `onNeedsCatchUpCleared()`. Until then the node still behaves as catching up. */
  readonly needsCatchUpCleared: boolean;
}
