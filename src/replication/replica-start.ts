/**
 * How the replica loop starts: ask the WAL what is durable, load the snapshot's metadata and every
 * entry after it (replicator-startup.ts), restore the state machine from the snapshot, then build
 * the Raft core over the durable log. A data directory of another cluster refuses to start; a WAL
 * that holds nothing waits, with no core, for the peers' handshakes to say whether this is a
 * brand-new cluster or a wiped node that must be caught up first (fresh-start.ts).
 *
 * Invariants: the core is built once, after the state machine holds the snapshot in force (a
 * fresh node has nothing to restore); `started` is called at most once, and never after `fail`;
 * while the needs-catch-up marker is set (or requested) the node says it is not blank.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import type { FalconError } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { Snapshot } from '../log/snapshot.js';
import type { FromWal, WalRecoveredMessage } from '../protocol/wal.js';
import { RaftNode } from '../raft/raft-node.js';
import { clusterMismatch, FreshStart, isFreshWal, type FreshStartStatus, type PeerHandshake } from './fresh-start.js';
import type { ReplicaLoopOptions } from './replica-loop-options.js';
import { ReplicatorLogStorage } from './replicator-log-storage.js';
import { ReplicatorStartup, type StartupState } from './replicator-startup.js';

/** Ticks a fresh node with a blank majority waits for a peer with state, when the settings name no election timeout. */
const freshStartWaitTicksDefault = 30;

/** The core and the durable log it was built over, as the start found them. */
export interface StartedReplica {
  readonly core: RaftNode;
  readonly storage: ReplicatorLogStorage;
  /** The hard state found in the WAL, or written by a fresh start; null when there is none. */
  readonly hardState: HardState | null;
  readonly walLastIndex: number;
  readonly snapshotIndex: number;
}

export interface ReplicaStartOptions {
  readonly options: ReplicaLoopOptions;
  /** Restores the state machine from `snapshot` (chunk by chunk), then runs `then`. */
  readonly restoreThen: (snapshot: Snapshot | null, then: () => void) => void;
  /** Given to the log storage: loads old entries a follower needs from the WAL. */
  readonly requestCatchUpRead: (fromIndex: number, toIndex: number) => void;
  /** The WAL answered (the host's `onStarted`): before the core exists when the node starts fresh. */
  readonly onRecovered: (recovered: WalRecoveredMessage) => void;
  /** The core is built: the loop runs from now on. */
  readonly started: (replica: StartedReplica) => void;
  /** The start cannot go on: the node must stop. */
  readonly fail: (error: FalconError) => void;
}

export class ReplicaStart {
  private readonly deps: ReplicaStartOptions;
  private readonly options: ReplicaLoopOptions;
  private readonly startup: ReplicatorStartup;
  /** Set while a fresh node waits for its peers' verdict (no core yet). */
  private freshStart: FreshStart | undefined;
  /** The needs-catch-up marker is set (or requested) and not yet cleared. */
  private markerSet = false;

  constructor(deps: ReplicaStartOptions) {
    this.deps = deps;
    this.options = deps.options;
    const host = deps.options.host;
    this.startup = new ReplicatorStartup((message) => host.toWal(message), this.options.walRequestBytesMax, this.options.incarnation,
      (state) => this.onLoaded(state), (error) => deps.fail(error));
  }

  /** Starts the conversation with the WAL. */
  begin(): void {
    this.startup.begin();
  }

  /** A WAL reply before the core exists. */
  onWalReply(reply: FromWal): void {
    if (this.freshStart !== undefined) this.freshStart.onWalReply(reply);
    else this.startup.onWalMessage(reply);
  }

  onTick(): void {
    this.freshStart?.onTick();
  }

  onPeerHandshake(peer: string, handshake: PeerHandshake): void {
    this.freshStart?.onPeerHandshake(peer, handshake);
  }

  /** The WAL cleared the needs-catch-up marker: durable now. */
  onMarkerCleared(): void {
    this.markerSet = false;
  }

  /** While a fresh node waits for its peers' verdict: what it heard so far; null otherwise. */
  get freshStartStatus(): (FreshStartStatus & { readonly phase: string }) | null {
    return this.freshStart?.status ?? null;
  }

  /**
   * What the start alone says of the node in its peer handshake (fresh-start.ts): not blank while
   * the catch-up marker is set or a fresh start catches up, blank while a fresh node waits for
   * its verdict; null when the durable log decides.
   */
  get handshake(): PeerHandshake | null {
    if (this.markerSet || this.freshStart?.catchingUp === true) return { blank: false };
    if (this.freshStart !== undefined) return { blank: true };
    return null;
  }

  private onLoaded(state: StartupState): void {
    const { recovered } = state;
    const mismatch = clusterMismatch(recovered, this.options.clusterName);
    if (mismatch !== null) {
      this.deps.fail(mismatch);
      return;
    }
    this.markerSet = recovered.needsCatchUp !== null;
    const clusterName = this.options.clusterName;
    if (clusterName === undefined || !isFreshWal(recovered)) {
      this.deps.restoreThen(state.snapshot, () => {
        this.buildCore(state, this.markerSet, null);
        this.deps.onRecovered(recovered);
      });
      return;
    }
    const host = this.options.host;
    this.freshStart = new FreshStart({
      self: this.options.id, voters: this.options.voters, clusterName,
      waitTicks: this.options.raft.electionTimeoutTicksMin ?? freshStartWaitTicksDefault,
      toWal: (message) => host.toWal(message),
      onVerdict: (verdict) => {
        if (verdict.kind === 'catchUp') host.warn({ verdict: verdict.kind }, verdict.why);
        else host.info?.({ verdict: verdict.kind }, verdict.why);
      },
      done: (needsCatchUp, hardState) => {
        this.freshStart = undefined;
        this.markerSet = needsCatchUp;
        this.buildCore(state, needsCatchUp, hardState);
      },
      fail: (error) => this.deps.fail(error),
    });
    this.deps.onRecovered(recovered);
    this.freshStart.begin();
  }

  /** Builds the Raft core over the durable log; the state machine is restored already (a fresh
   *  node has nothing to restore). `freshHardState`: what a fresh start wrote, if anything. */
  private buildCore(state: StartupState, needsCatchUp: boolean, freshHardState: HardState | null): void {
    const { recovered, snapshot, entries } = state;
    const storage = new ReplicatorLogStorage({ hardState: recovered.hardState, snapshot, entries },
      this.options.entriesBehindAppliedMax, this.deps.requestCatchUpRead);
    const core = new RaftNode({
      ...this.options.raft,
      id: this.options.id,
      voters: this.options.voters,
      storage,
      random: this.options.random,
      appliedIndex: snapshot?.index ?? 0,
      // A repaired or wiped node may not vote or lead until a leader has caught it up.
      needsCatchUp,
      bootId: this.options.bootId,
    });
    this.deps.started({
      core, storage, hardState: recovered.hardState ?? freshHardState, walLastIndex: recovered.lastIndex, snapshotIndex: snapshot?.index ?? 0,
    });
  }
}
