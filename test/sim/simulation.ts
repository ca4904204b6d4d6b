/**
 * One deterministic simulation run: N nodes — each the production replica loop over the
 * production WAL engine, applying the production queue state machine (sim-node.ts) — over a
 * simulated network, disk and clock, the queue's clients (sim-queue-clients.ts: producers and
 * workers, retrying on other nodes), a fault phase (sim-faults.ts) and then a liveness phase
 * (without clients): faults stop, every node is
 * restarted (a crash and recovery for each; or, in the other half of the seeds, with
 * `livenessRestartsEveryNode` off, only those that are down) and connected, and the cluster must converge — a leader followed by all, every node
 * having applied its whole log — without ever going `livenessStallTicksMax` ticks with no node
 * applying anything new (counted from the end of any slow write or pause the faults left under
 * way; a snapshot streaming counts as progress), and within `livenessTicksMax` in all. Safety is
 * checked after every event (sim-checker.ts), the queue's promises after every entry applied and
 * every answer (sim-queue-checks.ts, queue-oracle.ts). Everything is drawn from the seed;
 * `replayCommand` names the run. In half the seeds some timer callbacks come 2 to 4 periods late
 * and tick that many at once (`lateTickRate`), as on a busy Replicator thread.
 *
 * Invariants: simulated time never goes back; an event of a crashed incarnation never runs; a
 * paused node runs nothing (its deliveries and disk completions wait, its ticks are lost).
 *
 * Runs on: the simulator (one thread per run; no clock, no I/O).
 */
import type { LogEntry } from '../../src/log/log-entry.js';
import type { EntryResults } from '../../src/queue/results.js';
import type { ToWal } from '../../src/protocol/wal.js';
import type { PeerMessage } from '../../src/replication/snapshot-stream-messages.js';
import { SeededRandom } from '../../src/raft/random.js';
import { fail, SimChecker, SimulationFailure } from './sim-checker.js';
import { dialPeers } from './sim-connections.js';
import { isBarred } from './sim-damage.js';
import { crashNode, partitionAtSnapshotSend, partitionDuringInstall, scheduleNextFault } from './sim-faults.js';
import { SimNetwork } from './sim-network.js';
import { SimNode, type SimHost } from './sim-node.js';
import type { SimOptions } from './sim-options.js';
import type { SimAnswer } from './sim-dispatch.js';
import { QueueChecks } from './sim-queue-checks.js';
import { SimQueueClients, type ClientAttempt } from './sim-queue-clients.js';
import { EventQueue } from './event-queue.js';
import { describe } from './sim-trace.js';

export interface SimStats {
  events: number;
  messagesSent: number;
  messagesDropped: number;
  proposals: number;
  acknowledged: number;
  reads: number;
  crashes: number;
  pauses: number;
  partitions: number;
  transfers: number;
  /** Damage at rest (sim-damage.ts): records damaged, disks wiped, starts with the repair flag. */
  recordsDamaged: number;
  disksWiped: number;
  repairedStarts: number;
  /** Starts under the needs-catch-up marker, and markers cleared after a leader caught the node up. */
  catchUpsBegun: number;
  catchUpsCleared: number;
  leaderChanges: number;
  snapshotsInstalled: number;
  maxCommitted: number;
  livenessTicks: number;
  /** The queue: jobs clients were answered with (acknowledged enqueues), acks the state machine
   *  accepted, acks it refused as stale (LEASE_LOST), leases expired and released by the log,
   *  replica states compared at one index (snapshot digests). */
  jobsAcknowledged: number;
  acksAccepted: number;
  staleAcksRefused: number;
  leasesExpired: number;
  leasesReleased: number;
  statesCompared: number;
  /** Enqueues retried with the same identity and answered from the first job (key or sequence). */
  duplicatesAnswered: number;
  /** Enqueues refused as "outcome unknown" (FAILED_PRECONDITION: a producer session forgotten, or too old). */
  enqueuesInDoubt: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodeCount: number;
  /** The liveness phase restarted every node (else it started only the nodes that were down). */
  readonly livenessRestartsEveryNode: boolean;
  readonly ok: boolean;
  readonly failure: string | null;
  readonly stats: SimStats;
}

