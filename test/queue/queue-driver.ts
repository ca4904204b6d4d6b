/**
 * A small driver for the queue state machine in tests: it writes each batch of commands into a
 * `normal` log entry at the next index, as a leader would (encoded with the entry codec, stamped
 * with a time the test chooses), and returns that entry's results. Defaults and limits are
 * generous unless a test narrows them.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { isFalconError, type FalconError } from '../../src/errors.js';
import type { LogEntry } from '../../src/log/log-entry.js';
import { readWholeSnapshot, restoreWhole } from '../../src/log/state-machine.js';
import {
  queueFormatVersion, type EnqueueCommand, type JobDefaults, type JobSpec, type QueueCommand, type QueueLimits,
} from '../../src/queue/commands.js';
import { encodeQueueEntry } from '../../src/queue/entry-codec.js';
import { normalEntryType, QueueStateMachine } from '../../src/queue/queue-state-machine.js';
import type {
  CommandResult, EnqueueResult, EntryResults, LeaseResult, LeasedJob,
} from '../../src/queue/results.js';

export const testDefaults: JobDefaults = {
  attemptsMax: 3,
  leaseMs: 30_000,
  backoff: { kind: 'exponential', delayMs: 1000, delayMsMax: 60_000, jitterRatio: 0 },
};

export const testLimits: QueueLimits = {
  jobsPerQueueMax: 1_000_000,
  bytesPerQueueMax: 1 << 30,
  queuesMax: 100,
  idempotencyKeysMax: 100_000,
  dedupWindowMs: 3_600_000,
  completedRetentionMs: 3_600_000,
  completedPerQueueMax: 10_000,
  producersMax: 1000,
};

export const startMs = 1_700_000_000_000;

export function payloadOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function enqueueCommand(queue: string, jobs: readonly JobSpec[], overrides: Partial<EnqueueCommand> = {}): EnqueueCommand {
  return { type: 'enqueue', queue, jobs, defaults: testDefaults, limits: testLimits, ...overrides };
}

export class QueueDriver {
  machine = new QueueStateMachine();
  term = 1;
  atMs = startMs;

  get nextIndex(): number {
    return this.machine.appliedIndex + 1;
  }

  /** Applies one entry holding `commands`, stamped `atMs` (default: the driver's clock). */
  apply(commands: readonly QueueCommand[], atMs = this.atMs): EntryResults {
    const entry: LogEntry = {
      term: this.term, index: this.nextIndex, type: normalEntryType,
      data: encodeQueueEntry({ v: queueFormatVersion, atMs, commands }),
    };
    const [results] = this.machine.apply([entry]);
    return results as EntryResults;
  }

  one(command: QueueCommand, atMs = this.atMs): CommandResult {
    return this.apply([command], atMs)[0] as CommandResult;
  }

  /** A leader's no-op at the next index, in `term`. */
  noop(term: number): void {
    this.term = term;
    this.machine.apply([{ term, index: this.nextIndex, type: 2, data: new Uint8Array(0) }]);
  }

  defaults(): JobDefaults {
    return testDefaults;
  }

  advance(ms: number): void {
    this.atMs += ms;
  }

  enqueue(queue: string, jobs: readonly JobSpec[], overrides: Partial<EnqueueCommand> = {}): EnqueueResult {
    return expectOk(this.one(enqueueCommand(queue, jobs, overrides))) as EnqueueResult;
  }

  lease(queue: string, jobsMax = 1, workerId = 'w1', leaseMs = 10_000, bytesMax = 1_048_576): readonly LeasedJob[] {
    return (expectOk(this.one({ type: 'lease', queue, jobsMax, bytesMax, leaseMs, workerId })) as LeaseResult).jobs;
  }

  /** A machine restored from this one's snapshot. */
  restoredCopy(): QueueStateMachine {
    const copy = new QueueStateMachine();
    restoreWhole(copy, this.machine.appliedIndex, readWholeSnapshot(this.machine.snapshot()));
    return copy;
  }
}

export function expectOk(result: CommandResult | undefined): CommandResult {
  expect(result).to.not.equal(undefined);
  if (isFalconError(result)) expect.fail(`expected a result, got ${result.code}: ${result.message}`);
  return result as CommandResult;
}

export function expectError(result: CommandResult | undefined, code: FalconError['code']): FalconError {
  if (!isFalconError(result)) expect.fail(`expected ${code}, got ${JSON.stringify(result)}`);
  expect(result.code, result.message).to.equal(code);
  return result;
}
