/**
 * The schema of cluster.yaml: every setting a node reads, its type, its bounds and its default.
 *
 * Invariants:
 * - Defaults live here and nowhere else. Every section and every field except `nodes` (and the
 *   ports, id and dataDir of each node) may be left out of the file and falls back to its default.
 * - Every leaf field carries its rule as text (`expected an integer from 1 to 65535`), and that
 *   text is the message a person sees when the value breaks it: zod's own wording never reaches
 *   a user. Unknown keys are refused at every level (strict objects), because a misspelt setting
 *   that silently keeps its default is worse than a refusal.
 * - Rules that relate fields of one section (or two sections) are checked here; rules that relate
 *   nodes to each other need resolved paths and live in node-rules.ts.
 * - Names read `<noun><Unit><Qualifier>`: the thing, then its unit, then min/max/default
 *   (`frameBytesMax`, `electionTimeoutMsMin`, `attemptsMaxDefault`), as everywhere in the code, so
 *   that a setting has the same name in the file and in the code that reads it. A renamed key goes
 *   into renamed-keys.ts, so that a file using the old name is refused with the new one.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure data, no I/O.
 */

import { z } from 'zod';
import {
  addRelationIssue, booleanFlag, integerInRange, isConnectableHost, isPowerOfTwo, mapping, nonNegativeInteger, oneOf, positiveInteger,
  ruleMessage, section,
} from './schema-rules.js';
import { authFields, authShape, type AuthConfig } from './auth-config.js';
import { listenFields } from './listen-addresses.js';

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;
const gibibyte = 1024 * mebibyte;

/** The smallest and largest SPSC ring, per direction. Below 64 KiB a ring holds too few batches to
 *  pipeline; above 1 GiB the SharedArrayBuffers of one node would crowd out its heap. */
export const ringCapacityBytesMin = 64 * kibibyte;
export const ringCapacityBytesMax = gibibyte;

/** Node ids name data directories, metrics labels and log lines: keep them short and plain. */
export const nodeIdPattern = /^[a-z0-9][a-z0-9_-]{0,31}$/i;
/** Cluster names are compared in the peer handshake; the same shape as node ids, a little longer. */
export const clusterNamePattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

// ---------------------------------------------------------------------------------------------
// Sections. Each field: its unit in the name, its default, and why.

export const clusterShape = {
  /** Peers refuse a handshake from another cluster's node: a mis-pointed node cannot join. */
  name: z.string({ error: ruleMessage('a name of letters, digits, _ . - (1 to 64 characters)') })
    .regex(clusterNamePattern)
    .default('falconqueue'),
};

export const raftShape = {
  /** The leader's heartbeat; well under electionTimeoutMsMin so followers never time out idle. */
  heartbeatIntervalMs: positiveInteger().default(50),
  /** Election timeouts are drawn from [min, max) so that candidates rarely collide. */
  electionTimeoutMsMin: positiveInteger().default(300),
  electionTimeoutMsMax: positiveInteger().default(500),
  /** A rejoining node asks before it bumps its term, so it cannot depose a healthy leader. */
  preVote: booleanFlag().default(true),
  /** A leader that cannot hear a majority for an election timeout steps down. */
  checkQuorum: booleanFlag().default(true),
  /** Per follower: AppendEntries messages sent but not yet answered (the pipeline window), so a
   *  follower that stopped answering is not sent more. */
  inflightMessagesMax: positiveInteger().default(256),
  /** Per follower: bytes sent but not yet answered (8 MiB); bounds memory for a slow follower. */
  inflightBytesMax: positiveInteger().default(8 * mebibyte),
  /** Bytes proposed but not yet committed (64 MiB); beyond it proposals are refused, not queued. */
  uncommittedBytesMax: positiveInteger().default(64 * mebibyte),
  /** A peer frame leaves when this many events are queued, so one frame stays small ... */
  batchEventsMax: positiveInteger().default(64),
  /** ... or this long after the first one, whichever comes first. 0 sends at once. */
  batchDelayMsMax: nonNegativeInteger().default(1),
  /** Largest peer frame (16 MiB), checked before allocation, so a bad length cannot exhaust memory. */
  frameBytesMax: positiveInteger().default(16 * mebibyte),
  /** Snapshot after this many entries since the last one ... */
  snapshotEveryEntries: positiveInteger().default(100_000),
  /** ... or this many log bytes (256 MiB), so the WAL and restart time stay bounded. */
  snapshotEveryBytes: positiveInteger().default(256 * mebibyte),
};

