/**
 * One simulated node: the production replica loop (src/replication/replica-loop.ts) with the
 * production state machine, `HashChainedMachine(QueueStateMachine)` (sim-queue-machine.ts), over
 * the production WAL engine on a simulated disk (sim-wal.ts, sim-file-system.ts), with the
 * simulation's network and clock. Its leader side is the Replicator's `QueueService` (the node's
 * clock with its skew as `nowMs`, a seeded random source, a lease grace of one election timeout),
 * fed by the Dispatcher's `CommandBatcher` (sim-dispatch.ts); both die with the node.
 *
 * A crash is a process kill (the disk keeps every byte written) or a power loss (it keeps only
 * what was synced, with a torn tail); it drops the loop, the WAL thread and its inbox. A restart
 * opens the WAL from the disk (recovery, as a real restart does) and first checks the promise:
 * everything the WAL claimed durable before the crash is still there, and the hard state did not
 * go back.
 *
 * The node runs under a cluster name, so the hard state carries the cluster's identity and a node
 * that finds its WAL empty decides from its peers' handshakes (sim-connections.ts) whether it
 * bootstraps or must be caught up (src/replication/fresh-start.ts): the path of a wiped disk. A
 * disk damaged at rest (sim-damage.ts) must come back with the needs-catch-up marker; a WAL that
 * refuses to open over the damage is opened again with the repair flag, as an operator would.
 *
 * Invariants: while down, `loop` is null and no event of an old incarnation runs; the state
 * machine's applied index equals the core's after every cycle (the loop asserts it).
 *
 * Runs on: the simulator.
 */
import type { ToWal } from '../../src/protocol/wal.js';
import { FalconFailure } from '../../src/errors.js';
import type { LogEntry } from '../../src/log/log-entry.js';
import type { PeerMessage } from '../../src/replication/snapshot-stream-messages.js';
import type { RaftNode } from '../../src/raft/raft-node.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { ReadState } from '../../src/raft/read-index.js';
import type { EntryResults } from '../../src/queue/results.js';
import { QueueService } from '../../src/replication/queue-service.js';
import { ReplicaLoop } from '../../src/replication/replica-loop.js';
import { OrderedSender } from '../../src/ring/ordered-sender.js';
import { WriteAheadLog } from '../../src/wal/wal.js';
import { fail, type SimChecker } from './sim-checker.js';
import { SimFileSystem } from './sim-file-system.js';
import type { SimOptions } from './sim-options.js';
import type { ClientAttempt } from './sim-queue-clients.js';
import { SimDispatcher, type SimAnswer } from './sim-dispatch.js';
import { SimQueueMachine } from './sim-queue-machine.js';
import { ClaimedDurable, SimWal } from './sim-wal.js';
import { simWalDir as walDir } from './sim-damage.js';

/** What a node needs from the simulation around it. */
export interface SimHost {
  readonly options: SimOptions;
  readonly checker: SimChecker;
  readonly random: SeededRandom;
  readonly nodeIds: readonly string[];
  nowUs(): number;
  /** Queues `message` on the network; false when the sender's transport saw it fail at once. */
  send(message: PeerMessage): boolean;
  /** Runs `run` at `atUs` for `node`'s current incarnation (dropped after a crash). */
  at(node: SimNode, atUs: number, run: () => void): void;
  diskLatencyUs(node: SimNode): number;
  /** `node`'s own clock, ms since the epoch (the sim clock with a per-node skew). */
  nodeNowMs(node: SimNode): number;
  /** `node` applied a committed entry, with its results (the queue oracle, the job checks). */
  onQueueApplied(node: SimNode, entry: LogEntry, results: EntryResults): void;
  /** `node`'s loop took a snapshot, or restored one (`restored`), whose bytes digest to `digest`. */
  onQueueSnapshot(node: SimNode, index: number, digest: string, restored: boolean): void;
  /** An answer to a client attempt leaves `node`. */
  onQueueAnswer(node: SimNode, attempt: ClientAttempt, answer: SimAnswer): void;
  /** A line of the trace (when tracing). */
  log(line: string): void;
  /** The node's loop answered from its WAL: its peer transport listens and connects now. */
  onTransportUp(node: SimNode): void;
  /** The node's process was killed inside a system call (an armed kill point). */
  onKilled(node: SimNode): void;
  /** A request is about to go to the node's WAL (the simulation may arm a kill point). */
  onWalRequest(node: SimNode, message: ToWal): void;
}

/** Leases may not expire sooner than one election timeout (the longest) after a leader change. */
export function leaseGraceMsOf(options: SimOptions): number {
  return Math.ceil(((options.raft.electionTimeoutTicksMax ?? 20) * options.tickUs) / 1000);
}

