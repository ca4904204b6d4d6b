/**
 * Producer sessions as a client relies on them (docs/protocol.md §6): a retry of a sequence the
 * session remembers is answered with its first jobs; a sequence it does not remember is applied,
 * in whatever order the retries arrive (after a failover the retry of 2 may be applied before the
 * retries of 0 and 1, which must still be applied, not refused); only a full session refuses a
 * sequence below every one it remembers. And the property the SDK's window rests on: a producer
 * that issues a new sequence only below `lowest unanswered + 8`, whose requests are lost, applied
 * without an answer, retried and applied in any order (across snapshot restores), is never
 * refused and never gets two answers for one sequence.
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with PRODUCER_PROPERTY_SEED=<seed>.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isFalconError } from '../../src/errors.js';
import { sequencesPerProducerMax } from '../../src/queue/producer-sessions.js';
import type { CommandResult, EnqueueResult } from '../../src/queue/results.js';
import { enqueueCommand, expectError, payloadOf, QueueDriver } from './queue-driver.js';

const seed = Number(process.env['PRODUCER_PROPERTY_SEED'] ?? 20_261_202);
/** The SDK's window: a new sequence only below lowest unanswered + this. */
const windowSequences = 8;

/** Two jobs under the producer's `sequence`. */
function enqueueAs(driver: QueueDriver, sequence: number): CommandResult {
  const marker = payloadOf(`s${sequence}`);
  return driver.one(enqueueCommand('q', [{ payload: marker }, { payload: marker }], { producer: { id: 'p', sequence } }));
}

function ids(result: unknown): number[] {
  if (isFalconError(result)) throw new Error(`refused: ${result.code} ${result.message}`);
  return (result as EnqueueResult).jobs.map((job) => job.id);
}