const raftFields = mapping(raftShape, 'raft settings').superRefine((raft, context) => {
  if (raft.electionTimeoutMsMin >= raft.electionTimeoutMsMax) {
    addRelationIssue(context, ['electionTimeoutMsMin'], ['electionTimeoutMsMax'],
      `electionTimeoutMsMin (${raft.electionTimeoutMsMin}) must be less than electionTimeoutMsMax (${raft.electionTimeoutMsMax}); ` +
      'timeouts are drawn from between them');
  }
  if (raft.heartbeatIntervalMs >= raft.electionTimeoutMsMin) {
    addRelationIssue(context, ['heartbeatIntervalMs'], ['electionTimeoutMsMin'],
      `heartbeatIntervalMs (${raft.heartbeatIntervalMs}) must be less than electionTimeoutMsMin ` +
      `(${raft.electionTimeoutMsMin}); followers would start elections against a live leader`);
  }
});

export const walShape = {
  /** `always`: fdatasync before anything is reported durable. `unsafeNoFsync`: benchmarks only;
   *  an acknowledged job can be lost on power failure. */
  fsync: oneOf(['always', 'unsafeNoFsync']).default('always'),
  /** A segment file rotates at this size (64 MiB); whole segments are what compaction deletes. */
  segmentBytes: positiveInteger().default(64 * mebibyte),
  /** Recent entries kept in memory so followers catching up do not hit the disk. */
  tailCacheEntries: positiveInteger().default(65_536),
  /** Operator flag: truncate at a bad checksum and re-replicate instead of refusing to start. */
  repairCorruption: booleanFlag().default(false),
};

export const queueShape = {
  /** Largest job payload (1 MiB); larger ones are refused with PAYLOAD_TOO_LARGE. */
  payloadBytesMax: positiveInteger().default(mebibyte),
  /** Largest client frame (4 MiB), checked before allocation so a bad length cannot exhaust
   *  memory; a batch of jobs must fit in it. */
  clientFrameBytesMax: positiveInteger().default(4 * mebibyte),
  /** Attempts before a job is dead-lettered, when the enqueue does not say: a job that always
   *  fails ends in the dead-letter queue instead of retrying forever. */
  attemptsMaxDefault: positiveInteger().default(5),
  /** How long a pulled job stays leased to its worker (30 s), when the pull does not say. */
  leaseMsDefault: positiveInteger().default(30_000),
  /** How long an idempotency key maps to its first job (24 h). */
  dedupWindowMs: positiveInteger().default(24 * 60 * 60 * 1000),
  /** A worker silent for this long (5 s) loses its leases. */
  workerTtlMs: positiveInteger().default(5_000),
  /** Random extra TTL per worker (1 s), so workers cut off together do not all expire at once. */
  workerTtlJitterMs: nonNegativeInteger().default(1_000),
  /** Retry delay after a failed attempt, when the enqueue does not say: `exponential` doubles
   *  `retryDelayMsDefault` per failure up to `retryDelayMsMax`; `fixed` waits the same each time. */
  retryBackoffDefault: oneOf(['exponential', 'fixed']).default('exponential'),
  retryDelayMsDefault: positiveInteger().default(1_000),
  retryDelayMsMax: positiveInteger().default(300_000),
  /** Share of each retry delay replaced by a random draw (0: none, 1: full jitter), so that jobs
   *  that failed together do not all retry in the same instant. */
  retryJitterRatio: z.number({ error: ruleMessage('a number from 0 to 1') }).min(0).max(1).default(0.5),
  /** Jobs one queue holds (every state but completed and cancelled); more are refused with
   *  RESOURCE_EXHAUSTED rather than grow memory without bound. */
  jobsPerQueueMax: positiveInteger().default(1_000_000),
  /** Payload bytes one queue holds (256 MiB), refused beyond as above. */
  bytesPerQueueMax: positiveInteger().default(256 * mebibyte),
  /** Queues that exist at once. */
  queuesMax: positiveInteger().default(1_000),
  /** Idempotency keys remembered; when full, the oldest is forgotten first (never a refusal). */
  idempotencyKeysMax: positiveInteger().default(1_000_000),
  /** Producer sessions remembered (the SDK's retry deduplication); the least recently used goes first. */
  producersMax: positiveInteger().default(10_000),
  /** How long a completed or cancelled job stays readable (1 h), and how many per queue. */
  completedRetentionMs: positiveInteger().default(60 * 60 * 1000),
  completedPerQueueMax: positiveInteger().default(10_000),
  /** How long a client request may wait for the replicated log before it is answered UNAVAILABLE
   *  with its outcome unknown (the client retries with the same identity). */
  requestTimeoutMs: positiveInteger().default(10_000),
  /** Open client connections per node, and unsent reply bytes per connection: a client that stops
   *  reading is cut off at this bound instead of growing the node's memory. */
  clientConnectionsMax: positiveInteger().default(1_024),
  clientSendQueueBytesMax: positiveInteger().default(16 * mebibyte),
};

