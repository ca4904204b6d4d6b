/**
 * Hand-made simulator scenarios for attack tests: the options of a seed with the faults switched
 * off and the knobs under test set, and a node that starts late (it comes back far behind).
 *
 * Runs on: the simulator (mocha process).
 */
import type { SimNode } from './sim-node.js';
import { optionsForSeed, type SimOptions } from './sim-options.js';
import { Simulation } from './simulation.js';

export interface ScenarioKnobs {
  readonly faultTicks: number;
  readonly raft?: Partial<SimOptions['raft']>;
  readonly disk?: Partial<SimOptions['disk']>;
  readonly workload?: Partial<SimOptions['workload']>;
  readonly storage?: Partial<SimOptions['storage']>;
  readonly compaction?: Partial<SimOptions['compaction']>;
}

/** Seed 1's options, no faults, a steady load, and `knobs` on top. */
export function quietOptions(knobs: ScenarioKnobs): SimOptions {
  const base = optionsForSeed(1, 3, knobs.faultTicks);
  return {
    ...base, livenessRestartsEveryNode: false,
    raft: { ...base.raft, checkQuorum: true, preVote: true, inflightMessagesMax: 16, inflightBytesMax: 1 << 20, appendBytesMax: 4096,
      uncommittedBytesMax: 1 << 24, snapshotRetryTicks: 60, ...knobs.raft },
    network: { dropRate: 0, duplicateRate: 0, spikeRate: 0, spikeUsMax: 5_000, delayUsMin: 50, delayUsMax: 300 },
    disk: { latencyUsMin: 100, latencyUsMax: 500, slowRate: 0, slowUsMax: 20_000, snapshotWriteTicksMax: 1, snapshotInstallTicksMax: 1, ...knobs.disk },
    workload: { ...base.workload, proposalIntervalUs: 5_000, readShare: 0, outstandingMax: 64, ...knobs.workload },
    storage: { ...base.storage, tailCacheEntries: 64, walRequestBytesMax: 1 << 20, walRingMessagesMax: 1_000_000, ...knobs.storage },
    compaction: { ...base.compaction, snapshotEveryEntries: 8, snapshotEveryBytes: 1 << 30, snapshotChunkBytes: 1 << 20, snapshotResendTicks: 5, ...knobs.compaction },
    faults: { ...base.faults, intervalTicks: 1e9, killPointRate: 0, crashAfterVoteRate: 0, partitionDuringInstallRate: 0 },
  };
}

/** A simulation of `options` whose node `late` starts at `startTick` instead of at once;
 *  `onStarted` runs after each of its starts. */
export function withLateNode(options: SimOptions, late: number, startTick: number, onStarted: (node: SimNode) => void = () => undefined): Simulation {
  const simulation = new Simulation(options);
  const node = simulation.nodes[late] as SimNode;
  const startNode = simulation.startNode.bind(simulation);
  let deferred = false;
  simulation.startNode = (starting: SimNode): void => {
    if (starting === node && !deferred) {
      deferred = true;
      simulation.queue.schedule(startTick * options.tickUs, -1, 0, () => simulation.startNode(node));
      return;
    }
    startNode(starting);
    if (starting === node) onStarted(node);
  };
  return simulation;
}

/** Runs `check` after every event (beside the simulator's own checks). */
export function afterEveryEvent(simulation: Simulation, check: () => void): void {
  const checkDurability = simulation.checker.checkDurability.bind(simulation.checker);
  simulation.checker.checkDurability = (...args: Parameters<typeof checkDurability>) => {
    checkDurability(...args);
    check();
  };
}
