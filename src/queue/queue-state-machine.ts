/**
 * The job queue as a replicated state machine: the second implementation of the seam in
 * src/log/state-machine.ts, applied from the log on every node (DESIGN.md §4, docs/queue.md).
 *
 * apply: each `normal` entry is decoded and checked (entry-codec.ts) and its commands applied in
 * order, one `EntryResults` per entry; other entries (the leader's no-op) answer no results but
 * move `appliedIndex` and may start a term. An entry that does not decode, or of a format version
 * this code does not know, is a broken invariant: apply throws naming the index, and the node
 * stops rather than diverge.
 *
 * Time: `now = max(now, entry.atMs)`, so it never goes back when a new leader's clock lags. At
 * the start of each normal entry: keys past their window and retained jobs past their retention
 * are forgotten and due delayed jobs become ready (again before each lease). When an entry's term
 * is above the last one's, the first timestamped entry of the new term sets `termStartMs`, from
 * which expireLeases waits `graceMs` (lease-commands.ts).
 *
 * Snapshot: encoded eagerly at the call (queue-snapshot.ts), so it is the state at the call
 * whatever is applied while it is read; the cost is a second copy of the state's bytes (payloads
 * included) in memory until the reader is dropped. The state holds the payloads (docs/queue.md
 * gives the measurement), so it needs no log behind its applied index.
 *
 * Reads (get, list, stats, workers) answer from the state as it is; the caller makes them
 * linearizable (ReadIndex) before calling.
 *
 * Runs on: the thread that applies the queue's entries (the Replicator or the Dispatcher), and
 * the simulator. Pure: no clock, no random source, no I/O.
 */
import { assert, isFalconError } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { SnapshotReader, SnapshotWriter, StateMachine } from '../log/state-machine.js';
import {
  applyCancel, applyPauseQueue, applyPurge, applyRedrive, applyRegisterWorker, applyResumeQueue,
} from './admin-commands.js';
import type { QueueCommand } from './commands.js';
import { applyEnqueue } from './enqueue-command.js';
import { decodeQueueEntry } from './entry-codec.js';
import { jobView } from './job-record.js';
import {
  applyAck, applyExpireLeases, applyExtend, applyLease, applyNack, applyReleaseWorker,
} from './lease-commands.js';
import { encodeQueueSnapshotSteps, QueueSnapshotRestorer } from './queue-snapshot.js';
import { QueueState, type QueueLatencyObserver } from './queue-state.js';
import type {
  CommandResult, EntryResults, JobPage, JobState, JobView, QueueMachineCounters, QueueStats, WorkerView,
} from './results.js';

/** `LogEntry.type` of a state-machine command (src/raft/entry-types.ts `entryTypes.normal`; the
 *  queue sits beside raft/ and may not import it). */
export const normalEntryType = 0;

/** Jobs one `list` page answers at most. */
export const listPageJobsMax = 1000;

const noResults: EntryResults = [];

/** Snapshot records encoded per `prepare()` call: 16 records of up to 256 jobs, a few ms. */
const snapshotRecordsPerStep = 16;

const noReadyQueues: readonly string[] = [];

export class QueueStateMachine implements StateMachine<EntryResults> {
  private state = new QueueState();

  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  /** The state's clock: the latest leader timestamp applied. */
  get nowMs(): number {
    return this.state.nowMs;
  }

  apply(entries: readonly LogEntry[]): readonly EntryResults[] {
    const results: EntryResults[] = [];
    for (const entry of entries) results.push(this.applyEntry(entry));
    return results;
  }

  applyEntry(entry: LogEntry): EntryResults {
    const state = this.state;
    assert(entry.index === state.appliedIndex + 1, `queue state machine applies index ${entry.index} after ${state.appliedIndex}`);
    assert(entry.term >= state.lastTerm, `queue entry at index ${entry.index} has term ${entry.term}, below the last applied term ${state.lastTerm}`);
    if (entry.term > state.lastTerm) {
      state.lastTerm = entry.term;
      state.termStartPending = true;
    }
    if (entry.type !== normalEntryType) {
      state.appliedIndex = entry.index;
      return noResults;
    }
    const decoded = decodeQueueEntry(entry.data);
    assert(!isFalconError(decoded),
      `queue entry at index ${entry.index} (term ${entry.term}) cannot be applied: ${isFalconError(decoded) ? `${decoded.code}: ${decoded.message}` : ''}`);
    state.nowMs = Math.max(state.nowMs, decoded.atMs);
    if (state.termStartPending) {
      state.termStartMs = state.nowMs;
      state.termStartPending = false;
    }
    state.entryLeaseBytesLeft = decoded.leaseBytesMax ?? Number.POSITIVE_INFINITY;
    state.entryLeasedAny = false;
    state.keys.expire(state.nowMs);
    state.expireRetained();
    state.promoteDue();
    const results: CommandResult[] = [];
    let position = 0;
    for (const command of decoded.commands) {
      results.push(this.applyCommand(command, entry.index, position));
      if (command.type === 'enqueue') position += command.jobs.length;
    }
    state.appliedIndex = entry.index;
    return results;
  }

