/**
 * The messages of the registry links: Dispatcher <-> Registry (worker heartbeats) and
 * Replicator <-> Registry (which workers the state machine lists, and the release of one that
 * missed its TTL).
 *
 * Dispatcher -> Registry: `beat` (a worker's heartbeat, on the leader), answered by
 * Registry -> Dispatcher `beatAnswer` (`registered: false` when the worker is unknown: its TTL
 * expired, or it never registered, and it must register again). Dispatcher -> Registry
 * `unregister` (a worker said goodbye; the Dispatcher proposes its release itself, so that the
 * worker's reply waits for it): the Registry stops its TTL at once, and asks the release again
 * the way an expiry does if the state machine still lists the worker `releaseRetryMs` later.
 *
 * Replicator -> Registry: `workers`, whenever this node's leadership or the state machine's list
 * of registered workers changes (and once at start): the Registry tracks TTLs only while
 * `leading`, and a new leader's list gives every worker a fresh TTL.
 * Registry -> Replicator: `releaseWorker`, for a worker past its TTL: the Replicator proposes the
 * `releaseWorker` command (which returns its leases to ready on every node).
 *
 * Checked on arrival, one checker per direction: registry-validation.ts.
 *
 * Runs on: Dispatcher, Registry and Replicator threads (types only).
 */

export interface BeatMessage {
  readonly type: 'beat';
  /** The Dispatcher's number for this beat, echoed by the answer. */
  readonly request: number;
  readonly workerId: string;
  readonly load: number;
}

export interface UnregisterMessage {
  readonly type: 'unregister';
  readonly workerId: string;
}

export interface BeatAnswerMessage {
  readonly type: 'beatAnswer';
  readonly request: number;
  readonly registered: boolean;
}

export interface WorkersMessage {
  readonly type: 'workers';
  readonly leading: boolean;
  readonly term: number;
  readonly workerIds: readonly string[];
}

export interface ReleaseWorkerMessage {
  readonly type: 'releaseWorker';
  readonly workerId: string;
}

export type ToRegistryFromDispatcher = BeatMessage | UnregisterMessage;
export type ToDispatcherFromRegistry = BeatAnswerMessage;
export type ToRegistryFromReplicator = WorkersMessage;
export type ToReplicatorFromRegistry = ReleaseWorkerMessage;
