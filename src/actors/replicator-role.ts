/**
 * The Replicator role: the pure Raft core (src/raft) wired to the WAL writer's ring and to the
 * peers over TCP.
 *
 * Start: wait for the WAL's recovery report, load the snapshot and every entry after it from the
 * WAL, rebuild the applied state (the hash chain) from the snapshot, then start the core, the peer
 * transport and the tick timer. Then, for every input (a tick, a peer message, a WAL reply, a
 * proposal), one Ready cycle on the next turn of the event loop:
 *   1. the write goes to the WAL ring (truncate if needed, then pre-encoded records, then the hard
 *      state when term or vote changed) and is tracked until the WAL says it is durable;
 *   2. messages that may leave now go to the peers (in parallel with our own fsync);
 *   3. committed entries are applied (hash chain, load generator), snapshots installed;
 *   4. `advance`; when the WAL reports a write durable: the log view is updated, the core told,
 *      and the messages that waited for it (votes, append acks) leave.
 * The hard state is persisted when term or vote change, not for every new commit index: commit is
 * not needed for safety (a restarted node learns it from the leader), and persisting it for every
 * batch would add a file rename and two fsyncs to every commit.
 *
 * Runs on: Replicator thread.
 */
import { randomBytes } from 'node:crypto';
import { falconError } from '../errors.js';
import { PeerTransport } from '../net/peer-transport.js';
import { RaftNode } from '../raft/raft-node.js';
import { SeededRandom } from '../raft/random.js';
import type { RaftEntry } from '../raft/raft-entry.js';
import type { HardState, RaftMessage, RaftSnapshot } from '../raft/raft-messages.js';
import type { Ready } from '../raft/ready.js';
import { AppliedHashChain } from '../replication/applied-hash-chain.js';
import { DurabilityTracker } from '../replication/durability-tracker.js';
import { parseRaftMessage } from '../raft/message-validation.js';
import { isFalconError } from '../errors.js';
import { RaftLoad, checkRaftLoadRequest } from '../replication/raft-load.js';
import { raftSettingsFrom, raftTickMs } from '../replication/raft-timing.js';
import { ReplicatorLogStorage } from '../replication/replicator-log-storage.js';
import { encodeRecords, recordBytesFor } from '../wal/wal-record.js';
import { BucketHistogram } from '../metrics/bucket-histogram.js';
import type { RaftMetricsReport } from '../metrics/raft-metrics.js';
import type { ActorContext, ActorRole } from './actor-context.js';
import type { LinkMessage } from './actor-messages.js';
import type { FromWal, ToWal, WalRecoveredMessage } from './wal-protocol.js';
import { ReplicatorStartup } from '../replication/replicator-startup.js';

/** Ready cycles per event-loop turn before yielding to sockets and timers. */
const readyCyclesPerTurnMax = 64;
/** Writes waiting for the WAL; the core bounds its own writes in flight the same way. */
const writesInFlightMax = 65_536;
/**
 * Bytes of records one read from the WAL may return: the answer must fit in one ring message,
 * whose bound is half the ring's capacity, and its MessagePack form is larger than the records
 * (about 40 bytes of framing per entry against 25), so half of that again.
 */
