/**
 * The drill checker finds each kind of violation the drill must report, and only that one: for
 * every check, a clean hand-built history passes and a history crafted with exactly that fault
 * fails, naming the check (and the job, op and times to find it).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { checksFailed, cleanScript, DrillScript } from './drill-script.js';

/** Job 1 (op-1) delivered to w1 with token 100 at 30 ms, lease until 1030 ms; then to w2 with token 200 at `againAtMs`, acked. */
function redelivered(againAtMs: number, between: (script: DrillScript) => void = () => undefined): DrillScript {
  const script = new DrillScript()
    .observe('n1', 1, 'leader', 0)
    .enqueue('op-1', 1, 10, { key: 'k1' })
    .deliver(1, 100, 'w1', 30, 'op-1');
  between(script);
  return script.deliver(1, 200, 'w2', againAtMs, 'op-1', { attempt: 2 }).ack(1, 200, 'w2', againAtMs + 10).finalState(1, 'completed', 'op-1');
}

describe('drill checker', () => {
  it('passes a clean history', () => {
    const result = cleanScript().check();
    expect(result.violations).to.deep.equal([]);
    expect(result).to.include({ ops: 4, lostAcked: 0, phantoms: 0, duplicateKeys: 0, unexplainedDuplicates: 0, staleAcksAccepted: 0, leadersPerTermMax: 1 });
  });

  describe('1. acknowledged enqueues are completed', () => {
    it('counts an ok enqueue never delivered nor found at the end as lost', () => {
      const result = cleanScript().enqueue('op-3', 3, 50, { key: 'k3' }).check();
      expect(checksFailed(result)).to.deep.equal(['lostAcked']);
      expect(result.lostAcked).to.equal(1);
      expect(result.violations[0]).to.deep.include({ kind: 'lost', jobIds: [3], opIds: ['op-3'] });
    });

    it('counts an ok enqueue delivered but never acked, still ready at the end, as not completed', () => {
      const result = cleanScript().enqueue('op-3', 3, 50).deliver(3, 102, 'w1', 60, 'op-3').ack(3, 102, 'w1', 70, 'unknown').finalState(3, 'ready', 'op-3').check();
      expect(checksFailed(result)).to.deep.equal(['lostAcked']);
      expect(result.violations[0]?.kind).to.equal('notCompleted');
      expect(result.violations[0]?.message).to.contain('final state ready');
    });

    it('accepts a job completed in the final state even without a recorded ack', () => {
      expect(cleanScript().enqueue('op-3', 3, 50).finalState(3, 'completed', 'op-3').check().violations).to.deep.equal([]);
    });

    it('does not require an enqueue of unknown outcome to exist', () => {
      expect(cleanScript().enqueueNotOk('op-3', 50, 'unknown', { key: 'k3' }).check().violations).to.deep.equal([]);
    });
  });

  describe('2. nothing is delivered that was never enqueued', () => {
    it('flags a delivered payload naming an op id never invoked', () => {
      const result = cleanScript().deliver(9, 300, 'w1', 70, 'op-ghost').ack(9, 300, 'w1', 80).check();
      expect(checksFailed(result)).to.deep.equal(['phantom']);
      expect(result.violations[0]).to.deep.include({ kind: 'neverEnqueued', jobIds: [9], opIds: ['op-ghost'], atMs: [70] });
    });

    it('flags a delivery of an enqueue that failed with sent: false', () => {
      const result = cleanScript().enqueueNotOk('op-3', 50, 'failed').deliver(3, 300, 'w1', 70, 'op-3').ack(3, 300, 'w1', 80).check();
      expect(checksFailed(result)).to.deep.equal(['phantom']);
      expect(result.violations[0]?.kind).to.equal('failedEnqueue');
    });

    it('flags a job in the final state naming an unknown op', () => {
      expect(checksFailed(cleanScript().finalState(9, 'ready', 'op-ghost').check())).to.deep.equal(['phantom']);
    });

    it('accepts a delivery of an enqueue whose outcome was unknown', () => {
      expect(cleanScript().enqueueNotOk('op-3', 50, 'unknown').deliver(3, 300, 'w1', 70, 'op-3').ack(3, 300, 'w1', 80).check().violations).to.deep.equal([]);
    });
  });

  describe('3. one idempotency key, one job', () => {
    it('passes a retry answered with the first job as a duplicate', () => {
      expect(cleanScript().enqueue('op-1b', 1, 60, { key: 'k1', duplicate: true }).check().violations).to.deep.equal([]);
    });

    it('flags two ok answers naming two jobs for one key', () => {
      const result = cleanScript().enqueue('op-1b', 3, 60, { key: 'k1' }).deliver(3, 300, 'w1', 70, 'op-1b').ack(3, 300, 'w1', 80).check();
      expect(checksFailed(result)).to.deep.equal(['idempotency']);
      expect(result.duplicateKeys).to.equal(1);
      expect(result.violations[0]).to.deep.include({ kind: 'keyWithTwoJobs', jobIds: [1, 3], opIds: ['op-1', 'op-1b'] });
    });

    it('flags two distinct jobs delivered for one key, whatever the enqueues answered', () => {
      const result = cleanScript().enqueueNotOk('op-1b', 60, 'unknown', { key: 'k1' }).deliver(3, 300, 'w1', 70, 'op-1b').ack(3, 300, 'w1', 80).check();
      expect(checksFailed(result)).to.deep.equal(['idempotency']);
      expect(result.duplicateKeys).to.equal(1);
    });

    it('flags one enqueue op that made two jobs', () => {
      const result = cleanScript().deliver(3, 300, 'w1', 70, 'op-2').ack(3, 300, 'w1', 80).check();
      expect(checksFailed(result)).to.deep.equal(['idempotency']);
    });
  });

  describe('4. every duplicate delivery is explained', () => {
    it('flags a second delivery within the first lease with nothing in between', () => {
      const result = redelivered(500).check();
      expect(checksFailed(result)).to.deep.equal(['duplicateDelivery']);
      expect(result.unexplainedDuplicates).to.equal(1);
      expect(result.violations[0]).to.deep.include({ kind: 'unexplained', jobIds: [1], opIds: ['op-1'], atMs: [30, 500] });
    });

    it('explains a delivery after the earlier lease\'s deadline as an expiry', () => {
      const result = redelivered(1030).check();
      expect(result.violations).to.deep.equal([]);
      expect(result.duplicateDeliveries.map((duplicate) => duplicate.explanations)).to.deep.equal([['expired']]);
    });

    it('moves the deadline with an accepted extend', () => {
      const result = redelivered(1500, (script) => script.extend(1, 100, 'w1', 400, 2400)).check();
      expect(checksFailed(result)).to.deep.equal(['duplicateDelivery']);
      expect(redelivered(2400, (script) => script.extend(1, 100, 'w1', 400, 2400)).check().violations).to.deep.equal([]);
    });

    it('explains it by a nack of the earlier token, not by a refused one', () => {
      expect(redelivered(500, (script) => script.nack(1, 100, 'w1', 300)).check().duplicateDeliveries[0]?.explanations).to.deep.equal(['nack']);
      expect(checksFailed(redelivered(500, (script) => script.nack(1, 100, 'w1', 300, 'LEASE_LOST')).check())).to.deep.equal(['duplicateDelivery']);
    });

    it('explains it by the kill of the worker holding it, not of another worker', () => {
      expect(redelivered(500, (script) => script.fault('kill-worker', 'w1', 300)).check().duplicateDeliveries[0]?.explanations).to.deep.equal(['workerKilled']);
      expect(checksFailed(redelivered(500, (script) => script.fault('kill-worker', 'w3', 300)).check())).to.deep.equal(['duplicateDelivery']);
    });

    it('explains it by a release of the worker\'s jobs', () => {
      expect(redelivered(500, (script) => script.released('w1', 300)).check().duplicateDeliveries[0]?.explanations).to.deep.equal(['released']);
      expect(checksFailed(redelivered(500, (script) => script.released('w1', 300, [7])).check())).to.deep.equal(['duplicateDelivery']);
    });

    it('explains it by a leader kill or a new term observed in between, not by a follower kill', () => {
      expect(redelivered(500, (script) => script.fault('kill-leader', 'n1', 300)).check().duplicateDeliveries[0]?.explanations).to.deep.equal(['leaderChange']);
      expect(redelivered(500, (script) => script.observe('n2', 2, 'leader', 300)).check().duplicateDeliveries[0]?.explanations).to.deep.equal(['leaderChange']);
      expect(checksFailed(redelivered(500, (script) => script.fault('kill-follower', 'n3', 300)).check())).to.deep.equal(['duplicateDelivery']);
    });

    it('never explains a delivery after an accepted ack completed the job', () => {
      const result = redelivered(1030, (script) => script.ack(1, 100, 'w1', 900)).check();
      expect(checksFailed(result)).to.deep.equal(['duplicateDelivery']);
      expect(result.violations.map((violation) => violation.kind)).to.include('afterCompleted');
    });

    it('flags the same fencing token delivered twice', () => {
      const result = new DrillScript().enqueue('op-1', 1, 10).deliver(1, 100, 'w1', 30, 'op-1').deliver(1, 100, 'w2', 2000, 'op-1')
        .ack(1, 100, 'w2', 2010).finalState(1, 'completed', 'op-1').check();
      expect(result.violations.map((violation) => violation.kind)).to.deep.equal(['tokenReused']);
    });
  });

  describe('5. no ack with a stale fencing token is accepted', () => {
    /** w1's lease (token 100) expires; w2 receives token 200 at 1100 ms; w1's late ack with 100 at 1200 ms. */
    function lateAck(answer: 'accepted' | 'LEASE_LOST'): DrillScript {
      return new DrillScript().enqueue('op-1', 1, 10).deliver(1, 100, 'w1', 30, 'op-1').deliver(1, 200, 'w2', 1100, 'op-1')
        .ack(1, 100, 'w1', 1200, answer).ack(1, 200, 'w2', 1300, answer === 'accepted' ? 'LEASE_LOST' : 'accepted').finalState(1, 'completed', 'op-1');
    }

    it('passes a late ack refused with LEASE_LOST', () => {
      const result = lateAck('LEASE_LOST').check();
      expect(result.violations).to.deep.equal([]);
      expect(result.staleAcksAccepted).to.equal(0);
    });

    it('flags a late ack accepted', () => {
      const result = lateAck('accepted').check();
      expect(checksFailed(result)).to.deep.equal(['staleAck']);
      expect(result.staleAcksAccepted).to.equal(1);
      expect(result.violations[0]).to.deep.include({ kind: 'ackAccepted', jobIds: [1], atMs: [1100, 1200] });
    });

    it('flags a late nack accepted the same way', () => {
      const result = new DrillScript().enqueue('op-1', 1, 10).deliver(1, 100, 'w1', 30, 'op-1').deliver(1, 200, 'w2', 1100, 'op-1')
        .nack(1, 100, 'w1', 1200).ack(1, 200, 'w2', 1300).finalState(1, 'completed', 'op-1').check();
      expect(result.violations.map((violation) => [violation.check, violation.kind])).to.deep.equal([['staleAck', 'nackAccepted']]);
    });
  });

  describe('6. at most one leader per term', () => {
    it('passes a leader change across terms', () => {
      const result = cleanScript().observe('n2', 2, 'leader', 500).observe('n1', 2, 'follower', 510, 'n2').check();
      expect(result.violations).to.deep.equal([]);
      expect(result.leadersPerTermMax).to.equal(1);
    });

    it('flags two nodes seen as leader in one term', () => {
      const result = cleanScript().observe('n2', 1, 'leader', 500).check();
      expect(checksFailed(result)).to.deep.equal(['leadersPerTerm']);
      expect(result.leadersPerTermMax).to.equal(2);
      expect(result.violations[0]?.message).to.contain('term 1 had 2 leaders: n1 (first seen 0 ms), n2 (first seen 500 ms)');
    });

    it('counts the leader a follower names for its term', () => {
      expect(cleanScript().observe('n3', 1, 'follower', 500, 'n2').check().leadersPerTermMax).to.equal(2);
    });
  });
});