/** The cluster's name, kept in every node's hard state. */
const simClusterName = 'sim';
/** Requests that may wait behind a full WAL ring; more means the WAL thread is stuck (a bug). */
const walBacklogMessagesMax = 1_000_000;
/** The WAL's staging arena: small, since a node restarts many times in a run (the default is 4 MiB). */
const walArenaBytes = 64 * 1024;

/** A read's answers per message in the simulator: small, so that the parts logic always runs. */
const simAnswerBytesMax = 4096;

export class SimNode {
  readonly index: number;
  readonly id: string;
  readonly disk = new SimFileSystem();
  private readonly host: SimHost;
  loop: ReplicaLoop | null = null;
  wal: SimWal | null = null;
  /** The loop's side of the ring to the WAL: ordered, never dropping (production code). */
  toWal: OrderedSender<ToWal> | null = null;
  /** The production queue state machine with the hash chain folded in. */
  machine: SimQueueMachine | null = null;
  /** The Replicator's side of the dispatch link, and the Dispatcher's batcher (production code). */
  service: QueueService | null = null;
  dispatch: SimDispatcher<ClientAttempt> | null = null;
  /** What the WAL claimed durable, kept across crashes until the restart checks it. */
  claimed = new ClaimedDurable(0, 0, null);
  incarnation = 0;
  pausedUntilUs = 0;
  /** Lifetime commit, for the monotonicity check. */
  private lastCommit = 0;
  private lastLeaderTerm = -1;
  /** ReadIndex contexts asked on this incarnation → the highest committed index when asked. */
  readonly readsAsked = new Map<string, number>();
  snapshotsInstalled = 0;
  /** The peer transport is up (the loop has its WAL's answer), until the next crash. */
  transportUp = false;
  /** Damaged at rest and not restarted since (sim-damage.ts). */
  damagePending = false;
  /** Starts an operator made with the repair flag (a WAL that refused to open over damage). */
  repairedStarts = 0;
  /** Starts with the needs-catch-up marker (from recovery or a fresh start's verdict), and clears of it. */
  catchUpsBegun = 0;
  catchUpsCleared = 0;

  constructor(index: number, id: string, host: SimHost) {
    this.index = index;
    this.id = id;
    this.host = host;
  }

  get isUp(): boolean {
    return this.loop !== null;
  }

  /** The Raft core once the loop has started (null while down or starting). */
  get core(): RaftNode | null {
    return this.loop?.node ?? null;
  }

  get appliedIndex(): number {
    return this.machine?.appliedIndex ?? 0;
  }

  get appliedHash(): number {
    return this.machine?.hash ?? 0;
  }

