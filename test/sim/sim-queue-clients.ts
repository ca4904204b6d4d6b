/**
 * The simulator's queue clients, seeded: producers that enqueue (jobs with idempotency keys, a
 * producer id with a sequence number per enqueue) and workers that pull, ack, sometimes nack or
 * extend, sometimes stall past their lease and ack late with what is by then a stale token; a few
 * linearizable reads of acknowledged jobs and cancels. What each does with a job is in
 * sim-queue-actors.ts; this file carries requests to nodes and answers back.
 *
 * A request goes to a node (the leader some node believes in, most of the time, else any node
 * up) over a client link that may lose it or its answer. An attempt unanswered within
 * `workload.requestTimeoutUs`, or answered NOT_LEADER or UNAVAILABLE, is retried with the same
 * identity (the same command: keys, producer sequence, token) on another node; the state
 * machine's deduplication makes that safe, which the checker verifies. Only the answer to the
 * latest attempt counts (an older one is a connection the client gave up on). As the SDK does
 * (RequestAttempts), once an attempt may have taken effect (unanswered in time, UNAVAILABLE
 * without `outcome: noEffect`, a node's own code) the request is in doubt, and every later attempt
 * of an enqueue with a producer stamp is marked `retry: true`; NOT_LEADER, a full uncommitted
 * window and `noEffect` say the attempt did nothing. So is every later attempt of a sequence the
 * producer sent a higher one after (EnqueueBatcher's rule): it must not open a new session below it.
 *
 * Invariants: a request is pending until settled, at most `workload.outstandingMax` of the bounded
 * kinds at once; requests stop with the fault phase (the liveness phase runs without clients).
 *
 * Runs on: the simulator.
 */
import { errorCodes, isFalconError } from '../../src/errors.js';
import type { QueryResult, QueueQuery } from '../../src/protocol/dispatch.js';
import type { ProducerStamp, QueueCommand } from '../../src/queue/commands.js';
import type { CommandResult } from '../../src/queue/results.js';
import type { SeededRandom } from '../../src/raft/random.js';
import { fail } from './sim-checker.js';
import type { SimAnswer } from './sim-dispatch.js';
import type { SimNode } from './sim-node.js';
import type { SimOptions } from './sim-options.js';
import type { QueueChecks } from './sim-queue-checks.js';
import { QueueActors } from './sim-queue-actors.js';
import type { EventQueue } from './event-queue.js';

/** The first of the node-internal error codes (src/errors.ts). */
const nodeCodesFrom = 100;
/** Attempts of one request at most: past that the client gives up (the outcome stays unknown). */
const attemptsMax = 40;
/** Microseconds a client waits before retrying a refused attempt: a leader may be on its way. */
const retryPauseUsMax = 20_000;

export interface ClientRequest {
  readonly id: number;
  readonly command: QueueCommand | null;
  readonly query: QueueQuery | null;
  /** Counted against `workload.outstandingMax`. */
  readonly bounded: boolean;
  /** The settled answer of a command (an operating error included), or of a query. */
  readonly onCommand: (result: CommandResult, index: number | null) => void;
  readonly onQuery: (result: QueryResult, nodeId: string) => void;
  /** The client gave up on it (attempts spent, or the fault phase ended): its outcome is unknown. */
  readonly onAbandoned: () => void;
  attempt: number;
  deadlineUs: number;
  nodeIndex: number;
  /** The latest attempt left and no answer to it came back yet. */
  awaiting: boolean;
  /** An attempt may have taken effect: later attempts of a sequenced enqueue say `retry`. */
  inDoubt: boolean;
  /** The producer sent a higher sequence while this one waited: later attempts say `retry` too. */
  laterSent: boolean;
}

/** What a sender gives for a new request; the rest is the clients' bookkeeping. */
export type RequestFields = Omit<ClientRequest, 'id' | 'attempt' | 'deadlineUs' | 'nodeIndex' | 'awaiting' | 'inDoubt' | 'laterSent'>;

/** One attempt of a request, as the node's Dispatcher knows it. */
export interface ClientAttempt {
  readonly request: ClientRequest;
  readonly attempt: number;
}

/** What the clients need of the simulation. */
export interface ClientHost {
  readonly options: SimOptions;
  readonly random: SeededRandom;
  readonly nodes: readonly SimNode[];
  readonly queue: EventQueue;
  readonly queueChecks: QueueChecks;
  readonly faultPhase: boolean;
  nowUs(): number;
  log(line: string): void;
}

export interface ClientStats {
  requests: number;
  attempts: number;
  timeouts: number;
  answersLost: number;
}

export class SimQueueClients {
  private readonly host: ClientHost;
  readonly actors: QueueActors;
  private readonly pending = new Map<number, ClientRequest>();
  private boundedPending = 0;
  private nextId = 1;
  readonly stats: ClientStats = { requests: 0, attempts: 0, timeouts: 0, answersLost: 0 };

  constructor(host: ClientHost) {
    this.host = host;
    this.actors = new QueueActors(host, this);
  }

  get boundedFull(): boolean {
    return this.boundedPending >= this.host.options.workload.outstandingMax;
  }