describe('producer sessions', () => {
  it('refuses a retry from a producer it does not know (a forgotten session) unless every job has a key; applies a first attempt', () => {
    const driver = new QueueDriver();
    const keyless = (sequence: number, retry: boolean): CommandResult => driver.one(enqueueCommand('q', [{ payload: payloadOf('k') }],
      { producer: { id: 'gone', sequence, ...(retry ? { retry: true as const } : {}) } }));
    const refused = keyless(5, true);
    expect(isFalconError(refused) ? [refused.code, refused.detail?.['reason']] : 'applied', 'a keyless retry from an unknown producer')
      .to.deep.equal(['FAILED_PRECONDITION', 'producerUnknown']);
    expect(driver.machine.counters.jobs, 'nothing added').to.equal(0);
    const keyed = driver.one(enqueueCommand('q', [{ payload: payloadOf('k'), key: 'order-1' }], { producer: { id: 'gone', sequence: 5, retry: true } }));
    expect(isFalconError(keyed) ? keyed.code : 'applied', 'a retry whose jobs all carry keys').to.equal('applied');
    // The keyed retry did not make the producer known: a keyless retry of an older sequence, which may
    // have been applied under the forgotten session, is still refused.
    expect(isFalconError(keyless(4, true)) ? 'refused' : 'applied', 'a keyless retry after a keyed one').to.equal('refused');
    // A first attempt opens the session; retries are judged by it from then on.
    expect(isFalconError(keyless(7, false)) ? 'refused' : 'applied', 'a first attempt').to.equal('applied');
    expect(isFalconError(keyless(7, true)) ? 'refused' : 'applied', 'its retry, answered from the session').to.equal('applied');
    const fresh = driver.one(enqueueCommand('q', [{ payload: payloadOf('f') }], { producer: { id: 'new', sequence: 0 } }));
    expect(isFalconError(fresh) ? 'refused' : 'applied', "a new producer's first attempt").to.equal('applied');
  });

  it("applies the retries of a new session's first sequences in any order: 2 before 0 and 1 (the failover of a stream of enqueues)", () => {
    const driver = new QueueDriver();
    const two = ids(enqueueAs(driver, 2));
    const one = enqueueAs(driver, 1);
    const zero = enqueueAs(driver, 0);
    expect(isFalconError(one) ? `${one.code}: ${one.message}` : 'applied', 'sequence 1 after 2').to.equal('applied');
    expect(isFalconError(zero) ? `${zero.code}: ${zero.message}` : 'applied', 'sequence 0 after 2').to.equal('applied');
    // Retries of all three are answered from the session, each with its own first jobs.
    const retries = [2, 1, 0].map((sequence) => (enqueueAs(driver, sequence) as EnqueueResult).jobs);
    expect(retries[0]?.map((job) => job.id)).to.deep.equal(two);
    expect(retries[1]?.map((job) => job.id)).to.deep.equal(ids(one));
    expect(retries[2]?.map((job) => job.id)).to.deep.equal(ids(zero));
    expect(retries.flat().every((job) => job.duplicate)).to.equal(true);
    expect(driver.machine.counters.jobs, 'three sequences of two jobs, once each').to.equal(6);
  });

  it('refuses, once the session is full, a sequence below every one it remembers, naming the oldest', () => {
    const driver = new QueueDriver();
    for (let sequence = 3; sequence < 3 + sequencesPerProducerMax - 1; sequence += 1) ids(enqueueAs(driver, sequence));
    // 3..9 remembered, not full: nothing was forgotten, so 1 was never applied and is applied now.
    const one = ids(enqueueAs(driver, 1));
    expect(ids(enqueueAs(driver, 1)), 'the retry of 1 is answered from the session').to.deep.equal(one);
    // Full (1, 3..9); 10 makes it forget its lowest, 1: a retry of 1 can no longer be told apart.
    ids(enqueueAs(driver, 10));
    expectError(enqueueAs(driver, 1), 'FAILED_PRECONDITION');
    const refusal = expectError(enqueueAs(driver, 2), 'FAILED_PRECONDITION');
    expect(refusal.detail).to.deep.equal({ field: 'sequence', oldestSequence: 3 });
    expect(refusal.message).to.match(/sequence 2 is older than the oldest its session remembers \(3\)/);
    expect((enqueueAs(driver, 3) as EnqueueResult).jobs.every((job) => job.duplicate)).to.equal(true);
    expect(driver.machine.counters.jobs, 'jobs of 1 and 3..10, once each').to.equal(2 * 9);
  });

  it('never refuses nor answers twice a producer that keeps its sequences within lowest unanswered + 8, whatever is lost or reordered', () => {
    type Step =
      | { readonly kind: 'issue' }
      | { readonly kind: 'attempt'; readonly pick: number; readonly outcome: 'lost' | 'appliedUnanswered' | 'answered' }
      | { readonly kind: 'restore' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 3, arbitrary: fc.constant({ kind: 'issue' as const }) },
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('attempt' as const), pick: fc.nat(16), outcome: fc.constantFrom('lost' as const, 'appliedUnanswered' as const, 'answered' as const) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
    );
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
      const driver = new QueueDriver();
      const unanswered: number[] = [];
      const firstIds = new Map<number, string>();
      let nextSequence = 0;
      for (const current of steps) {
        if (current.kind === 'restore') {
          driver.machine = driver.restoredCopy();
          continue;
        }
        if (current.kind === 'issue') {
          const lowest = Math.min(nextSequence, ...unanswered);
          if (nextSequence < lowest + windowSequences) unanswered.push(nextSequence++);
          continue;
        }
        if (unanswered.length === 0) continue;
        const at = current.pick % unanswered.length;
        const sequence = unanswered[at] as number;
        if (current.outcome === 'lost') continue;
        const result = enqueueAs(driver, sequence);
        if (isFalconError(result)) throw new Error(`sequence ${sequence} (unanswered ${unanswered.join(',')}) refused: ${result.message}`);
        const answer = ids(result).join(',');
        const first = firstIds.get(sequence);
        if (first === undefined) firstIds.set(sequence, answer);
        else expect(answer, `sequence ${sequence} answered twice differently`).to.equal(first);
        if (current.outcome === 'answered') unanswered.splice(at, 1);
      }
      expect(driver.machine.counters.jobs, 'jobs made: two per sequence applied, once').to.equal(2 * firstIds.size);
    }), { seed, numRuns: 300 });
  });
});
