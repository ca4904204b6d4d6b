/**
 * The messages of the dispatch link (Dispatcher <-> Replicator): how client requests become log
 * entries and reads, and how their outcomes come back.
 *
 * Dispatcher -> Replicator:
 * - `propose`: one encoded `QueueEntry` (src/queue/commands.ts) that the Dispatcher built from
 *   every write request of one turn; the Replicator proposes `data` as it is (encoded once).
 * - `read`: linearizable reads; the Replicator asks the core for a ReadIndex, waits until the
 *   state machine applied that index, and answers from it.
 *
 * Replicator -> Dispatcher:
 * - `applied`: the batch's entry committed and was applied at `index`: one result per command, in
 *   the order of the entry's commands.
 * - `refused`: the batch was not appended (this node does not lead, the core dropped it), or its
 *   entry was replaced by another leader's before it committed: it had no effect.
 * - `readDone` / `readRefused`: the answers of a `read`, one per query in one or more parts, or
 *   why none came.
 * - `leadership`: who leads now, sent whenever it changes (and once at start), so that the
 *   Dispatcher answers NOT_LEADER with the leader's client address without asking.
 * - `readyQueues`: queues that gained ready jobs in the last apply, to wake parked long polls.
 *
 * Invariants: `batch` numbers are the Dispatcher's, unique per Dispatcher start; every `propose`
 * and `read` is answered exactly once, unless the Replicator restarts (the Dispatcher's deadline
 * answers those); the results of `applied` are in command order.
 *
 * Checked on arrival, one checker per direction: dispatch-validation.ts.
 *
 * Runs on: Dispatcher thread and Replicator thread (types only).
 */
import type { FalconError } from '../errors.js';
import type { JobState } from '../queue/results.js';
import type { EntryResults, JobPage, JobView, QueueStats, WorkerView } from '../queue/results.js';

export interface ProposeMessage {
  readonly type: 'propose';
  readonly batch: number;
  readonly data: Uint8Array;
}

export type QueueQuery =
  | { readonly type: 'get'; readonly jobId: number }
  | { readonly type: 'list'; readonly queue: string; readonly state: JobState; readonly afterId: number; readonly limit: number }
  | { readonly type: 'stats'; readonly queue: string | null }
  | { readonly type: 'workers' };

export interface ReadMessage {
  readonly type: 'read';
  readonly batch: number;
  /** The leader's clock at the request, for ages (oldest ready job). */
  readonly nowMs: number;
  readonly queries: readonly QueueQuery[];
}

export type ToReplicatorFromDispatcher = ProposeMessage | ReadMessage;

export interface AppliedMessage {
  readonly type: 'applied';
  readonly batch: number;
  readonly index: number;
  readonly results: EntryResults;
}

export interface RefusedMessage {
  readonly type: 'refused';
  readonly batch: number;
  readonly error: FalconError;
  /** The node believed to lead, when known (NOT_LEADER). */
  readonly leader: string | null;
}

/** One answer per query: a job (or null when unknown), a page, the stats of the queues asked
 *  for, or the registered workers. */
export type QueryResult = JobView | null | JobPage | readonly QueueStats[] | readonly WorkerView[] | FalconError;

/** Answers of a read's queries `from` .. `from + results.length - 1`; `done` on the last part. A
 *  read's answers come in parts so that each message stays within a ring message (a `get` carries
 *  a payload and a result of up to `queue.payloadBytesMax` each). */
export interface ReadDoneMessage {
  readonly type: 'readDone';
  readonly batch: number;
  readonly from: number;
  readonly results: readonly QueryResult[];
  readonly done: boolean;
}

export interface ReadRefusedMessage {
  readonly type: 'readRefused';
  readonly batch: number;
  readonly error: FalconError;
  readonly leader: string | null;
}

export interface LeadershipMessage {
  readonly type: 'leadership';
  /** The leader this node knows of, null when none. */
  readonly leader: string | null;
  readonly term: number;
  /** The graceful stop started: this node will not lead again; refuse new writes. */
  readonly stepping: boolean;
}

export interface ReadyQueuesMessage {
  readonly type: 'readyQueues';
  readonly queues: readonly string[];
}

export type ToDispatcherFromReplicator = AppliedMessage | RefusedMessage | ReadDoneMessage | ReadRefusedMessage | LeadershipMessage | ReadyQueuesMessage;
