/**
 * One simulated node: a RaftNode driven exactly as ready.ts tells a caller to drive it, over a
 * simulated disk (sim-disk.ts), with the hash-chain state machine and periodic local snapshots
 * that compact the log (so that lagging or restarted nodes need a snapshot from the leader).
 *
 * A crash drops the core, the state machine, the messages waiting for durability and a random
 * suffix of the writes in flight; a restart builds a new core from the durable image only.
 *
 * Invariants: while down, `core` is null and no event of an old incarnation runs; the state
 * machine's applied index equals the core's applied index after every drain.
 *
 * Runs on: the simulator.
 */
import { assert } from '../../src/errors.js';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { Ready } from '../../src/raft/ready.js';
import type { SimChecker } from './sim-checker.js';
import { SimDisk } from './sim-disk.js';
import type { SimOptions } from './sim-options.js';
import { SimStateMachine, workloadValueOf } from './sim-state-machine.js';

/** What a node needs from the simulation around it. */
export interface SimHost {
  readonly options: SimOptions;
  readonly checker: SimChecker;
  readonly random: SeededRandom;
  readonly nodeIds: readonly string[];
  nowUs(): number;
  send(message: RaftMessage): void;
  scheduleDiskCompletion(node: SimNode, atUs: number): void;
  diskLatencyUs(node: SimNode): number;
  onAcknowledged(node: SimNode, value: number, index: number): void;
  /** A write that matters was just started (`voted`: it persists a vote): the simulation may
   *  crash the node before it is durable. */
  onWriteStarted(node: SimNode, voted: boolean): void;
}

/** Readies drained per event: a core that keeps producing Readies forever is a bug. */
const readiesPerDrainMax = 10_000;

export class SimNode {
  readonly index: number;
  readonly id: string;
  readonly disk = new SimDisk();
  readonly stateMachine = new SimStateMachine();
  private readonly host: SimHost;
  core: RaftNode | null = null;
  incarnation = 0;
  pausedUntilUs = 0;
  /** Lifetime commit, for the monotonicity check. */
  private lastCommit = 0;
  private lastLeaderTerm = -1;
  /** Values proposed through this incarnation and not yet acknowledged. */
  readonly proposed = new Set<number>();
  /** ReadIndex contexts asked on this incarnation → the acknowledged index when asked. */
  readonly readsAsked = new Map<string, number>();
  readiesProcessed = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;

  constructor(index: number, id: string, host: SimHost) {
    this.index = index;
    this.id = id;
    this.host = host;
    this.disk.storage.random = host.random;
    this.disk.storage.unavailableRate = host.options.storageUnavailableRate;
    this.disk.storage.appliedIndex = () => this.core?.appliedIndex ?? 0;
  }

  get isUp(): boolean {
    return this.core !== null;
  }

  start(): void {
    assert(this.core === null, `${this.id} started twice`);
    this.incarnation++;
    const storage = this.disk.storage;
    this.stateMachine.restore(storage.heldSnapshot);
    const settings = this.host.options.raft;
    this.core = new RaftNode({
      ...settings,
      id: this.id,
      voters: this.host.nodeIds,
      storage,
      random: new SeededRandom(this.host.random.nextUint32()),
      appliedIndex: this.stateMachine.appliedIndex,
    });
    // From 0: the first check after a restart verifies every committed entry the node starts with.
    this.lastCommit = 0;
    this.lastLeaderTerm = -1;
    this.drain();
  }

  crash(): void {
    this.core = null;
    this.incarnation++;
    this.disk.crash(this.host.random);
    this.proposed.clear();
    this.readsAsked.clear();
    this.pausedUntilUs = 0;
  }

  /** Processes every Ready the core has, as ready.ts prescribes. */
  drain(): void {
    const core = this.core;
    if (core === null) return;
    let readies = 0;
    while (core.hasReady()) {
      assert(++readies <= readiesPerDrainMax, `${this.id} produced more than ${readiesPerDrainMax} Readies in one drain`);
      this.processReady(core, core.ready());
    }
    this.afterStep(core);
  }

