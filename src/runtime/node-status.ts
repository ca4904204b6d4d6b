/**
 * The typed status of a node: what each actor's role reports (WAL writer, Replicator with its Raft
 * view and metrics figures, idle), what the actor runtime adds around it (links, backlogs), what
 * the supervisor knows of each actor, and the whole /status answer. Producers (the roles, the
 * actor runtime, the supervisor) build these types; readers (the ops server, metrics, the
 * `falcon status` command) read them without casts.
 *
 * `NodeView` is what the readers need from the supervisor, so that http/ and metrics/ never
 * import the Supervisor class (a floor above them).
 *
 * Invariant: plain data only (numbers, strings, booleans, arrays, maps): every value crosses the
 * control ring in MessagePack and the ops port in JSON as it is.
 *
 * Runs on: every actor thread (builds its part), supervisor (reads), an operator's shell (reads).
 */
import type { Outcome } from '../errors.js';
import { isMap } from '../log/shape-check.js';
import type { ResponseOf, RoleRequest } from '../protocol/control.js';
import type { PeerConnectionStats } from '../net/peer-connection.js';
import type { PeerStatus, RaftStatus } from '../raft/raft-node.js';
import type { FreshStartStatus } from '../replication/fresh-start.js';
import type { ReplicaLoopCounters } from '../replication/replica-loop.js';
import type { WorkerLiveness } from '../registry/worker-ttls.js';
import type { QueueMachineCounters, QueueStats, WorkerView } from '../queue/results.js';
import type { DispatcherCounters } from '../dispatch/dispatcher.js';
import type { ClientServerCounters } from '../net/client-server.js';
import type { RingStats } from '../ring/spsc-ring.js';
import type { ActorName } from './topology.js';

