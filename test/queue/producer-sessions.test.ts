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
 * After the node forgot a session (beyond producersMax), a retry the new session cannot tell apart
 * from one applied under the forgotten session (its sequence issued before the one that opened the
 * new session) is refused as "outcome unknown", whatever keys its jobs carry, never applied twice
 * (the same keys enqueued again, not as a retry, are answered by the key table); the opening
 * sequence survives a snapshot, and a snapshot of the older format (without it) still loads, its
 * sessions taken as opened at their highest remembered sequence. The property of a producer that follows the SDK's
 * rules (first attempts in order as issued, one sequence in flight until the first answer, every
 * resend marked `retry`), whose session other producers push out: no sequence is applied twice,
 * and only a retry is refused. Out of the property: a first attempt that a node refused as having
 * done nothing (NOT_LEADER) and resent after a higher sequence was applied; docs/protocol.md §6
 * names that window.
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with PRODUCER_PROPERTY_SEED=<seed>.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isFalconError } from '../../src/errors.js';
import { readWholeSnapshot, restoreWhole } from '../../src/log/state-machine.js';
import type { JobSpec } from '../../src/queue/commands.js';
import { sequencesPerProducerMax } from '../../src/queue/producer-sessions.js';
import { QueueStateMachine } from '../../src/queue/queue-state-machine.js';
import type { CommandResult, EnqueueResult } from '../../src/queue/results.js';
import { SnapshotRecordParser, SnapshotRecordWriter } from '../../src/queue/snapshot-records.js';
import { enqueueCommand, expectError, payloadOf, QueueDriver, testLimits } from './queue-driver.js';

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

/** Few sessions, so that two other producers push one out. */
const fewSessions = { ...testLimits, producersMax: 2 };

/** Producer `id`'s enqueue of two jobs under `sequence` (a first attempt unless `retry`), keyed when `keyed`. */
function enqueueBy(driver: QueueDriver, id: string, sequence: number, options: { readonly retry?: boolean; readonly keyed?: boolean } = {}): CommandResult {
  const marker = payloadOf(`${id}/s${sequence}`);
  const jobs: JobSpec[] = [0, 1].map((at) => ({ payload: marker, ...(options.keyed === true ? { key: `${id}/s${sequence}/${at}` } : {}) }));
  const producer = { id, sequence, ...(options.retry === true ? { retry: true as const } : {}) };
  return driver.one(enqueueCommand('q', jobs, { limits: fewSessions, producer }));
}

/** How `result` went: 'applied', or the refusal's code and reason. */
function outcome(result: CommandResult): string {
  return isFalconError(result) ? `${result.code} ${String(result.detail?.['reason'] ?? result.detail?.['oldestSequence'])}` : 'applied';
}

/** Two other producers enqueue, so that the node (producersMax 2) forgets every other session. */
function pushOut(driver: QueueDriver, round: number): void {
  for (const other of ['other-a', 'other-b']) ids(enqueueBy(driver, other, round));
}

/**
 * The window: sequence 5 applied with its reply lost, the session forgotten, then sequence 6 (a
 * first attempt, pipelined after 5) opens a new session. Leaves the producer 'p' with a session
 * opened at 6 that remembers 6 and 8 (7 was lost in flight, never applied); returns 5's job ids.
 */
function reopenedSession(driver: QueueDriver): number[] {
  for (let sequence = 0; sequence < 5; sequence += 1) ids(enqueueBy(driver, 'p', sequence));
  const five = ids(enqueueBy(driver, 'p', 5));
  pushOut(driver, 0);
  ids(enqueueBy(driver, 'p', 6));
  ids(enqueueBy(driver, 'p', 8));
  return five;
}

/** `snapshot` rewritten in the older format (version 1): producer rows without their opening sequence. */
function asVersionOne(snapshot: Uint8Array): Uint8Array {
  const writer = new SnapshotRecordWriter();
  new SnapshotRecordParser().push(snapshot, (record) => {
    const row = [...(record as unknown[])];
    if (row[0] === 'falcon-queue') {
      expect(row[1], 'the version written').to.equal(2);
      row[1] = 1;
    }
    if (row[0] === 'producers') row[1] = (row[1] as unknown[][]).map((producer) => producer.slice(0, 2));
    writer.add(row);
  });
  const chunks = writer.finish();
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));
}