const queueFields = mapping(queueShape, 'queue settings').superRefine((queue, context) => {
  if (queue.payloadBytesMax > queue.clientFrameBytesMax) {
    addRelationIssue(context, ['payloadBytesMax'], ['clientFrameBytesMax'],
      `payloadBytesMax (${queue.payloadBytesMax}) must be at most clientFrameBytesMax ` +
      `(${queue.clientFrameBytesMax}); a payload travels in a client frame`);
  }
  if (queue.retryDelayMsDefault > queue.retryDelayMsMax) {
    addRelationIssue(context, ['retryDelayMsDefault'], ['retryDelayMsMax'],
      `retryDelayMsDefault (${queue.retryDelayMsDefault}) must be at most retryDelayMsMax (${queue.retryDelayMsMax})`);
  }
  if (queue.payloadBytesMax > queue.bytesPerQueueMax) {
    addRelationIssue(context, ['payloadBytesMax'], ['bytesPerQueueMax'],
      `payloadBytesMax (${queue.payloadBytesMax}) must be at most bytesPerQueueMax (${queue.bytesPerQueueMax}); no job could be enqueued`);
  }
  if (queue.workerTtlJitterMs >= queue.workerTtlMs) {
    addRelationIssue(context, ['workerTtlJitterMs'], ['workerTtlMs'],
      `workerTtlJitterMs (${queue.workerTtlJitterMs}) must be less than workerTtlMs (${queue.workerTtlMs})`);
  }
});

export const supervisorShape = {
  /** How often each actor bumps its liveness counter. */
  livenessIntervalMs: positiveInteger().default(100),
  /** An actor whose counter has not moved for this long is declared stuck and restarted. */
  livenessTimeoutMs: positiveInteger().default(3_000),
  /** Restart back-off doubles from min to max, so a crash loop does not spin the CPU. */
  restartBackoffMsMin: positiveInteger().default(100),
  restartBackoffMsMax: positiveInteger().default(5_000),
  /** More than restartsMax restarts within restartWindowMs and the node exits non-zero: a fault
   *  that keeps coming back needs a person, not another restart. */
  restartsMax: nonNegativeInteger().default(5),
  restartWindowMs: positiveInteger().default(60_000),
  /** SIGTERM drain (leadership transfer, flush) gets this long before the node exits anyway. */
  shutdownTimeoutMs: positiveInteger().default(5_000),
};

const supervisorFields = mapping(supervisorShape, 'supervisor settings').superRefine((supervisor, context) => {
  if (supervisor.livenessIntervalMs >= supervisor.livenessTimeoutMs) {
    addRelationIssue(context, ['livenessIntervalMs'], ['livenessTimeoutMs'],
      `livenessIntervalMs (${supervisor.livenessIntervalMs}) must be less than livenessTimeoutMs ` +
      `(${supervisor.livenessTimeoutMs}); healthy actors would be declared stuck`);
  }
  if (supervisor.restartBackoffMsMin > supervisor.restartBackoffMsMax) {
    addRelationIssue(context, ['restartBackoffMsMin'], ['restartBackoffMsMax'],
      `restartBackoffMsMin (${supervisor.restartBackoffMsMin}) must be at most restartBackoffMsMax ` +
      `(${supervisor.restartBackoffMsMax})`);
  }
});

/**
 * Bytes of one log entry of the queue at most: a ring message holds at most half its ring, and
 * the rest of a message (its envelope, the results that come back) needs room too, so 3/8.
 */
