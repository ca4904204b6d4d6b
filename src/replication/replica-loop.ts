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
 * applied payload bytes; once one is durable the WAL compacts below it (local-snapshots.ts).
 *
 * Snapshots are never held whole (docs/state-machine.md): the core sees only their metadata (its
 * `data` is always empty here); the bodies move in chunks of at most `snapshotChunkBytes` —
 * state machine → WAL when one is taken, WAL → state machine at start and after an install (the
 * state machine applies nothing meanwhile; committed entries wait in `applyBacklog`), leader's
 * WAL → peer → follower's WAL when a follower needs one (snapshot-sender.ts,
 * snapshot-receiver.ts; a `snapshot` message of the core never leaves the node).
 *
 * Invariants: the WAL link never drops or reorders (the caller guarantees it); at most one local
 * snapshot is being saved; the state machine's applied index equals the core's after every cycle.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { assert, failure, falconError, isFalconError, type FalconError, type Outcome } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import { parseRaftMessage } from '../raft/message-validation.js';
import type { ProposalEntry } from '../raft/proposal-entry.js';
import type { ProposalPlacement, RaftNode } from '../raft/raft-node.js';
import type { Ready } from '../raft/ready.js';
import type { FromWal, ToWal, WalRecoveredMessage } from '../protocol/wal.js';
import type { ReplicaHost, ReplicaLoopOptions } from './replica-loop-options.js';
import type { FreshStartStatus, PeerHandshake } from './fresh-start.js';
import { LocalSnapshots } from './local-snapshots.js';
import { ReadyWrites } from './ready-writes.js';
import type { ReplicatorLogStorage } from './replicator-log-storage.js';
import { ReplicaStart, type StartedReplica } from './replica-start.js';
import { SnapshotRestore } from './snapshot-pumps.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { SnapshotSender } from './snapshot-sender.js';
import { isSnapshotStreamType, parseSnapshotStreamMessage, type PeerMessage } from './snapshot-stream-messages.js';
import { snapshotChunkBytesMax, type StateMachine } from './state-machine.js';

/** The seams, exported with the loop that uses them (replica-loop-options.ts). */
export type { PeerLink, ReplicaHost, ReplicaLoopOptions, ReplicaObserver } from './replica-loop-options.js';

/** Ready cycles per scheduler turn before yielding to sockets and timers. */
const readyCyclesPerTurnMax = 64;
/** Snapshot chunks read or sent and not yet acknowledged, per follower; and per local snapshot save. */
const snapshotWindowChunks = 4;
/** Ticks without progress after which a snapshot stream goes back to what the follower acknowledged. */
const snapshotResendTicksDefault = 50;
/** Resends without progress after which a snapshot stream ends and the core retries. */
const snapshotResendAttemptsMax = 20;

export class ReplicaLoop {
  private readonly options: ReplicaLoopOptions;
  private readonly chunkBytes: number;
  private readonly host: ReplicaHost;
  private readonly machine: StateMachine<unknown>;
  private readonly starter: ReplicaStart;
  private readonly writes: ReadyWrites;
  private core: RaftNode | undefined;
  private storage: ReplicatorLogStorage | undefined;
  private readonly local: LocalSnapshots;
  private readonly sender: SnapshotSender;
  private readonly receiver: SnapshotReceiver;
  /** The state machine being restored from the snapshot in force (at start, or after an install). */
  private restore: SnapshotRestore | undefined;
  /** Committed entries handed out by the core while a restore runs, applied once it is done. */
  private applyBacklog: LogEntry[] = [];
  private snapshotRequestId = 0;
  private cycleScheduled = false;
  private readRequestId = 0;
  private catchUpReadInFlight = false;
  private stoppedBy: FalconError | null = null;
  readonly counters = {
    readyCycles: 0, walWrites: 0, peerMessagesIn: 0, peerMessagesDropped: 0, badPeerMessages: 0, snapshotsInstalled: 0, snapshotsTaken: 0,
    /** Reads of old entries from the WAL for followers behind the in-memory window. */
    catchUpReads: 0,
  };

  /** Snapshot streaming figures (sender: leader side; receiver: follower side). */
  get snapshotStreamCounters(): Readonly<Record<string, number>> {
    return { ...this.sender.counters, ...this.receiver.counters };
  }

  /** True while the state machine is being restored from a snapshot. */
  get restoring(): boolean {
    return this.restore !== undefined;
  }

  private nextSnapshotRequestId(): number {
    this.snapshotRequestId += 1;
    return this.options.incarnation * 2 ** 32 + this.snapshotRequestId;
  }

