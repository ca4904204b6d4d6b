/**
 * The replica loop: drives the pure Raft core (src/raft) over four interfaces — the WAL (a link
 * that carries `ToWal` requests and brings `FromWal` replies), the peers, the state machine
 * (state-machine.ts) and a scheduler. The Replicator actor plugs in its rings, sockets and timers;
 * the simulator (test/sim) plugs in its simulated network and clock and the real WAL engine over
 * the in-memory file system. Both therefore run this code: the order of writes, durability,
 * snapshots and truncations under test is the production order.
 *
 * Start (replica-start.ts): ask the WAL what is durable, load the snapshot and every entry after
 * it, restore the state machine from the snapshot, build the core. A data directory of another
 * cluster refuses to start; a WAL that holds nothing waits, with no core, for the peers'
 * handshakes to say whether this is a brand-new cluster or a wiped node that must be caught up
 * first (fresh-start.ts). Then, for every input (a tick, a peer message, a WAL reply, a
 * proposal), one Ready cycle on the next turn of the scheduler:
 *   1. the write goes to the WAL (snapshot, then truncate if needed, then pre-encoded records,
 *      then the hard state when term or vote changed) and is tracked until the WAL says it is
 *      durable (ready-writes.ts, durability-tracker.ts);
 *   2. messages that may leave now go to the peers (in parallel with our own fsync);
 *   3. a snapshot from the leader is restored into the state machine, committed entries applied;
 *   4. `advance`; when the WAL reports a write durable: the log view is updated, the core told,
 *      and the messages that waited for it (votes, append acks) leave.
 * The hard state is persisted when term or vote change, not for every new commit index: commit is
 * not needed for safety (a restarted node learns it from the leader), and persisting it for every
 * batch would add a file rename and two fsyncs to every commit.
 *
 * Local snapshots are taken every `snapshotEveryEntries` applied entries or `snapshotEveryBytes`
 * bytes of log records applied; once one is durable the WAL compacts below it (local-snapshots.ts).
 *
 * Snapshots are never held whole (docs/state-machine.md): the core sees only their metadata (its
 * `data` is always empty here); the bodies move in chunks of at most `snapshotChunkBytes` —
 * state machine → WAL when one is taken (local-snapshots.ts), WAL → state machine at start and
 * after an install (snapshot-restores.ts: the state machine applies nothing meanwhile; committed
 * entries wait), leader's WAL → peer → follower's WAL when a follower needs one
 * (snapshot-streams.ts; a `snapshot` message of the core never leaves the node).
 *
 * Followers behind the in-memory log are served by catch-up reads (catch-up-reads.ts); a failed
 * WAL request is housekeeping or stops the node (wal-failure-policy.ts).
 *
 * Invariants: the WAL link never drops or reorders (the caller guarantees it); at most one local
 * snapshot is being saved; the state machine's applied index equals the core's after every cycle.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { assert, failure, falconError, isFalconError, type FalconError, type Outcome } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import { parseRaftMessage } from '../raft/message-validation.js';
import type { ProposalEntry } from '../raft/proposal-entry.js';
import type { ProposalPlacement, RaftNode } from '../raft/raft-node.js';
import type { Ready } from '../raft/ready.js';
import type { FromWal, WalRecoveredMessage } from '../protocol/wal.js';
import type { ReplicaHost, ReplicaLoopCounters, ReplicaLoopOptions } from './replica-loop-options.js';
import type { FreshStartStatus, PeerHandshake } from './fresh-start.js';
import { CatchUpReads } from './catch-up-reads.js';
import { handOverLeadership } from './leadership-handover.js';
import { LocalSnapshots } from './local-snapshots.js';
import { ReadyWrites } from './ready-writes.js';
import type { ReplicatorLogStorage } from './replicator-log-storage.js';
import { ReplicaStart, type StartedReplica } from './replica-start.js';
import { SnapshotRestores } from './snapshot-restores.js';
import { isSnapshotStreamType, type PeerMessage } from './snapshot-stream-messages.js';
import { SnapshotStreams } from './snapshot-streams.js';
import { snapshotChunkBytesMax, type StateMachine } from '../log/state-machine.js';
import { WalFailurePolicy } from './wal-failure-policy.js';

/** The seams, exported with the loop that uses them (replica-loop-options.ts). */
export type { PeerLink, ReplicaHost, ReplicaLoopCounters, ReplicaLoopOptions, ReplicaObserver } from './replica-loop-options.js';

