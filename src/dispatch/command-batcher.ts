/**
 * Turns the queue commands of one turn into as few log entries as fit, and routes each command's
 * result back to whoever asked: the Dispatcher's batching of DESIGN §3 (all enqueues, pulls and
 * acks that arrive during one turn become one entry, encoded once), and of reads (all reads of one
 * turn share one ReadIndex round).
 *
 * An entry holds at most `jobsPerEntryMax` jobs (job ids are derived from the entry's index) and
 * at most `entryBytesMax` bytes (it must fit in one ring message); its leases grant at most
 * `entryBytesMax` bytes of payloads together (`QueueEntry.leaseBytesMax`), so that its answer fits
 * in one ring message too. A command bigger than an entry alone is refused when it is submitted.
 *
 * Every batch waits for one answer from the Replicator; one that gets none within
 * `answerTimeoutMs` (the Replicator restarted, or this node lost its leader and nothing commits)
 * is answered UNAVAILABLE with the outcome unknown: the client retries with the same identity, and
 * the state machine's deduplication makes the retry safe.
 *
 * No closure per request: each command carries an `Origin` (who asked, how to answer), given back
 * to the one `onResult` handler.
 *
 * Invariants: every submitted command gets exactly one result (a CommandResult, an error, or a
 * query result), by its deadline at the latest.
 *
 * Runs on: Dispatcher thread, or the simulator.
 */
import { falconError, type FalconError } from '../errors.js';
import { jobsPerEntryMax, queueFormatVersion, type QueueCommand } from '../queue/commands.js';
import { encodeQueueEntry } from '../queue/entry-codec.js';
import type { CommandResult } from '../queue/results.js';
import type { QueryResult, QueueQuery, ToDispatcherFromReplicator, ToReplicatorFromDispatcher } from '../protocol/dispatch.js';

/** Bytes of MessagePack around a command's payload and fields, counted against `entryBytesMax`. */
const commandOverheadBytes = 160;

export interface CommandBatcherOptions<Origin> {
  readonly send: (message: ToReplicatorFromDispatcher) => void;
  readonly onResult: (origin: Origin, result: CommandResult) => void;
  readonly onQueryResult: (origin: Origin, result: QueryResult | FalconError) => void;
  readonly nowMs: () => number;
  readonly entryBytesMax: number;
  readonly answerTimeoutMs: number;
}

interface QueuedCommand<Origin> {
  readonly origin: Origin;
  readonly command: QueueCommand;
  readonly bytes: number;
  readonly jobs: number;
}

interface Batch<Origin> {
  readonly origins: readonly Origin[];
  readonly kind: 'propose' | 'read';
  readonly deadlineMs: number;
  /** Origins answered so far (a read's answers may come in parts); the rest are settled together. */
  answered: number;
}

/** Bytes a command adds to an entry, and to the answer of its entry. */
export function commandBytes(command: QueueCommand): number {
  switch (command.type) {
    case 'enqueue': {
      let bytes = commandOverheadBytes + command.queue.length;
      for (const job of command.jobs) bytes += job.payload.byteLength + (job.key?.length ?? 0) + commandOverheadBytes;
      return bytes;
    }
    case 'lease':
      // Small in the entry; its answer's payloads are bounded by the entry's leaseBytesMax.
      return commandOverheadBytes;
    case 'ack':
      return commandOverheadBytes + (command.result?.byteLength ?? 0);
    case 'nack':
      return commandOverheadBytes + command.error.length * 3;
    default:
      return commandOverheadBytes;
  }
}

export class CommandBatcher<Origin> {
  private readonly options: CommandBatcherOptions<Origin>;
  private queued: QueuedCommand<Origin>[] = [];
  private queries: { origin: Origin; query: QueueQuery }[] = [];
  private readonly inflight = new Map<number, Batch<Origin>>();
  private nextBatch = 1;

  constructor(options: CommandBatcherOptions<Origin>) {
    this.options = options;
  }

  get inflightBatches(): number {
    return this.inflight.size;
  }

  get hasQueued(): boolean {
    return this.queued.length > 0 || this.queries.length > 0;
  }

  /**
   * Queues `command` for the next flush, or answers why it can never fit in an entry (then it is
   * not queued): its size is worked out once, for both.
   */
  submit(origin: Origin, command: QueueCommand): FalconError | null {
    const bytes = commandBytes(command);
    if (bytes > this.options.entryBytesMax) {
      return falconError('INVALID_ARGUMENT', `the request needs about ${bytes} bytes in one log entry, more than the ${this.options.entryBytesMax} an entry holds; split it into smaller requests`);
    }
    const jobs = command.type === 'enqueue' ? command.jobs.length : 0;
    if (jobs > jobsPerEntryMax) return falconError('INVALID_ARGUMENT', `an enqueue holds at most ${jobsPerEntryMax} jobs; it has ${jobs}`);
    this.queued.push({ origin, command, bytes, jobs });
    return null;
  }