  private applyCommand(command: QueueCommand, entryIndex: number, position: number): CommandResult {
    const state = this.state;
    switch (command.type) {
      case 'enqueue': return applyEnqueue(state, command, entryIndex, position);
      case 'lease': return applyLease(state, command, entryIndex);
      case 'ack': return applyAck(state, command);
      case 'nack': return applyNack(state, command);
      case 'extend': return applyExtend(state, command);
      case 'expireLeases': return applyExpireLeases(state, command);
      case 'registerWorker': return applyRegisterWorker(state, command);
      case 'releaseWorker': return applyReleaseWorker(state, command);
      case 'cancel': return applyCancel(state, command);
      case 'pauseQueue': return applyPauseQueue(state, command);
      case 'resumeQueue': return applyResumeQueue(state, command);
      case 'redrive': return applyRedrive(state, command);
      case 'purge': return applyPurge(state, command);
    }
  }

  /**
   * A snapshot captured lazily: `prepare()` encodes a bounded slice of the state per call (about
   * `snapshotRecordsPerStep` records of up to 256 jobs), and the caller applies nothing until it
   * answers true (the replica loop defers committed entries meanwhile), so that a large state
   * never holds its thread for longer than a slice: a leader keeps its heartbeats going.
   */
  snapshot(): SnapshotReader {
    const steps = encodeQueueSnapshotSteps(this.state);
    const index = this.state.appliedIndex;
    let chunks: Uint8Array[] | undefined;
    let next = 0;
    const prepare = (): boolean => {
      for (let step = 0; chunks === undefined && step < snapshotRecordsPerStep; step += 1) {
        assert(this.state.appliedIndex === index, `the queue applied up to ${this.state.appliedIndex} while its snapshot at ${index} was being captured`);
        const result = steps.next();
        if (result.done === true) chunks = result.value;
      }
      return chunks !== undefined;
    };
    return {
      index,
      prepare,
      next: () => {
        while (!prepare()) { /* a caller that does not prepare captures it whole now */ }
        if (chunks === undefined) return null;
        const chunk = chunks[next];
        if (chunk === undefined) return null;
        chunks[next] = new Uint8Array(0);
        next += 1;
        return chunk;
      },
    };
  }

  beginRestore(index: number): SnapshotWriter {
    const restorer = new QueueSnapshotRestorer();
    return {
      write: (chunk) => restorer.write(chunk),
      finish: () => {
        const { workersVersion, latencyObserver } = this.state;
        this.state = restorer.finish(index);
        this.state.workersVersion = workersVersion + 1;
        this.state.latencyObserver = latencyObserver;
      },
    };
  }

  compactionFloor(): number {
    return this.state.appliedIndex + 1;
  }

  getJob(jobId: number): JobView | undefined {
    const job = this.state.jobs.get(jobId);
    return job === undefined ? undefined : jobView(job);
  }

  /** Up to `limit` (at most `listPageJobsMax`) jobs of `queue` in `state` with ids above `afterId`. */
  listJobs(queue: string, state: JobState, afterId: number, limit: number): JobPage {
    const record = this.state.queues.get(queue);
    if (record === undefined) return { jobs: [], nextAfterId: null };
    return record.list(state, afterId, Math.max(0, Math.min(limit, listPageJobsMax)));
  }

  queueStats(queue: string, nowMs: number): QueueStats | undefined {
    return this.state.queues.get(queue)?.stats(nowMs);
  }

  allQueueStats(nowMs: number): QueueStats[] {
    return [...this.state.queues.values()].map((queue) => queue.stats(nowMs));
  }

  workers(): WorkerView[] {
    return [...this.state.workers.values()].map((worker) => ({
      ...worker, queues: [...worker.queues], leases: this.state.leasesByWorker.get(worker.workerId)?.size ?? 0,
    }));
  }

  get counters(): QueueMachineCounters {
    const state = this.state;
    return {
      queues: state.queues.size,
      jobs: state.jobs.size,
      idempotencyKeys: state.keys.size,
      dedupHits: state.keys.dedupHits,
      producerDedupHits: state.producers.dedupHits,
      idempotencyKeysEvicted: state.keys.evicted,
      producersEvicted: state.producers.evicted,
      limitRefusals: { ...state.limitRefusals },
    };
  }

  /**
   * When the leader should next propose a command for time's sake: the earliest delayed job's
   * ready time, or the earliest lease deadline (not before the grace of the current term ends,
   * with the grace of the latest expireLeases); null when neither exists.
   */
  nextDueMs(graceMs: number = this.state.lastGraceMs): number | null {
    const delayed = this.state.delayedTimers.peek();
    const lease = this.state.leaseTimers.peek();
    let dueMs = delayed === undefined ? Number.POSITIVE_INFINITY : delayed.runAtMs;
    if (lease !== undefined) dueMs = Math.min(dueMs, Math.max(lease.leaseDeadlineMs, this.state.termStartMs + graceMs));
    return dueMs === Number.POSITIVE_INFINITY ? null : dueMs;
  }

  /** Who is told the enqueue-to-lease and enqueue-to-ack ages (metrics); kept across restores. */
  set latencyObserver(observer: QueueLatencyObserver | undefined) {
    this.state.latencyObserver = observer;
  }

  /** Grows whenever a worker is registered or released, or the state is restored. */
  get workersVersion(): number {
    return this.state.workersVersion;
  }

  /** Queues that gained ready jobs since the last call (to wake parked pulls), in order gained. */
  takeReadyQueues(): readonly string[] {
    // Called after every apply: no allocation when nothing gained ready jobs (the usual case).
    if (this.state.readyQueues.size === 0) return noReadyQueues;
    const queues = [...this.state.readyQueues];
    this.state.readyQueues.clear();
    return queues;
  }
}