/** Ready cycles per scheduler turn before yielding to sockets and timers. */
const readyCyclesPerTurnMax = 64;
/** Snapshot chunks sent to the WAL and not yet answered, per local snapshot save. */
const snapshotWindowChunks = 4;

export class ReplicaLoop {
  private readonly options: ReplicaLoopOptions;
  private readonly host: ReplicaHost;
  private readonly machine: StateMachine<unknown>;
  private readonly starter: ReplicaStart;
  private readonly writes: ReadyWrites;
  private core: RaftNode | undefined;
  private storage: ReplicatorLogStorage | undefined;
  private readonly local: LocalSnapshots;
  private readonly restores: SnapshotRestores;
  private readonly streams: SnapshotStreams;
  private readonly catchUpReads: CatchUpReads;
  private readonly failures: WalFailurePolicy;
  private cycleScheduled = false;
  private stoppedBy: FalconError | null = null;
  readonly counters: ReplicaLoopCounters = {
    readyCycles: 0, walWrites: 0, peerMessagesIn: 0, peerMessagesDropped: 0, badPeerMessages: 0, snapshotsInstalled: 0, snapshotsTaken: 0, catchUpReads: 0,
  };

  /** Snapshot streaming figures (sender: leader side; receiver: follower side). */
  get snapshotStreamCounters(): Readonly<Record<string, number>> {
    return this.streams.counters;
  }

  /** True while the state machine is being restored from a snapshot. */
  get restoring(): boolean {
    return this.restores.restoring;
  }

