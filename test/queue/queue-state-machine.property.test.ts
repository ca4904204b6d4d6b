/**
 * Properties of the queue state machine over random command sequences (fast-check, seeded):
 * - every job is in exactly one state and in exactly that state's structures, with at most one
 *   live lease per job (queue-invariants.ts), after every entry;
 * - an ack, nack or extend succeeds only with the job's live lease token (or, for an ack, the
 *   token that completed it), never a stale one;
 * - attempts never decrease, except to 0 by a redrive;
 * - each dead-lettering is counted exactly once: the queues' deadLetteredTotal equals the
 *   transitions into `dead` observed entry by entry;
 * - a snapshot restored at any point gives the same future results and byte-identical snapshots
 *   (three producers share two sessions, so sessions are forgotten and opened again, and retries
 *   meet unknown producers and opening sequences).
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with QUEUE_PROPERTY_SEED=<seed>.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { encode } from '../../src/codec/msgpack.js';
import { isFalconError } from '../../src/errors.js';
import { readWholeSnapshot } from '../../src/log/state-machine.js';
import type { QueueCommand } from '../../src/queue/commands.js';
import type { CommandResult, EntryResults, JobState } from '../../src/queue/results.js';
import { enqueueCommand, payloadOf, QueueDriver, testLimits } from './queue-driver.js';
import { invariantProblem, stateOf } from './queue-invariants.js';

const seed = Number(process.env['QUEUE_PROPERTY_SEED'] ?? 20_261_202);
const runs = 1000;
const stepsMax = 100;
const queues = ['a', 'b'] as const;
const workers = ['', 'w1', 'w2'] as const;

type Op =
  | { readonly kind: 'enqueue'; readonly queue: number; readonly count: number; readonly key: number; readonly delayMs: number; readonly priority: number; readonly producer: number; readonly sequence: number; readonly retry: boolean }
  | { readonly kind: 'lease'; readonly queue: number; readonly jobsMax: number; readonly worker: number; readonly leaseMs: number; readonly bytesMax: number }
  | { readonly kind: 'ack' | 'extend'; readonly pick: number; readonly tokenChoice: number }
  | { readonly kind: 'nack'; readonly pick: number; readonly tokenChoice: number; readonly retryable: boolean; readonly jitter: number }
  | { readonly kind: 'expire'; readonly graceMs: number; readonly seed: number }
  | { readonly kind: 'release'; readonly worker: number }
  | { readonly kind: 'cancel'; readonly pick: number }
  | { readonly kind: 'pause' | 'resume'; readonly queue: number }
  | { readonly kind: 'redrive'; readonly queue: number; readonly jobsMax: number }
  | { readonly kind: 'purge'; readonly queue: number; readonly dead: boolean }
  | { readonly kind: 'time'; readonly ms: number }
  | { readonly kind: 'term' };

const queueIndex = fc.integer({ min: 0, max: queues.length - 1 });
const pick = fc.nat(1000);
const tokenChoice = fc.integer({ min: 0, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), queue: queueIndex, count: fc.integer({ min: 1, max: 3 }), key: fc.integer({ min: -3, max: 4 }), delayMs: fc.constantFrom(0, 0, 50, 500), priority: fc.integer({ min: -1, max: 1 }), producer: fc.integer({ min: -1, max: 2 }), sequence: fc.nat(6), retry: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('lease' as const), queue: queueIndex, jobsMax: fc.integer({ min: 1, max: 3 }), worker: fc.integer({ min: 0, max: workers.length - 1 }), leaseMs: fc.constantFrom(100, 1000), bytesMax: fc.constantFrom(1, 20, 1_048_576) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'extend' as const), pick, tokenChoice }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('nack' as const), pick, tokenChoice, retryable: fc.boolean(), jitter: fc.double({ min: 0, max: 0.999, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), graceMs: fc.constantFrom(0, 200), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), worker: fc.integer({ min: 1, max: workers.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('pause' as const, 'resume' as const), queue: queueIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redrive' as const), queue: queueIndex, jobsMax: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), queue: queueIndex, dead: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.constantFrom(-300, 0, 40, 100, 600, 2000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('term' as const) }) },
);

const limits = { ...testLimits, jobsPerQueueMax: 12, idempotencyKeysMax: 4, dedupWindowMs: 1500, completedRetentionMs: 3000, completedPerQueueMax: 3, producersMax: 2 };
const defaults = { attemptsMax: 2, leaseMs: 1000, backoff: { kind: 'exponential' as const, delayMs: 50, delayMsMax: 400, jitterRatio: 0.5 } };

/** Turns abstract ops into commands against what `driver`'s machine holds now. */
class CommandMaker {
  readonly ids: number[] = [];