  query(origin: Origin, query: QueueQuery): void {
    this.queries.push({ origin, query });
  }

  /** Sends everything queued this turn: commands in entries that fit, queries in one read. */
  flush(): void {
    const nowMs = this.options.nowMs();
    let start = 0;
    while (start < this.queued.length) {
      let end = start;
      let bytes = 0;
      let jobs = 0;
      while (end < this.queued.length) {
        const next = this.queued[end] as QueuedCommand<Origin>;
        if (end > start && (bytes + next.bytes > this.options.entryBytesMax || jobs + next.jobs > jobsPerEntryMax)) break;
        bytes += next.bytes;
        jobs += next.jobs;
        end += 1;
      }
      this.propose(this.queued.slice(start, end), nowMs);
      start = end;
    }
    this.queued = [];
    if (this.queries.length > 0) {
      const batch = this.nextBatch++;
      const queries = this.queries;
      this.queries = [];
      this.inflight.set(batch, { origins: queries.map((query) => query.origin), kind: 'read', deadlineMs: nowMs + this.options.answerTimeoutMs, answered: 0 });
      this.options.send({ type: 'read', batch, nowMs, queries: queries.map((query) => query.query) });
    }
  }

  private propose(commands: readonly QueuedCommand<Origin>[], nowMs: number): void {
    const batch = this.nextBatch++;
    const data = encodeQueueEntry({ v: queueFormatVersion, atMs: nowMs, commands: commands.map((queued) => queued.command), leaseBytesMax: this.options.entryBytesMax });
    this.inflight.set(batch, { origins: commands.map((queued) => queued.origin), kind: 'propose', deadlineMs: nowMs + this.options.answerTimeoutMs, answered: 0 });
    this.options.send({ type: 'propose', batch, data });
  }

  /** An answer of the Replicator; false when it is not about a batch (leadership, ready queues). */
  onReplicatorMessage(message: ToDispatcherFromReplicator): boolean {
    switch (message.type) {
      case 'applied':
        this.settle(message.batch, (origin, position) => this.options.onResult(origin, message.results[position] ?? falconError('INTERNAL', `entry ${message.index} answered ${message.results.length} results for more commands`)));
        return true;
      case 'refused':
        this.settle(message.batch, (origin) => this.options.onResult(origin, message.error));
        return true;
      case 'readDone':
        this.onReadPart(message);
        return true;
      case 'readRefused':
        this.settle(message.batch, (origin) => this.options.onQueryResult(origin, message.error));
        return true;
      default:
        return false;
    }
  }

  /** A part of a read's answers: its queries are answered; the last part settles the read. A `get`
   *  of an unknown job answers null: only a missing position is a short answer. */
  private onReadPart(message: Extract<ToDispatcherFromReplicator, { type: 'readDone' }>): void {
    const pending = this.inflight.get(message.batch);
    if (pending === undefined) return; // answered already, by its deadline
    for (let offset = 0; offset < message.results.length; offset += 1) {
      const origin = pending.origins[message.from + offset];
      if (origin !== undefined) this.options.onQueryResult(origin, message.results[offset] as QueryResult);
    }
    pending.answered = message.from + message.results.length;
    if (!message.done) return;
    this.inflight.delete(message.batch);
    for (let position = pending.answered; position < pending.origins.length; position += 1) {
      this.options.onQueryResult(pending.origins[position] as Origin, falconError('INTERNAL', 'a read answered fewer results than it had queries'));
    }
  }

  /** Answers UNAVAILABLE every batch past its deadline. Called from a timer. */
  expire(nowMs: number): void {
    for (const [batch, pending] of this.inflight) {
      if (pending.deadlineMs > nowMs) continue;
      const error = falconError('UNAVAILABLE', `no answer from the replicated log within ${this.options.answerTimeoutMs} ms; the request's outcome is unknown, retry it`);
      this.settle(batch, (origin) => (pending.kind === 'read' ? this.options.onQueryResult(origin, error) : this.options.onResult(origin, error)));
    }
  }

  private settle(batch: number, answer: (origin: Origin, position: number) => void): void {
    const pending = this.inflight.get(batch);
    if (pending === undefined) return; // answered already, by its deadline
    this.inflight.delete(batch);
    // A read answered in part before its deadline: only the queries not yet answered get `answer`.
    for (let position = pending.answered; position < pending.origins.length; position++) answer(pending.origins[position] as Origin, position);
  }
}