describe('producer sessions', () => {
  it('refuses a retry from a producer it does not know (a forgotten session), keyed or not; applies a first attempt', () => {
    const driver = new QueueDriver();
    const keyless = (sequence: number, retry: boolean): CommandResult => driver.one(enqueueCommand('q', [{ payload: payloadOf('k') }],
      { producer: { id: 'gone', sequence, ...(retry ? { retry: true as const } : {}) } }));
    const refused = keyless(5, true);
    expect(isFalconError(refused) ? [refused.code, refused.detail?.['reason']] : 'applied', 'a keyless retry from an unknown producer')
      .to.deep.equal(['FAILED_PRECONDITION', 'producerUnknown']);
    expect(driver.machine.counters.jobs, 'nothing added').to.equal(0);
    // Keys do not make it safe: the key table may have forgotten them too (full, or the window passed).
    const keyed = driver.one(enqueueCommand('q', [{ payload: payloadOf('k'), key: 'order-1' }], { producer: { id: 'gone', sequence: 5, retry: true } }));
    expect(isFalconError(keyed) ? [keyed.code, keyed.detail?.['reason']] : 'applied', 'a retry whose jobs all carry keys')
      .to.deep.equal(['FAILED_PRECONDITION', 'producerUnknown']);
    expect(driver.machine.counters.jobs, 'nothing added by the keyed retry').to.equal(0);
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
  it('refuses the retry of a sequence issued before the one that opened a new session (the old one forgotten between them)', () => {
    const driver = new QueueDriver();
    const five = reopenedSession(driver);
    const jobsBefore = driver.machine.counters.jobs;
    const refused = expectError(enqueueBy(driver, 'p', 5, { retry: true }), 'FAILED_PRECONDITION');
    expect(refused.detail).to.deep.equal({ field: 'sequence', reason: 'beforeSessionOpened', openingSequence: 6 });
    expect(refused.message).to.match(/sequence 5 is a retry of a sequence issued before 6/);
    expect(driver.machine.counters.jobs, "5's jobs are not added a second time").to.equal(jobsBefore);
    // A first attempt below the opening is new (it was never sent before); so is a retry above it
    // that the session does not remember (7, lost in flight).
    expect(outcome(enqueueBy(driver, 'p', 4, { retry: true })), 'a retry of 4, below the opening').to.equal('FAILED_PRECONDITION beforeSessionOpened');
    expect(outcome(enqueueBy(driver, 'p', 7, { retry: true })), 'a retry of 7, above the opening').to.equal('applied');
    expect((enqueueBy(driver, 'p', 6, { retry: true }) as EnqueueResult).jobs.every((job) => job.duplicate), 'a retry of 6, answered').to.equal(true);
    expect(driver.machine.counters.jobs, 'only 7 added').to.equal(jobsBefore + 2);
    expect(five, "5's jobs, made once").to.have.length(2);
  });

  it('refuses a keyed retry issued before the opening sequence too; the same keys enqueued again (not a retry) answer the first jobs', () => {
    const driver = new QueueDriver();
    for (let sequence = 0; sequence < 3; sequence += 1) ids(enqueueBy(driver, 'p', sequence));
    const three = ids(enqueueBy(driver, 'p', 3, { keyed: true }));
    pushOut(driver, 0);
    ids(enqueueBy(driver, 'p', 4));
    const jobsBefore = driver.machine.counters.jobs;
    expect(outcome(enqueueBy(driver, 'p', 3, { retry: true, keyed: true })), 'a keyed retry of 3').to.equal('FAILED_PRECONDITION beforeSessionOpened');
    expect(driver.machine.counters.jobs, 'nothing added by the refused retry').to.equal(jobsBefore);
    // The caller settles the unknown outcome with its keys: a new sequence carrying them is answered by the key table.
    const settled = driver.one(enqueueCommand('q', [0, 1].map((at) => ({ payload: payloadOf('again'), key: `p/s3/${at}` })),
      { limits: fewSessions, producer: { id: 'p', sequence: 5 } })) as EnqueueResult;
    expect(settled.jobs.map((job) => [job.id, job.duplicate]), "3's keys enqueued again, answered by the key table").to.deep.equal(three.map((id) => [id, true]));
    expect(driver.machine.counters.jobs, 'still nothing added').to.equal(jobsBefore);
  });

  it("keeps a session's opening sequence across a snapshot and restore", () => {
    const driver = new QueueDriver();
    reopenedSession(driver);
    driver.machine = driver.restoredCopy();
    expect(outcome(enqueueBy(driver, 'p', 5, { retry: true })), 'a retry of 5 after the restore').to.equal('FAILED_PRECONDITION beforeSessionOpened');
    expect(outcome(enqueueBy(driver, 'p', 7, { retry: true })), 'a retry of 7 (above the opening 6, below the highest 8)').to.equal('applied');
    const copy = driver.restoredCopy();
    expect(Buffer.from(readWholeSnapshot(copy.snapshot())).equals(Buffer.from(readWholeSnapshot(driver.machine.snapshot()))), 'the same bytes again').to.equal(true);
  });

  it('loads a snapshot of the older format (no opening sequence): its sessions are taken as opened at their highest remembered sequence', () => {
    const driver = new QueueDriver();
    const five = reopenedSession(driver);
    const older = asVersionOne(readWholeSnapshot(driver.machine.snapshot()));
    const restored = new QueueStateMachine();
    restoreWhole(restored, driver.machine.appliedIndex, older);
    expect(restored.counters, 'the same state otherwise').to.deep.equal(driver.machine.counters);
    driver.machine = restored;
    const jobsBefore = driver.machine.counters.jobs;
    expect(outcome(enqueueBy(driver, 'p', 5, { retry: true })), 'a retry of 5').to.equal('FAILED_PRECONDITION beforeSessionOpened');
    // The cost of not knowing the opening: 7, never applied, is refused as unknown too.
    const seven = expectError(enqueueBy(driver, 'p', 7, { retry: true }), 'FAILED_PRECONDITION');
    expect(seven.detail).to.deep.equal({ field: 'sequence', reason: 'beforeSessionOpened', openingSequence: 8 });
    expect((enqueueBy(driver, 'p', 6, { retry: true }) as EnqueueResult).jobs.every((job) => job.duplicate), 'a retry of 6, answered').to.equal(true);
    expect(outcome(enqueueBy(driver, 'p', 9, { retry: true })), 'a retry of 9, above the highest').to.equal('applied');
    expect(driver.machine.counters.jobs, 'only 9 added; 5 once').to.equal(jobsBefore + 2);
    expect(five).to.have.length(2);
  });

  it('never applies a sequence twice for a producer that follows the SDK, whatever is lost, restored, or pushed out of the node', () => {
    type Step =
      | { readonly kind: 'issue'; readonly outcome: AttemptOutcome }
      | { readonly kind: 'retry'; readonly pick: number; readonly outcome: AttemptOutcome }
      | { readonly kind: 'pushOut' }
      | { readonly kind: 'restore' };
    type AttemptOutcome = 'lost' | 'appliedUnanswered' | 'answered';
    const attemptOutcome = fc.constantFrom<AttemptOutcome>('lost', 'appliedUnanswered', 'answered');
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('issue' as const), outcome: attemptOutcome }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(16), outcome: attemptOutcome }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'pushOut' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
    );
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
      const driver = new QueueDriver();
      const unanswered: number[] = [];
      const firstIds = new Map<number, string>();
      let nextSequence = 0;
      let sessionAnswered = false;
      let pushOuts = 0;
      /** One attempt of `sequence`; true when the client settles it (answered, or refused: outcome unknown). */
      const attempt = (sequence: number, retry: boolean, how: AttemptOutcome): boolean => {
        if (how === 'lost') return false;
        const result = enqueueBy(driver, 'p', sequence, { retry });
        if (isFalconError(result)) {
          const reason = String(result.detail?.['reason']);
          const known = reason === 'producerUnknown' || (reason === 'beforeSessionOpened' && pushOuts > 0);
          if (!retry || result.code !== 'FAILED_PRECONDITION' || !known) throw new Error(`sequence ${sequence} (retry ${retry}, ${pushOuts} push-outs) refused: ${result.code} ${result.message}`);
          return how === 'answered';
        }
        const answer = ids(result).join(',');
        const first = firstIds.get(sequence);
        if (first === undefined) firstIds.set(sequence, answer);
        else expect(answer, `sequence ${sequence} applied twice`).to.equal(first);
        if (how === 'answered') sessionAnswered = true;
        return how === 'answered';
      };
      for (const current of steps) {
        if (current.kind === 'restore') driver.machine = driver.restoredCopy();
        else if (current.kind === 'pushOut') pushOut(driver, pushOuts++);
        else if (current.kind === 'issue') {
          const lowest = Math.min(nextSequence, ...unanswered);
          const open = sessionAnswered ? nextSequence < lowest + windowSequences : unanswered.length === 0;
          if (!open) continue;
          const sequence = nextSequence++;
          if (!attempt(sequence, false, current.outcome)) unanswered.push(sequence);
        } else if (unanswered.length > 0) {
          const at = current.pick % unanswered.length;
          if (attempt(unanswered[at] as number, true, current.outcome)) unanswered.splice(at, 1);
        }
      }
      const otherJobs = 2 * 2 * pushOuts;
      expect(driver.machine.counters.jobs - otherJobs, 'jobs made: two per sequence applied, once').to.equal(2 * firstIds.size);
    }), { seed, numRuns: 400 });
  });
});
