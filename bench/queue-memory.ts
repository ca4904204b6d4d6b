/**
 * What a held job costs the queue state machine, to choose where payloads live (docs/queue.md):
 * applies N enqueues of 256-byte payloads in entries of 64 jobs (as the Dispatcher batches them)
 * and reports V8 heap + external bytes per held job after a forced GC, for two placements:
 *
 * - `state`: the state holds each payload as a view into its applied entry's bytes (what
 *   src/queue/ does);
 * - `log`: the state holds only the job's log position, estimated by replacing every job's payload
 *   with its entry index (and an empty buffer) after the apply (the entries' bytes are then garbage, as they would be
 *   in a state that reads payloads back from the log).
 *
 * For each it also times `snapshot()` (eager encode) and reports its bytes, and for `state` the
 * restore of that snapshot into a fresh machine and what a held job costs in the restored state.
 *
 * Last, it drains a filled queue with entries of 64 leases and entries of 64 acks (encode
 * included) and reports the jobs leased and acked per second of apply.
 *
 * Usage: `npx tsc -p . && node --expose-gc dist/bench/queue-memory.js [jobs]` (default 200,000).
 * Prints one JSON line per placement.
 *
 * Runs on: one process, one thread.
 */
import { performance } from 'node:perf_hooks';
import { readWholeSnapshot, restoreWhole } from '../src/log/state-machine.js';
import { queueFormatVersion, type EnqueueCommand } from '../src/queue/commands.js';
import { encodeQueueEntry } from '../src/queue/entry-codec.js';
import { QueueStateMachine } from '../src/queue/queue-state-machine.js';
import type { QueueState } from '../src/queue/queue-state.js';

const jobs = Number(process.argv[2] ?? 200_000);
const jobsPerEntry = 64;
const payloadBytes = 256;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const limits = {
  jobsPerQueueMax: 10_000_000, bytesPerQueueMax: 10 * 1024 ** 3, queuesMax: 100, idempotencyKeysMax: 100_000,
  dedupWindowMs: 3_600_000, completedRetentionMs: 3_600_000, completedPerQueueMax: 10_000, producersMax: 1000,
};
const defaults = { attemptsMax: 5, leaseMs: 30_000, backoff: { kind: 'exponential' as const, delayMs: 1000, delayMsMax: 60_000, jitterRatio: 0.5 } };

function memoryBytes(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Applies `jobs` enqueues; each entry's bytes are made fresh, as a ring or WAL read would. */
function fill(machine: QueueStateMachine): number {
  const started = performance.now();
  for (let index = 1; (index - 1) * jobsPerEntry < jobs; index += 1) {
    const specs = Array.from({ length: jobsPerEntry }, (_, at) => {
      const payload = new Uint8Array(payloadBytes);
      payload.fill((index + at) & 0xff);
      return { payload };
    });
    const command: EnqueueCommand = { type: 'enqueue', queue: 'bench', jobs: specs, defaults, limits };
    const data = encodeQueueEntry({ v: queueFormatVersion, atMs: 1_700_000_000_000 + index, commands: [command] });
    machine.apply([{ term: 1, index, type: 0, data: Uint8Array.from(data) }]);
  }
  return performance.now() - started;
}

interface Filled {
  readonly heldBytes: number;
  readonly heldJobs: number;
  readonly applyMs: number;
  readonly index: number;
  readonly snapshot: Uint8Array;
  readonly snapshotMs: number;
}

function fillAndSnapshot(placement: 'state' | 'log'): Filled {
  const baseline = memoryBytes();
  const machine = new QueueStateMachine();
  const applyMs = fill(machine);
  if (placement === 'log') {
    const state = (machine as unknown as { state: QueueState }).state;
    const noBytes = new ArrayBuffer(1 << 20);
    for (const job of state.jobs.values()) {
      const fields = job as unknown as { payloadBuffer: ArrayBuffer; payloadOffset: number; payloadBytes: number };
      fields.payloadBuffer = noBytes;
      fields.payloadOffset = Math.floor(job.id / 4096);
      fields.payloadBytes = 0;
    }
  }
  const heldBytes = memoryBytes() - baseline;
  const started = performance.now();
  const snapshot = readWholeSnapshot(machine.snapshot());
  const snapshotMs = performance.now() - started;
  return { heldBytes, heldJobs: machine.counters.jobs, applyMs, index: machine.appliedIndex, snapshot, snapshotMs };
}

function measure(placement: 'state' | 'log'): void {
  const filled = fillAndSnapshot(placement);
  let restoreMs = 0;
  let restoredBytesPerHeldJob = 0;
  if (placement === 'state') {
    const baseline = memoryBytes();
    const started = performance.now();
    const restored = new QueueStateMachine();
    restoreWhole(restored, filled.index, filled.snapshot);
    restoreMs = performance.now() - started;
    restoredBytesPerHeldJob = Math.round((memoryBytes() - baseline) / restored.counters.jobs);
  }
  console.log(JSON.stringify({
    bench: 'queue-memory', placement, jobs: filled.heldJobs, payloadBytes, jobsPerEntry,
    bytesPerHeldJob: Math.round(filled.heldBytes / filled.heldJobs),
    applyJobsPerSec: Math.round(filled.heldJobs / (filled.applyMs / 1000)),
    snapshotBytes: filled.snapshot.byteLength, snapshotMs: Math.round(filled.snapshotMs), restoreMs: Math.round(restoreMs), restoredBytesPerHeldJob,
  }));
}

/** Lease and ack every held job, 64 of each per entry (one pull and one ack batch per entry). */
function drain(): void {
  const machine = new QueueStateMachine();
  fill(machine);
  const held = machine.counters.jobs;
  const started = performance.now();
  let index = machine.appliedIndex;
  for (let drained = 0; drained < held;) {
    index += 1;
    const lease = encodeQueueEntry({ v: queueFormatVersion, atMs: 1_800_000_000_000, commands: [{ type: 'lease', queue: 'bench', jobsMax: jobsPerEntry, bytesMax: 1 << 30, leaseMs: 30_000, workerId: 'w' }] });
    const [results] = machine.apply([{ term: 1, index, type: 0, data: lease }]);
    const leased = (results?.[0] as unknown as { jobs: { id: number; token: number }[] }).jobs;
    index += 1;
    const acks = encodeQueueEntry({ v: queueFormatVersion, atMs: 1_800_000_000_000, commands: leased.map((job) => ({ type: 'ack' as const, jobId: job.id, token: job.token })) });
    machine.apply([{ term: 1, index, type: 0, data: acks }]);
    drained += leased.length;
  }
  const drainMs = performance.now() - started;
  console.log(JSON.stringify({ bench: 'queue-drain', jobs: held, jobsPerEntry, leaseAndAckJobsPerSec: Math.round(held / (drainMs / 1000)) }));
}

measure('state');
measure('log');
drain();
