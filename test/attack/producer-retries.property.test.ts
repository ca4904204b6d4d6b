/**
 * Property over the real queue state machine: one producer that follows the SDK's rules
 * (docs/protocol.md §6, enqueue-batcher.ts) never gets a marker added twice, and a call that gave
 * up with `sent: false` never gets its marker added, whatever a FIFO log with losses does with its
 * attempts, while other producers push its session out (producersMax 1 to 3) and the state is
 * restored from its snapshot at random points (version 2, or as a version-1 snapshot restores).
 *
 * The model of the client: sequences numbered in order, one in flight before the session's first
 * answer, else below lowest unanswered + 8; one attempt of a sequence in flight at a time; an
 * attempt is marked `retry` once an earlier one may have taken effect (a lost reply, a lost
 * attempt) or a later sequence was sent; NOT_LEADER (the attempt did nothing) is resent; a
 * FAILED_PRECONDITION settles the sequence as outcome unknown; a deadline settles it `sent: true`
 * when an attempt may have taken effect, else `sent: false` (and the newest such sequence is issued
 * again). Each sequence's jobs are all keyed or none. The log (Raft's) takes attempts in the order
 * sent, or loses them: the window docs/protocol.md §6 leaves (a first attempt held by a node while
 * a later one is applied) is outside the model. The key table is large (its forgetting is another
 * attack's).
 *
 * Seeded: replay with ATTACK_PROPERTY_SEED=<seed>; ATTACK_PROPERTY_RUNS sets the number of runs
 * (10,000 by default, to keep `npm test` short).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decode, encode } from '../../src/codec/msgpack.js';
import { isFalconError } from '../../src/errors.js';
import { ProducerSession } from '../../src/queue/producer-sessions.js';
import type { EnqueueResult } from '../../src/queue/results.js';
import { enqueueCommand, QueueDriver, testLimits } from '../queue/queue-driver.js';

const seed = Number(process.env['ATTACK_PROPERTY_SEED'] ?? 20_261_203);
/** Runs by default: about 2 s, within the suite's budget; ATTACK_PROPERTY_RUNS=200000 for a deeper search. */
const runs = Number(process.env['ATTACK_PROPERTY_RUNS'] ?? 10_000);
const windowMax = 8;
const producerId = 'sdk';

type Op =
  | { readonly kind: 'issue'; readonly jobs: number; readonly keyed: boolean }
  | { readonly kind: 'deliver'; readonly replyLost: boolean }
  | { readonly kind: 'lose' }
  | { readonly kind: 'notLeader' }
  | { readonly kind: 'resend'; readonly pick: number }
  | { readonly kind: 'expire'; readonly pick: number }
  | { readonly kind: 'noise'; readonly producers: number }
  | { readonly kind: 'snapshot'; readonly v1: boolean };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('issue' as const), jobs: fc.integer({ min: 1, max: 2 }), keyed: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), replyLost: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'lose' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'notLeader' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('resend' as const), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), pick: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('noise' as const), producers: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), v1: fc.boolean() }) },
);

interface Sequence {
  readonly sequence: number;
  readonly markers: readonly string[];
  readonly keyed: boolean;
  laterSent: boolean;
  inDoubt: boolean;
  /** An attempt is in the log's queue (in flight). */
  inFlight: boolean;
  /** The last attempt did nothing (NOT_LEADER): to be sent again. */
  settled: 'answered' | 'unknown' | 'sentTrue' | 'sentFalse' | undefined;
}

interface Message {
  readonly sequence: Sequence;
  readonly retry: boolean;
}

/** What a restore from a version-1 snapshot (no opening sequences) makes of every session:
 *  opened at its highest remembered sequence (queue-snapshot.ts). */
function asVersion1(driver: QueueDriver): void {
  const { sessions } = (driver.machine as unknown as { state: { producers: { sessions: Map<string, ProducerSession> } } }).state.producers;
  for (const [id, session] of sessions) {
    const restored = new ProducerSession(Math.max(...session.answers.map((answer) => answer.sequence)));
    for (const answer of session.answers) restored.answers.push(answer);
    sessions.set(id, restored);
  }
}

