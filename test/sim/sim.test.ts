/**
 * The bounded share of the deterministic simulation that `npm test` runs: a fixed range of
 * seeds on 3 and on 5 nodes, each a full fault phase and liveness phase with every safety
 * invariant checked after every event (simulation.ts, sim-checker.ts). `npm run sim -- --seeds N`
 * runs as many more as wanted. A failure names its seeds and the command that replays each.
 *
 * `SIM_SEED_START` moves the range (default 1), to explore from the test runner.
 *
 * Runs on: the mocha process (about 20 s on an idle 2-core machine).
 */
import { expect } from 'chai';
import { runOne } from './run-sim.js';
import { defaultFaultTicks } from './sim-options.js';
import { replayCommand, type SimResult } from './simulation.js';

const seedsPerNodeCount = 250;
const seedStart = Number(process.env.SIM_SEED_START ?? '1');

function runSeeds(nodeCount: number): { failures: SimResult[]; acknowledged: number; crashes: number; leaderChanges: number } {
  const failures: SimResult[] = [];
  let acknowledged = 0;
  let crashes = 0;
  let leaderChanges = 0;
  for (let seed = seedStart; seed < seedStart + seedsPerNodeCount; seed++) {
    const result = runOne(seed, nodeCount, defaultFaultTicks);
    acknowledged += result.stats.acknowledged;
    crashes += result.stats.crashes;
    leaderChanges += result.stats.leaderChanges;
    if (!result.ok) failures.push(result);
  }
  return { failures, acknowledged, crashes, leaderChanges };
}

function describeFailures(failures: readonly SimResult[]): string {
  return failures.map((failure) => `seed ${failure.seed}: ${failure.failure}\n  replay: ${replayCommand(failure.seed, failure.nodeCount, defaultFaultTicks)}`).join('\n');
}

describe('raft simulation (seeded faults, every invariant after every event)', function () {
  this.timeout(180_000);

  for (const nodeCount of [3, 5]) {
    it(`keeps every safety invariant and converges after the faults, ${seedsPerNodeCount} seeds on ${nodeCount} nodes`, () => {
      const { failures, acknowledged, crashes, leaderChanges } = runSeeds(nodeCount);
      expect(failures, describeFailures(failures)).to.deep.equal([]);
      // The runs must have done something worth checking.
      expect(acknowledged, 'acknowledged writes').to.be.greaterThan(seedsPerNodeCount * 50);
      expect(crashes, 'crashes').to.be.greaterThan(seedsPerNodeCount * 5);
      expect(leaderChanges, 'leader changes').to.be.greaterThan(seedsPerNodeCount * 2);
    });
  }

  it('replays a seed exactly', () => {
    const first = runOne(seedStart + 7, 3, 120);
    const second = runOne(seedStart + 7, 3, 120);
    expect(second).to.deep.equal(first);
  });
});