/** The sim clock's epoch: node clocks read ms since the Unix epoch, as the leader's stamps do. */
const simEpochMs = 1_767_225_600_000;

/** Events per run: a run that does not end within this many is itself a failure. */
const eventsPerRunMax = 5_000_000;

/** `livenessRestartsEveryNode`: null for the seed's own draw, else the mode the run was forced to. */
export function replayCommand(seed: number, nodeCount: number, faultTicks: number, livenessRestartsEveryNode: boolean | null = null): string {
  const mode = livenessRestartsEveryNode === null ? '' : livenessRestartsEveryNode ? ' --liveness-restart' : ' --no-liveness-restart';
  return `npm run sim -- --seed ${seed} --nodes ${nodeCount} --steps ${faultTicks}${mode}`;
}

export class Simulation implements SimHost {
  readonly options: SimOptions;
  readonly checker = new SimChecker();
  readonly random: SeededRandom;
  /** Draws which timer callbacks come late (their own stream: a seed without late ticks runs as before). */
  private readonly lateTicks: SeededRandom;
  readonly nodeIds: readonly string[];
  readonly nodes: SimNode[] = [];
  readonly network: SimNetwork;
  readonly queue = new EventQueue();
  readonly stats: SimStats = {
    events: 0, messagesSent: 0, messagesDropped: 0, proposals: 0, acknowledged: 0, reads: 0, crashes: 0, pauses: 0,
    partitions: 0, transfers: 0, recordsDamaged: 0, disksWiped: 0, repairedStarts: 0, catchUpsBegun: 0, catchUpsCleared: 0, leaderChanges: 0, snapshotsInstalled: 0, maxCommitted: 0, livenessTicks: 0,
    jobsAcknowledged: 0, acksAccepted: 0, staleAcksRefused: 0, leasesExpired: 0, leasesReleased: 0, statesCompared: 0, duplicatesAnswered: 0, enqueuesInDoubt: 0,
  };
  readonly queueChecks = new QueueChecks();
  readonly clients: SimQueueClients;
  private readonly indexOfId = new Map<string, number>();
  private readonly trace: ((line: string) => void) | null;
  private currentUs = 0;
  /** The most of each snapshot stream a follower said it held, and their sum of increases: a
   *  snapshot streaming is replication under way (a queue state of tens of KB over chunks of a
   *  few hundred bytes takes seconds), which the liveness phase counts as progress. */
  private readonly snapshotBytesHeld = new Map<string, number>();
  private snapshotProgressBytes = 0;
  faultPhase = true;
  /** Per-node disk slowness factor (a slow-disk fault). */
  readonly diskSlowFactors: number[];

  constructor(options: SimOptions, trace: ((line: string) => void) | null = null) {
    this.options = options;
    this.trace = trace;
    this.random = new SeededRandom(options.seed);
    this.lateTicks = new SeededRandom(options.seed ^ 0x3c7a1e55);
    const ids: string[] = [];
    for (let index = 0; index < options.nodeCount; index++) ids.push(`n${index + 1}`);
    this.nodeIds = ids;
    ids.forEach((id, index) => this.indexOfId.set(id, index));
    this.network = new SimNetwork(options.nodeCount, this.random, options.network);
    this.diskSlowFactors = new Array<number>(options.nodeCount).fill(1);
    for (let index = 0; index < options.nodeCount; index++) this.nodes.push(new SimNode(index, ids[index] as string, this));
    this.clients = new SimQueueClients(this);
  }

  nowUs(): number {
    return this.currentUs;
  }

  log(line: string): void {
    if (this.trace !== null) this.trace(`${(this.currentUs / 1000).toFixed(3).padStart(10)} ms  ${line}`);
  }

