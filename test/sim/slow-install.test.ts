/**
 * Attack on "a snapshot taken while streams run compacts the log only up to the lowest snapshot
 * streamed" (replica-loop.ts `onTakenSnapshotDurable`): the log is kept while the stream runs,
 * but a stream ends at the follower's `complete` acknowledgement, before the follower installed
 * the snapshot and answered. A follower whose install takes longer than the leader's snapshot
 * interval then finds the log compacted past the snapshot it just installed, and is sent a newer
 * one, for as long as the load lasts: the transfer that "would never end" (simulator seed 62975)
 * moved from the stream to the install.
 *
 * The scenario: three nodes, no faults, steady load, a snapshot every 8 entries; n3 starts 100
 * ticks late (it needs a snapshot) on a disk whose installs take `installTicks`.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { optionsForSeed, type SimOptions } from './sim-options.js';
import type { SimNode } from './sim-node.js';
import { Simulation } from './simulation.js';

interface Outcome {
  readonly ok: boolean;
  readonly failure: string | null;
  /** Snapshots n3 installed while the load ran. */
  readonly installsUnderLoad: number;
  readonly n3Applied: number;
  readonly committed: number;
}

function runSlowInstall(installTicks: number): Outcome {
  const base = optionsForSeed(1, 3, 600);
  const options: SimOptions = {
    ...base, livenessRestartsEveryNode: false,
    raft: { ...base.raft, checkQuorum: true, preVote: true, inflightMessagesMax: 16, inflightBytesMax: 1 << 20, appendBytesMax: 4096, uncommittedBytesMax: 1 << 24, snapshotRetryTicks: 60 },
    network: { dropRate: 0, duplicateRate: 0, spikeRate: 0, spikeUsMax: 5_000, delayUsMin: 50, delayUsMax: 300 },
    disk: { latencyUsMin: 100, latencyUsMax: 500, slowRate: 0, slowUsMax: 20_000, snapshotWriteTicksMax: 1, snapshotInstallTicksMax: 1 },
    workload: { ...base.workload, proposalIntervalUs: 5_000, readShare: 0, outstandingMax: 64 },
    storage: { ...base.storage, tailCacheEntries: 64, walRequestBytesMax: 1 << 20, walRingMessagesMax: 1_000_000 },
    compaction: { ...base.compaction, snapshotEveryEntries: 8, snapshotEveryBytes: 1 << 30, snapshotChunkBytes: 1 << 20, snapshotResendTicks: 5 },
    faults: { ...base.faults, intervalTicks: 1e9, killPointRate: 0, crashAfterVoteRate: 0, partitionDuringInstallRate: 0 },
  };
  const simulation = new Simulation(options);
  const n3 = simulation.nodes[2] as SimNode;
  const startNode = simulation.startNode.bind(simulation);
  let deferred = false;
  simulation.startNode = (node: SimNode): void => {
    if (node !== n3 || deferred) {
      startNode(node);
      return;
    }
    deferred = true;
    simulation.queue.schedule(100 * options.tickUs, -1, 0, () => {
      startNode(n3);
      // Every install on n3 takes `installTicks` (a large snapshot, a slow disk).
      (n3.wal as unknown as { host: { installExtraUs: () => number } }).host.installExtraUs = () => installTicks * options.tickUs;
    });
  };
  let underLoad: { installs: number; applied: number; committed: number } | null = null;
  const checkDurability = simulation.checker.checkDurability.bind(simulation.checker);
  simulation.checker.checkDurability = (...args: Parameters<typeof checkDurability>) => {
    checkDurability(...args);
    if (underLoad === null && !simulation.faultPhase) {
      underLoad = { installs: n3.snapshotsInstalled, applied: n3.appliedIndex, committed: simulation.checker.maxCommitted };
    }
  };
  const result = simulation.run();
  const seen = underLoad ?? { installs: -1, applied: -1, committed: -1 };
  return { ok: result.ok, failure: result.failure, installsUnderLoad: seen.installs, n3Applied: seen.applied, committed: seen.committed };
}

describe('attack: a follower whose snapshot install is slower than the leader\'s snapshot interval', function () {
  this.timeout(120_000);

  it('an install as quick as a snapshot interval: one snapshot, then the log (control)', () => {
    const outcome = runSlowInstall(0);
    expect(outcome.ok, outcome.failure ?? '').to.equal(true);
    expect(outcome.installsUnderLoad, JSON.stringify(outcome)).to.be.at.most(2);
  });

  for (const installTicks of [5, 20]) {
    it(`installs one snapshot and goes on from the log after it, under load (install of ${installTicks} ticks)`, () => {
      const outcome = runSlowInstall(installTicks);
      expect(outcome.ok, outcome.failure ?? '').to.equal(true);
      // The leader kept the log after the snapshot while it streamed it; it must keep it until
      // the follower answered for it, or every install ends with a newer snapshot to send.
      expect(outcome.installsUnderLoad, JSON.stringify(outcome)).to.be.at.most(2);
    });
  }
});
