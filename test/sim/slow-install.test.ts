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
import { afterEveryEvent, quietOptions, withLateNode } from './scenario-support.js';

interface Outcome {
  readonly ok: boolean;
  readonly failure: string | null;
  /** Snapshots n3 installed while the load ran. */
  readonly installsUnderLoad: number;
  readonly n3Applied: number;
  readonly committed: number;
}

function runSlowInstall(installTicks: number): Outcome {
  const options = quietOptions({ faultTicks: 600 });
  const simulation = withLateNode(options, 2, 100, (n3) => {
    // Every install on n3 takes `installTicks` (a large snapshot, a slow disk).
    (n3.wal as unknown as { host: { installExtraUs: () => number } }).host.installExtraUs = () => installTicks * options.tickUs;
  });
  const n3 = simulation.nodes[2];
  let underLoad: { installs: number; applied: number; committed: number } | null = null;
  afterEveryEvent(simulation, () => {
    if (underLoad === null && !simulation.faultPhase && n3 !== undefined) {
      underLoad = { installs: n3.snapshotsInstalled, applied: n3.appliedIndex, committed: simulation.checker.maxCommitted };
    }
  });
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