  indexOf(id: string): number {
    const index = this.indexOfId.get(id);
    if (index === undefined) fail(`unknown node id ${id}`);
    return index;
  }

  // ---- SimHost -------------------------------------------------------------------------

  send(message: PeerMessage): boolean {
    if (message.type === 'snapshotChunkAck') this.noteSnapshotHeld(message.from, message.to, message.index, message.heldBytes);
    const from = this.indexOf(message.from);
    const to = this.indexOf(message.to);
    const target = this.nodes[to] as SimNode;
    const incarnation = target.incarnation;
    if (message.type === 'snapshotChunk' && message.offset === 0 && this.faultPhase
      && this.random.chance(this.options.faults.partitionDuringInstallRate)) {
      partitionAtSnapshotSend(this, this.nodes[from] as SimNode, target, message.index);
    }
    const delays = this.network.plan(from, to);
    // The sender's transport notices a failed snapshot chunk half of the time (a closed
    // connection); otherwise the stream finds out by its resend timer.
    if (delays.length === 0 && message.type === 'snapshotChunk' && this.random.chance(0.5)) return false;
    for (const delayUs of delays) {
      this.queue.schedule(this.currentUs + delayUs, to, incarnation, () => {
        if (!this.network.isLinkUp(from, to)) {
          this.network.dropped++;
          return;
        }
        if (this.trace !== null) this.log(`deliver ${describe(message)}`);
        target.loop?.onPeerMessage(message.from, message);
      });
    }
    return true;
  }

  /** A follower holds `heldBytes` of a leader's snapshot `index`: new bytes count as progress. */
  private noteSnapshotHeld(follower: string, leader: string, index: number, heldBytes: number): void {
    const stream = `${follower}<-${leader}@${index}`;
    const before = this.snapshotBytesHeld.get(stream) ?? 0;
    if (heldBytes <= before) return;
    this.snapshotBytesHeld.set(stream, heldBytes);
    this.snapshotProgressBytes += heldBytes - before;
  }

  at(node: SimNode, atUs: number, run: () => void): void {
    this.queue.schedule(atUs, node.index, node.incarnation, run);
  }

  diskLatencyUs(node: SimNode): number {
    const disk = this.options.disk;
    let latencyUs = this.random.between(disk.latencyUsMin, disk.latencyUsMax);
    if (this.random.chance(disk.slowRate)) latencyUs += this.random.below(disk.slowUsMax);
    return latencyUs * (this.diskSlowFactors[node.index] ?? 1);
  }

  nodeNowMs(node: SimNode): number {
    return simEpochMs + Math.floor(this.currentUs / 1000) + (this.options.queue.clockOffsetsMs[node.index] ?? 0);
  }

  onQueueApplied(node: SimNode, entry: LogEntry, results: EntryResults): void {
    this.queueChecks.onApplied(node, entry, results);
  }

  onQueueSnapshot(node: SimNode, index: number, digest: string, restored: boolean): void {
    this.queueChecks.onSnapshot(node, index, digest, restored ? 'a snapshot installed' : 'a snapshot taken');
  }

  onQueueAnswer(node: SimNode, attempt: ClientAttempt, answer: SimAnswer): void {
    // An answer from an applied entry acknowledges a write: that entry must survive (finalChecks).
    if (answer.kind === 'command' && answer.index !== null) {
      this.stats.acknowledged++;
      this.checker.onAcknowledged(answer.index);
    }
    this.clients.onAnswer(node, attempt, answer);
  }

  onTransportUp(node: SimNode): void {
    dialPeers(this, node);
  }

  /** A kill point fired inside a system call: the process dies there and comes back soon. */
  onKilled(node: SimNode): void {
    crashNode(this, node, false);
    this.queue.schedule(this.currentUs + this.random.between(100, 5_000), -1, 0, () => {
      if (!node.isUp) this.startNode(node);
    });
  }

