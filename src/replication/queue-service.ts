/**
 * The Replicator's side of the dispatch and registry links (protocol/dispatch.ts,
 * protocol/registry.ts): proposes the Dispatcher's
 * encoded entries, answers each batch once its entry is applied (with the state machine's results)
 * or known lost, serves linearizable reads at a confirmed ReadIndex, tells the Dispatcher who
 * leads, and on the leader proposes the queue's own timer command (`expireLeases`, which also makes
 * due delayed jobs ready) when the state machine says something falls due. For the Registry: tells it
 * whether this node leads and which workers the state machine lists, and proposes `releaseWorker`
 * for a worker it says missed its TTL.
 *
 * How a batch's fate is known: a proposal appended at (index, term) has the effect of the entry
 * that is applied at `index`. Same term: it is that entry, and the results are the batch's. Another
 * term: another leader's entry replaced it, and it had no effect (`refused`, UNAVAILABLE, which a
 * client may retry). A snapshot installed past `index` hides which: `refused` with the outcome
 * unknown (a client retries with its idempotency key or producer sequence, which the state
 * machine deduplicates).
 *
 * Invariants: every `propose` and `read` gets exactly one answer while this Replicator runs;
 * pending proposals are keyed by index (one entry per proposal); reads are answered only once the
 * applied index reaches their confirmed index.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { errorCodes, falconError, type FalconError } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { JobState, EntryResults, JobPage, JobView, QueueStats, WorkerView } from '../queue/results.js';
import { notLeadingError } from '../protocol/not-leading.js';
import type { ToRegistryFromReplicator } from '../protocol/registry.js';
import type { ProposeMessage, QueryResult, QueueQuery, ReadMessage, ToDispatcherFromReplicator } from '../protocol/dispatch.js';
import { encodeQueueEntry } from '../queue/entry-codec.js';
import { queueFormatVersion, type QueueCommand } from '../queue/commands.js';
import { entryTypes } from '../raft/entry-types.js';
import type { ProposalPlacement } from '../raft/raft-node.js';
import type { ReadState } from '../raft/read-index.js';
import type { Outcome } from '../errors.js';

/** What the service reads of the queue's state machine (src/queue/queue-state-machine.ts). */
/** The detail of an UNAVAILABLE the node knows had no effect (docs/protocol.md §5): a client need
 *  not count the attempt as one that may have been applied. */
const noEffect = { outcome: 'noEffect' } as const;

export interface QueueReads {
  readonly appliedIndex: number;
  getJob(id: number): JobView | undefined;
  listJobs(queue: string, state: JobState, afterId: number, limit: number): JobPage;
  queueStats(queue: string, nowMs: number): QueueStats | undefined;
  allQueueStats(nowMs: number): QueueStats[];
  workers(): WorkerView[];
  /** When the leader should next propose `expireLeases`: the earliest delayed job's run time or
   *  lease deadline (not before the grace of `graceMs` after the term's first entry), or null. */
  nextDueMs(graceMs: number): number | null;
  /** Queues that gained ready jobs since the last call. */
  takeReadyQueues(): readonly string[];
  /** Grows whenever a worker is registered or released. */
  readonly workersVersion: number;
}

/** What the service needs of the replica loop. */
export interface QueueServiceLoop {
  propose(entries: readonly { type: number; data: Uint8Array }[]): Outcome<ProposalPlacement>;
  readIndex(context: string): Outcome<null>;
}

export interface QueueServiceOptions {
  /** This node's id, for the NOT_LEADER message. */
  readonly nodeId: string;
  readonly loop: QueueServiceLoop;
  readonly queue: QueueReads;
  readonly send: (message: ToDispatcherFromReplicator) => void;
  readonly sendToRegistry: (message: ToRegistryFromReplicator) => void;
  /** The leader's clock (ms since the epoch): stamps the entries this service proposes. */
  readonly nowMs: () => number;
  /** A uniform draw in [0, 2^32): the jitter seeds of the entries this service proposes. */
  readonly randomUint32: () => number;
  /** Leases may not expire sooner than this after a leader change: one election timeout. */
  readonly leaseGraceMs: number;
  /** Estimated bytes one read answer message may carry (a ring message holds at most half its ring). */
  readonly answerBytesMax: number;
}

