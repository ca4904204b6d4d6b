/**
 * The queue state as a snapshot, and back. Records (snapshot-records.ts framing), in this order:
 *
 *   ['falcon-queue', queueSnapshotVersion, appliedIndex, lastTerm, nowMs, termStartMs, termStartPending,
 *     lastGraceMs, keysEvicted, keyDedupHits, producersEvicted, producerDedupHits, [[limit, n]...]]
 *   ['queue', name, paused, limits | null, [totals...]]            one per queue, creation order
 *   ['jobs', [job tuple...]]                                        batches, increasing id
 *   ['retained', queue, [job id...]]                                oldest finished first
 *   ['workers', [[workerId, queues, capacity, registeredAtMs]...]]
 *   ['keys', [[name, jobId, seenAtMs, windowMs, forgottenState | null]...]]   oldest first
 *   ['producers', [[producerId, [[sequence, firstId, count, ids | null]...], openingSequence]...]]  LRU first
 *   ['end', jobCount]
 *
 * Determinism: every collection is written in its own deterministic order (map insertion order,
 * which restore reproduces), so two replicas at the same applied index write the same bytes, and
 * a restored state writes the bytes it was restored from. Heaps and lease sets are not written:
 * they are rebuilt from the jobs (their pop order does not depend on their layout).
 *
 * Versions: this code writes `queueSnapshotVersion` (2) and reads 1 and 2. Version 1 has no
 * `openingSequence` in a producer row; a session restored from it is taken as opened at its
 * highest remembered sequence. That is safe: the sequence that really opened it is remembered or
 * below the lowest remembered (then the full session refuses a retry of anything below that), so it
 * is never above the highest, and every retry the session would refuse as issued before its
 * opening is still refused. The cost: a retry of a sequence below the highest that the session does
 * not remember (one lost in flight as the node moved to this version) is refused as "outcome
 * unknown" instead of applied. Any other first record throws: the node stops rather than run on a
 * state it cannot read (a node of an older release stops on a version-2 snapshot).
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { assert } from '../errors.js';
import type { Backoff, QueueLimits } from './commands.js';
import { KeyEntry } from './idempotency-keys.js';
import { ProducerSession } from './producer-sessions.js';
import { QueueRecord, queueTotalNames } from './queue-record.js';
import { QueueState } from './queue-state.js';
import type { JobState, JobTransition } from './results.js';
import { encodeJobs, jobState, restoreJobs, type JobRestoreTarget } from './snapshot-jobs.js';
import { SnapshotRecordParser, SnapshotRecordWriter } from './snapshot-records.js';

export const queueSnapshotFormat = 'falcon-queue';
/** The snapshot version written: 2 adds each producer session's opening sequence. */
export const queueSnapshotVersion = 2;
/** The versions read: 1 (no opening sequences) and the one written. */
const queueSnapshotVersionWithoutOpening = 1;
/** Entries per batch record of keys, workers and producers. */
const batchEntriesMax = 1024;

type Row = readonly unknown[];

function* inBatches<Item>(writer: SnapshotRecordWriter, kind: string, items: Iterable<Item>, row: (item: Item) => Row): Generator<undefined, void, undefined> {
  let batch: Row[] = [];
  for (const item of items) {
    batch.push(row(item));
    if (batch.length >= batchEntriesMax) {
      writer.add([kind, batch]);
      batch = [];
      yield;
    }
  }
  if (batch.length > 0) writer.add([kind, batch]);
}