  onWalRequest(node: SimNode, message: ToWal): void {
    if (!this.faultPhase) return;
    if (message.type === 'installSnapshot' && this.random.chance(this.options.faults.partitionDuringInstallRate)) {
      partitionDuringInstall(this, node);
    }
    if (message.type !== 'saveHardState' || message.state.vote === null || message.state.vote === node.id) return;
    if (this.random.chance(this.options.faults.crashAfterVoteRate)) this.armKillPoint(node);
  }

  /** Arms a kill point on `node`'s disk a few system calls ahead (a crash mid-write). */
  armKillPoint(node: SimNode): void {
    node.disk.armKill(this.random.between(1, 12));
  }

  // ---- the run ------------------------------------------------------------------------

  /** Schedules the next tick of `node` for its current incarnation. */
  scheduleTick(node: SimNode, afterUs: number): void {
    const rate = this.options.clockRates[node.index] ?? 1;
    // A late callback makes up for the periods it missed in one tick call (raft-timing.ts).
    const elapsedTicks = this.options.lateTickRate > 0 && this.lateTicks.chance(this.options.lateTickRate) ? this.lateTicks.between(2, 4) : 1;
    const periodUs = Math.round(this.options.tickUs * elapsedTicks * rate * (0.98 + this.random.nextFloat() * 0.04));
    const incarnation = node.incarnation;
    this.queue.schedule(this.currentUs + afterUs + periodUs, node.index, incarnation, () => {
      node.loop?.tick(elapsedTicks);
      node.dispatch?.tick();
      this.scheduleTick(node, 0);
    });
  }

  startNode(node: SimNode): void {
    node.start();
    this.log(`start ${node.id} (incarnation ${node.incarnation})`);
    if (this.faultPhase && this.random.chance(this.options.faults.killPointRate)) this.armKillPoint(node);
    this.scheduleTick(node, this.random.below(this.options.tickUs));
  }

  private scheduleWorkload(): void {
    const meanUs = this.options.workload.proposalIntervalUs;
    this.queue.schedule(this.currentUs + this.random.between(meanUs >> 1, meanUs + (meanUs >> 1)), -1, 0, () => {
      if (!this.faultPhase) return;
      this.clients.actors.step();
      this.scheduleWorkload();
    });
  }

  /** Every tick: client attempts past their deadline are retried; every `queue.sampleTicks`, every
   *  node's queue state is sampled (sim-queue-checks.ts). */
  private scheduleClientTimers(tick: number): void {
    this.queue.schedule(this.currentUs + this.options.tickUs, -1, 0, () => {
      this.clients.expire();
      if (tick % this.options.queue.sampleTicks === 0) this.queueChecks.sample(this.nodes, 'sampled');
      this.scheduleClientTimers(tick + 1);
    });
  }

  /** A client sends one write (`read` false: an enqueue) or a linearizable read to `target`;
   *  `bounded` false: one more request beside the bounded number the workload keeps waiting. */
  clientRequestTo(target: SimNode, read: boolean, bounded = true): void {
    if (read) this.clients.actors.step();
    else this.clients.actors.enqueue(target, bounded);
  }

  /** Runs events up to `untilUs` (or until `stop` says so, checked after each event). */
  private runUntil(untilUs: number, stop: (() => boolean) | null): boolean {
    for (;;) {
      if (this.queue.peekTimeUs() > untilUs) {
        this.currentUs = untilUs;
        return false;
      }
      const event = this.queue.pop();
      if (event === undefined) return false;
      if (++this.stats.events > eventsPerRunMax) fail(`more than ${eventsPerRunMax} events in one run`);
      this.currentUs = event.timeUs;
      if (event.nodeIndex >= 0) {
        const node = this.nodes[event.nodeIndex] as SimNode;
        if (node.incarnation !== event.incarnation) continue;
        if (node.pausedUntilUs > this.currentUs) {
          this.queue.schedule(node.pausedUntilUs, event.nodeIndex, event.incarnation, event.run);
          continue;
        }
      }
      event.run();
      this.checker.checkDurability(this.nodes.map((node) => node.claimed), (position) => isBarred(this.nodes[position] as SimNode));
      if (stop !== null && stop()) return true;
    }
  }

