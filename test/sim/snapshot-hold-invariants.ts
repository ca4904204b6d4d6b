/**
 * Extra invariants of snapshot holds and log compaction, checked after every event of a seeded
 * simulation (on top of sim-checker.ts), for the promises of a snapshot stream that holds its file
 * in the WAL (src/wal/wal.ts `holdSnapshot`, src/replication/snapshot-sender.ts):
 *
 * - view-in-wal: the log a leader's view claims (`firstIndex()`..`lastIndex()`) is in its WAL;
 * - holds-bounded: a WAL never holds a snapshot more often than streams read it, counting the
 *   releases still on their way to the WAL (an over-count is a hold never released: a leak);
 * - no-leak: the snapshot files on a disk are the one in force and the held ones, nothing else;
 * - no-leak-while-up: the same, not counting files already there when the node started (what
 *   a running node leaves behind, apart from what recovery leaves);
 * - no-rollback: a restart (without the repair flag) never puts in force a snapshot older than
 *   the one its WAL last claimed durable.
 *
 * Each check can be switched off, so that one known failure does not hide the others.
 *
 * Runs on: the simulator (mocha process).
 */
import type { ToWal } from '../../src/protocol/wal.js';
import { parseSnapshotFileName } from '../../src/wal/snapshot-file.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import type { SnapshotSender } from '../../src/replication/snapshot-sender.js';
import { afterEveryEvent } from './scenario-support.js';
import { simWalDir } from './sim-damage.js';
import type { SimNode } from './sim-node.js';
import { defaultFaultTicks, optionsForSeed } from './sim-options.js';
import { Simulation, type SimResult } from './simulation.js';

export type HoldCheck = 'view-in-wal' | 'holds-bounded' | 'no-leak' | 'no-leak-while-up' | 'no-rollback';
export const allHoldChecks: readonly HoldCheck[] = ['view-in-wal', 'holds-bounded', 'no-leak', 'no-leak-while-up', 'no-rollback'];

/** Private state read through casts: the checks look, they never change anything. */
interface Peek {
  held(wal: WriteAheadLog): Map<number, { holders: number }>;
  streams(node: SimNode): Map<string, { index: number }>;
  pendingToWal(node: SimNode): ToWal[];
}

const peek: Peek = {
  held: (wal) => (wal as unknown as { heldSnapshots: Map<number, { holders: number }> }).heldSnapshots,
  streams: (node) => {
    const sender = (node.loop as unknown as { streams: { sender: SnapshotSender } }).streams.sender;
    return (sender as unknown as { streams: Map<string, { index: number }> }).streams;
  },
  pendingToWal: (node) => {
    const inbox = (node.wal as unknown as { inbox: ToWal[] }).inbox;
    const sender = node.toWal as unknown as { backlog: ToWal[]; backlogHead: number } | null;
    return [...inbox, ...(sender === null ? [] : sender.backlog.slice(sender.backlogHead))];
  },
};

class HoldChecker {
  private readonly checks: ReadonlySet<HoldCheck>;
  /** Per node: its incarnation and the snapshot files on its disk when that incarnation started. */
  private readonly filesAtStart = new Map<number, { incarnation: number; files: ReadonlySet<number> }>();
  private readonly lastClaimedSnapshot = new Map<number, { incarnation: number; index: number; repairedStarts: number }>();
  failure: string | null = null;

  constructor(checks: readonly HoldCheck[]) {
    this.checks = new Set(checks);
  }

  afterEvent(nodes: readonly SimNode[]): void {
    if (this.failure !== null) return;
    for (const node of nodes) {
      const failure = this.checkNode(node);
      if (failure !== null) {
        this.failure = `${node.id}: ${failure}`;
        return;
      }
    }
  }

  private checkNode(node: SimNode): string | null {
    if (this.checks.has('no-rollback')) {
      const failure = this.checkNoRollback(node);
      if (failure !== null) return failure;
    }
    const wal = node.wal?.wal;
    const loop = node.loop;
    if (wal === undefined || loop === null || wal.failed !== null) return null;
    if (this.checks.has('view-in-wal')) {
      const view = loop.durableLog;
      if (view !== undefined && loop.node?.role === 'leader' && view.firstIndex() <= view.lastIndex() && wal.firstIndex > view.firstIndex()) {
        return `view-in-wal: the leader's log view claims entries from ${view.firstIndex()} to ${view.lastIndex()}, its WAL holds them only from ${wal.firstIndex}`;
      }
    }
    const held = peek.held(wal);
    if (this.checks.has('holds-bounded')) {
      const streamed = new Map<number, number>();
      for (const stream of peek.streams(node).values()) streamed.set(stream.index, (streamed.get(stream.index) ?? 0) + 1);
      for (const message of peek.pendingToWal(node)) {
        if (message.type === 'releaseSnapshot') streamed.set(message.index, (streamed.get(message.index) ?? 0) + 1);
      }
      for (const [index, { holders }] of held) {
        if (holders > (streamed.get(index) ?? 0)) {
          return `holds-bounded: the WAL holds snapshot ${index} ${holders} times, streams and releases on their way account for ${streamed.get(index) ?? 0}`;
        }
      }
    }
    const inForce = wal.snapshot?.index ?? -1;
    const files = node.disk.listDirectory(simWalDir).map(parseSnapshotFileName).filter((index): index is number => index !== null);
    const atStart = this.filesAtStart.get(node.index);
    if (atStart === undefined || atStart.incarnation !== node.incarnation) this.filesAtStart.set(node.index, { incarnation: node.incarnation, files: new Set(files) });
    const leaked = files.filter((index) => index !== inForce && !held.has(index));
    if (this.checks.has('no-leak') && leaked.length > 0) return `no-leak: snapshot files ${leaked.join(', ')} on disk, neither in force (${inForce}) nor held`;
    const leakedWhileUp = leaked.filter((index) => !(this.filesAtStart.get(node.index)?.files.has(index) ?? false));
    if (this.checks.has('no-leak-while-up') && leakedWhileUp.length > 0) {
      return `no-leak-while-up: snapshot files ${leakedWhileUp.join(', ')} left on disk by the running node, neither in force (${inForce}) nor held`;
    }
    return null;
  }

  /** The snapshot a restart puts in force is never older than the one claimed before it (a wiped
   *  disk resets the claim while the node is down; a start with the repair flag may fall back). */
  private checkNoRollback(node: SimNode): string | null {
    const previous = this.lastClaimedSnapshot.get(node.index);
    const now = { incarnation: node.isUp ? node.incarnation : -1, index: node.claimed.snapshotIndex, repairedStarts: node.repairedStarts };
    this.lastClaimedSnapshot.set(node.index, now);
    if (previous === undefined || !node.isUp || previous.incarnation === now.incarnation || now.repairedStarts !== previous.repairedStarts) return null;
    if (now.index < previous.index) return `no-rollback: the restart put snapshot ${now.index} in force, its WAL had claimed ${previous.index} durable`;
    return null;
  }
}

/** Runs one seed with the extra checks; the result fails with the first broken one. */
export function runWithHoldChecks(seed: number, nodeCount: number, checks: readonly HoldCheck[] = allHoldChecks,
  faultTicks = defaultFaultTicks): SimResult {
  const simulation = new Simulation(optionsForSeed(seed, nodeCount, faultTicks));
  const holds = new HoldChecker(checks);
  afterEveryEvent(simulation, () => holds.afterEvent(simulation.nodes));
  const result = simulation.run();
  if (!result.ok || holds.failure === null) return result;
  return { ...result, ok: false, failure: holds.failure };
}