  private processReady(core: RaftNode, ready: Ready): void {
    this.readiesProcessed++;
    const host = this.host;
    if (ready.entries.length > 0) {
      const first = ready.entries[0];
      const prevTerm = first === undefined ? 0 : core.logTerm(first.index - 1);
      host.checker.onAppended(this.id, ready.entries, prevTerm);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    const report = lastEntry !== undefined ? { lastIndex: lastEntry.index, term: lastEntry.term }
      : ready.snapshot !== null ? { lastIndex: ready.snapshot.index, term: ready.snapshot.term } : null;
    const hasWrite = report !== null || ready.hardState !== null;
    if (hasWrite || this.disk.writesInFlight > 0) {
      const latencyUs = hasWrite ? host.diskLatencyUs(this) : 0;
      const write = { snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState,
        messagesAfterDurable: ready.messagesAfterDurable, report };
      host.scheduleDiskCompletion(this, this.disk.start(write, host.nowUs(), latencyUs));
      if (hasWrite) host.onWriteStarted(this, ready.hardState !== null && ready.hardState.vote !== null && ready.hardState.vote !== this.id);
    } else {
      for (const message of ready.messagesAfterDurable) host.send(message);
    }
    for (const message of ready.messages) host.send(message);
    if (ready.snapshot !== null) {
      this.stateMachine.restore(ready.snapshot);
      this.snapshotsInstalled++;
      if (!host.checker.hasAppliedHash(ready.snapshot.index)) {
        throw new Error(`assertion failed: ${this.id} installs a snapshot at ${ready.snapshot.index} that no node applied`);
      }
      host.checker.onAppliedHash(this.id, ready.snapshot.index, this.stateMachine.hashHigh, this.stateMachine.hashLow);
    }
    for (const entry of ready.committedEntries) {
      this.stateMachine.apply(entry);
      host.checker.onAppliedHash(this.id, entry.index, this.stateMachine.hashHigh, this.stateMachine.hashLow);
      const value = workloadValueOf(entry);
      if (value >= 0 && this.proposed.delete(value)) host.onAcknowledged(this, value, entry.index);
    }
    for (const read of ready.readStates) {
      const ackedWhenAsked = this.readsAsked.get(read.context);
      if (ackedWhenAsked === undefined) continue;
      this.readsAsked.delete(read.context);
      host.checker.onRead(this.id, read.index, ackedWhenAsked);
    }
    core.advance(ready);
    this.maybeCompact(core);
  }

  private maybeCompact(core: RaftNode): void {
    const compaction = this.host.options.compaction;
    const storage = this.disk.storage;
    const snapshotIndex = storage.heldSnapshot?.index ?? 0;
    const applied = this.stateMachine.appliedIndex;
    if (applied - snapshotIndex < compaction.snapshotEveryEntries || core.compactableIndex() < applied) return;
    storage.saveLocalSnapshot(applied, this.stateMachine.snapshotData(), { voters: this.host.nodeIds, learners: [] });
    this.snapshotsTaken++;
    const compactTo = applied - compaction.entriesKeptAfterSnapshot;
    if (compactTo > storage.firstIndex() - 1) storage.compact(compactTo);
  }

  /** Writes due by now become durable: report them, release what waited for them. */
  completeDiskWrites(): void {
    const core = this.core;
    if (core === null) return;
    for (const write of this.disk.completeDue(this.host.nowUs())) {
      if (write.report !== null) core.onDurable(write.report);
      for (const message of write.messagesAfterDurable) this.host.send(message);
    }
    this.drain();
  }

  /** Per-step checks of this node: election safety and completeness, commit monotonicity. */
  private afterStep(core: RaftNode): void {
    const checker = this.host.checker;
    const term = core.term;
    if (core.role === 'leader' && term !== this.lastLeaderTerm) {
      this.lastLeaderTerm = term;
      checker.onLeader(this.id, term, core);
    }
    const commit = core.commitIndex;
    if (commit < this.lastCommit) {
      throw new Error(`assertion failed: commit went back on ${this.id} from ${this.lastCommit} to ${commit}`);
    }
    if (commit > this.lastCommit) {
      checker.onCommitted(this.id, this.lastCommit, commit, term, core);
      this.lastCommit = commit;
    }
    if (core.appliedIndex !== this.stateMachine.appliedIndex) {
      throw new Error(`assertion failed: ${this.id} core applied ${core.appliedIndex}, state machine ${this.stateMachine.appliedIndex}`);
    }
  }
}