  /** Sends a new request (to `target` when given); false when the bounded ones are at their maximum. */
  send(fields: RequestFields, target: SimNode | null = null): boolean {
    if (fields.bounded && this.boundedFull) return false;
    const request: ClientRequest = { ...fields, id: this.nextId++, attempt: 0, deadlineUs: 0, nodeIndex: -1, awaiting: false, inDoubt: false, laterSent: false };
    const stamp = producerStamp(request.command);
    if (stamp !== undefined) {
      for (const earlier of this.pending.values()) {
        const earlierStamp = producerStamp(earlier.command);
        if (earlierStamp?.id === stamp.id && earlierStamp.sequence < stamp.sequence) earlier.laterSent = true;
      }
    }
    this.pending.set(request.id, request);
    if (request.bounded) this.boundedPending++;
    this.stats.requests++;
    this.sendAttempt(request, target);
    return true;
  }

  /** Attempts past their deadline are retried; called every tick. */
  expire(): void {
    const nowUs = this.host.nowUs();
    for (const request of this.pending.values()) {
      if (request.deadlineUs > nowUs) continue;
      this.stats.timeouts++;
      // No answer in time: the attempt (or its answer) may be lost, or the node still at it.
      if (request.awaiting) request.inDoubt = true;
      this.retry(request);
    }
  }

  private sendAttempt(request: ClientRequest, target: SimNode | null): void {
    const node = target ?? this.pickNode(request.nodeIndex);
    if (node === null) {
      // Nobody is up: try again after a while.
      request.deadlineUs = this.host.nowUs() + this.host.options.tickUs;
      return;
    }
    request.attempt++;
    request.nodeIndex = node.index;
    request.deadlineUs = this.host.nowUs() + this.host.options.workload.requestTimeoutUs;
    request.awaiting = true;
    this.stats.attempts++;
    const attempt: ClientAttempt = { request, attempt: request.attempt };
    const command = request.inDoubt || request.laterSent ? markedRetry(request.command) : request.command;
    if (this.linkLoses()) return;
    this.host.queue.schedule(this.host.nowUs() + this.linkDelayUs(), node.index, node.incarnation, () => {
      const dispatch = node.dispatch;
      if (dispatch === null) return;
      if (command !== null) dispatch.submit(attempt, command);
      else if (request.query !== null) dispatch.query(attempt, request.query);
    });
  }

  /** The leader some up node believes in (70%), else any node up, preferably not `avoid`. */
  private pickNode(avoid: number): SimNode | null {
    const random = this.host.random;
    const up = this.host.nodes.filter((node) => node.dispatch !== null);
    if (up.length === 0) return null;
    const believed = random.pick(up).core?.leader ?? null;
    if (believed !== null && random.chance(0.7)) {
      const leader = this.host.nodes.find((node) => node.id === believed);
      if (leader !== undefined && leader.dispatch !== null) return leader;
    }
    const others = up.filter((node) => node.index !== avoid);
    return random.pick(others.length > 0 ? others : up);
  }

  private linkLoses(): boolean {
    return this.host.random.chance(this.host.options.network.dropRate);
  }

  private linkDelayUs(): number {
    const network = this.host.options.network;
    return this.host.random.between(network.delayUsMin, network.delayUsMax);
  }

  /** An answer left `node` for `attempt`: it reaches the client after a hop, unless lost. */
  onAnswer(node: SimNode, attempt: ClientAttempt, answer: SimAnswer): void {
    if (this.linkLoses()) {
      this.stats.answersLost++;
      return;
    }
    this.host.queue.schedule(this.host.nowUs() + this.linkDelayUs(), -1, 0, () => this.receive(node.id, attempt, answer));
  }

  private receive(nodeId: string, attempt: ClientAttempt, answer: SimAnswer): void {
    const { request } = attempt;
    if (attempt.attempt !== request.attempt || !this.pending.has(request.id)) return;
    request.awaiting = false;
    const result = answer.result;
    if (isFalconError(result)) {
      // A node's own codes (100 up) reach a real client as INTERNAL, which it treats as UNAVAILABLE;
      // a leader whose uncommitted window is full did nothing and asks for a retry.
      const windowFull = result.code === 'RESOURCE_EXHAUSTED' && result.detail?.['limit'] === 'uncommittedBytesMax';
      const nodeCode = errorCodes[result.code] >= nodeCodesFrom;
      if ((result.code === 'UNAVAILABLE' && result.detail?.['outcome'] !== 'noEffect') || nodeCode) request.inDoubt = true;
      if (result.code === 'NOT_LEADER' || result.code === 'UNAVAILABLE' || windowFull || nodeCode) {
        request.deadlineUs = this.host.nowUs() + this.host.random.between(1_000, retryPauseUsMax);
        return;
      }
      if (answer.kind === 'query') fail(`a read on ${nodeId} answered ${result.code}: ${result.message}`);
    }
    this.settle(request);
    if (answer.kind === 'command') request.onCommand(answer.result, answer.index);
    else if (!isFalconError(answer.result)) request.onQuery(answer.result, nodeId);
  }

  private retry(request: ClientRequest): void {
    if (!this.host.faultPhase || request.attempt >= attemptsMax) {
      this.settle(request);
      request.onAbandoned();
      return;
    }
    this.sendAttempt(request, null);
  }

  private settle(request: ClientRequest): void {
    if (!this.pending.delete(request.id)) return;
    if (request.bounded) this.boundedPending--;
  }
}

function producerStamp(command: QueueCommand | null): ProducerStamp | undefined {
  return command?.type === 'enqueue' ? command.producer : undefined;
}

/** `command` as a resend whose earlier attempt may have taken effect: an enqueue with a producer
 *  stamp says `retry` (docs/protocol.md §6); any other command is sent as it is. */
function markedRetry(command: QueueCommand | null): QueueCommand | null {
  if (command?.type !== 'enqueue' || command.producer === undefined) return command;
  return { ...command, producer: { ...command.producer, retry: true } };
}