interface PendingProposal {
  readonly batch: number;
  readonly term: number;
}

/** A read waiting for its ReadIndex, then for the applied index to reach it (and to reach every
 *  entry the Dispatcher proposed before the read: a client's pipelined ack then get sees its ack). */
interface PendingRead {
  readonly message: ReadMessage;
  readonly afterIndex: number;
  index: number | null;
}

/** The context of a read in the core: unique per read, and told from other users' contexts. */
const readContextPrefix = 'dispatch:';
/**
 * After the core refused this service's own `expireLeases` (a leadership transfer under way, the
 * uncommitted-bytes bound while followers are away), the next attempt waits this long. Every
 * attempt asks the loop for a cycle, whose end asks again: without a pause that is a busy spin of
 * the Replicator for as long as the refusal lasts. The loop's next tick retries.
 */
const expiryRetryPauseMs = 10;

/**
 * The core's refusal as a client sees it (docs/protocol.md §5: codes of 100 and up never reach a
 * client as they are): a full uncommitted window is RESOURCE_EXHAUSTED (retry shortly, nothing was
 * done), anything else node-internal is UNAVAILABLE.
 */
function clientErrorOf(error: FalconError): FalconError {
  if (errorCodes[error.code] < 100) return error;
  if (error.code === 'PROPOSAL_DROPPED') {
    return falconError('RESOURCE_EXHAUSTED', `the leader's uncommitted writes are at their bound; nothing was done, retry shortly (${error.message})`, { limit: 'uncommittedBytesMax' });
  }
  return falconError('UNAVAILABLE', `the node cannot take the request now; nothing was done, retry (${error.code}: ${error.message})`, noEffect);
}

/** Room for a result's fields besides its bytes, and per listed job or queue: generous estimates. */
const answerFieldBytes = 1024;
const answerRowBytes = 512;

/** An estimate of `result`'s encoded size, never below it for the shapes reads answer. */
function answerBytesOf(result: QueryResult): number {
  if (result === null) return 16;
  if (Array.isArray(result)) return answerFieldBytes + result.length * answerRowBytes;
  if ('payload' in result) {
    const job = result as JobView;
    return answerFieldBytes + job.payload.byteLength + (job.result?.byteLength ?? 0) + (job.lastError?.length ?? 0) * 3 + job.history.length * 64 + (job.key?.length ?? 0) * 3;
  }
  if ('jobs' in result) return answerFieldBytes + (result as JobPage).jobs.length * answerRowBytes;
  return answerFieldBytes;
}

export class QueueService {
  private readonly options: QueueServiceOptions;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  /** The index of the latest entry proposed for the Dispatcher. */
  private lastProposedIndex = 0;
  private leading = false;
  private leader: string | null = null;
  private term = 0;
  private stepping = false;
  /** The index of this service's own `expireLeases` while it is uncommitted (one at a time). */
  private expiryIndex: number | null = null;
  /** No `expireLeases` is proposed before this time (ms): the core refused the last one. */
  private expiryRetryAtMs = 0;
  /** The workers version and leadership the Registry was last told about (-1: never told). */
  private registryToldVersion = -1;
  private registryToldLeading = false;
  private registryToldTerm = -1;

  constructor(options: QueueServiceOptions) {
    this.options = options;
  }

  /** Pending proposals and reads, for /status. */
  get pending(): { readonly proposals: number; readonly reads: number } {
    return { proposals: this.proposals.size, reads: this.reads.size };
  }

  onPropose(message: ProposeMessage): void {
    if (!this.leading || this.stepping) {
      this.options.send({ type: 'refused', batch: message.batch, error: this.notLeader(), leader: this.leader });
      return;
    }
    const outcome = this.options.loop.propose([{ type: entryTypes.normal, data: message.data }]);
    if (!outcome.ok) {
      this.options.send({ type: 'refused', batch: message.batch, error: clientErrorOf(outcome.error), leader: this.leader });
      return;
    }
    const placement = outcome.value;
    if (placement.kind === 'forwarded') {
      // Not the leader after all (it stepped down this turn): the entry went to the leader, whose
      // index this node does not learn. The client's retry with the same identity is deduplicated.
      this.options.send({ type: 'refused', batch: message.batch, error: falconError('UNAVAILABLE', `leadership moved to ${placement.leader} while the request was proposed; its outcome is unknown, retry it`), leader: placement.leader });
      return;
    }
    this.proposals.set(placement.firstIndex, { batch: message.batch, term: placement.term });
    this.lastProposedIndex = placement.lastIndex;
  }

