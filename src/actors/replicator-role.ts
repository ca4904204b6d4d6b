/**
 * The Replicator role: the replica loop (src/replication/replica-loop.ts) wired to this node's
 * rings, sockets and timers. The loop drives the Raft core; this role gives it the WAL writer's
 * ring, the peer transport, `setImmediate` as its scheduler and a tick timer, and serves the
 * ops requests (status, metrics; the --test-hooks load generator is behind test-hooks.ts).
 *
 * Runs on: Replicator thread.
 */
import { randomBytes } from 'node:crypto';
import { assert, falconError, isFalconError } from '../errors.js';
import { logEntryBytesMaxFor } from '../config/cluster-config.js';
import { listenHostOf } from '../config/listen-addresses.js';
import { PeerTransport } from '../net/peer-transport.js';
import { SeededRandom } from '../raft/random.js';
import { HashChainedMachine } from '../replication/hash-chained-machine.js';
import { QueueService } from '../replication/queue-service.js';
import { QueueStateMachine } from '../queue/queue-state-machine.js';
import type { EntryResults } from '../queue/results.js';
import { snapshotChunkBytesMax } from '../log/state-machine.js';
import { ReplicaLoop } from '../replication/replica-loop.js';
import { clockTicker, raftSettingsFrom, raftTickMs } from '../replication/raft-timing.js';
import { BucketHistogram } from '../metrics/bucket-histogram.js';
import type { QueueReport, RaftMetricsReport, ReplicatorStatus } from '../runtime/node-status.js';
import type { ActorContext, ActorRole } from './actor-context.js';
import { ReplicatorTestHooks } from './test-hooks.js';
import type { HandOverEnd, HandOverLeadershipRequest, HandOverResult, RoleRequestHandlers } from '../protocol/control.js';
import type { LinkMessage } from '../protocol/link-message.js';
import type { ToWal } from '../protocol/wal.js';
import { checkFromWal } from '../protocol/wal-validation.js';
import { checkToReplicator } from '../protocol/dispatch-validation.js';
import { checkRegistryToReplicator } from '../protocol/registry-validation.js';

/**
 * Bytes of records one WAL request or read answer may carry: it must fit in one ring message,
 * whose bound is half the ring's capacity, and its MessagePack form is larger than the records
 * (about 40 bytes of framing per entry against 25), so half of that again.
 */
function walRequestBytesMax(ringCapacityBytes: number): number {
  return Math.min(4 * 1024 * 1024, Math.floor((ringCapacityBytes / 2 - 4) / 2));
}
/** Peer connection limits that are not in the cluster file. */
const sendQueueMessagesMax = 4096;
const sendQueueBytesMax = 64 * 1024 * 1024;
/**
 * Reconnection to a peer backs off from 10 to 100 ms. Short on purpose: a link left down after a
 * peer restarted is a link a pre-vote cannot cross when the leader dies next, which turns a
 * failover of tens of milliseconds into a whole election timeout; an attempt to a dead peer costs
 * one refused connect.
 */
const reconnectBackoffMsMin = 10;
const reconnectBackoffMsMax = 100;
/**
 * Applied entries the Replicator keeps in memory behind its applied index, for followers a little
 * behind (further back they are read from the WAL's tail cache, `wal.tailCacheEntries`). Few on
 * purpose: each kept entry is a JS object that outlives young collections, and with the tail
 * cache's 65,536 the Replicators spent about a third more time in GC pauses and committed 10-15%
 * fewer entries/s at batch 64 (bench/RESULTS.md, 2026-12-02).
 */