  constructor(options: ReplicaLoopOptions, onStarted: (recovered: WalRecoveredMessage) => void = () => undefined) {
    this.options = options;
    this.host = options.host;
    this.machine = options.stateMachine;
    const chunkBytes = Math.min(options.snapshotChunkBytes ?? snapshotChunkBytesMax, snapshotChunkBytesMax, options.walRequestBytesMax);
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1, `snapshot chunk of ${chunkBytes} bytes`);
    this.chunkBytes = chunkBytes;
    const toWal = (message: ToWal): void => this.host.toWal(message);
    const sendPeer = (message: PeerMessage): boolean => this.sendToPeer(message);
    this.sender = new SnapshotSender({
      id: options.id, chunkBytes, windowChunks: snapshotWindowChunks, resendTicks: options.snapshotResendTicks ?? snapshotResendTicksDefault,
      attemptsMax: snapshotResendAttemptsMax, toWal, sendPeer, nextRequestId: () => this.nextSnapshotRequestId(),
      failed: (peer) => {
        this.core?.reportSnapshot(peer, false);
        this.schedule();
      },
    });
    this.receiver = new SnapshotReceiver({
      id: options.id, writesInFlightMax: snapshotWindowChunks * 2, toWal, sendPeer, warn: (fields, message) => this.host.warn(fields, message),
      deliver: (message) => {
        const core = this.core;
        if (core === undefined) return;
        core.step(message);
        // Taken: its body must stay until the Ready installs it, whatever chunks arrive before.
        const taken = core.snapshotTaken();
        if (taken !== null && taken.index === message.snapshot.index && taken.term === message.snapshot.term) this.receiver.holdUntilInstalled();
        this.schedule();
      },
    });
    this.writes = new ReadyWrites({
      host: this.host, walRequestBytesMax: options.walRequestBytesMax, clusterName: options.clusterName, observer: options.observer, counters: this.counters,
      holdsVerified: (index, term) => this.receiver.holdsVerified(index, term), sendToPeer: sendPeer,
    });
    this.local = new LocalSnapshots({
      host: this.host, machine: this.machine, voters: options.voters, chunkBytes, windowChunks: snapshotWindowChunks, counters: this.counters,
      trigger: { entriesSinceSnapshotMax: options.snapshotEveryEntries, bytesSinceSnapshotMax: options.snapshotEveryBytes },
      expectSaved: () => this.writes.expectTakenSnapshotSaved(),
    });
    this.starter = new ReplicaStart({
      options, restoreThen: (snapshot, then) => this.restoreThen(snapshot, then), requestCatchUpRead: (from, to) => this.requestCatchUpRead(from, to),
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

  /** Restores the state machine from the snapshot in force (chunk by chunk), then runs `then`. */
  private restoreThen(snapshot: Snapshot | null, then: () => void): void {
    if (snapshot === null) {
      then();
      return;
    }
    this.restore = new SnapshotRestore(snapshot.index, this.machine.beginRestore(snapshot.index), (message) => this.host.toWal(message),
      this.chunkBytes, () => this.nextSnapshotRequestId(), () => {
        this.restore = undefined;
        then();
      });
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
    if (this.onSnapshotReply(reply)) return;
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
        if (!this.writes.onSnapshotSaved()) this.local.onSaved(this.core, this.storage, this.sender.lowestStreamedIndex);
        break;
      case 'snapshotChunkAppended':
        this.local.onChunkAppended(reply);
        return;
      case 'entries':
        this.catchUpReadInFlight = false;
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
        this.onWalError(reply);
        return;
      default:
        return;
    }
    this.schedule();
  }

  /** Replies about snapshot bodies (streams, restores); true when `reply` was one. */
  private onSnapshotReply(reply: FromWal): boolean {
    if (reply.type === 'snapshotChunk') {
      if (this.restore?.onWalChunk(reply) === true) return true;
      if (this.sender.onWalChunk(reply)) this.schedule();
      return true;
    }
    if (reply.type === 'walError' && reply.request === 'readSnapshotChunk') {
      if (this.restore?.owns(reply.requestId) === true) this.stop(reply.error);
      else this.sender.onWalError(reply.requestId ?? -1);
      return true;
    }
    return this.receiver.onWalReply(reply);
  }

  private onWalError(reply: Extract<FromWal, { type: 'walError' }>): void {
    if (reply.request === 'read') {
      this.catchUpReadInFlight = false;
      return;
    }
    if (reply.request === 'beginSnapshot' || reply.request === 'appendSnapshotChunk') {
      this.local.onChunkFailed(reply, reply.request);
      return;
    }
    const purpose = reply.request === 'finishSnapshot' || reply.request === 'installSnapshot' ? this.writes.onSnapshotSaveFailed() : undefined;
    if (purpose === 'taken' || reply.request === 'compact' || reply.request === 'releaseSnapshot') {
      // A local snapshot, a compaction or the delete of a snapshot file no stream reads any more is
      // housekeeping, not a promise: the previous snapshot and the log stay (a file left behind
      // goes with the next snapshot), and the next due snapshot tries again.
      if (purpose === 'taken') this.local.abandon();
      this.host.warn({ request: reply.request, code: reply.error.code }, `WAL ${reply.request} failed: ${reply.error.message}`);
      return;
    }
    // Every other failed request is a write the core was promised: DISK_FULL dropped the batch
    // (nothing of it reported durable), anything else is worse. The node stops taking writes it
    // cannot keep; an operator frees space and restarts it, and it recovers from what is durable.
    this.stop(reply.error);
  }

  /** A message from a peer, as decoded from its frame: validated here, never trusted. */
  onPeerMessage(from: string, value: unknown): void {
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return;
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    if (isSnapshotStreamType(type)) {
      this.onSnapshotStreamMessage(from, value);
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

  private onSnapshotStreamMessage(from: string, value: unknown): void {
    const message = parseSnapshotStreamMessage(value, this.options.id, from);
    if (isFalconError(message)) {
      this.counters.badPeerMessages += 1;
      this.options.peers.closeConnection(from, message.message);
      return;
    }
    this.counters.peerMessagesIn += 1;
    if (message.type === 'snapshotChunk') this.receiver.onChunk(message);
    else this.sender.onAck(message);
    this.schedule();
  }

  onPeerDown(peer: string): void {
    if (this.stoppedBy !== null) return;
    this.core?.peerDisconnected(peer);
    this.schedule();
  }

  tick(): void {
    if (this.stoppedBy !== null) return;
    this.starter.onTick();
    this.core?.tick();
    if (this.core?.role === 'leader') this.sender.tick();
    else this.sender.stopAll();
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
   * On a graceful stop (any role): this node stops campaigning for good, and when it leads it hands
   * leadership to the first of its successor ranking that it is connected to (the most caught-up
   * follower, the order its heartbeats announce; followers catching up are not in it), so that a
   * rolling restart costs the cluster a transfer (milliseconds), not an election timeout. A node
   * that is stopping too (a whole cluster stopped at once) refuses to take over, and the core gives
   * the transfer up when that node's connection closes. Returns the chosen follower, or null when
   * this node does not lead or no transfer could start.
   */
  handOverLeadership(): string | null {
    const core = this.core;
    if (core === undefined || this.stoppedBy !== null) return null;
    // This node is stopping: whatever its role, it must not take leadership back.
    core.retire();
    const target = core.successorRanking().find((peer) => this.options.peers.isConnected(peer));
    if (target === undefined) return null;
    const outcome = core.transferLeadership(target);
    this.schedule();
    return outcome.ok ? target : null;
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
    for (let cycles = 0; cycles < readyCyclesPerTurnMax && core.hasReady() && this.stoppedBy === null; cycles += 1) {
      this.handleReady(core, core.ready());
    }
    this.afterCycles?.();
    if (core.hasReady() || this.wantsCycle?.() === true) this.schedule();
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
    if (ready.snapshot !== null) this.beginInstalledRestore(ready.snapshot);
    if (ready.committedEntries.length > 0) {
      if (this.restore !== undefined) this.applyBacklog.push(...ready.committedEntries);
      else this.apply(ready.committedEntries);
    }
    if (ready.readStates.length > 0) this.options.observer?.onReadStates?.(ready.readStates);
    core.advance(ready);
    if (this.restore !== undefined) return;
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

  /**
   * The core installed a leader's snapshot: the WAL puts it in force (write(), before this), then
   * the state machine is restored from it chunk by chunk; entries committed meanwhile wait.
   */
  private beginInstalledRestore(snapshot: Snapshot): void {
    this.receiver.onInstalled(snapshot.index);
    this.local.onInstalled(snapshot.index);
    this.counters.snapshotsInstalled += 1;
    this.restore = new SnapshotRestore(snapshot.index, this.machine.beginRestore(snapshot.index), (message) => this.host.toWal(message),
      this.chunkBytes, () => this.nextSnapshotRequestId(), () => {
        this.restore = undefined;
        this.options.observer?.onSnapshotRestored?.(snapshot);
        const backlog = this.applyBacklog;
        this.applyBacklog = [];
        if (backlog.length > 0) this.apply(backlog);
        this.options.observer?.onCommitted?.(this.machine.appliedIndex);
        this.schedule();
      });
  }

  private sendToPeer(message: PeerMessage): boolean {
    if (message.type === 'snapshot') {
      // The core's snapshot message is metadata: the body streams from the WAL in chunks.
      this.sender.start(message);
      return true;
    }
    const sent = this.options.peers.send(message);
    if (!sent) this.counters.peerMessagesDropped += 1;
    return sent;
  }

  /**
   * Loads old entries a follower needs from the WAL. It reads ahead as much as one request carries,
   * not just the one append the core asked for: the follower's next appends are then served from
   * memory instead of one WAL round trip (and one heartbeat wait) each.
   */
  private requestCatchUpRead(fromIndex: number, toIndex: number): void {
    if (this.catchUpReadInFlight || toIndex < fromIndex) return;
    this.catchUpReadInFlight = true;
    this.counters.catchUpReads += 1;
    this.readRequestId += 1;
    this.host.toWal({ type: 'read', requestId: this.readRequestId, fromIndex, toIndex, bytesMax: this.options.walRequestBytesMax });
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
