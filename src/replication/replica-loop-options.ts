/**
 * The replica loop's seams: what the loop needs from its host (the WAL link, a scheduler, failure
 * and warning reports), from the peers, and what it tells an optional observer; its counters (the
 * one declaration the /status types use, runtime/node-status.ts); and the options it is built with. The Replicator actor (src/actors/replicator-role.ts) implements them over its
 * rings, sockets and timers; the simulator (test/sim/sim-node.ts) over its simulated network,
 * clock and WAL. Types only: nothing here runs.
 *
 * Invariants (the host's side of the contract): `toWal` never drops or reorders a request;
 * `schedule` runs its cycle after the current turn, never inside the call.
 *
 * Runs on: Replicator thread, or the simulator (types only).
 */
import type { FalconError } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import type { ToWal } from '../protocol/wal.js';
import type { RaftSettings } from '../raft/raft-config.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { SeededRandom } from '../raft/random.js';
import type { ReadState } from '../raft/read-index.js';
import type { Ready } from '../raft/ready.js';
import type { PeerMessage } from './snapshot-stream-messages.js';
import type { StateMachine } from '../log/state-machine.js';

/** The peers as the loop sees them. */
export interface PeerLink {
  /** Queues `message` for its peer; false when it was dropped (no connection, queue full). */
  send(message: PeerMessage): boolean;
  /** Closes the connection to `peer` (it sent something malformed). */
  closeConnection(peer: string, reason: string): void;
  /** A connection to `peer` is established. */
  isConnected(peer: string): boolean;
}

/** What the loop needs from its host besides the WAL and the peers. */
export interface ReplicaHost {
  /** Sends a request to the WAL: in order, never dropped. */
  toWal(message: ToWal): void;
  /** Runs `cycle` soon, after the current turn (setImmediate, or a simulator event). */
  schedule(cycle: () => void): void;
  /** An unrecoverable failure: the node must stop. */
  fail(error: FalconError): void;
  /** Something an operator should know that the loop survives. */
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
  /** A step of the start an operator may want to read in the log (optional). */
  info?(fields: Readonly<Record<string, unknown>>, message: string): void;
}

/** Optional observers: figures for metrics, and the simulator's checks. */
export interface ReplicaObserver {
  /** A Ready is about to be processed (the simulator checks log matching here). */
  onReady?(node: RaftNode, ready: Ready): void;
  /** Entries were applied to the state machine, with their results. */
  onApplied?(entries: readonly LogEntry[], results: readonly unknown[]): void;
  /** Linearizable reads the core confirmed: serve each once the applied index reaches it. */
  onReadStates?(readStates: readonly ReadState[]): void;
  /** A snapshot from the leader replaced the state machine's state. */
  onSnapshotRestored?(snapshot: Snapshot): void;
  /** A write of `entries` entries went to the WAL; `uncommittedFromIndex..lastIndex` now waits for commit. */
  onWalWrite?(entries: number, lastIndex: number): void;
  /** The commit index applied so far (after each cycle that applied something). */
  onCommitted?(appliedIndex: number): void;
}

/** The loop's figures (`ReplicaLoop.counters`), reported in the Replicator's status as they are. */
export interface ReplicaLoopCounters {
  readyCycles: number;
  walWrites: number;
  peerMessagesIn: number;
  peerMessagesDropped: number;
  badPeerMessages: number;
  snapshotsInstalled: number;
  snapshotsTaken: number;
  /** Reads of old entries from the WAL for followers behind the in-memory window. */
  catchUpReads: number;
}

export interface ReplicaLoopOptions {
  readonly id: string;
  readonly voters: readonly string[];
  readonly raft: Partial<RaftSettings>;
  readonly random: SeededRandom;
  readonly stateMachine: StateMachine<unknown>;
  readonly host: ReplicaHost;
  readonly peers: PeerLink;
  /** Durable entries kept in memory behind the applied index (the WAL's tail cache size). */
  readonly entriesBehindAppliedMax: number;
  /** Bytes of records per WAL request and per WAL read answer (bounded by the ring's message bound). */
  readonly walRequestBytesMax: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotEveryBytes: number;
  /** Bytes of one snapshot chunk (WAL request, peer message); at most `snapshotChunkBytesMax`, and
   *  cut to `walRequestBytesMax`. The simulator uses a small one so that snapshots span chunks. */
  readonly snapshotChunkBytes?: number;
  /** Ticks without progress before a snapshot stream resends (default 50). */
  readonly snapshotResendTicks?: number;
  /** Distinguishes this start's WAL reads from replies still in flight for an earlier one. */
  readonly incarnation: number;
  /** Grows with every start of this node (the start time in ms, or the simulator's incarnation):
   *  lets a leader tell this start's answers from an earlier one's (src/raft/catch-up.ts). */
  readonly bootId: number;
  /**
   * The cluster this node belongs to (`cluster.name`), kept in the hard state as the identity of
   * its data directory: a directory of another cluster refuses to start (CONFIG_INVALID), and a
   * node whose WAL holds nothing waits for its peers' handshakes (`onPeerHandshake`) before it
   * may vote (fresh-start.ts). Omitted (the simulator, which never wipes a disk): no identity is
   * written or checked, and an empty node votes at once, as a member of a new cluster.
   */
  readonly clusterName?: string;
  readonly observer?: ReplicaObserver;
}
