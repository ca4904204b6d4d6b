/**
 * The bounded share of the deterministic simulation that `npm test` runs: a fixed range of
 * seeds on 3 and on 5 nodes, each a full fault phase and liveness phase with every safety
 * invariant checked after every event (simulation.ts, sim-checker.ts), the queue's (no
 * acknowledged enqueue lost, one job per key, no stale ack accepted, identical replica states)
 * after every entry and answer (sim-queue-checks.ts, queue-oracle.ts). `npm run sim -- --seeds N`
 * runs as many more as wanted. A failure names its seeds and the command that replays each.
 *
 * `SIM_SEED_START` moves the range (default 1), to explore from the test runner.
 *
 * Runs on: the mocha process (about 20 s on an idle 2-core machine).
 */
import { expect } from 'chai';
import { runOne } from './run-sim.js';
import { defaultFaultTicks } from './sim-options.js';
import { replayCommand, type SimResult, type SimStats } from './simulation.js';

/** Seeds per node count: a run with the queue costs about twice the CPU of one over the bare hash
 *  chain (apply, snapshots of the queue state, the client model and its checks), so half the
 *  250 seeds of then keep this file's time; `npm run sim` runs the many more. */
const seedsPerNodeCount = 130;
const seedStart = Number(process.env.SIM_SEED_START ?? '1');

type Totals = Pick<SimStats, 'acknowledged' | 'crashes' | 'leaderChanges' | 'jobsAcknowledged' | 'acksAccepted' | 'staleAcksRefused' | 'leasesExpired' | 'leasesReleased' | 'statesCompared' | 'duplicatesAnswered'>;

function runSeeds(nodeCount: number): { failures: SimResult[]; totals: Totals } {
  const failures: SimResult[] = [];
  const totals: Totals = { acknowledged: 0, crashes: 0, leaderChanges: 0, jobsAcknowledged: 0, acksAccepted: 0, staleAcksRefused: 0, leasesExpired: 0, leasesReleased: 0, statesCompared: 0, duplicatesAnswered: 0 };
  for (let seed = seedStart; seed < seedStart + seedsPerNodeCount; seed++) {
    const result = runOne(seed, nodeCount, defaultFaultTicks);
    for (const name of Object.keys(totals) as (keyof Totals)[]) totals[name] += result.stats[name];
    if (!result.ok) failures.push(result);
  }
  return { failures, totals };
}

function describeFailures(failures: readonly SimResult[]): string {
  return failures.map((failure) => `seed ${failure.seed}: ${failure.failure}\n  replay: ${replayCommand(failure.seed, failure.nodeCount, defaultFaultTicks)}`).join('\n');
}

describe('raft and queue simulation (seeded faults, every invariant after every event)', function () {
  this.timeout(180_000);

  for (const nodeCount of [3, 5]) {
    it(`keeps every safety invariant and converges after the faults, ${seedsPerNodeCount} seeds on ${nodeCount} nodes`, () => {
      const { failures, totals } = runSeeds(nodeCount);
      expect(failures, describeFailures(failures)).to.deep.equal([]);
      // The runs must have done something worth checking.
      expect(totals.acknowledged, 'acknowledged writes').to.be.greaterThan(seedsPerNodeCount * 50);
      expect(totals.crashes, 'crashes').to.be.greaterThan(seedsPerNodeCount * 5);
      expect(totals.leaderChanges, 'leader changes').to.be.greaterThan(seedsPerNodeCount * 2);
      expect(totals.jobsAcknowledged, 'acknowledged enqueues').to.be.greaterThan(seedsPerNodeCount * 50);
      expect(totals.acksAccepted, 'acks accepted').to.be.greaterThan(seedsPerNodeCount * 10);
      expect(totals.staleAcksRefused, 'stale acks refused').to.be.greaterThan(seedsPerNodeCount / 2);
      expect(totals.leasesExpired, 'leases expired').to.be.greaterThan(seedsPerNodeCount);
      expect(totals.leasesReleased, 'leases released with their worker').to.be.greaterThan(0);
      expect(totals.statesCompared, 'replica states compared at one index').to.be.greaterThan(seedsPerNodeCount * 10);
      expect(totals.duplicatesAnswered, 'retried enqueues answered from their first job').to.be.greaterThan(seedsPerNodeCount / 2);
    });
  }

  it('replays a seed exactly', () => {
    const first = runOne(seedStart + 7, 3, 120);
    const second = runOne(seedStart + 7, 3, 120);
    expect(second).to.deep.equal(first);
  });
});