export function logEntryBytesMaxFor(ringCapacityBytes: number): number {
  return Math.floor((ringCapacityBytes * 3) / 8);
}

export const ringShape = {
  /** Bytes per direction of each actor-to-actor SPSC ring (4 MiB). A power of two, so that
   *  positions wrap with a mask instead of a division. */
  capacityBytes: z.number({
    error: ruleMessage(`a power of two from ${ringCapacityBytesMin} to ${ringCapacityBytesMax}`),
  }).int().min(ringCapacityBytesMin).max(ringCapacityBytesMax).refine(isPowerOfTwo).default(4 * mebibyte),
};

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export const loggingShape = {
  /** The least severe level written. `debug` and `trace` are for chasing a bug, not for load. */
  level: oneOf(logLevels).default('info'),
};

/** A queue name as the client protocol takes it: 1 to 200 UTF-8 bytes, no control characters. */
const queueNameBytesMax = 200;
function isQueueName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return Buffer.byteLength(name, 'utf8') >= 1 && Buffer.byteLength(name, 'utf8') <= queueNameBytesMax && !/[\u0000-\u001f\u007f]/.test(name);
}

/** Jobs one node runs at once for one queue: each is a piscina thread, and more threads than this
 *  on one machine would only contend (the protocol's own bound on a worker's capacity is larger). */
export const handlerConcurrencyMax = 1_024;

export const handlerShape = {
  /** The module whose default export `async (job) => result` runs each job of the queue, in a
   *  piscina pool; a relative path resolves against the config file's directory. */
  module: z.string({ error: ruleMessage('a module path') }).min(1),
  /** Jobs of this queue this node runs at once (the pool's threads). */
  concurrency: integerInRange(1, handlerConcurrencyMax).default(1),
  /** How long each pulled job is leased (the queue's leaseMsDefault when left out); a job that runs
   *  longer than about half of it has its lease extended, again and again, while it runs. */
  leaseMs: integerInRange(1, 86_400_000).optional(),
};

const handlerFields = mapping(handlerShape, 'handler settings (module, concurrency, leaseMs)');