/** The whole state as snapshot chunks, in one go. */
export function encodeQueueSnapshot(state: QueueState): Uint8Array[] {
  const steps = encodeQueueSnapshotSteps(state);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * The whole state as snapshot chunks, a record batch per step: the caller may spread the work
 * over several turns, provided the state does not change until the generator returns.
 */
export function* encodeQueueSnapshotSteps(state: QueueState): Generator<undefined, Uint8Array[], undefined> {
  const writer = new SnapshotRecordWriter();
  writer.add([
    queueSnapshotFormat, queueSnapshotVersion, state.appliedIndex, state.lastTerm, state.nowMs, state.termStartMs,
    state.termStartPending, state.lastGraceMs, state.keys.evicted, state.keys.dedupHits, state.producers.evicted,
    state.producers.dedupHits, Object.entries(state.limitRefusals),
  ]);
  for (const queue of state.queues.values()) {
    writer.add(['queue', queue.name, queue.paused, queue.limits ?? null, queueTotalNames.map((name) => queue.totals[name])]);
  }
  yield* encodeJobs(writer, state.jobs.values());
  for (const queue of state.queues.values()) {
    if (queue.retained.size > 0) writer.add(['retained', queue.name, queue.retained.toArray().map((job) => job.id)]);
  }
  yield* inBatches(writer, 'workers', state.workers.values(), (worker) => [worker.workerId, worker.queues, worker.capacity, worker.registeredAtMs]);
  yield* inBatches(writer, 'keys', state.keys.entries, ([name, entry]) => [name, entry.jobId, entry.seenAtMs, entry.windowMs, entry.forgottenState ?? null]);
  yield* inBatches(writer, 'producers', state.producers.sessions, ([producerId, session]) =>
    [producerId, session.answers.map((answer) => [answer.sequence, answer.firstId, answer.count, answer.ids ?? null]), session.openingSequence]);
  writer.add(['end', state.jobs.size]);
  return writer.finish();
}

function asRow(record: unknown, what: string): Row {
  assert(Array.isArray(record), `queue snapshot ${what} is not a list`);
  return record;
}

/** Rebuilds a QueueState from snapshot chunks. */
export class QueueSnapshotRestorer implements JobRestoreTarget {
  readonly state = new QueueState();
  private readonly parser = new SnapshotRecordParser();
  private sawHeader = false;
  private version = queueSnapshotVersion;
  private sawEnd = false;
  /** Backoffs shared by the restored jobs, as the applied state shares its commands'. */
  private readonly backoffs = new Map<string, Backoff>();
  private lastFirstStep: readonly JobTransition[] | undefined;

  write(chunk: Uint8Array): void {
    this.parser.push(chunk, (record) => this.onRecord(asRow(record, 'record')));
  }

  /** The restored state; throws unless the snapshot was whole and at `index`. */
  finish(index: number): QueueState {
    this.parser.finish();
    assert(this.sawHeader && this.sawEnd, `queue snapshot at ${index} is incomplete (header ${this.sawHeader}, end ${this.sawEnd})`);
    assert(this.state.appliedIndex === index, `queue snapshot for index ${index} holds the state at ${this.state.appliedIndex}`);
    return this.state;
  }

  sharedBackoff(kind: Backoff['kind'], delayMs: number, delayMsMax: number, jitterRatio: number): Backoff {
    const name = `${kind}/${delayMs}/${delayMsMax}/${jitterRatio}`;
    let backoff = this.backoffs.get(name);
    if (backoff === undefined) {
      backoff = { kind, delayMs, delayMsMax, jitterRatio };
      this.backoffs.set(name, backoff);
    }
    return backoff;
  }

  sharedFirstStep(state: JobState, atMs: number): readonly JobTransition[] {
    const last = this.lastFirstStep?.[0];
    if (last === undefined || last.state !== state || last.atMs !== atMs) {
      this.lastFirstStep = [{ state, atMs, reason: undefined, token: undefined }];
    }
    return this.lastFirstStep as readonly JobTransition[];
  }

  private onRecord(record: Row): void {
    const kind = record[0];
    if (!this.sawHeader) {
      assert(kind === queueSnapshotFormat, `snapshot is not a queue snapshot (first record ${String(kind)})`);
      assert(record[1] === queueSnapshotVersion || record[1] === queueSnapshotVersionWithoutOpening,
        `queue snapshot format version ${String(record[1])} is not a version this node reads (${queueSnapshotVersionWithoutOpening} to ${queueSnapshotVersion})`);
      this.version = record[1] as number;
      this.onHeader(record);
      this.sawHeader = true;
      return;
    }
    assert(!this.sawEnd, 'queue snapshot has records after its end');
    if (kind === 'queue') this.onQueue(record);
    else if (kind === 'jobs') restoreJobs(this, asRow(record[1], 'jobs') as Row[]);
    else if (kind === 'retained') this.onRetained(record);
    else if (kind === 'workers') for (const row of asRow(record[1], 'workers')) this.onWorker(asRow(row, 'worker'));
    else if (kind === 'keys') for (const row of asRow(record[1], 'keys')) this.onKey(asRow(row, 'key'));
    else if (kind === 'producers') for (const row of asRow(record[1], 'producers')) this.onProducer(asRow(row, 'producer'));
    else if (kind === 'end') {
      assert(record[1] === this.state.jobs.size, `queue snapshot ends with ${String(record[1])} jobs, restored ${this.state.jobs.size}`);
      this.sawEnd = true;
    } else assert(false, `queue snapshot has a record of unknown kind ${String(kind)}`);
  }

  private onHeader(record: Row): void {
    const state = this.state;
    [, , state.appliedIndex, state.lastTerm, state.nowMs, state.termStartMs] = record as [unknown, unknown, number, number, number, number];
    state.termStartPending = record[6] === true;
    state.lastGraceMs = record[7] as number;
    state.keys.evicted = record[8] as number;
    state.keys.dedupHits = record[9] as number;
    state.producers.evicted = record[10] as number;
    state.producers.dedupHits = record[11] as number;
    for (const pair of asRow(record[12], 'limit refusals')) {
      const [name, count] = asRow(pair, 'limit refusal') as [string, number];
      state.limitRefusals[name] = count;
    }
  }

  private onQueue(record: Row): void {
    const [, name, paused, limits, totals] = record as [string, string, boolean, QueueLimits | null, number[]];
    assert(!this.state.queues.has(name), `queue snapshot holds queue ${name} twice`);
    const queue = new QueueRecord(name);
    this.state.queues.set(name, queue);
    queue.limits = limits ?? undefined;
    queue.paused = paused;
    queueTotalNames.forEach((totalName, at) => {
      queue.totals[totalName] = totals[at] ?? 0;
    });
  }

  private onRetained(record: Row): void {
    const queue = this.state.queue(record[1] as string);
    for (const id of asRow(record[2], 'retained ids')) {
      const job = this.state.jobs.get(id as number);
      assert(job !== undefined && (job.state === 'completed' || job.state === 'cancelled'), `queue snapshot retains job ${String(id)} it does not hold finished`);
      if (queue.retained.size === 0) {
        queue.retained.push(job);
        this.state.retentionTimers.push(queue);
      } else queue.retained.push(job);
    }
  }

  private onWorker(row: Row): void {
    const [workerId, queues, capacity, registeredAtMs] = row as [string, string[], number, number];
    this.state.workers.set(workerId, { workerId, queues, capacity, registeredAtMs });
  }

  private onKey(row: Row): void {
    const [name, jobId, seenAtMs, windowMs, forgottenState] = row as [string, number, number, number, string | null];
    this.state.keys.restore(name, new KeyEntry(jobId, seenAtMs, windowMs, forgottenState === null ? undefined : jobState(forgottenState)));
  }

  private onProducer(row: Row): void {
    const [producerId, answers, opening] = row as [string, [number, number, number, number[] | null][], number | undefined];
    assert(answers.length > 0, `queue snapshot holds producer ${producerId} with no sequence`);
    // Version 1: opened at its highest remembered sequence (the header says why that is safe).
    const openingSequence = this.version === queueSnapshotVersionWithoutOpening ? Math.max(...answers.map((answer) => answer[0])) : opening;
    assert(Number.isSafeInteger(openingSequence), `queue snapshot holds producer ${producerId} without an opening sequence`);
    const session = new ProducerSession(openingSequence as number);
    for (const [sequence, firstId, count, ids] of answers) session.add({ sequence, firstId, count, ids: ids ?? undefined });
    this.state.producers.sessions.set(producerId, session);
  }
}