  /** Every node up and following one leader, everything committed and applied everywhere, no
   *  node still catching up. */
  converged(): boolean {
    const leader = this.nodes.find((node) => node.core?.role === 'leader')?.core;
    if (leader === undefined || leader === null || leader.commitIndex !== leader.lastIndex) return false;
    for (const node of this.nodes) {
      const core = node.core;
      if (core === null || node.pausedUntilUs > this.currentUs) return false;
      if (core.term !== leader.term || core.leader !== leader.id) return false;
      if (core.appliedIndex !== leader.lastIndex || core.commitIndex !== leader.lastIndex) return false;
      if (node.appliedIndex !== core.appliedIndex) return false;
    }
    // A node under the needs-catch-up marker must have been caught up (it votes again).
    for (const node of this.nodes) if (node.core?.status().catchingUp !== false) return false;
    return true;
  }

  private startLivenessPhase(): void {
    this.faultPhase = false;
    this.network.healAll();
    this.network.lossy = false;
    this.network.stormDropRate = 0;
    this.diskSlowFactors.fill(1);
    // Every node crashes once more (a kill or a power loss: recovery under test), or, with
    // `livenessRestartsEveryNode` off, only the nodes that are down start, so that what the running
    // ones hold in memory (an election under way, a presumed refusal) must converge too: a restart
    // clears it (a review found two live nodes never electing a leader that way).
    const restartAll = this.options.livenessRestartsEveryNode;
    this.log(`liveness phase: faults stop, ${restartAll ? 'every node restarted' : 'the nodes that are down started'}, all connected`);
    for (const node of this.nodes) {
      node.disk.disarm();
      if (node.isUp && !restartAll) continue;
      if (node.isUp) crashNode(this, node, this.random.chance(this.options.faults.powerLossShare));
      this.startNode(node);
    }
  }

  /**
   * When the last effect of a fault still under way at the start of the liveness phase ends: a
   * WAL write drawn under a slow-disk fault (the install-time partition slows a disk ×100, so one
   * group's fsync may take 11 s and outlive its fault by seconds), or a pause. A node that was not
   * restarted waits for that write, as a real one waits for its fsync: no vote, no acknowledgement
   * before they are durable. That is the fault still acting, not a stall of the code under test.
   */
  private faultWorkEndsUs(): number {
    let endsUs = this.currentUs;
    for (const node of this.nodes) endsUs = Math.max(endsUs, node.wal?.busyUntil ?? 0, node.pausedUntilUs);
    return endsUs;
  }

  private finalChecks(): void {
    this.queueChecks.sample(this.nodes, 'at the end');
    const first = this.nodes[0] as SimNode;
    for (const node of this.nodes) {
      if (node.appliedIndex !== first.appliedIndex || node.appliedHash !== first.appliedHash) {
        fail(`final state differs: ${node.id} applied ${node.appliedIndex}, ${first.id} applied ${first.appliedIndex}`);
      }
      if (node.appliedIndex < this.checker.maxAckedIndex) {
        fail(`acknowledged write lost: index ${this.checker.maxAckedIndex} acknowledged, ${node.id} applied only ${node.appliedIndex}`);
      }
    }
  }