function runModel(ops: readonly Op[], producersMax: number): string | undefined {
  let driver = new QueueDriver();
  const limits = { ...testLimits, producersMax };
  const sequences: Sequence[] = [];
  const log: Message[] = [];
  let nextSequence = 0;
  let sessionAnswered = false;
  let markerCount = 0;
  let noiseCount = 0;
  const notSent = new Set<string>();
  const unsettled = (): Sequence[] => sequences.filter((entry) => entry.settled === undefined);
  const windowOpen = (): boolean => {
    const open = unsettled();
    if (!sessionAnswered && open.length > 0) return false;
    const lowest = Math.min(nextSequence, ...open.map((entry) => entry.sequence));
    return nextSequence < lowest + windowMax;
  };
  const send = (entry: Sequence): void => {
    entry.inFlight = true;
    log.push({ sequence: entry, retry: entry.inDoubt || entry.laterSent });
  };
  const apply = (message: Message): EnqueueResult | { code: string; reason: unknown } => {
    const { sequence: entry } = message;
    const jobs = entry.markers.map((marker) => ({ payload: encode({ marker }), ...(entry.keyed ? { key: marker } : {}) }));
    const result = driver.one(enqueueCommand('q', jobs, { limits, producer: { id: producerId, sequence: entry.sequence, ...(message.retry ? { retry: true as const } : {}) } }));
    if (isFalconError(result)) return { code: result.code, reason: result.detail?.['reason'] ?? result.detail?.['oldestSequence'] };
    return result as EnqueueResult;
  };
  const duplicates = (): string | undefined => {
    const seen = new Map<string, number>();
    for (const state of ['ready'] as const) {
      for (const { id } of driver.machine.listJobs('q', state, 0, 100_000).jobs) {
        const { marker } = decode(Buffer.from(driver.machine.getJob(id)?.payload ?? [])) as { marker: string };
        seen.set(marker, (seen.get(marker) ?? 0) + 1);
      }
    }
    const twice = [...seen].filter(([, count]) => count > 1).map(([marker]) => marker);
    if (twice.length > 0) return `markers added twice: ${twice.join(', ')}`;
    const there = [...notSent].filter((marker) => seen.has(marker));
    if (there.length > 0) return `sent: false markers added: ${there.join(', ')}`;
    return undefined;
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'issue': {
        if (!windowOpen()) break;
        const entry: Sequence = {
          sequence: nextSequence, markers: Array.from({ length: op.jobs }, () => `m${(markerCount += 1)}`), keyed: op.keyed,
          laterSent: false, inDoubt: false, inFlight: false, settled: undefined,
        };
        nextSequence += 1;
        for (const earlier of unsettled()) earlier.laterSent = true;
        sequences.push(entry);
        send(entry);
        break;
      }
      case 'deliver':
      case 'lose':
      case 'notLeader': {
        const message = log.shift();
        if (message === undefined) break;
        const entry = message.sequence;
        entry.inFlight = false;
        if (op.kind === 'lose') {
          entry.inDoubt = true; // the connection was lost: the client cannot tell
          break;
        }
        if (op.kind === 'notLeader') break; // did nothing, the client knows it
        const result = apply(message);
        if (entry.settled !== undefined || op.replyLost) {
          entry.inDoubt = true;
          break;
        }
        if ('jobs' in result) {
          entry.settled = 'answered';
          sessionAnswered = true;
        } else {
          expect(result.code, 'the only refusal of the model').to.equal('FAILED_PRECONDITION');
          entry.settled = 'unknown';
        }
        break;
      }
      case 'resend': {
        const waiting = unsettled().filter((entry) => !entry.inFlight);
        const entry = waiting[op.pick % Math.max(1, waiting.length)];
        if (entry !== undefined) send(entry);
        break;
      }
      case 'expire': {
        const open = unsettled();
        const entry = open[op.pick % Math.max(1, open.length)];
        if (entry === undefined) break;
        if (entry.inFlight || entry.inDoubt) {
          entry.settled = 'sentTrue';
        } else {
          entry.settled = 'sentFalse';
          for (const marker of entry.markers) notSent.add(marker);
          if (nextSequence === entry.sequence + 1) nextSequence = entry.sequence;
        }
        break;
      }
      case 'noise':
        for (let at = 0; at < op.producers; at += 1) {
          noiseCount += 1;
          driver.one(enqueueCommand('noise', [{ payload: encode({ marker: `n${noiseCount}` }) }], { limits, producer: { id: `other-${noiseCount}`, sequence: 0 } }));
        }
        break;
      case 'snapshot': {
        const copy = new QueueDriver();
        copy.machine = driver.restoredCopy();
        if (op.v1) asVersion1(copy);
        copy.atMs = driver.atMs;
        copy.term = driver.term;
        driver = copy;
        break;
      }
    }
  }
  // Whatever is still in the log's queue may yet be applied.
  for (const message of log.splice(0)) apply(message);
  return duplicates();
}

describe('attack: an SDK-disciplined producer against the real state machine (fast-check)', function () {
  this.timeout(120_000);

  it('never adds a marker twice, nor one whose call said sent: false', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.array(opArbitrary, { minLength: 10, maxLength: 80 }), (producersMax, ops) => {
      const problem = runModel(ops, producersMax);
      expect(problem, 'problem').to.equal(undefined);
    }), { seed, numRuns: runs });
  });
});
