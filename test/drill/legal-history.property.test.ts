/**
 * The drill checker on generated legal histories (legal-history.ts): random interleavings of
 * enqueues, pulls, acks, nacks, extends, lease expiries, worker kills and unregisters and leader
 * changes, played against a model that keeps the protocol's rules, always pass every check; the
 * same histories with one acknowledged job's completion erased fail the lost-ack check; and a model
 * given a bug (leases ending early, stale tokens accepted) is caught by the check it breaks.
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with DRILL_PROPERTY_SEED=<seed>.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { checkHistory } from '../../bench/drill/checker.js';
import type { HistoryRecord } from '../../bench/drill/history.js';
import { legalStep, LegalHistoryModel, type ModelBugs } from './legal-history.js';

const seed = Number(process.env['DRILL_PROPERTY_SEED'] ?? 20_261_202);
const runs = 200;
/** Generated runs given a model bug, of which some must be caught. */
const bugRuns = 100;
/** Generated runs with one completion erased. */
const lostRuns = 60;
const stepsMax = 150;
const steps = fc.array(legalStep, { minLength: 1, maxLength: stepsMax, size: 'max' });
const gapsMs = fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 16 });

describe('drill checker on generated legal histories', () => {
  it('finds no violation in any legal history, and explains every redelivery', function () {
    this.timeout(60_000);
    const explanationsSeen = new Map<string, number>();
    fc.assert(fc.property(steps, gapsMs, (stepList, gapList) => {
      const model = new LegalHistoryModel();
      const final = model.play(stepList, gapList);
      const result = checkHistory(model.history.records, final);
      expect(result.violations, result.violations.map((violation) => violation.message).join('\n')).to.deep.equal([]);
      expect(result.leadersPerTermMax).to.be.at.most(1);
      for (const duplicate of result.duplicateDeliveries) {
        for (const reason of duplicate.explanations) explanationsSeen.set(reason, (explanationsSeen.get(reason) ?? 0) + 1);
      }
    }), { seed, numRuns: runs });
    // The runs did exercise each way a job comes back, so the property is not passing vacuously.
    expect([...explanationsSeen.keys()].sort()).to.deep.equal(['expired', 'leaderChange', 'nack', 'released', 'workerKilled']);
  });

  it('counts a lost acknowledged job when its completion is erased from a legal history', function () {
    this.timeout(60_000);
    fc.assert(fc.property(steps, gapsMs, fc.nat(), (stepList, gapList, choice) => {
      const model = new LegalHistoryModel();
      const final = model.play(stepList, gapList);
      const okJobs = [...new Set(model.history.records.flatMap((record) => record.kind === 'enqueue' && record.outcome.type === 'ok' ? [record.outcome.jobId] : []))];
      fc.pre(okJobs.length > 0);
      const lostJob = okJobs[choice % okJobs.length];
      const erased = model.history.records.filter((record: HistoryRecord) => !(record.kind === 'ack' && record.jobId === lostJob));
      const result = checkHistory(erased, { jobs: final.jobs.filter((job) => job.jobId !== lostJob) });
      expect(result.lostAcked).to.equal(1);
      expect(result.violations.map((violation) => [violation.check, violation.jobIds])).to.deep.equal([['lostAcked', [lostJob]]]);
    }), { seed, numRuns: lostRuns });
  });

  /** The checks failed by each of `bugRuns` generated runs of a model with `bugs`. */
  function checksFailedWith(bugs: ModelBugs): Map<string, number> {
    const failed = new Map<string, number>();
    for (const [stepList, gapList] of fc.sample(fc.tuple(steps, gapsMs), { seed, numRuns: bugRuns })) {
      const model = new LegalHistoryModel(bugs);
      const result = checkHistory(model.history.records, model.play(stepList, gapList));
      for (const check of new Set(result.violations.map((violation) => violation.check))) failed.set(check, (failed.get(check) ?? 0) + 1);
    }
    return failed;
  }

  it('catches a cluster that ends leases before their deadline: unexplained duplicate deliveries', function () {
    this.timeout(60_000);
    const failed = checksFailedWith({ expireEarlyMs: 40 });
    expect(failed.get('duplicateDelivery') ?? 0, JSON.stringify([...failed])).to.be.greaterThan(0);
  });

  it('catches a cluster that accepts stale fencing tokens: stale acks accepted', function () {
    this.timeout(60_000);
    const failed = checksFailedWith({ acceptStaleTokens: true });
    expect(failed.get('staleAck') ?? 0, JSON.stringify([...failed])).to.be.greaterThan(0);
  });
});