  run(): SimResult {
    let failure: string | null = null;
    try {
      for (const node of this.nodes) this.startNode(node);
      this.scheduleWorkload();
      this.scheduleClientTimers(1);
      scheduleNextFault(this);
      const faultEndUs = this.options.faultTicks * this.options.tickUs;
      this.runUntil(faultEndUs, null);
      this.startLivenessPhase();
      const livenessStartUs = this.currentUs;
      const deadlineUs = livenessStartUs + this.options.livenessTicksMax * this.options.tickUs;
      const stallUs = this.options.livenessStallTicksMax * this.options.tickUs;
      // Progress: a node applied, or replicated, further than ever before in this phase. (A new
      // leader may replicate a long backlog before its no-op commits and anything applies.)
      let progressBest = -1;
      let progressAtUs = livenessStartUs;
      // The stall clock runs only once what the faults left under way is over (see faultWorkEndsUs).
      const faultWorkEndsUs = this.faultWorkEndsUs();
      if (faultWorkEndsUs > livenessStartUs) this.log(`stall clock from ${(faultWorkEndsUs / 1000).toFixed(3)} ms: a slow write or a pause begun under the faults lasts until then`);
      const convergedOrStalled = (): boolean => {
        let progress = this.snapshotProgressBytes;
        for (const node of this.nodes) progress += node.appliedIndex + (node.core?.lastIndex ?? 0);
        if (progress > progressBest) {
          progressBest = progress;
          progressAtUs = this.currentUs;
        } else if (this.currentUs - Math.max(progressAtUs, faultWorkEndsUs) > stallUs) {
          fail(`liveness: no progress for ${this.options.livenessStallTicksMax} ticks; ${this.describeNodes()}`);
        }
        return this.converged();
      };
      if (!this.runUntil(deadlineUs, convergedOrStalled)) {
        fail(`liveness: not converged within ${this.options.livenessTicksMax} ticks; ${this.describeNodes()}`);
      }
      this.stats.livenessTicks = Math.ceil((this.currentUs - livenessStartUs) / this.options.tickUs);
      this.finalChecks();
    } catch (error) {
      const message = error instanceof SimulationFailure ? error.message
        : error instanceof Error ? `${error.message}\n${error.stack?.split('\n').slice(1, 6).join('\n') ?? ''}` : String(error);
      failure = `at ${(this.currentUs / 1000).toFixed(3)} ms: ${message}`;
    }
    this.stats.messagesSent = this.network.sent;
    this.stats.messagesDropped = this.network.dropped;
    this.stats.leaderChanges = this.checker.leaderChanges;
    this.stats.maxCommitted = this.checker.maxCommitted;
    this.stats.snapshotsInstalled = this.nodes.reduce((sum, node) => sum + node.snapshotsInstalled, 0);
    this.stats.repairedStarts = this.nodes.reduce((sum, node) => sum + node.repairedStarts, 0);
    this.stats.catchUpsBegun = this.nodes.reduce((sum, node) => sum + node.catchUpsBegun, 0);
    this.stats.catchUpsCleared = this.nodes.reduce((sum, node) => sum + node.catchUpsCleared, 0);
    const oracle = this.queueChecks.oracle.counters;
    this.stats.proposals = this.clients.stats.requests;
    this.stats.reads = this.clients.actors.stats.reads;
    this.stats.jobsAcknowledged = this.queueChecks.jobsAnswered;
    this.stats.acksAccepted = oracle.acksAccepted;
    this.stats.staleAcksRefused = oracle.staleAcksRefused;
    this.stats.leasesExpired = oracle.leasesExpired;
    this.stats.leasesReleased = oracle.leasesReleased;
    this.stats.statesCompared = this.queueChecks.snapshotsCompared;
    this.stats.duplicatesAnswered = oracle.duplicatesAnswered;
    this.stats.enqueuesInDoubt = oracle.enqueuesInDoubt;
    return {
      seed: this.options.seed, nodeCount: this.options.nodeCount, livenessRestartsEveryNode: this.options.livenessRestartsEveryNode,
      ok: failure === null, failure, stats: this.stats,
    };
  }

  describeNodes(): string {
    return this.nodes.map((node) => {
      const status = node.core?.status();
      if (status === undefined) return `${node.id}: down`;
      return `${node.id}: ${status.role} term ${status.term} leader ${status.leader ?? '-'} commit ${status.commit} `
        + `applied ${status.applied} last ${status.lastIndex} durable ${status.durableIndex}`
        + (node.pausedUntilUs > this.currentUs ? ' paused' : '');
    }).join('; ');
  }
}