/** A fixed-bucket histogram as plain numbers (metrics/bucket-histogram.ts keeps one). */
export interface HistogramSnapshot {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** The Replicator's figures for /metrics (metrics/raft-metrics.ts exposes them). */
export interface RaftMetricsReport {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly isLeader: boolean;
  readonly elections: number;
  readonly leaderChanges: number;
  readonly commitLatencyMs: HistogramSnapshot;
  readonly appendBatchEntries: HistogramSnapshot;
  readonly peerReconnects: Readonly<Record<string, number>>;
}

/**
 * The WAL writer's figures (actors/wal-service.ts declares its `counters` with this type; declared
 * here because actors/ is a floor above runtime/).
 */
export interface WalServiceCounters {
  groupCommits: number;
  entriesCommitted: number;
  largestGroupEntries: number;
  diskFullErrors: number;
}

/** The WAL writer's status; its counters are absent until the WAL service runs. */
export type WalWriterStatus =
  | { readonly role: 'walWriter'; readonly dir: string; readonly open: false }
  | Partial<Readonly<WalServiceCounters>> & {
    readonly role: 'walWriter'; readonly dir: string; readonly open: true;
    readonly firstIndex: number; readonly lastIndex: number; readonly durableLastIndex: number; readonly snapshotIndex: number;
    readonly needsCatchUp: string | null; readonly failed: string | null;
  };

/** One peer link as the Replicator's transport sees it. */
export type PeerLinkFigures = PeerConnectionStats & { readonly connected: boolean; readonly reconnects: number };

/** The Raft core's status, each peer with its lag behind this node's last index. */
export type ReplicatorRaftView = RaftStatus & { readonly peers: ReadonlyArray<PeerStatus & { readonly lag: number }> };

/** The queue as the Replicator's state machine holds it, for /status and /metrics. */
export interface QueueReport {
  readonly counters: QueueMachineCounters;
  readonly queues: readonly QueueStats[];
  readonly workers: readonly WorkerView[];
  /** From enqueue to lease and to completion, leader-stamped, per job, in ms. */
  readonly enqueueToLeaseMs: HistogramSnapshot;
  readonly enqueueToAckMs: HistogramSnapshot;
  /** Client batches and reads waiting for their entry or their ReadIndex. */
  readonly pending: { readonly proposals: number; readonly reads: number };
}

export type ReplicatorStatus =
  | { readonly role: 'replicator'; readonly started: false; readonly freshStart: (FreshStartStatus & { readonly phase: string }) | null }
  | Readonly<ReplicaLoopCounters> & {
    readonly role: 'replicator'; readonly started: true;
    readonly raft: ReplicatorRaftView;
    readonly applied: { readonly index: number; readonly hash: number };
    readonly snapshotIndex: number;
    readonly writesWaitingForWal: number;
    readonly diskFull: string | null;
    readonly transport: Readonly<Record<string, PeerLinkFigures>>;
    readonly leaderChanges: number;
    readonly metrics: RaftMetricsReport;
    readonly queue: QueueReport;
  };

export interface IdleStatus {
  readonly role: 'idle';
  readonly unexpectedMessages: number;
}

/** The Registry's status: the worker TTL table, on the leader. */
export interface RegistryStatus {
  readonly role: 'registry';
  readonly leading: boolean;
  readonly term: number;
  readonly beats: number;
  readonly releasesAsked: number;
  /** Workers that unregistered while this node led (their release proposed by the Dispatcher). */
  readonly unregistered: number;
  readonly workers: readonly WorkerLiveness[];
}

/** The Dispatcher's status: its request counters, long polls, batches in flight, client port. */
export type DispatcherStatus = Readonly<DispatcherCounters> & {
  readonly role: 'dispatcher';
  readonly port: number;
  readonly parkedPulls: number;
  readonly inflightBatches: number;
  readonly server: Readonly<ClientServerCounters>;
};

/** One queue's local runner in the Worker's status: what it serves and what it has done. */
export interface WorkerRunnerStatus {
  readonly queue: string;
  readonly workerId: string;
  readonly module: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly registered: boolean;
  readonly running: number;
  readonly counters: Readonly<Record<string, number>>;
}

/** The Worker's status: one runner per queue this node has a handler for (none: it leases nothing). */
export interface WorkerStatus {
  readonly role: 'worker';
  readonly runners: readonly WorkerRunnerStatus[];
  readonly unexpectedMessages: number;
}

/** What a role reports (ActorRole.status). */
export type RoleStatus = WalWriterStatus | ReplicatorStatus | RegistryStatus | DispatcherStatus | WorkerStatus | IdleStatus;

export interface LinkBacklog {
  readonly messages: number;
  readonly bytes: number;
  readonly queuedTotal: number;
}

/** What an actor thread answers to a status request: the runtime's figures around its role's. */
export interface ActorRuntimeStatus {
  readonly incarnation: number;
  readonly ready: boolean;
  readonly linksAnswered: Readonly<Partial<Record<ActorName, boolean>>>;
  readonly linkBacklogs: Readonly<Partial<Record<ActorName, LinkBacklog>>>;
  /** This thread's V8 heap: used and reserved bytes, and memory held outside it (buffers). */
  readonly heap?: { readonly usedBytes: number; readonly totalBytes: number; readonly externalBytes: number };
  /** Null only before the role exists (the supervisor asks ready actors only). */
  readonly role: RoleStatus | null;
}

/** One actor as the supervisor knows it, with what it reported (null: not ready or no answer). */
export interface ActorReport {
  readonly state: string;
  readonly incarnation: number;
  readonly restarts: number;
  readonly lastFailure: string | null;
  readonly reported: ActorRuntimeStatus | null;
}

export interface NodeHealth {
  readonly ok: boolean;
  readonly failing: Readonly<Record<string, string>>;
}

export interface NodeReadiness {
  readonly ready: boolean;
  readonly waitingFor: readonly string[];
}

export interface NamedRing {
  readonly name: string;
  readonly buffer: SharedArrayBuffer;
}

/** The /status answer of a node. */
export interface NodeStatus {
  readonly node: string;
  readonly cluster: string;
  readonly pid: number;
  readonly uptimeMs: number;
  readonly ports: { readonly peer: number; readonly client: number; readonly ops: number };
  readonly health: NodeHealth;
  readonly readiness: NodeReadiness;
  readonly raft: ReplicatorRaftView | null;
  readonly applied: { readonly index: number; readonly hash: number } | null;
  readonly snapshot: { readonly index: number; readonly installedFromLeader: number } | null;
  /** The queues as this node applied them (empty before the Replicator started). */
  readonly queues: readonly QueueStats[];
  /** Registered workers: queues and leases from the state machine; last beat and TTL deadline from
   *  the Registry, on the leader (null elsewhere). */
  readonly workers: ReadonlyArray<WorkerView & { readonly lastBeatMs: number | null; readonly deadlineMs: number | null; readonly releasing: boolean }>;
  readonly actors: Readonly<Partial<Record<ActorName, ActorReport>>>;
  readonly rings: ReadonlyArray<RingStats & { readonly name: string }>;
}

/** Liveness and restarts of one actor, for /metrics. */
export interface ActorFigures {
  readonly actor: ActorName;
  readonly up: boolean;
  readonly restarts: number;
}

/** What the ops server and the metrics read from the supervisor (supervisor.ts implements it). */
export interface NodeView {
  readonly rings: readonly NamedRing[];
  health(): NodeHealth;
  readiness(): NodeReadiness;
  readinessWithLeader(): Promise<NodeReadiness & { readonly leader: string | null }>;
  uptimeMs(): number;
  actorFigures(): ActorFigures[];
  actorStatuses(): Promise<Partial<Record<ActorName, ActorReport>>>;
  /** The Replicator's role status, undefined when it is not ready or does not answer in time. */
  replicatorStatus(): Promise<ReplicatorStatus | undefined>;
  /** A role's answer to `request`, typed by its kind (protocol/control.ts), or why there is none. */
  askRole<Request extends RoleRequest>(actor: ActorName, request: Request, timeoutMs: number): Promise<Outcome<ResponseOf<Request['type']>>>;
}

/** The Replicator's status once it started (its Raft view exists), else undefined. */
export function startedReplicator(status: RoleStatus | null | undefined): Extract<ReplicatorStatus, { started: true }> | undefined {
  return status?.role === 'replicator' && status.started ? status : undefined;
}

/**
 * True when `value` (a /status answer read back from JSON) has the fields `falcon status` prints:
 * node, uptime, health, readiness and actors. Shape of those only; the rest is shown as it is.
 */
export function isNodeStatus(value: unknown): value is NodeStatus {
  if (!isMap(value) || typeof value['node'] !== 'string' || typeof value['uptimeMs'] !== 'number') return false;
  const { health, readiness, actors } = value;
  return isMap(health) && typeof health['ok'] === 'boolean' && isMap(health['failing'])
    && isMap(readiness) && typeof readiness['ready'] === 'boolean' && Array.isArray(readiness['waitingFor'])
    && isMap(actors) && Object.values(actors).every((actor) => isMap(actor) && typeof actor['restarts'] === 'number');
}