  jobId(choice: number): number {
    return this.ids.length === 0 ? 1 : (this.ids[choice % this.ids.length] as number);
  }

  token(driver: QueueDriver, jobId: number, choice: number): number {
    const job = driver.machine.getJob(jobId);
    const latest = job?.history.reduce((max, step) => Math.max(max, step.token ?? 0), 0) ?? 0;
    return Math.max(1, [latest, latest - 1, job?.token ?? latest, 1 + (jobId % 7)][choice] ?? 1);
  }

  command(driver: QueueDriver, op: Op): QueueCommand | undefined {
    switch (op.kind) {
      case 'enqueue': {
        const jobs = Array.from({ length: op.count }, (_, at) => ({
          payload: payloadOf(`${op.queue}/${at}`), priority: op.priority, delayMs: op.delayMs,
          ...(op.key >= 0 ? { key: `k${(op.key + at) % 5}` } : {}),
        }));
        return enqueueCommand(queues[op.queue] ?? 'a', jobs, { limits, defaults, ...(op.producer >= 0 ? { producer: { id: `p${op.producer}`, sequence: op.sequence, ...(op.retry ? { retry: true as const } : {}) } } : {}) });
      }
      case 'lease': return { type: 'lease', queue: queues[op.queue] ?? 'a', jobsMax: op.jobsMax, bytesMax: op.bytesMax, leaseMs: op.leaseMs, workerId: workers[op.worker] ?? '' };
      case 'ack': case 'extend': {
        const jobId = this.jobId(op.pick);
        const token = this.token(driver, jobId, op.tokenChoice);
        return op.kind === 'ack' ? { type: 'ack', jobId, token } : { type: 'extend', jobId, token, leaseMs: 500 };
      }
      case 'nack': {
        const jobId = this.jobId(op.pick);
        return { type: 'nack', jobId, token: this.token(driver, jobId, op.tokenChoice), error: 'e', retryable: op.retryable, jitter: op.jitter };
      }
      case 'expire': return { type: 'expireLeases', graceMs: op.graceMs, jitterSeed: op.seed };
      case 'release': return { type: 'releaseWorker', workerId: workers[op.worker] ?? 'w1', reason: 'ttlExpired', jitterSeed: 5 };
      case 'cancel': return { type: 'cancel', jobId: this.jobId(op.pick) };
      case 'pause': return { type: 'pauseQueue', queue: queues[op.queue] ?? 'a' };
      case 'resume': return { type: 'resumeQueue', queue: queues[op.queue] ?? 'a' };
      case 'redrive': return { type: 'redrive', queue: queues[op.queue] ?? 'a', jobsMax: op.jobsMax };
      case 'purge': return { type: 'purge', queue: queues[op.queue] ?? 'a', set: op.dead ? 'dead' : 'ready' };
      case 'time': driver.advance(op.ms); return undefined;
      case 'term': driver.noop(driver.term + 1); return undefined;
    }
  }

  learn(results: EntryResults): void {
    for (const result of results) {
      if (!isFalconError(result) && result.type === 'enqueued') for (const job of result.jobs) if (!this.ids.includes(job.id)) this.ids.push(job.id);
    }
  }
}

interface Seen { readonly state: JobState; readonly attempts: number; readonly token: number | undefined }

function observe(driver: QueueDriver): Map<number, Seen> {
  const seen = new Map<number, Seen>();
  for (const job of stateOf(driver.machine).jobs.values()) seen.set(job.id, { state: job.state, attempts: job.attempts, token: job.token });
  return seen;
}

