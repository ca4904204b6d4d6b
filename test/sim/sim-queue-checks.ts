/**
 * The queue's checks in the simulator, beside the Raft ones of sim-checker.ts:
 *
 * - no acknowledged enqueue is lost: every job id a client was answered with (at entry index I)
 *   is in the state of every node that applied I or beyond: checked when the answer arrives (the
 *   nodes already past I), when a node applies I (the nodes that get there later), at every
 *   sample (all answered jobs on every node: a job lost later, by a restart or a snapshot, shows
 *   there) and at the end. A job may be missing only once it completed or was cancelled (the
 *   oracle's `finishedAt`) at or below the node's applied index: retention forgets those;
 * - a linearizable read (`get`) of an acknowledged job never answers "no such job" unless the
 *   job finished (and may have been forgotten);
 * - replicas at one applied index hold byte-identical queue states: the digest of every snapshot
 *   a loop takes, every snapshot installed (re-read after the install), and every node's state at
 *   each sample and at the end, keyed by index, must agree;
 * - the rest (keys, sequences, fencing, expiry counts) is the oracle's (queue-oracle.ts), fed
 *   every committed entry once.
 *
 * Invariants: `answeredAt` keeps the lowest index a job was answered at; `digests[i]` is set
 * once.
 *
 * Runs on: the simulator.
 */
import type { LogEntry } from '../../src/log/log-entry.js';
import type { EnqueuedJob, EntryResults } from '../../src/queue/results.js';
import { fail } from './sim-checker.js';
import type { SimNode } from './sim-node.js';
import { QueueOracle } from './queue-oracle.js';

export class QueueChecks {
  readonly oracle = new QueueOracle();
  /** Job id → the lowest entry index a client was answered with it at. */
  private readonly answeredAt = new Map<number, number>();
  /** Entry index → the jobs first answered at it. */
  private readonly answeredByIndex = new Map<number, number[]>();
  /** Applied index → the digest of a replica's queue snapshot there, and who took it. */
  private readonly digests = new Map<number, { digest: string; id: string }>();
  snapshotsCompared = 0;

  get jobsAnswered(): number {
    return this.answeredAt.size;
  }

  /** Every answered job id, in the order first answered (for the client model's reads). */
  answeredJobs(): IterableIterator<number> {
    return this.answeredAt.keys();
  }

  /** `node` applied `entry` (its state is at `entry.index` now). */
  onApplied(node: SimNode, entry: LogEntry, results: EntryResults): void {
    this.oracle.onApplied(entry, results);
    const ids = this.answeredByIndex.get(entry.index);
    if (ids !== undefined) for (const id of ids) this.expectHeld(node, id, entry.index, entry.index);
  }

  /** A client got `jobs` in the answer of the entry at `index`. */
  onEnqueueAnswered(jobs: readonly EnqueuedJob[], index: number, nodes: readonly SimNode[]): void {
    for (const { id } of jobs) {
      if (this.answeredAt.has(id)) continue;
      this.answeredAt.set(id, index);
      let ids = this.answeredByIndex.get(index);
      if (ids === undefined) this.answeredByIndex.set(index, (ids = []));
      ids.push(id);
      for (const node of nodes) if (node.machine !== null && node.appliedIndex >= index) this.expectHeld(node, id, index, node.appliedIndex);
    }
  }

  /** A linearizable `get` of an answered job found nothing. */
  onJobNotFound(id: number, nodeId: string): void {
    if (this.answeredAt.has(id) && this.oracle.finishedAt(id) === Number.POSITIVE_INFINITY) {
      fail(`acknowledged enqueue lost: a linearizable read on ${nodeId} does not find job ${id}, answered at entry ${this.answeredAt.get(id)} and neither completed nor cancelled`);
    }
  }

  private expectHeld(node: SimNode, id: number, answeredIndex: number, appliedIndex: number): void {
    const machine = node.machine;
    if (machine === null || machine.queue.getJob(id) !== undefined) return;
    if (this.oracle.finishedAt(id) <= appliedIndex) return;
    fail(`acknowledged enqueue lost: job ${id}, answered at entry ${answeredIndex}, is not on ${node.id}, which applied ${appliedIndex} `
      + `(the job ${this.oracle.isKnown(id) ? 'is live as of the log' : 'was never made by the log'})`);
  }

  /** A digest of a replica's queue state at `index`: every replica's must be the same there. */
  onSnapshot(node: SimNode, index: number, digest: string, how: string): void {
    const known = this.digests.get(index);
    if (known === undefined) {
      this.digests.set(index, { digest, id: node.id });
      return;
    }
    this.snapshotsCompared++;
    if (known.digest !== digest) {
      fail(`replicas differ: ${node.id}'s queue state at applied index ${index} (${how}) digests ${digest}, ${known.id}'s ${known.digest}`);
    }
  }

  /** Every node up: its state's digest, and every acknowledged job it applied past. */
  sample(nodes: readonly SimNode[], how: string): void {
    for (const node of nodes) {
      const machine = node.machine;
      if (machine === null || node.loop?.started !== true) continue;
      this.onSnapshot(node, machine.appliedIndex, machine.digest(), how);
      const applied = machine.appliedIndex;
      for (const [id, index] of this.answeredAt) if (index <= applied) this.expectHeld(node, id, index, applied);
    }
  }
}