function walReadBytesMax(ringCapacityBytes: number): number {
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
const reconnectBackoffMinMs = 10;
const reconnectBackoffMaxMs = 100;

export function createReplicatorRole(context: ActorContext): ActorRole {
  return new ReplicatorRole(context);
}

class ReplicatorRole implements ActorRole {
  private readonly context: ActorContext;
  private readonly startup: ReplicatorStartup;
  private readonly readBytesMax: number;
  private node: RaftNode | undefined;
  private storage: ReplicatorLogStorage | undefined;
  private transport: PeerTransport | undefined;
  private chain = new AppliedHashChain();
  private readonly tracker = new DurabilityTracker(writesInFlightMax);
  private readonly snapshotPurposes: Array<'ready' | 'taken'> = [];
  private takenSnapshot: RaftSnapshot | undefined;
  private persisted: HardState = { term: 0, vote: null, commit: 0 };
  private walLastIndex = 0;
  private snapshotIndex = 0;
  private appliedBytesSinceSnapshot = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private cycleScheduled = false;
  private readRequestId = 0;
  private catchUpReadInFlight = false;
  private load: RaftLoad | undefined;
  private diskFull: string | null = null;
  private readonly counters = { readyCycles: 0, walWrites: 0, peerMessagesIn: 0, peerMessagesDropped: 0, badPeerMessages: 0, leaderChanges: 0, snapshotsInstalled: 0, snapshotsTaken: 0 };
  private lastLeader: string | null = null;
  private lastTerm = 0;
  private elections = 0;
  /** Writes handed to the WAL and not yet committed: [last index, when], oldest first. */
  private readonly uncommittedWrites: Array<[number, number]> = [];
  private readonly commitLatencyMs = new BucketHistogram([0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]);
  private readonly appendBatchEntries = new BucketHistogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]);

  constructor(context: ActorContext) {
    this.context = context;
    this.readBytesMax = walReadBytesMax(context.config.ring.capacityBytes);
    this.startup = new ReplicatorStartup((message) => this.toWal(message), this.readBytesMax, context.incarnation);
  }

  async start(): Promise<void> {
    this.startup.begin();
    const loaded = await this.startup.done;
    this.beginRaft(loaded.recovered, loaded.snapshot, loaded.entries);
    await this.startTransport();
    this.tickTimer = setInterval(() => this.onTick(), raftTickMs);
  }

  private beginRaft(recovered: WalRecoveredMessage, snapshot: RaftSnapshot | null, entries: readonly RaftEntry[]): void {
    const { config, node: self } = this.context;
    this.storage = new ReplicatorLogStorage({ hardState: recovered.hardState, snapshot, entries },
      config.wal.tailCacheEntries, (from, to, bytes) => this.requestCatchUpRead(from, to, bytes));
    this.persisted = recovered.hardState ?? this.persisted;
    this.lastTerm = this.persisted.term;
    this.walLastIndex = recovered.lastIndex;
    this.snapshotIndex = snapshot?.index ?? 0;
    if (snapshot !== null) this.chain = AppliedHashChain.fromSnapshot(snapshot);
    this.node = new RaftNode({
      id: self.id,
      voters: config.nodes.map((node) => node.id),
      storage: this.storage,
      random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
      appliedIndex: snapshot?.index ?? 0,
      ...raftSettingsFrom(config.raft),
    });
    this.context.logger.info({ term: this.persisted.term, lastIndex: recovered.lastIndex, snapshotIndex: this.snapshotIndex }, 'raft started');
  }

  private async startTransport(): Promise<void> {
    const { config, node: self, logger } = this.context;
    this.transport = new PeerTransport({
      clusterName: config.cluster.name, self, peers: config.nodes, logger, random: Math.random,
      frameBytesMax: config.raft.maxFrameBytes, batchMaxEvents: config.raft.batchMaxEvents, batchMaxDelayMs: config.raft.batchMaxDelayMs,
      sendQueueMessagesMax, sendQueueBytesMax, reconnectBackoffMinMs, reconnectBackoffMaxMs,
      onMessage: (from, message) => this.onPeerMessage(from, message),
      onPeerUp: () => undefined,
      onPeerDown: (peer) => {
        this.node?.peerDisconnected(peer);
        this.schedule();
      },
    });
    try {
      await this.transport.start();
    } catch (error) {
      this.context.fail(falconError('UNAVAILABLE', `cannot listen on the peer port ${self.host}:${self.peerPort}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`), 'refusedToStart');
      await new Promise(() => undefined);
    }
  }

  /**
   * Requests reach the WAL in the order they are made (appends in log order, a truncation before
   * the appends that replace the tail): the link's send never drops and never reorders, waiting
   * in its bounded backlog while the disk is behind and the ring full.
   */
  private toWal(message: ToWal): void {
    this.context.send('walWriter', message as unknown as LinkMessage);
  }

  onMessage(from: string, message: LinkMessage): void {
    if (from !== 'walWriter') return; // Dispatcher and Registry requests arrive with the queue.
    const reply = message as unknown as FromWal;
    if (this.node === undefined) {
      this.startup.onWalMessage(reply);
      return;
    }
    this.onWalReply(reply);
    this.schedule();
  }

  private onWalReply(reply: FromWal): void {
    switch (reply.type) {
      case 'walStarted':
        // The WAL writer restarted under us: the writes we had in flight are gone, and our view of
        // the log may be ahead of the disk. Stop the node; a restart begins again from the disk.
        this.context.fail(falconError('IO_ERROR', `the WAL writer restarted (incarnation ${reply.incarnation}) while the Replicator was running; the node stops so that it restarts from what is durable`), 'actorFailed');
        return;
      case 'durable':
        this.tracker.onDurable(reply.lastIndex);
        this.completeWrites();
        return;
      case 'truncated':
        this.tracker.onTruncated();
        return;
      case 'hardStateSaved':
        this.tracker.onHardStateSaved();
        this.completeWrites();
        return;
      case 'snapshotSaved':
        if (this.snapshotPurposes.shift() === 'ready') {
          this.tracker.onSnapshotSaved();
          this.completeWrites();
        } else this.onTakenSnapshotDurable();
        return;
      case 'entries':
        this.catchUpReadInFlight = false;
        this.storage?.onLoaded(reply.entries);
        return;
      case 'walError':
        this.onWalError(reply);
        return;
      default:
        return;
    }
  }

  private onWalError(reply: Extract<FromWal, { type: 'walError' }>): void {
    if (reply.request === 'read') {
      this.catchUpReadInFlight = false;
      return;
    }
    this.context.logger.error({ request: reply.request, code: reply.error.code }, reply.error.message);
    if (reply.error.code === 'DISK_FULL') {
      // The WAL dropped the batch; nothing of it was reported durable. Stop the node from taking
      // writes it cannot keep: an operator frees space and restarts the node, which recovers.
      this.diskFull = reply.error.message;
      this.context.fail(reply.error, 'actorFailed');
    }
  }

  private onPeerMessage(from: string, value: unknown): void {
    const node = this.node;
    if (node === undefined) return;
    const message = parseRaftMessage(value, this.context.node.id, from);
    if (isFalconError(message)) {
      this.counters.badPeerMessages += 1;
      this.transport?.closeConnection(from, `malformed raft message: ${message.message}`);
      return;
    }
    this.counters.peerMessagesIn += 1;
    node.step(message);
    this.schedule();
  }

  private onTick(): void {
    this.node?.tick();
    this.schedule();
  }

  private schedule(): void {
    if (this.cycleScheduled || this.node === undefined) return;
    this.cycleScheduled = true;
    setImmediate(() => this.runCycles());
  }

  private runCycles(): void {
    this.cycleScheduled = false;
    const node = this.node;
    if (node === undefined) return;
    this.load?.proposeDue((entries) => node.propose(entries));
    for (let cycles = 0; cycles < readyCyclesPerTurnMax && node.hasReady(); cycles += 1) this.handleReady(node, node.ready());
    this.watchLeader(node);
    if (node.hasReady() || (this.load?.active ?? false)) this.schedule();
  }

  private handleReady(node: RaftNode, ready: Ready): void {
    this.counters.readyCycles += 1;
    this.write(ready);
    const undelivered: string[] = [];
    for (const message of ready.messages) if (!this.sendToPeer(message) && message.type === 'snapshot') undelivered.push(message.to);
    if (ready.snapshot !== null) {
      this.chain = AppliedHashChain.fromSnapshot(ready.snapshot);
      this.snapshotIndex = ready.snapshot.index;
      this.appliedBytesSinceSnapshot = 0;
      this.counters.snapshotsInstalled += 1;
    }
    for (const entry of ready.committedEntries) {
      this.chain.apply(entry);
      this.appliedBytesSinceSnapshot += entry.data.byteLength;
      this.load?.onApplied(entry);
    }
    this.observeCommits(this.chain.index);
    node.advance(ready);
    for (const peer of undelivered) node.reportSnapshot(peer, false);
    this.storage?.trimBehind(this.chain.index);
    this.maybeTakeSnapshot(node);
  }

  private write(ready: Ready): void {
    const { entries, snapshot } = ready;
    const hardState = ready.hardState !== null && (ready.hardState.term !== this.persisted.term || ready.hardState.vote !== this.persisted.vote);
    if (snapshot !== null) {
      this.snapshotPurposes.push('ready');
      this.toWal({ type: 'saveSnapshot', snapshot });
      this.walLastIndex = Math.max(this.walLastIndex, snapshot.index);
    }
    const first = entries[0];
    if (first !== undefined) {
      if (first.index <= this.walLastIndex) {
        this.tracker.truncationSent();
        this.toWal({ type: 'truncate', fromIndex: first.index });
      }
      this.sendRecords(entries);
      this.appendBatchEntries.observe(entries.length);
      if (this.uncommittedWrites.length < writesInFlightMax) this.uncommittedWrites.push([entries[entries.length - 1]?.index ?? 0, performance.now()]);
      this.walLastIndex = entries[entries.length - 1]?.index ?? this.walLastIndex;
      this.counters.walWrites += 1;
    }
    if (hardState && ready.hardState !== null) {
      this.persisted = ready.hardState;
      this.toWal({ type: 'saveHardState', state: ready.hardState });
    }
    this.tracker.add({ entries, snapshot, hardState, messagesAfterDurable: ready.messagesAfterDurable });
    if (first === undefined && !hardState && snapshot === null) this.completeWrites();
  }

  /**
   * Entries as pre-encoded WAL records, in as many ring messages as their size needs (one ring
   * message carries at most half the ring): the WAL stages them all and commits them as a group.
   */
  private sendRecords(entries: readonly RaftEntry[]): void {
    const chunkBytesMax = this.readBytesMax;
    let start = 0;
    let bytes = 0;
    for (let position = 0; position < entries.length; position += 1) {
      const entryBytes = recordBytesFor(entries[position]?.data.byteLength ?? 0);
      if (position > start && bytes + entryBytes > chunkBytesMax) {
        this.toWal({ type: 'appendRecords', records: encodeRecords(entries.slice(start, position)) });
        start = position;
        bytes = 0;
      }
      bytes += entryBytes;
    }
    this.toWal({ type: 'appendRecords', records: encodeRecords(start === 0 ? entries : entries.slice(start)) });
  }

  /** Writes the WAL made durable, in order: update the log view, tell the core, release messages. */
  private completeWrites(): void {
    const node = this.node;
    const storage = this.storage;
    if (node === undefined || storage === undefined) return;
    for (const write of this.tracker.takeCompleted()) {
      if (write.snapshot !== null) storage.onSnapshotDurable(write.snapshot);
      storage.appendDurable(write.entries);
      const last = write.entries[write.entries.length - 1];
      if (last !== undefined) node.onDurable({ lastIndex: last.index, term: last.term });
      else if (write.snapshot !== null) node.onDurable({ lastIndex: write.snapshot.index, term: write.snapshot.term });
      for (const message of write.messagesAfterDurable) this.sendToPeer(message);
    }
  }

  private sendToPeer(message: RaftMessage): boolean {
    const sent = this.transport?.send(message.to, message) ?? false;
    if (!sent) this.counters.peerMessagesDropped += 1;
    return sent;
  }

  private requestCatchUpRead(fromIndex: number, toIndex: number, bytesMax: number): void {
    if (this.catchUpReadInFlight || toIndex < fromIndex) return;
    this.catchUpReadInFlight = true;
    this.readRequestId += 1;
    this.toWal({ type: 'read', requestId: this.readRequestId, fromIndex, toIndex, maxBytes: Math.min(bytesMax, this.readBytesMax) });
  }

  /**
   * Snapshot of the state machine (the hash chain) every raft.snapshotEveryEntries applied entries
   * or raft.snapshotEveryBytes applied payload bytes, whichever comes first; the WAL then compacts.
   */
  private maybeTakeSnapshot(node: RaftNode): void {
    if (this.takenSnapshot !== undefined) return;
    const { snapshotEveryEntries, snapshotEveryBytes } = this.context.config.raft;
    const index = Math.min(this.chain.index, node.compactableIndex());
    const due = index - this.snapshotIndex >= snapshotEveryEntries || this.appliedBytesSinceSnapshot >= snapshotEveryBytes;
    if (!due || index !== this.chain.index || index <= this.snapshotIndex) return;
    const term = node.logTerm(index);
    if (term < 0) return;
    this.takenSnapshot = { index, term, membership: { voters: this.context.config.nodes.map((n) => n.id), learners: [] }, data: this.chain.encode() };
    this.snapshotPurposes.push('taken');
    this.toWal({ type: 'saveSnapshot', snapshot: this.takenSnapshot });
  }

  private onTakenSnapshotDurable(): void {
    const snapshot = this.takenSnapshot;
    this.takenSnapshot = undefined;
    if (snapshot === undefined) return;
    this.snapshotIndex = snapshot.index;
    this.appliedBytesSinceSnapshot = 0;
    this.counters.snapshotsTaken += 1;
    this.storage?.onSnapshotDurable(snapshot);
    this.toWal({ type: 'compact', uptoIndex: snapshot.index });
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

  /** Runs after every cycle, so it reads the core's cheap getters; status() allocates. */
  private watchLeader(node: RaftNode): void {
    // An election this node started: a new term in which it voted for itself (checked once per
    // cycle, so a one-node cluster that wins at once still counts).
    if (node.term > this.lastTerm) {
      if (node.status().vote === node.id) this.elections += 1;
      this.lastTerm = node.term;
    }
    if (node.leader === this.lastLeader) return;
    const status = node.status();
    this.lastLeader = status.leader;
    this.counters.leaderChanges += 1;
    this.context.logger.info({ leader: status.leader, term: status.term, role: status.role }, status.leader === null ? 'no leader known' : `leader is ${status.leader}`);
    if (status.role !== 'leader') this.load?.abort(`leadership moved to ${status.leader ?? 'nobody'} during the load`);
  }

  async onRequest(request: LinkMessage): Promise<Readonly<Record<string, unknown>>> {
    if (request.type !== 'raftLoad') return { error: `unknown request ${request.type}` };
    const checked = checkRaftLoadRequest(request);
    if (typeof checked === 'string') return { ok: false, error: checked };
    if (this.node === undefined) return { ok: false, error: 'raft has not started yet' };
    if (this.load?.active === true) return { ok: false, error: 'a load is already running' };
    const load = new RaftLoad(checked, () => performance.now());
    this.load = load;
    this.schedule();
    return { ...(await load.done) };
  }

  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    this.load?.abort('the node is stopping');
    await this.transport?.stop();
  }

  status(): Readonly<Record<string, unknown>> {
    const node = this.node;
    if (node === undefined) return { role: 'replicator', started: false };
    const raft = node.status();
    const transport = this.transport?.stats() ?? {};
    return {
      role: 'replicator', started: true, raft: { ...raft, peers: raft.peers.map((peer) => ({ ...peer, lag: raft.lastIndex - peer.match })) },
      applied: { index: this.chain.index, hash: this.chain.hash }, snapshotIndex: this.snapshotIndex, writesWaitingForWal: this.tracker.size,
      diskFull: this.diskFull, transport, ...this.counters,
      metrics: this.metricsReport(raft.term, raft.commit, raft.role === 'leader', transport),
    };
  }

  private metricsReport(term: number, commitIndex: number, isLeader: boolean, transport: ReturnType<PeerTransport['stats']>): RaftMetricsReport {
    const peerReconnects: Record<string, number> = {};
    for (const [peer, stats] of Object.entries(transport)) peerReconnects[peer] = stats.reconnects;
    return {
      term, commitIndex, appliedIndex: this.chain.index, isLeader, elections: this.elections, leaderChanges: this.counters.leaderChanges,
      commitLatencyMs: this.commitLatencyMs.snapshot(), appendBatchEntries: this.appendBatchEntries.snapshot(), peerReconnects,
    };
  }
}