  start(): void {
    if (this.loop !== null) fail(`${this.id} started twice`);
    this.incarnation++;
    const engine = this.openWal();
    const options = this.host.options;
    this.wal = new SimWal(engine, {
      nowUs: () => this.host.nowUs(),
      at: (atUs, run) => this.host.at(this, atUs, run),
      diskLatencyUs: () => this.host.diskLatencyUs(this),
      snapshotExtraUs: () => this.host.random.between(0, options.disk.snapshotWriteTicksMax) * options.tickUs,
      installExtraUs: () => this.host.random.between(0, options.disk.snapshotInstallTicksMax) * options.tickUs,
      deliver: (reply) => {
        if (reply.type === 'needsCatchUpMarked') this.catchUpsBegun++;
        else if (reply.type === 'needsCatchUpCleared') this.catchUpsCleared++;
        this.loop?.onWalReply(reply);
      },
      onRoom: () => this.toWal?.pump(),
      killed: () => this.host.onKilled(this),
      failed: (error) => fail(`${this.id}: the WAL failed: ${error.code} ${error.message}`),
    }, this.claimed, options.storage.walRingMessagesMax);
    const wal = this.wal;
    this.toWal = new OrderedSender<ToWal>({
      trySend: (message) => wal.trySend(message), bytesOf: () => 1, link: `${this.id} replicator→walWriter`,
      backlogMessagesMax: walBacklogMessagesMax, backlogBytesMax: walBacklogMessagesMax,
    });
    this.machine = new SimQueueMachine({
      onEntry: (entry, hash, results) => {
        this.host.checker.onAppliedHash(this.id, entry.index, hash);
        this.host.onQueueApplied(this, entry, results);
      },
      onSnapshotTaken: (index, digest) => this.host.onQueueSnapshot(this, index, digest, false),
    });
    this.dispatch = this.newDispatcher();
    this.loop = new ReplicaLoop({
      id: this.id,
      voters: this.host.nodeIds,
      raft: options.raft,
      random: new SeededRandom(this.host.random.nextUint32()),
      stateMachine: this.machine,
      host: {
        toWal: (message) => {
          this.host.onWalRequest(this, message);
          const sent = this.toWal?.send(message);
          if (sent !== undefined && !sent.ok) fail(`${this.id}: ${sent.error.message}`);
        },
        schedule: (cycle) => this.host.at(this, this.host.nowUs(), cycle),
        fail: (error) => fail(`${this.id}: the replica loop stopped: ${error.code} ${error.message}`),
        warn: (_fields, message) => this.host.log(`${this.id} warns: ${message}`),
        info: (_fields, message) => this.host.log(`${this.id}: ${message}`),
      },
      peers: {
        send: (message) => this.host.send(message),
        closeConnection: (peer, reason) => fail(`${this.id} closed its link to ${peer}: ${reason}`),
        isConnected: () => true,
      },
      entriesBehindAppliedMax: options.storage.tailCacheEntries,
      walRequestBytesMax: options.storage.walRequestBytesMax,
      snapshotEveryEntries: options.compaction.snapshotEveryEntries,
      snapshotEveryBytes: options.compaction.snapshotEveryBytes,
      snapshotChunkBytes: options.compaction.snapshotChunkBytes,
      snapshotResendTicks: options.compaction.snapshotResendTicks,
      incarnation: this.incarnation,
      bootId: this.incarnation,
      clusterName: simClusterName,
      observer: {
        onReady: (core, ready) => {
          const first = ready.entries[0];
          if (first !== undefined) this.host.checker.onAppended(this.id, ready.entries, core.logTerm(first.index - 1));
        },
        onApplied: (entries, results) => this.service?.onApplied(entries, results),
        onSnapshotRestored: (snapshot) => {
          this.snapshotsInstalled++;
          if (!this.host.checker.hasAppliedHash(snapshot.index)) fail(`${this.id} installs a snapshot at ${snapshot.index} that no node applied`);
          this.host.checker.onAppliedHash(this.id, snapshot.index, this.appliedHash);
          if (this.machine !== null) this.host.onQueueSnapshot(this, snapshot.index, this.machine.digest(), true);
          this.service?.onSnapshotRestored(snapshot.index);
        },
        onReadStates: (readStates) => this.onReadStates(readStates),
      },
    }, () => {
      this.transportUp = true;
      this.host.onTransportUp(this);
    });
    this.service = this.newService(this.loop, this.machine);
    this.loop.afterCycles = () => this.afterCycles();
    // From 0: the first check after a restart verifies every committed entry the node starts with.
    this.lastCommit = 0;
    this.lastLeaderTerm = -1;
    this.loop.start();
  }

  /** Recovery from the disk, then the check that nothing claimed durable was lost. */
  private openWal(): WriteAheadLog {
    const wal = this.openDamagedOrNot();
    const claimed = this.claimed;
    const hardState = wal.hardState;
    if (claimed.hardState !== null) {
      const recoveredTerm = hardState?.term ?? 0;
      if (recoveredTerm < claimed.hardState.term || (recoveredTerm === claimed.hardState.term && claimed.hardState.vote !== null && hardState?.vote !== claimed.hardState.vote)) {
        fail(`durability: ${this.id}'s hard state went back from term ${claimed.hardState.term} vote ${claimed.hardState.vote ?? '-'} to `
          + `term ${recoveredTerm} vote ${hardState?.vote ?? '-'} across a crash`);
      }
    }
    const snapshotIndex = wal.snapshot?.index ?? 0;
    for (let index = Math.max(claimed.terms.firstIndex, snapshotIndex + 1); index <= claimed.terms.lastIndex; index++) {
      const term = wal.termAt(index);
      if (!term.ok || term.value !== claimed.terms.termAt(index)) {
        fail(`durability: ${this.id}'s WAL claimed index ${index} (term ${claimed.terms.termAt(index)}) durable and lost it in a crash `
          + `(recovered: last ${wal.lastIndex}, snapshot ${snapshotIndex})`);
      }
    }
    // From now on the claim is what recovery reported durable.
    const next = new ClaimedDurable(snapshotIndex, wal.snapshot?.term ?? 0, hardState);
    for (let index = snapshotIndex + 1; index <= wal.durableLastIndex; index++) {
      const term = wal.termAt(index);
      if (!term.ok || term.value === null) fail(`${this.id}: recovered WAL has no term at ${index}`);
      next.terms.append(index, term.value);
    }
    this.claimed = next;
    return wal;
  }