  onRead(message: ReadMessage): void {
    if (!this.leading) {
      this.options.send({ type: 'readRefused', batch: message.batch, error: this.notLeader(), leader: this.leader });
      return;
    }
    const context = `${readContextPrefix}${message.batch}`;
    const outcome = this.options.loop.readIndex(context);
    if (!outcome.ok) {
      this.options.send({ type: 'readRefused', batch: message.batch, error: clientErrorOf(outcome.error), leader: this.leader });
      return;
    }
    this.reads.set(context, { message, afterIndex: this.lastProposedIndex, index: null });
  }

  /** The core confirmed reads: each is served once the applied index reaches its index. */
  onReadStates(readStates: readonly ReadState[]): void {
    for (const { context, index } of readStates) {
      const read = this.reads.get(context);
      if (read !== undefined) read.index = index;
    }
    this.serveReads();
  }

  /** Entries were applied with their results: answers the batches they settle. */
  onApplied(entries: readonly LogEntry[], results: readonly unknown[]): void {
    // The Registry hears of a worker's registration before its client can: the answer below
    // reaches the client, whose first beat may come at once.
    this.tellRegistry(this.leading, this.term);
    for (let position = 0; position < entries.length; position++) {
      const entry = entries[position] as LogEntry;
      if (entry.index === this.expiryIndex) this.expiryIndex = null;
      const proposal = this.proposals.get(entry.index);
      if (proposal === undefined) continue;
      this.proposals.delete(entry.index);
      if (entry.term === proposal.term) {
        this.options.send({ type: 'applied', batch: proposal.batch, index: entry.index, results: results[position] as EntryResults });
      } else {
        this.options.send({ type: 'refused', batch: proposal.batch, error: falconError('UNAVAILABLE', `the request's log entry ${entry.index} was replaced by a new leader's before it committed: it had no effect, retry it`, noEffect), leader: this.leader });
      }
    }
    const queues = this.options.queue.takeReadyQueues();
    if (queues.length > 0) this.options.send({ type: 'readyQueues', queues });
    this.serveReads();
  }

  /** A snapshot from the leader replaced the state: what was pending at or below it is unknown. */
  onSnapshotRestored(index: number): void {
    for (const [pendingIndex, proposal] of this.proposals) {
      if (pendingIndex > index) continue;
      this.proposals.delete(pendingIndex);
      this.options.send({ type: 'refused', batch: proposal.batch, error: falconError('UNAVAILABLE', `this node installed a snapshot past the request's log entry ${pendingIndex}; its outcome is unknown, retry it`), leader: this.leader });
    }
    if (this.expiryIndex !== null && this.expiryIndex <= index) this.expiryIndex = null;
    this.options.queue.takeReadyQueues();
  }

  /**
   * After every turn: leadership news for the Dispatcher, reads the core forgot when leadership
   * moved, and on the leader the timer command when something fell due.
   */
  afterTurn(role: string, leader: string | null, term: number): void {
    const leading = role === 'leader';
    if (leader !== this.leader || term !== this.term || leading !== this.leading) {
      if (this.leading && !leading) this.refuseReads();
      this.leading = leading;
      this.leader = leader;
      this.term = term;
      this.options.send({ type: 'leadership', leader, term, stepping: this.stepping });
    }
    if (leading && !this.stepping) this.proposeExpiryWhenDue();
    this.tellRegistry(leading, term);
  }

  /** The Registry learns of a new leadership, a lost one, or a changed list of workers. */
  private tellRegistry(leading: boolean, term: number): void {
    const version = this.options.queue.workersVersion;
    if (version === this.registryToldVersion && leading === this.registryToldLeading && term === this.registryToldTerm) return;
    this.registryToldVersion = version;
    this.registryToldLeading = leading;
    this.registryToldTerm = term;
    const workerIds = leading ? this.options.queue.workers().map((worker) => worker.workerId) : [];
    this.options.sendToRegistry({ type: 'workers', leading, term, workerIds });
  }

