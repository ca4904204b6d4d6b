/**
 * Seeded simulations with the snapshot-hold invariants of snapshot-hold-invariants.ts checked
 * after every event: a leader's log view is in its WAL, holds never outnumber streams, no
 * snapshot file is left behind (by a running node; across restarts), and no restart puts an older
 * snapshot in force.
 *
 * `HOLD_SIM_SEEDS` (default 40) and `HOLD_SIM_START` (default 1) move the range.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { runWithHoldChecks, type HoldCheck } from './snapshot-hold-invariants.js';

const seeds = Number(process.env.HOLD_SIM_SEEDS ?? '40');
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

  // One run per seed checks them all (each failure names its check): a leader's log view never
  // claims entries its WAL no longer holds; a WAL never holds a snapshot more often than streams
  // read it; a restart never puts in force a snapshot older than the one claimed durable; no
  // snapshot file is left on disk that is neither in force nor held, by a running node or across
  // crashes and restarts.
  it('keeps the log view in the WAL, holds bounded by streams, no snapshot rolled back, and no snapshot file left behind', () => {
    expect(failingSeeds(['view-in-wal', 'holds-bounded', 'no-rollback', 'no-leak-while-up', 'no-leak'])).to.deep.equal([]);
  });
});
