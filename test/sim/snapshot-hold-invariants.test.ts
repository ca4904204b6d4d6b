/**
 * Seeded simulations with the snapshot-hold invariants of snapshot-hold-invariants.ts checked
 * after every event: a leader's log view is in its WAL, holds never outnumber streams, no
 * snapshot file is left behind (by a running node; across restarts), and no restart puts an older
 * snapshot in force.
 *
 * `HOLD_SIM_SEEDS` (default 60) and `HOLD_SIM_START` (default 1) move the range.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { runWithHoldChecks, type HoldCheck } from './snapshot-hold-invariants.js';

const seeds = Number(process.env.HOLD_SIM_SEEDS ?? '60');
const start = Number(process.env.HOLD_SIM_START ?? '1');

function failingSeeds(checks: readonly HoldCheck[]): string[] {
  const failures: string[] = [];
  for (let seed = start; seed < start + seeds; seed++) {
    for (const nodeCount of [3, 5]) {
      const result = runWithHoldChecks(seed, nodeCount, checks);
      if (!result.ok) failures.push(`seed ${seed} (${nodeCount} nodes): ${result.failure}`);
    }
  }
  return failures;
}

describe('snapshot holds under seeded faults (every invariant after every event)', function () {
  this.timeout(600_000);

  it('a leader\'s log view never claims entries its WAL no longer holds', () => {
    expect(failingSeeds(['view-in-wal'])).to.deep.equal([]);
  });

  it('a WAL never holds a snapshot more often than streams read it', () => {
    expect(failingSeeds(['holds-bounded'])).to.deep.equal([]);
  });

  it('a restart never puts in force a snapshot older than the one claimed durable', () => {
    expect(failingSeeds(['no-rollback'])).to.deep.equal([]);
  });

  it('a running node leaves no snapshot file on disk that is neither in force nor held', () => {
    expect(failingSeeds(['no-leak-while-up'])).to.deep.equal([]);
  });

  it('no snapshot file is left on disk that is neither in force nor held, across crashes and restarts', () => {
    expect(failingSeeds(['no-leak'])).to.deep.equal([]);
  });
});
