/**
 * A sim node's Dispatcher side: the production `CommandBatcher` (one entry per turn of commands,
 * one ReadIndex round per turn of reads, an UNAVAILABLE answer at its deadline), joined to the
 * node's production `QueueService` by two simulated rings. What the Dispatcher adds around the
 * batcher on a real node (client framing, long polls) is left out; what decides outcomes is kept:
 * a node that does not lead as far as its last `leadership` message says answers NOT_LEADER at
 * once, as src/dispatch/dispatcher.ts does.
 *
 * Every answer carries the index of the entry that answered it (from the `applied` message the
 * batcher settles, read as it settles), so that the checker knows from which index on every node
 * must hold an acknowledged job.
 *
 * Invariants: each ring delivers in order (a message is never due before the one sent before it);
 * both rings die with the node (their events belong to its incarnation), and so do the batches in
 * flight: their clients time out and retry.
 *
 * Runs on: the simulator.
 */
import { notLeadingError } from '../../src/protocol/not-leading.js';
import { type FalconError } from '../../src/errors.js';
import { CommandBatcher } from '../../src/dispatch/command-batcher.js';
import type { QueryResult, QueueQuery, ToDispatcherFromReplicator, ToReplicatorFromDispatcher } from '../../src/protocol/dispatch.js';
import type { QueueCommand } from '../../src/queue/commands.js';
import type { CommandResult } from '../../src/queue/results.js';
import type { QueueService } from '../../src/replication/queue-service.js';

/** What a client gets back for one attempt of a request. */
export type SimAnswer =
  | { readonly kind: 'command'; readonly result: CommandResult; readonly index: number | null }
  | { readonly kind: 'query'; readonly result: QueryResult | FalconError };

export interface SimDispatchHost<Origin> {
  readonly nodeId: string;
  nowUs(): number;
  /** The node's own clock (ms since the epoch): stamps its entries and reads. */
  nowMs(): number;
  /** Runs `run` at `atUs` on this node's incarnation. */
  at(atUs: number, run: () => void): void;
  /** Microseconds a ring hop takes, and a turn lasts (commands arriving within one share an entry). */
  ringDelayUs(): number;
  turnUs(): number;
  /** The answer leaves the node (the simulation carries it back to the client). */
  answer(origin: Origin, answer: SimAnswer): void;
  /** A read is handed to the Replicator as batch `batch` (for the linearizability check). */
  onRead(batch: number): void;
  readonly entryBytesMax: number;
  readonly answerTimeoutMs: number;
}

export class SimDispatcher<Origin> {
  private readonly host: SimDispatchHost<Origin>;
  private readonly batcher: CommandBatcher<Origin>;
  service: QueueService | null = null;
  private leader: string | null = null;
  private stepping = false;
  /** The index of the `applied` message being settled, while the batcher answers its origins. */
  private settlingIndex: number | null = null;
  private flushScheduled = false;
  private toReplicatorDueUs = 0;
  private toDispatcherDueUs = 0;

  constructor(host: SimDispatchHost<Origin>) {
    this.host = host;
    this.batcher = new CommandBatcher<Origin>({
      send: (message) => this.toReplicator(message),
      onResult: (origin, result) => host.answer(origin, { kind: 'command', result, index: this.settlingIndex }),
      onQueryResult: (origin, result) => host.answer(origin, { kind: 'query', result }),
      nowMs: () => host.nowMs(),
      entryBytesMax: host.entryBytesMax,
      answerTimeoutMs: host.answerTimeoutMs,
    });
  }

  private get leading(): boolean {
    return this.leader === this.host.nodeId && !this.stepping;
  }

  private notLeading(): FalconError {
    return notLeadingError(this.host.nodeId, this.leader, this.stepping);
  }

  submit(origin: Origin, command: QueueCommand): void {
    if (!this.leading) {
      this.host.answer(origin, { kind: 'command', result: this.notLeading(), index: null });
      return;
    }
    const refusal = this.batcher.submit(origin, command);
    if (refusal !== null) {
      this.host.answer(origin, { kind: 'command', result: refusal, index: null });
      return;
    }
    this.scheduleFlush();
  }

  query(origin: Origin, query: QueueQuery): void {
    if (!this.leading) {
      this.host.answer(origin, { kind: 'query', result: this.notLeading() });
      return;
    }
    this.batcher.query(origin, query);
    this.scheduleFlush();
  }

  /** From a timer: batches past their deadline are answered UNAVAILABLE. */
  tick(): void {
    this.batcher.expire(this.host.nowMs());
  }

  /** The QueueService's side of the ring: delivered in order after a hop. */
  fromReplicator(message: ToDispatcherFromReplicator): void {
    this.toDispatcherDueUs = Math.max(this.toDispatcherDueUs, this.host.nowUs() + this.host.ringDelayUs());
    this.host.at(this.toDispatcherDueUs, () => this.onReplicatorMessage(message));
  }

  private onReplicatorMessage(message: ToDispatcherFromReplicator): void {
    this.settlingIndex = message.type === 'applied' ? message.index : null;
    const settled = this.batcher.onReplicatorMessage(message);
    this.settlingIndex = null;
    if (settled) return;
    if (message.type === 'leadership') {
      this.leader = message.leader;
      this.stepping = message.stepping;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.host.at(this.host.nowUs() + this.host.turnUs(), () => {
      this.flushScheduled = false;
      if (this.batcher.hasQueued) this.batcher.flush();
    });
  }

  private toReplicator(message: ToReplicatorFromDispatcher): void {
    this.toReplicatorDueUs = Math.max(this.toReplicatorDueUs, this.host.nowUs() + this.host.ringDelayUs());
    this.host.at(this.toReplicatorDueUs, () => {
      const service = this.service;
      if (service === null) return;
      if (message.type === 'propose') service.onPropose(message);
      else {
        this.host.onRead(message.batch);
        service.onRead(message);
      }
    });
  }
}