/** The problem with `result` of `command` given what was seen before it, or undefined. */
function fencingProblem(command: QueueCommand, result: CommandResult, before: Map<number, Seen>): string | undefined {
  if (isFalconError(result) || (command.type !== 'ack' && command.type !== 'nack' && command.type !== 'extend')) return undefined;
  const job = before.get(command.jobId);
  const live = job?.state === 'leased' && job.token === command.token;
  const repeatedAck = command.type === 'ack' && job?.state === 'completed' && job.token === command.token;
  return live || repeatedAck ? undefined : `${command.type} of job ${command.jobId} with token ${command.token} accepted while it was ${JSON.stringify(job)}`;
}

function stepProblem(before: Map<number, Seen>, after: Map<number, Seen>, deadTransitions: { count: number }): string | undefined {
  for (const [id, now] of after) {
    const was = before.get(id);
    if (now.state === 'dead' && was?.state !== 'dead') deadTransitions.count += 1;
    if (was !== undefined && now.attempts < was.attempts && !(now.attempts === 0 && now.state === 'ready' && was.state === 'dead')) {
      return `job ${id} attempts went from ${was.attempts} to ${now.attempts} (${was.state} → ${now.state})`;
    }
  }
  return undefined;
}

describe('queue state machine properties', function () {
  // About 3 s on an idle 2-core machine; the bound leaves room for a busy one.
  this.timeout(20_000);

  it('keeps every job in one state with at most one lease, fences tokens, never lowers attempts, counts each dead-lettering once', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: stepsMax, size: 'max' }), (ops) => {
      const driver = new QueueDriver();
      const maker = new CommandMaker();
      const deadTransitions = { count: 0 };
      for (const step of ops) {
        const command = maker.command(driver, step);
        if (command === undefined) continue;
        const before = observe(driver);
        const [result] = driver.apply([command]);
        maker.learn([result as CommandResult]);
        const problem = invariantProblem(driver.machine) ?? fencingProblem(command, result as CommandResult, before)
          ?? stepProblem(before, observe(driver), deadTransitions);
        expect(problem, `after ${JSON.stringify(step)}`).to.equal(undefined);
      }
      const deadLettered = driver.machine.allQueueStats(driver.atMs).reduce((sum, stats) => sum + stats.deadLetteredTotal, 0);
      expect(deadLettered).to.equal(deadTransitions.count);
    }), { seed, numRuns: runs });
  });

  it('gives the same future results and byte-identical snapshots after a snapshot and restore at any point', () => {
    const entries = fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: stepsMax / 2, size: 'max' });
    fc.assert(fc.property(entries, fc.nat(stepsMax), (batches, cutChoice) => {
      const driver = new QueueDriver();
      const maker = new CommandMaker();
      const cut = cutChoice % batches.length;
      let copy: QueueDriver | undefined;
      batches.forEach((batch, at) => {
        if (at === cut) {
          copy = new QueueDriver();
          copy.machine = driver.restoredCopy();
          copy.term = driver.term;
          expect(Buffer.from(readWholeSnapshot(copy.machine.snapshot())).equals(Buffer.from(readWholeSnapshot(driver.machine.snapshot())))).to.equal(true);
        }
        const commands = batch.map((step) => maker.command(driver, step)).filter((command) => command !== undefined);
        while (copy !== undefined && copy.machine.appliedIndex < driver.machine.appliedIndex) copy.noop(driver.term);
        if (commands.length === 0) return;
        const results = driver.apply(commands);
        maker.learn(results);
        if (copy !== undefined) expect(encode(copy.apply(commands, driver.atMs))).to.deep.equal(encode(results));
      });
      const restored = copy as QueueDriver;
      expect(Buffer.from(readWholeSnapshot(restored.machine.snapshot())).equals(Buffer.from(readWholeSnapshot(driver.machine.snapshot())))).to.equal(true);
      expect(restored.machine.counters).to.deep.equal(driver.machine.counters);
    }), { seed, numRuns: runs });
  });
});