  /** The Registry says `workerId` missed its TTL: on the leader, propose its release. */
  onReleaseWorker(workerId: string): void {
    if (!this.leading || this.stepping) return; // the next leader's Registry starts its TTL afresh
    this.proposeOwn({ type: 'releaseWorker', workerId, reason: 'ttlExpired', jitterSeed: this.options.randomUint32() });
  }

  /** Proposes one command of this node's own (not a client's): nobody waits for its answer. */
  private proposeOwn(command: QueueCommand): number | null {
    const data = encodeQueueEntry({ v: queueFormatVersion, atMs: this.options.nowMs(), commands: [command] });
    const outcome = this.options.loop.propose([{ type: entryTypes.normal, data }]);
    return outcome.ok && outcome.value.kind === 'appended' ? outcome.value.firstIndex : null;
  }

  /** The graceful stop started: refuse new writes, let the Dispatcher know. */
  stepDown(): void {
    if (this.stepping) return;
    this.stepping = true;
    this.options.send({ type: 'leadership', leader: this.leader, term: this.term, stepping: true });
  }

  private proposeExpiryWhenDue(): void {
    if (this.expiryIndex !== null) return;
    const nowMs = this.options.nowMs();
    if (nowMs < this.expiryRetryAtMs) return;
    const dueMs = this.options.queue.nextDueMs(this.options.leaseGraceMs);
    if (dueMs === null || dueMs > nowMs) return;
    this.expiryIndex = this.proposeOwn({ type: 'expireLeases', graceMs: this.options.leaseGraceMs, jitterSeed: this.options.randomUint32() });
    if (this.expiryIndex === null) this.expiryRetryAtMs = nowMs + expiryRetryPauseMs;
  }

  private serveReads(): void {
    const applied = this.options.queue.appliedIndex;
    for (const [context, read] of this.reads) {
      if (read.index === null || read.index > applied || read.afterIndex > applied) continue;
      this.reads.delete(context);
      this.answerRead(read.message);
    }
  }

  /**
   * Sends a read's answers in parts of at most `answerBytesMax` (estimated) each, so that every
   * part fits in one ring message; an answer too large for any part (a job whose payload and
   * result together pass the bound) is answered RESOURCE_EXHAUSTED instead.
   */
  private answerRead(message: ReadMessage): void {
    const bytesMax = this.options.answerBytesMax;
    let part: QueryResult[] = [];
    let partBytes = 0;
    let from = 0;
    for (let at = 0; at < message.queries.length; at += 1) {
      let result = this.answer(message.queries[at] as QueueQuery, message.nowMs);
      let bytes = answerBytesOf(result);
      if (bytes > bytesMax) {
        result = falconError('RESOURCE_EXHAUSTED', `the answer is about ${bytes} bytes, more than the ${bytesMax} one answer may carry between threads (a job's payload and result together)`, { limit: 'answerBytesMax' });
        bytes = answerBytesOf(result);
      }
      if (part.length > 0 && partBytes + bytes > bytesMax) {
        this.options.send({ type: 'readDone', batch: message.batch, from, results: part, done: false });
        from = at;
        part = [];
        partBytes = 0;
      }
      part.push(result);
      partBytes += bytes;
    }
    this.options.send({ type: 'readDone', batch: message.batch, from, results: part, done: true });
  }

  private answer(query: QueueQuery, nowMs: number): QueryResult {
    const queue = this.options.queue;
    switch (query.type) {
      case 'get':
        return queue.getJob(query.jobId) ?? null;
      case 'list':
        return queue.listJobs(query.queue, query.state, query.afterId, query.limit);
      case 'stats': {
        if (query.queue === null) return queue.allQueueStats(nowMs);
        const stats = queue.queueStats(query.queue, nowMs);
        return stats === undefined ? [] : [stats];
      }
      case 'workers':
        return queue.workers();
    }
  }

  private refuseReads(): void {
    for (const { message } of this.reads.values()) {
      this.options.send({ type: 'readRefused', batch: message.batch, error: falconError('UNAVAILABLE', 'leadership moved before the read was confirmed; retry it'), leader: this.leader });
    }
    this.reads.clear();
  }

  private notLeader(): FalconError {
    return notLeadingError(this.options.nodeId, this.leader, this.stepping);
  }
}