const entriesKeptBehindApplied = 4096;
/** The log line that says how a graceful stop's hand-over ended. */
function handOverOutcome(end: HandOverEnd, handedOver: boolean, target: string, timeoutMs: number): string {
  switch (end) {
    case 'newLeaderCommits':
      return `leadership handed to ${target}; the new leader commits`;
    case 'targetGone':
      return `leadership handed to ${target}, which went away before it led (stopping, down or unreachable); no leader now`;
    case 'timedOut':
      return handedOver ? `leadership handed over; no entry of the new leader applied here within ${timeoutMs} ms`
        : `leadership transfer to ${target} did not finish in ${timeoutMs} ms`;
    case 'gaveUp':
      return `leadership transfer to ${target} given up: it did not take over (it is stopping, down or unreachable)`;
  }
}
/** Writes handed to the WAL and waiting for commit, timed for the commit-latency histogram. */
const timedWritesMax = 65_536;

export function createReplicatorRole(context: ActorContext<'replicator'>): ActorRole {
  return new ReplicatorRole(context);
}

class ReplicatorRole implements ActorRole {
  private readonly context: ActorContext<'replicator'>;
  private readonly loop: ReplicaLoop;
  /** The queue, with the applied hash chain folded in (compared across replicas by tests). */
  private readonly machine = new HashChainedMachine<EntryResults, QueueStateMachine>(new QueueStateMachine());
  private readonly queueService: QueueService;
  private transport: PeerTransport | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Created by the first --test-hooks request (test-hooks.ts); undefined on a node that never gets one. */
  private testHooks: ReplicatorTestHooks | undefined;
  /** Load requests waiting for this node to lead (`leaderWaitMs`): checked after every turn. */
  private readonly leaderWatchers = new Set<() => void>();
  private lastRole = '';
  private firstCommitLogged = true;
  private diskFull: string | null = null;
  private lastLeader: string | null = null;
  private lastTerm = 0;
  private elections = 0;
  private leaderChanges = 0;
  /** Writes handed to the WAL and not yet committed: [last index, when], oldest first. */
  private readonly uncommittedWrites: Array<[number, number]> = [];
  private readonly commitLatencyMs = new BucketHistogram([0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]);
  private readonly appendBatchEntries = new BucketHistogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]);
  private readonly enqueueToLeaseMs = new BucketHistogram([1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000, 30_000, 300_000]);
  private readonly enqueueToAckMs = new BucketHistogram([1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000, 30_000, 300_000]);
  private startedResolve: (() => void) | undefined;
  /** Set while a graceful stop waits for the hand-over: its target, and how to end the wait
   *  (see `handOverLeadership`). */
  private handOver: { readonly target: string; readonly finish: (end: HandOverEnd) => void } | undefined;

  constructor(context: ActorContext<'replicator'>) {
    this.context = context;
    const { config, node: self } = context;
    this.loop = new ReplicaLoop({
      id: self.id,
      voters: config.nodes.map((node) => node.id),
      raft: raftSettingsFrom(config.raft),
      random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
      stateMachine: this.machine,
      host: {
        toWal: (message) => this.toWal(message),
        schedule: (cycle) => setImmediate(cycle),
        fail: (error) => {
          if (error.code === 'DISK_FULL') this.diskFull = error.message;
          context.logger.error({ code: error.code }, error.message);
          // CONFIG_INVALID: a data directory of another cluster; an operator must fix it.
          context.fail(error, error.code === 'CONFIG_INVALID' ? 'refusedToStart' : 'actorFailed');
        },
        warn: (fields, message) => context.logger.warn(fields, message),
        info: (fields, message) => context.logger.info(fields, message),
      },
      peers: {
        send: (message) => this.transport?.send(message.to, message) ?? false,
        closeConnection: (peer, reason) => this.transport?.closeConnection(peer, reason),
        isConnected: (peer) => this.transport?.isConnected(peer) ?? false,
      },
      entriesBehindAppliedMax: Math.min(entriesKeptBehindApplied, config.wal.tailCacheEntries),
      walRequestBytesMax: walRequestBytesMax(config.ring.capacityBytes),
      snapshotEveryEntries: config.raft.snapshotEveryEntries,
      snapshotEveryBytes: config.raft.snapshotEveryBytes,
      // A chunk and its message header fit in one peer frame by construction.
      snapshotChunkBytes: Math.min(snapshotChunkBytesMax, Math.floor(config.raft.frameBytesMax / 2)),
      incarnation: context.incarnation,
      // Start time: it grows across restarts of the actor and of the process (a clock stepped back
      // past an earlier start only makes the current leader ignore this node until the next term).
      bootId: Date.now(),
      clusterName: config.cluster.name,
      observer: {
        onApplied: (entries, results) => {
          this.testHooks?.onApplied(entries);
          this.queueService.onApplied(entries, results);
        },
        onReadStates: (readStates) => this.queueService.onReadStates(readStates),
        onSnapshotRestored: (snapshot) => this.queueService.onSnapshotRestored(snapshot.index),
        onWalWrite: (entries, lastIndex) => {
          this.appendBatchEntries.observe(entries);
          if (this.uncommittedWrites.length < timedWritesMax) this.uncommittedWrites.push([lastIndex, performance.now()]);
        },
        onCommitted: (appliedIndex) => this.observeCommits(appliedIndex),
      },
    }, (recovered) => {
      context.logger.info({ term: recovered.hardState?.term ?? 0, lastIndex: recovered.lastIndex, snapshotIndex: recovered.snapshot?.index ?? 0 }, 'raft started');
      this.startedResolve?.();
    });
    this.queueService = new QueueService({
      nodeId: self.id,
      loop: this.loop,
      queue: this.machine.inner,
      send: (message) => context.send('dispatcher', message),
      sendToRegistry: (message) => context.send('registry', message),
      nowMs: () => Date.now(),
      randomUint32: () => randomBytes(4).readUInt32LE(0),
      leaseGraceMs: config.raft.electionTimeoutMsMax,
      answerBytesMax: logEntryBytesMaxFor(config.ring.capacityBytes),
    });
    this.machine.inner.latencyObserver = {
      leased: (_queue, sinceEnqueueMs) => this.enqueueToLeaseMs.observe(sinceEnqueueMs),
      completed: (_queue, sinceEnqueueMs) => this.enqueueToAckMs.observe(sinceEnqueueMs),
    };
    this.loop.afterCycles = () => this.watchLeader();
  }

  async start(): Promise<void> {
    const started = new Promise<void>((resolve) => {
      this.startedResolve = resolve;
    });
    this.loop.start();
    await started;
    await this.startTransport();
    this.tickTimer = setInterval(clockTicker((elapsedTicks) => this.loop.tick(elapsedTicks)), raftTickMs);
  }

  private async startTransport(): Promise<void> {
    const { config, node: self, logger } = this.context;
    this.transport = new PeerTransport({
      clusterName: config.cluster.name, self, peers: config.nodes, logger, random: Math.random,
      frameBytesMax: config.raft.frameBytesMax, batchEventsMax: config.raft.batchEventsMax, batchDelayMsMax: config.raft.batchDelayMsMax,
      sendQueueMessagesMax, sendQueueBytesMax, reconnectBackoffMsMin, reconnectBackoffMsMax,
      onMessage: (from, message) => this.loop.onPeerMessage(from, message),
      handshake: () => this.loop.handshake,
      onPeerUp: (peer, remote) => this.loop.onPeerHandshake(peer, remote),
      onPeerDown: (peer) => this.loop.onPeerDown(peer),
    });
    try {
      await this.transport.start();
    } catch (error) {
      this.context.fail(falconError('UNAVAILABLE', `cannot listen on the peer port ${listenHostOf(self, 'peer')}:${self.peerPort}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`), 'refusedToStart');
      await new Promise(() => undefined);
    }
  }

  /**
   * Requests reach the WAL in the order they are made (appends in log order, a truncation before
   * the appends that replace the tail): the link's send never drops and never reorders, waiting
   * in its bounded backlog while the disk is behind and the ring full.
   */
  private toWal(message: ToWal): void {
    this.context.send('walWriter', message);
  }

  onMessage(from: string, message: LinkMessage): void {
    if (from === 'dispatcher') {
      const request = checkToReplicator(message);
      // A bug on the other side of the ring: dropping it would leave a client waiting.
      if (isFalconError(request)) assert(false, request.message);
      if (request.type === 'propose') this.queueService.onPropose(request);
      else this.queueService.onRead(request);
      return;
    }
    if (from === 'registry') {
      const request = checkRegistryToReplicator(message);
      if (isFalconError(request)) assert(false, request.message);
      this.queueService.onReleaseWorker(request.workerId);
      return;
    }
    const reply = checkFromWal(message);
    // A bug on the other side of the ring: dropping it could leave a write waiting forever.
    if (isFalconError(reply)) assert(false, reply.message);
    this.loop.onWalReply(reply);
  }

  private observeCommits(committed: number): void {
    const nowMs = performance.now();
    let done = 0;
    for (const [lastIndex, atMs] of this.uncommittedWrites) {
      if (lastIndex > committed) break;
      this.commitLatencyMs.observe(nowMs - atMs);
      done += 1;
    }
    if (done > 0) this.uncommittedWrites.splice(0, done);
  }

  /** Runs after every turn of cycles, so it reads the core's cheap getters; status() allocates. */
  private watchLeader(): void {
    const node = this.loop.node;
    if (node === undefined) return;
    this.queueService.afterTurn(node.role, node.leader, node.term);
    // An election this node started: a new term in which it voted for itself (checked once per
    // turn, so a one-node cluster that wins at once still counts).
    if (node.term > this.lastTerm) {
      if (node.vote === node.id) this.elections += 1;
      this.lastTerm = node.term;
    }
    if (node.role !== this.lastRole) {
      this.lastRole = node.role;
      this.firstCommitLogged = false;
      this.context.logger.debug({ role: node.role, term: node.term }, `now ${node.role} in term ${node.term}`);
    }
    if (node.role === 'leader' && !this.firstCommitLogged && node.logTerm(node.appliedIndex) === node.term) {
      this.firstCommitLogged = true;
      this.context.logger.debug({ term: node.term, applied: node.appliedIndex }, `first entry of term ${node.term} applied`);
    }
    const handOver = this.handOver;
    if (handOver !== undefined) {
      // Stepped down, and the new leader's first entry is applied here: it commits, so this
      // node's stop (its actors ending, the kernel freeing its memory: a core's worth of work on
      // this machine) no longer competes with its election and first commit. With no leader
      // known and the target gone (it stopped too), there is nobody to wait for.
      if (node.role !== 'leader') {
        if (node.leader !== null && node.logTerm(node.appliedIndex) === node.term) handOver.finish('newLeaderCommits');
        else if (node.leader === null && this.transport?.isConnected(handOver.target) !== true) handOver.finish('targetGone');
      } else if (node.leadTransferee === null) handOver.finish('gaveUp');
    }
    for (const check of this.leaderWatchers) check();
    if (node.leader === this.lastLeader) return;
    const status = node.status();
    this.lastLeader = status.leader;
    this.leaderChanges += 1;
    this.context.logger.info({ leader: status.leader, term: status.term, role: status.role }, status.leader === null ? 'no leader known' : `leader is ${status.leader}`);
    if (status.role !== 'leader') this.testHooks?.abort(`leadership moved to ${status.leader ?? 'nobody'} during the load`);
  }

  readonly requestHandlers: RoleRequestHandlers = {
    handOverLeadership: async (request) => await this.handOverLeadership(request),
    raftLoad: async (request) => {
      this.testHooks ??= new ReplicatorTestHooks(this.loop, (waitMs) => this.leadsWithin(waitMs));
      return await this.testHooks.runRaftLoad(request);
    },
  };

  /** True once this node leads, within `waitMs`; false at once when another node is known to
   *  lead other than the one known now (which may be a leader that just died). */
  private async leadsWithin(waitMs: number): Promise<boolean> {
    const node = this.loop.node;
    if (node === undefined || node.role === 'leader' || waitMs === 0) return node?.role === 'leader';
    const leaderNow = node.leader;
    return await new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (node.role === 'leader') finish(true);
        else if (node.leader !== null && node.leader !== leaderNow) finish(false);
      };
      const timer = setTimeout(() => finish(false), waitMs);
      const finish = (leads: boolean): void => {
        clearTimeout(timer);
        this.leaderWatchers.delete(check);
        resolve(leads);
      };
      this.leaderWatchers.add(check);
    });
  }

  /**
   * The supervisor's drain asks this first: when this node leads, leadership goes to the most
   * caught-up follower, and the answer comes once this node stepped down and applied the new
   * leader's first entry (or after `timeoutMs`): until then a stopping process would take CPU
   * from the election it started.
   */
  private async handOverLeadership({ timeoutMs }: HandOverLeadershipRequest): Promise<HandOverResult> {
    const startedMs = performance.now();
    this.queueService.stepDown();
    const target = this.loop.handOverLeadership();
    if (target === null) {
      this.context.logger.info('stopping: this node will not campaign again');
      return { leading: false, handedTo: null, end: null, ms: performance.now() - startedMs };
    }
    const end = await new Promise<HandOverEnd>((resolve) => {
      const timer = setTimeout(() => finish('timedOut'), timeoutMs);
      const finish = (how: HandOverEnd): void => {
        clearTimeout(timer);
        this.handOver = undefined;
        resolve(how);
      };
      this.handOver = { target, finish };
    });
    const ms = performance.now() - startedMs;
    // 'newLeaderCommits' and 'targetGone' end only on a node that stepped down; a timeout may too.
    const handedOver = this.loop.node?.role !== 'leader';
    const outcome = handOverOutcome(end, handedOver, target, timeoutMs);
    this.context.logger.info({ target, ms: Math.round(ms * 10) / 10, steppedDown: handedOver }, outcome);
    return { leading: !handedOver, handedTo: target, end, ms };
  }

  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    this.testHooks?.abort('the node is stopping');
    await this.transport?.stop();
  }

  status(): ReplicatorStatus {
    const node = this.loop.node;
    if (node === undefined) return { role: 'replicator', started: false, freshStart: this.loop.freshStartStatus };
    const raft = node.status();
    const transport = this.transport?.stats() ?? {};
    return {
      role: 'replicator', started: true, raft: { ...raft, peers: raft.peers.map((peer) => ({ ...peer, lag: raft.lastIndex - peer.match })) },
      applied: { index: this.machine.chain.index, hash: this.machine.chain.hash }, snapshotIndex: this.loop.snapshotIndex, writesWaitingForWal: this.loop.writesWaitingForWal,
      diskFull: this.diskFull, transport, ...this.loop.counters, leaderChanges: this.leaderChanges,
      metrics: this.metricsReport(raft.term, raft.commit, raft.role === 'leader', transport),
      queue: this.queueReport(),
    };
  }

  private queueReport(): QueueReport {
    const queue = this.machine.inner;
    return {
      counters: queue.counters, queues: queue.allQueueStats(Date.now()), workers: queue.workers(),
      enqueueToLeaseMs: this.enqueueToLeaseMs.snapshot(), enqueueToAckMs: this.enqueueToAckMs.snapshot(), pending: this.queueService.pending,
    };
  }

  private metricsReport(term: number, commitIndex: number, isLeader: boolean, transport: ReturnType<PeerTransport['stats']>): RaftMetricsReport {
    const peerReconnects: Record<string, number> = {};
    for (const [peer, stats] of Object.entries(transport)) peerReconnects[peer] = stats.reconnects;
    return {
      term, commitIndex, appliedIndex: this.machine.chain.index, isLeader, elections: this.elections, leaderChanges: this.leaderChanges,
      commitLatencyMs: this.commitLatencyMs.snapshot(), appendBatchEntries: this.appendBatchEntries.snapshot(), peerReconnects,
    };
  }
}