  /** Opens the WAL; over damage at rest the node must come back with the needs-catch-up marker. */
  private openDamagedOrNot(): WriteAheadLog {
    const storage = this.host.options.storage;
    const open = (repairCorruption: boolean): WriteAheadLog => WriteAheadLog.open(walDir, {
      fileSystem: this.disk, segmentBytes: storage.segmentBytes, tailCacheEntries: storage.tailCacheEntries, arenaBytes: walArenaBytes, repairCorruption,
    }).wal;
    let wal: WriteAheadLog;
    try {
      wal = open(false);
    } catch (error) {
      if (!(error instanceof FalconFailure)) throw error;
      // The operator's path: a WAL that refuses to start over corruption restarts with the repair
      // flag (once; later starts go without it). Only damage the simulation made may need it.
      if (error.error.code !== 'CORRUPTION' || !this.damagePending) fail(`${this.id} cannot open its WAL: ${error.error.code} ${error.error.message}`);
      this.repairedStarts++;
      wal = open(true);
    }
    if (this.damagePending && wal.needsCatchUp === null) {
      fail(`${this.id} restarted over a record damaged at rest without the needs-catch-up marker (last index ${wal.lastIndex})`);
    }
    this.damagePending = false;
    if (wal.needsCatchUp !== null) this.catchUpsBegun++;
    return wal;
  }

  /** A crash: `powerLoss` also loses what was not synced. */
  crash(powerLoss: boolean): void {
    this.loop = null;
    this.transportUp = false;
    this.wal = null;
    this.toWal = null;
    this.machine = null;
    this.service = null;
    this.dispatch = null;
    this.incarnation++;
    if (powerLoss) this.disk.losePower(() => this.host.random.nextFloat());
    else this.disk.crashProcess();
    this.readsAsked.clear();
    this.pausedUntilUs = 0;
  }

  /** The leader side of the queue, as the Replicator runs it: the sim clock, the seeded random
   *  source, a lease grace of one (longest) election timeout. */
  private newService(loop: ReplicaLoop, machine: SimQueueMachine): QueueService {
    const options = this.host.options;
    const random = new SeededRandom(this.host.random.nextUint32());
    const service = new QueueService({
      nodeId: this.id,
      loop,
      queue: machine.queue,
      send: (message) => this.dispatch?.fromReplicator(message),
      sendToRegistry: () => undefined,
      nowMs: () => this.host.nodeNowMs(this),
      randomUint32: () => random.nextUint32(),
      leaseGraceMs: leaseGraceMsOf(options),
      // Small on purpose: reads with more than a few answers come back in parts.
      answerBytesMax: simAnswerBytesMax,
    });
    if (this.dispatch !== null) this.dispatch.service = service;
    return service;
  }

  private newDispatcher(): SimDispatcher<ClientAttempt> {
    const host = this.host;
    const queue = host.options.queue;
    return new SimDispatcher<ClientAttempt>({
      nodeId: this.id,
      nowUs: () => host.nowUs(),
      nowMs: () => host.nodeNowMs(this),
      at: (atUs, run) => host.at(this, atUs, run),
      ringDelayUs: () => host.random.between(5, 50),
      turnUs: () => queue.turnUs,
      answer: (attempt, answer) => host.onQueueAnswer(this, attempt, answer),
      onRead: (batch) => this.readsAsked.set(`dispatch:${batch}`, host.checker.maxCommitted),
      entryBytesMax: queue.entryBytesMax,
      answerTimeoutMs: queue.answerTimeoutMs,
    });
  }

  private onReadStates(readStates: readonly ReadState[]): void {
    for (const read of readStates) {
      const committedWhenAsked = this.readsAsked.get(read.context);
      if (committedWhenAsked === undefined) continue;
      this.readsAsked.delete(read.context);
      this.host.checker.onRead(this.id, read.index, committedWhenAsked);
    }
    this.service?.onReadStates(readStates);
  }

  /** Per-turn checks of this node: election safety and completeness, commit monotonicity. */
  private afterCycles(): void {
    const core = this.core;
    if (core === null) return;
    this.service?.afterTurn(core.role, core.leader, core.term);
    const checker = this.host.checker;
    const term = core.term;
    if (core.role === 'leader' && term !== this.lastLeaderTerm) {
      this.lastLeaderTerm = term;
      checker.onLeader(this.id, term, core);
    }
    const commit = core.commitIndex;
    if (commit < this.lastCommit) fail(`commit went back on ${this.id} from ${this.lastCommit} to ${commit}`);
    if (commit > this.lastCommit) {
      checker.onCommitted(this.id, this.lastCommit, commit, term, core);
      this.lastCommit = commit;
    }
  }
}