  constructor(options: ReplicaLoopOptions, onStarted: (recovered: WalRecoveredMessage) => void = () => undefined) {
    this.options = options;
    this.host = options.host;
    this.machine = options.stateMachine;
    const chunkBytes = Math.min(options.snapshotChunkBytes ?? snapshotChunkBytesMax, snapshotChunkBytesMax, options.walRequestBytesMax);
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1, `snapshot chunk of ${chunkBytes} bytes`);
    const schedule = (): void => this.schedule();
    const sendPeer = (message: PeerMessage): boolean => this.sendToPeer(message);
    this.restores = new SnapshotRestores({
      host: this.host, machine: this.machine, observer: options.observer, incarnation: options.incarnation, chunkBytes,
      apply: (entries) => this.apply(entries), schedule, fail: (error) => this.stop(error),
    });
    this.streams = new SnapshotStreams({
      id: options.id, host: this.host, peers: options.peers, chunkBytes, resendTicks: options.snapshotResendTicks, counters: this.counters,
      core: () => this.core, sendPeer, nextRequestId: () => this.restores.nextRequestId(), schedule,
    });
    this.writes = new ReadyWrites({
      host: this.host, walRequestBytesMax: options.walRequestBytesMax, clusterName: options.clusterName, observer: options.observer, counters: this.counters,
      holdsVerified: (index, term) => this.streams.holdsVerified(index, term), sendToPeer: sendPeer,
    });
    this.local = new LocalSnapshots({
      host: this.host, machine: this.machine, voters: options.voters, chunkBytes, windowChunks: snapshotWindowChunks, counters: this.counters,
      trigger: { entriesSinceSnapshotMax: options.snapshotEveryEntries, bytesSinceSnapshotMax: options.snapshotEveryBytes },
      expectSaved: () => this.writes.expectTakenSnapshotSaved(),
    });
    this.catchUpReads = new CatchUpReads(this.host, options.walRequestBytesMax, this.counters);
    this.failures = new WalFailurePolicy({ host: this.host, writes: this.writes, local: this.local, catchUpReads: this.catchUpReads, stop: (error) => this.stop(error) });
    this.starter = new ReplicaStart({
      options, restoreThen: (snapshot, then) => this.restores.restoreThen(snapshot, then), requestCatchUpRead: (from, to) => this.catchUpReads.request(from, to),
      onRecovered: onStarted, started: (replica) => this.onCoreBuilt(replica), fail: (error) => this.stop(error),
    });
  }

  /** Starts the conversation with the WAL; the core exists once it answered (`started`). */
  start(): void {
    this.starter.begin();
  }

  get started(): boolean {
    return this.core !== undefined;
  }

  /** The core, for status and tests; undefined until started. */
  get node(): RaftNode | undefined {
    return this.core;
  }

  /** The durable log as the WAL reported it (for status and the simulator's durability check). */
  get durableLog(): ReplicatorLogStorage | undefined {
    return this.storage;
  }

  get snapshotIndex(): number {
    return this.local.snapshotIndex;
  }

  get writesWaitingForWal(): number {
    return this.writes.size;
  }

  /**
   * What this node says of itself in its peer handshake (fresh-start.ts): blank while it has made
   * no promise — term 0, no log, no snapshot, no catch-up marker. Before the WAL answered it says
   * nothing it could not keep (not blank).
   */
  get handshake(): PeerHandshake {
    const said = this.starter.handshake;
    if (said !== null) return said;
    const core = this.core;
    if (core === undefined) return { blank: false };
    return { blank: core.term === 0 && this.writes.persisted.term === 0 && this.writes.walLastIndex === 0 && this.local.snapshotIndex === 0 };
  }

  /** While a fresh node waits for its peers' verdict: what it heard so far; null otherwise. */
  get freshStartStatus(): (FreshStartStatus & { readonly phase: string }) | null {
    return this.starter.freshStartStatus;
  }

  /** A peer's handshake completed; a fresh node decides from these whether it may vote. */
  onPeerHandshake(peer: string, handshake: PeerHandshake): void {
    if (this.stoppedBy !== null) return;
    this.starter.onPeerHandshake(peer, handshake);
    this.core?.peerConnected(peer);
    this.schedule();
  }

  /** The start built the core over the durable log: the loop runs from now on. */
  private onCoreBuilt(replica: StartedReplica): void {
    this.storage = replica.storage;
    this.local.begin(replica.snapshotIndex);
    this.core = replica.core;
    this.writes.begin(replica.core, replica.storage, replica.hardState ?? this.writes.persisted, replica.walLastIndex);
    this.schedule();
  }

  // ---- inputs -------------------------------------------------------------------------------

  onWalReply(reply: FromWal): void {
    if (this.stoppedBy !== null) return;
    // Replies about snapshot bodies: a restore's reads, then the streams' reads and writes.
    if (this.restores.onWalReply(reply) || this.streams.onWalReply(reply)) return;
    if (this.core === undefined) {
      this.starter.onWalReply(reply);
      return;
    }
    switch (reply.type) {
      case 'walStarted':
        // The WAL writer restarted under us: the writes we had in flight are gone, and our view of
        // the log may be ahead of the disk. Stop the node; a restart begins again from the disk.
        this.stop(falconError('IO_ERROR', `the WAL writer restarted (incarnation ${reply.incarnation}) while the Replicator was running; the node stops so that it restarts from what is durable`));
        return;
      case 'durable':
        this.writes.onDurable(reply.lastIndex);
        break;
      case 'truncated':
        this.writes.onTruncated();
        break;
      case 'hardStateSaved':
        this.writes.onHardStateSaved();
        break;
      case 'snapshotSaved':
        if (!this.writes.onSnapshotSaved()) this.local.onSaved(this.core, this.storage, this.streams.lowestStreamedIndex);
        break;
      case 'snapshotChunkAppended':
        this.local.onChunkAppended(reply);
        return;
      case 'entries':
        this.catchUpReads.onAnswered();
        this.storage?.onLoaded(reply.entries);
        // The followers waiting for them get them now, not at their next heartbeat answer.
        this.core.entriesLoaded();
        break;
      case 'needsCatchUpCleared':
        // Durable now: the node votes and may lead again.
        this.starter.onMarkerCleared();
        this.core.onNeedsCatchUpCleared();
        break;
      case 'walError':
        this.failures.onWalError(reply);
        return;
      default:
        return;
    }
    this.schedule();
  }

  /** A message from a peer, as decoded from its frame: validated here, never trusted. */
  onPeerMessage(from: string, value: unknown): void {
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return;
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    if (isSnapshotStreamType(type)) {
      this.streams.onPeerMessage(from, value);
      return;
    }
    if (type === 'snapshot') {
      // A snapshot's body travels in chunks; a whole one on the wire is not ours to trust.
      this.counters.badPeerMessages += 1;
      this.options.peers.closeConnection(from, 'malformed raft message: a snapshot must arrive as a chunk stream');
      return;
    }
    const message = parseRaftMessage(value, this.options.id, from);
    if (isFalconError(message)) {
      this.counters.badPeerMessages += 1;
      this.options.peers.closeConnection(from, `malformed raft message: ${message.message}`);
      return;
    }
    this.counters.peerMessagesIn += 1;
    core.step(message);
    this.schedule();
  }

  onPeerDown(peer: string): void {
    if (this.stoppedBy !== null) return;
    this.core?.peerDisconnected(peer);
    this.schedule();
  }

  /** `elapsedTicks` ticks of time passed since the last call (RaftNode.tick says what follows it). */
  tick(elapsedTicks = 1): void {
    if (this.stoppedBy !== null) return;
    for (let ticked = 0; ticked < elapsedTicks; ticked += 1) this.starter.onTick();
    this.core?.tick(elapsedTicks);
    this.streams.tick(this.core?.role === 'leader');
    this.schedule();
  }

  propose(entries: readonly ProposalEntry[]): Outcome<ProposalPlacement> {
    return this.request((core) => core.propose(entries));
  }

  readIndex(context: string): Outcome<null> {
    return this.request((core) => core.readIndex(context));
  }

  transferLeadership(target: string): Outcome<null> {
    return this.request((core) => core.transferLeadership(target));
  }

  /** A request to the core from the host: refused while not started or stopped, else a cycle follows. */
  private request<T>(ask: (core: RaftNode) => Outcome<T>): Outcome<T> {
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return failure(this.unavailable());
    const outcome = ask(core);
    this.schedule();
    return outcome;
  }

  /**
   * On a graceful stop: this node retires, and when it leads it hands leadership to its best-placed
   * connected follower (leadership-handover.ts). Returns that follower, or null when none.
   */
  handOverLeadership(): string | null {
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return null;
    return handOverLeadership(core, this.options.peers, () => this.schedule());
  }

  private unavailable(): FalconError {
    return this.stoppedBy ?? falconError('UNAVAILABLE', 'raft has not started yet');
  }

  // ---- the Ready cycle ------------------------------------------------------------------------

  /** Asks for a cycle on the next turn (one at a time). */
  schedule(): void {
    if (this.cycleScheduled || this.core === undefined || this.stoppedBy !== null) return;
    this.cycleScheduled = true;
    this.host.schedule(() => this.runCycles());
  }

  /** Inputs that arrived since the last cycle are handled; call `before` hooks first. */
  private runCycles(): void {
    this.cycleScheduled = false;
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return;
    this.beforeCycles?.();
    if (this.local.capturing && !this.restores.restoring) this.captureStep(core);
    for (let cycles = 0; cycles < readyCyclesPerTurnMax && core.hasReady() && this.stoppedBy === null; cycles += 1) {
      this.handleReady(core, core.ready());
    }
    this.afterCycles?.();
    if (core.hasReady() || this.wantsCycle?.() === true || this.local.capturing) this.schedule();
  }

  /** One slice of a local snapshot's capture; once whole, the entries that waited are applied. */
  private captureStep(core: RaftNode): void {
    const waited = this.local.captureStep();
    if (waited === undefined) return;
    if (waited.length > 0) this.apply(waited);
    assert(this.machine.appliedIndex === core.appliedIndex,
      `state machine applied ${this.machine.appliedIndex} after a snapshot capture, the core ${core.appliedIndex}`);
    this.options.observer?.onCommitted?.(this.machine.appliedIndex);
    this.storage?.trimBehind(this.machine.appliedIndex);
  }

  /** Host hooks around each turn of cycles (the Replicator's load generator and leader watch). */
  beforeCycles: (() => void) | undefined;
  afterCycles: (() => void) | undefined;
  wantsCycle: (() => boolean) | undefined;

  private handleReady(core: RaftNode, ready: Ready): void {
    this.counters.readyCycles += 1;
    this.options.observer?.onReady?.(core, ready);
    this.writes.write(ready);
    // Caught up: the marker goes, durably, before the core acts on it (a crash before keeps it,
    // and the node is simply caught up again after its restart).
    if (ready.needsCatchUpCleared) this.host.toWal({ type: 'clearNeedsCatchUp' });
    for (const message of ready.messages) this.sendToPeer(message);
    if (ready.snapshot !== null) {
      // The WAL puts it in force (write(), above), then the state machine is restored from it; a
      // local snapshot still being captured is given up, and what waited for it waits for this.
      const installedIndex = ready.snapshot.index;
      const waiting = this.local.abandonCapture();
      this.streams.onInstalled(installedIndex);
      this.local.onInstalled(installedIndex);
      this.counters.snapshotsInstalled += 1;
      this.restores.beginInstalled(ready.snapshot);
      const after = waiting.filter((entry) => entry.index > installedIndex);
      if (after.length > 0) this.restores.defer(after);
    }
    if (ready.committedEntries.length > 0) {
      if (this.restores.restoring) this.restores.defer(ready.committedEntries);
      else if (this.local.capturing) this.local.defer(ready.committedEntries);
      else this.apply(ready.committedEntries);
    }
    if (ready.readStates.length > 0) this.options.observer?.onReadStates?.(ready.readStates);
    core.advance(ready);
    if (this.restores.restoring || this.local.capturing) return;
    assert(this.machine.appliedIndex === core.appliedIndex,
      `state machine applied ${this.machine.appliedIndex}, the core ${core.appliedIndex}`);
    this.options.observer?.onCommitted?.(this.machine.appliedIndex);
    this.storage?.trimBehind(this.machine.appliedIndex);
    this.local.maybeTake(core);
  }

  private apply(entries: readonly LogEntry[]): void {
    const results = this.machine.apply(entries);
    this.local.onApplied(entries);
    this.options.observer?.onApplied?.(entries, results);
  }

  private sendToPeer(message: PeerMessage): boolean {
    if (message.type === 'snapshot') {
      // The core's snapshot message is metadata: the body streams from the WAL in chunks.
      this.streams.start(message);
      return true;
    }
    const sent = this.options.peers.send(message);
    if (!sent) this.counters.peerMessagesDropped += 1;
    return sent;
  }

  // ---- stop -----------------------------------------------------------------------------------

  /** Stops the loop for good: no more cycles, writes or messages; the host is told once. */
  private stop(error: FalconError): void {
    if (this.stoppedBy !== null) return;
    this.stoppedBy = error;
    this.host.fail(error);
  }

  get failure(): FalconError | null {
    return this.stoppedBy;
  }
}