/** Queue name → its local handler. Empty by default: a node with no handlers leases nothing. */
const handlersMap = z.record(z.string(), handlerFields, {
  error: ruleMessage('a mapping of queue names to handlers'),
}).superRefine((handlers, context) => {
  for (const name of Object.keys(handlers)) {
    if (!isQueueName(name)) {
      context.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} is not a queue name (1 to ${queueNameBytesMax} UTF-8 bytes, no control characters)` });
    }
  }
});

export const nodeShape = {
  /** Names the node on the command line (`--node n1`), in logs and in metrics. */
  id: z.string({ error: ruleMessage('an id of 1 to 32 letters, digits, _ or -, starting with a letter or digit') })
    .regex(nodeIdPattern),
  /** Where peers and clients connect; so never a wildcard such as 0.0.0.0. */
  host: z.string({ error: ruleMessage('an IP address or host name that peers can connect to (not 0.0.0.0 or ::)') })
    .refine(isConnectableHost)
    .default('127.0.0.1'),
  /** Raft traffic between nodes. */
  peerPort: integerInRange(1, 65535),
  /** Producers and workers (MessagePack over TCP). */
  clientPort: integerInRange(1, 65535),
  /** /healthz, /readyz, /metrics, /status and the dashboard. */
  opsPort: integerInRange(1, 65535),
  /** FalconQueueService (gRPC, docs/grpc.md), a gateway into the client port; absent: no gRPC. */
  grpcPort: integerInRange(1, 65535).optional(),
  /** WAL, snapshots and term/vote; relative paths resolve against the config file's directory. */
  dataDir: z.string({ error: ruleMessage('a directory path') }).min(1),
  /** This node's handlers, instead of the cluster-wide `handlers` (`{}`: none on this node). */
  handlers: handlersMap.optional(),
  /** Where each port binds, when not `host` (listen-addresses.ts): `{ peer, client, ops, grpc }`. */
  listen: listenFields.optional(),
};

const nodeFields = mapping(nodeShape, 'node settings');

/** Sections by name, so that errors can list the known keys of the section a stray key is in. */
export const sectionShapes = {
  cluster: clusterShape,
  raft: raftShape,
  wal: walShape,
  queue: queueShape,
  supervisor: supervisorShape,
  ring: ringShape,
  logging: loggingShape,
  handlers: handlerShape,
  nodes: nodeShape,
  auth: authShape,
} as const;

/** What the file holds, with defaults filled in, before paths are resolved. */
export const clusterFileSchema = mapping({
  cluster: section(mapping(clusterShape, 'cluster settings')),
  raft: section(raftFields),
  wal: section(mapping(walShape, 'wal settings')),
  queue: section(queueFields),
  supervisor: section(supervisorFields),
  ring: section(mapping(ringShape, 'ring settings')),
  logging: section(mapping(loggingShape, 'logging settings')),
  auth: section(authFields),
  handlers: z.preprocess((value) => (value === null ? undefined : value), handlersMap.default({})),
  nodes: z.array(nodeFields, {
    error: ruleMessage('a list of nodes (each with id, host, peerPort, clientPort, opsPort, dataDir)'),
  }).min(1, { error: 'expected at least one node, got an empty list' }),
}, 'settings').superRefine((file, context) => {
  // A job's payload travels in one log entry, and an entry in one ring message.
  const entryBytesMax = logEntryBytesMaxFor(file.ring.capacityBytes);
  const capacityValid = isPowerOfTwo(file.ring.capacityBytes) && file.ring.capacityBytes >= ringCapacityBytesMin && file.ring.capacityBytes <= ringCapacityBytesMax;
  if (capacityValid && file.queue.payloadBytesMax > entryBytesMax) {
    addRelationIssue(context, ['queue', 'payloadBytesMax'], ['ring', 'capacityBytes'],
      `queue.payloadBytesMax (${file.queue.payloadBytesMax}) must be at most 3/8 of ring.capacityBytes ` +
      `(${entryBytesMax}); a job travels between threads in one ring message`);
  }
  // A client batch becomes one log entry, and a log entry must fit in one peer frame.
  if (file.queue.clientFrameBytesMax > file.raft.frameBytesMax) {
    addRelationIssue(context, ['queue', 'clientFrameBytesMax'], ['raft', 'frameBytesMax'],
      `queue.clientFrameBytesMax (${file.queue.clientFrameBytesMax}) must be at most raft.frameBytesMax ` +
      `(${file.raft.frameBytesMax}); a client batch is replicated in one peer frame`);
  }
});

export type ClusterFile = z.output<typeof clusterFileSchema>;
export type ClusterSection = Readonly<ClusterFile['cluster']>;
export type RaftConfig = Readonly<ClusterFile['raft']>;
export type WalConfig = Readonly<ClusterFile['wal']>;
export type QueueConfig = Readonly<ClusterFile['queue']>;
export type SupervisorConfig = Readonly<ClusterFile['supervisor']>;
export type RingConfig = Readonly<ClusterFile['ring']>;
export type LoggingConfig = Readonly<ClusterFile['logging']>;
export type LogLevel = (typeof logLevels)[number];
export type FsyncMode = WalConfig['fsync'];

/** One queue's local handler; after loading, `module` is an absolute path to an existing file. */
export type HandlerConfig = Readonly<z.output<typeof handlerFields>>;
export type HandlersConfig = Readonly<Record<string, HandlerConfig>>;

/** One node of the cluster; after loading, `dataDir` and handler modules are absolute paths. */
export type NodeConfig = Readonly<ClusterFile['nodes'][number]>;

/** A loaded, checked, frozen cluster configuration. */
export interface ClusterConfig {
  /** The file name as given (or the name passed to parseClusterConfig), for messages. */
  readonly source: string;
  readonly cluster: ClusterSection;
  readonly raft: RaftConfig;
  readonly wal: WalConfig;
  readonly queue: QueueConfig;
  readonly supervisor: SupervisorConfig;
  readonly ring: RingConfig;
  readonly logging: LoggingConfig;
  /** Queue name → local handler, for every node that does not list its own. */
  readonly handlers: HandlersConfig;
  readonly nodes: readonly NodeConfig[];
  /** Bearer tokens and their roles; none: the cluster is open. */
  readonly auth: AuthConfig;
  /** Allowed but worth a look (an even node count, unsafeNoFsync), one line each. */
  readonly warnings: readonly string[];
}

/** The handlers `node` runs: its own list when it has one, else the cluster-wide one. */
export function handlersOf(config: ClusterConfig, node: NodeConfig): HandlersConfig {
  return node.handlers ?? config.handlers;
}
