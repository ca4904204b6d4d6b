/**
 * The Dispatcher's logic: client requests (protocol/client.ts, already checked) become queue
 * commands and reads (through the command batcher, one entry and one read per turn), and their
 * results become replies. Socket-free and clock-free (both injected), so that the same code runs
 * behind the client server (actors/dispatcher-role.ts) and in tests.
 *
 * What it decides:
 * - Access first, on whichever node gets the request (access-control.ts): when the cluster lists
 *   tokens, a connection's last hello must have brought a listed token whose role may make the
 *   request, else UNAUTHENTICATED or PERMISSION_DENIED, before any leader check, and before a
 *   request that failed its check is answered with its refusal (an InvalidRequest). A hello that
 *   fails its check ends the connection's role; one whose token is malformed is UNAUTHENTICATED.
 * - Only the leader takes requests (writes and reads); a follower answers NOT_LEADER with the
 *   leader's client address, which the SDK follows. `hello` is answered anywhere.
 * - Long polls: a pull that finds nothing ready waits (up to its `waitMs`) parked on its queue,
 *   and is proposed again when the Replicator says the queue gained ready jobs, or answered with
 *   no jobs at its deadline. A pull whose connection closed is forgotten.
 * - A hello with `leaderWaitMs` on a node that does not lead is held (held-hellos.ts) until the
 *   node leads or the wait is over.
 * - Heartbeats go to the Registry, which answers whether the worker is still registered.
 * - An unregister is proposed as the release of the worker (the command a TTL expiry proposes),
 *   and answered once applied; the Registry hears of it at once and stops the worker's TTL.
 *
 * Invariants: every request gets exactly one reply while its connection is open (a reply to a
 * closed connection is dropped by the connection); parked pulls and pending beats are bounded by
 * the connections' in-flight requests, which the client server bounds.
 *
 * Runs on: Dispatcher thread.
 */
import { falconError, isFalconError, type FalconError } from '../errors.js';
import type { JobDefaults, QueueLimits } from '../queue/commands.js';
import type { CommandResult, JobPage, JobView, QueueStats } from '../queue/results.js';
import type { QueryResult, ToDispatcherFromReplicator, ToReplicatorFromDispatcher } from '../protocol/dispatch.js';
import type { ToDispatcherFromRegistry, ToRegistryFromDispatcher } from '../protocol/registry.js';
import type { ClientReply, ClientRequest, PullRequest } from '../protocol/client.js';
import type { InvalidRequest } from '../protocol/client-validation.js';
import {
  commandOfRequest, getReply, helloReply, isCommandRequest, listLimitOf, listReply, replyOfCommandResult, statsReply, ttlReply,
  type CommandRequest,
} from '../protocol/client-commands.js';
import { errorReply, type LeaderAddress } from '../net/client-frames.js';
import { notLeadingError } from '../protocol/not-leading.js';
import { CommandBatcher } from './command-batcher.js';
import { AccessControl, type AccessGrant } from './access-control.js';
import { HeldHellos } from './held-hellos.js';

/** Where replies go: a client connection. */
export interface ReplyChannel {
  send(reply: ClientReply): boolean;
  readonly isClosing: boolean;
}

export interface DispatcherOptions {
  readonly nodeId: string;
  /** The client address of a node, for NOT_LEADER. */
  readonly leaderAddressOf: (nodeId: string) => LeaderAddress | undefined;
  readonly defaults: JobDefaults;
  readonly limits: QueueLimits;
  readonly leaseMsDefault: number;
  readonly workerTtlMs: number;
  /** Payload bytes one pull may take (its reply must fit in a ring message and a client frame). */
  readonly pullBytesMax: number;
  readonly entryBytesMax: number;
  readonly answerTimeoutMs: number;
  readonly toReplicator: (message: ToReplicatorFromDispatcher) => void;
  readonly toRegistry: (message: ToRegistryFromDispatcher) => void;
  readonly nowMs: () => number;
  /** A uniform draw in [0, 1). */
  readonly random: () => number;
  /** A fresh producer id for a hello that brings none. */
  readonly newProducerId: () => string;
  /** Who may make which request (default: open, every request allowed). */
  readonly access?: AccessControl;
}

interface Origin<Connection extends ReplyChannel> {
  readonly connection: Connection;
  readonly request: ClientRequest;
}

interface ParkedPull<Connection extends ReplyChannel> {
  readonly connection: Connection;
  readonly request: PullRequest;
  readonly deadlineMs: number;
}

export interface DispatcherCounters {
  requests: number;
  notLeader: number;
  pullsParked: number;
  pullsWoken: number;
  pullsTimedOut: number;
  /** Requests refused UNAUTHENTICATED (no token, or a hello with an unlisted one). */
  unauthenticated: number;
  /** Requests refused PERMISSION_DENIED (the token's role may not make them). */
  permissionDenied: number;
  /** Requests that failed their check (access answers them first, else their own refusal). */
  invalidRequests: number;
}

export class Dispatcher<Connection extends ReplyChannel> {
  readonly counters: DispatcherCounters = {
    requests: 0, notLeader: 0, pullsParked: 0, pullsWoken: 0, pullsTimedOut: 0, unauthenticated: 0, permissionDenied: 0, invalidRequests: 0,
  };
  private readonly options: DispatcherOptions;
  private readonly access: AccessControl;
  /** What each connection's last hello granted; absent: no role (or an open cluster). */
  private readonly grants = new WeakMap<Connection, AccessGrant>();
  private readonly batcher: CommandBatcher<Origin<Connection>>;
  private readonly producerIds = new WeakMap<Connection, string>();
  private readonly parked = new Map<string, ParkedPull<Connection>[]>();
  /** Heartbeats sent to the Registry, by beat number, with their deadline. */
  private readonly beats = new Map<number, Origin<Connection> & { readonly deadlineMs: number }>();
  /** A pull's deadline, fixed when it first parks, kept across wake-ups. */
  private readonly pullDeadlines = new WeakMap<PullRequest, number>();
  private readonly heldHellos = new HeldHellos<Connection>();
  private nextBeat = 1;
  private leader: string | null = null;
  private stepping = false;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.access = options.access ?? new AccessControl([]);
    this.batcher = new CommandBatcher<Origin<Connection>>({
      send: options.toReplicator,
      onResult: (origin, result) => this.onCommandResult(origin, result),
      onQueryResult: (origin, result) => this.onQueryResult(origin, result),
      nowMs: options.nowMs,
      entryBytesMax: options.entryBytesMax,
      answerTimeoutMs: options.answerTimeoutMs,
    });
  }

  private get leading(): boolean {
    return this.leader === this.options.nodeId && !this.stepping;
  }

  /** Parked long polls now. */
  get parkedPulls(): number {
    let count = 0;
    for (const pulls of this.parked.values()) count += pulls.length;
    return count;
  }

  get inflightBatches(): number {
    return this.batcher.inflightBatches;
  }

  /** Every request of one socket read, in order. Replies that need the log wait for the next `flush`. */
  onRequests(connection: Connection, requests: ReadonlyArray<ClientRequest | InvalidRequest>): void {
    for (const request of requests) {
      if (request.type === 'invalid') this.onInvalidRequest(connection, request);
      else this.onRequest(connection, request);
    }
  }

  /**
   * A request that failed its check. Access is judged first, as for any request, so that nothing
   * about a request is told to a connection that may not make it: with no role, UNAUTHENTICATED;
   * with a role that may not make the request it names, PERMISSION_DENIED. A hello that fails ends
   * the connection's role; its token, when malformed, is one the cluster does not list.
   */
  private onInvalidRequest(connection: Connection, request: InvalidRequest): void {
    this.counters.requests += 1;
    this.counters.invalidRequests += 1;
    let refusal: FalconError | undefined;
    if (request.requestType === 'hello') {
      this.grants.delete(connection);
      const grant = this.access.authenticate(request.token);
      if (isFalconError(grant)) refusal = grant;
    } else {
      refusal = this.access.authorize(this.grants.get(connection), request.requestType);
    }
    if (refusal !== undefined) this.refuseAccess(connection, request.id, refusal);
    else connection.send(errorReply(request.id, request.refusal));
  }

  private onRequest(connection: Connection, request: ClientRequest): void {
    this.counters.requests += 1;
    if (request.type === 'hello') {
      if (!this.onHelloToken(connection, request.id, request.token)) return;
      this.producerIds.set(connection, request.producerId ?? this.producerIds.get(connection) ?? this.options.newProducerId());
      const waitMs = request.leaderWaitMs ?? 0;
      if (waitMs > 0 && !this.leading) this.heldHellos.hold({ connection, id: request.id, deadlineMs: this.options.nowMs() + waitMs });
      else this.answerHello(connection, request.id);
      return;
    }
    const refusal = this.access.authorize(this.grants.get(connection), request.type);
    if (refusal !== undefined) {
      this.refuseAccess(connection, request.id, refusal);
      return;
    }
    if (!this.leading) {
      this.refuseNotLeading(connection, request.id);
      return;
    }
    if (isCommandRequest(request)) {
      if (request.type === 'unregister') this.options.toRegistry({ type: 'unregister', workerId: request.workerId });
      this.submitCommand(connection, request);
      return;
    }
    switch (request.type) {
      case 'heartbeat': {
        const beat = this.nextBeat++;
        this.beats.set(beat, { connection, request, deadlineMs: this.options.nowMs() + this.options.answerTimeoutMs });
        this.options.toRegistry({ type: 'beat', request: beat, workerId: request.workerId, load: request.load ?? 0 });
        return;
      }
      case 'get':
        this.batcher.query({ connection, request }, { type: 'get', jobId: request.jobId });
        return;
      case 'list':
        this.batcher.query({ connection, request }, { type: 'list', queue: request.queue, state: request.state, afterId: request.afterId ?? 0, limit: listLimitOf(request.limit) });
        return;
      case 'stats':
        this.batcher.query({ connection, request }, { type: 'stats', queue: request.queue ?? null });
    }
  }

  /** Who this node is, who leads, the connection's producer session and what it may do. */
  private answerHello(connection: Connection, id: number): void {
    const access = this.access.isOpen ? 'open' : this.grants.get(connection)?.role ?? 'none';
    connection.send(helloReply(id, this.options.nodeId, this.leader, this.producerIds.get(connection) ?? this.options.newProducerId(), access));
  }

  /** Sets the connection's grant from its hello's token; false (answered) for an unlisted token. */
  private onHelloToken(connection: Connection, id: number, token: string | undefined): boolean {
    const grant = this.access.authenticate(token);
    if (grant === undefined) {
      this.grants.delete(connection);
      return true;
    }
    if (isFalconError(grant)) {
      this.grants.delete(connection);
      this.refuseAccess(connection, id, grant);
      return false;
    }
    this.grants.set(connection, grant);
    return true;
  }

  private refuseAccess(connection: Connection, id: number, refusal: FalconError): void {
    if (refusal.code === 'PERMISSION_DENIED') this.counters.permissionDenied += 1;
    else this.counters.unauthenticated += 1;
    connection.send(errorReply(id, refusal));
  }

  private submitCommand(connection: Connection, request: CommandRequest): void {
    const command = commandOfRequest(request, {
      defaults: this.options.defaults, limits: this.options.limits, leaseMsDefault: this.options.leaseMsDefault,
      producerId: this.producerIds.get(connection), jitter: this.options.random(), pullBytesMax: this.options.pullBytesMax,
    });
    if (isFalconError(command)) {
      connection.send(errorReply(request.id, command));
      return;
    }
    const refusal = this.batcher.submit({ connection, request }, command);
    if (refusal !== null) connection.send(errorReply(request.id, refusal));
  }

  private refuseNotLeading(connection: Connection, id: number): void {
    this.counters.notLeader += 1;
    connection.send(errorReply(id, this.notLeaderError(), this.leaderAddress()));
  }

  private notLeaderError(): FalconError {
    return notLeadingError(this.options.nodeId, this.leader, this.stepping);
  }

  private leaderAddress(): LeaderAddress | undefined {
    return this.leader === null || this.leader === this.options.nodeId ? undefined : this.options.leaderAddressOf(this.leader);
  }

  private onCommandResult(origin: Origin<Connection>, result: CommandResult): void {
    const { connection, request } = origin;
    if (!isCommandRequest(request)) return;
    if (request.type === 'pull' && !isFalconError(result) && result.type === 'leased' && result.jobs.length === 0 && this.park(connection, request)) return;
    if (isFalconError(result) && result.code === 'NOT_LEADER') {
      connection.send(errorReply(request.id, result, this.leaderAddress()));
      return;
    }
    connection.send(replyOfCommandResult(request, result, this.options.workerTtlMs));
  }

  private onQueryResult(origin: Origin<Connection>, result: QueryResult | FalconError): void {
    const { connection, request } = origin;
    if (isFalconError(result)) {
      connection.send(errorReply(request.id, result, result.code === 'NOT_LEADER' ? this.leaderAddress() : undefined));
      return;
    }
    switch (request.type) {
      case 'get':
        connection.send(result === null ? errorReply(request.id, falconError('NOT_FOUND', `job ${request.jobId} does not exist (or was completed longer ago than the retention keeps)`)) : getReply(request.id, result as JobView));
        return;
      case 'list':
        connection.send(listReply(request.id, result as JobPage));
        return;
      case 'stats':
        connection.send(statsReply(request.id, result as readonly QueueStats[]));
        return;
      default:
        connection.send(errorReply(request.id, falconError('INTERNAL', `a read answered request type ${request.type}`)));
    }
  }

  /** Parks a pull that found nothing; false when it does not wait (no waitMs, or past it). */
  private park(connection: Connection, request: PullRequest): boolean {
    const waitMs = request.waitMs ?? 0;
    if (waitMs <= 0 || connection.isClosing) return false;
    const parked = this.parked.get(request.queue) ?? [];
    const deadlineMs = this.pullDeadlines.get(request) ?? this.options.nowMs() + waitMs;
    if (deadlineMs <= this.options.nowMs()) {
      this.pullDeadlines.delete(request);
      return false;
    }
    this.pullDeadlines.set(request, deadlineMs);
    parked.push({ connection, request, deadlineMs });
    this.parked.set(request.queue, parked);
    this.counters.pullsParked += 1;
    return true;
  }

  /** An answer of the Replicator: a batch's results, leadership news, queues with ready jobs. */
  onReplicatorMessage(message: ToDispatcherFromReplicator): void {
    if (this.batcher.onReplicatorMessage(message)) return;
    if (message.type === 'leadership') {
      const wasLeading = this.leading;
      this.leader = message.leader;
      this.stepping = message.stepping;
      if (wasLeading && !this.leading) this.refuseParked();
      if (this.leading) for (const hello of this.heldHellos.takeAll()) this.answerHello(hello.connection, hello.id);
      return;
    }
    if (message.type === 'readyQueues') {
      for (const queue of message.queues) this.wake(queue);
    }
  }

  /** Proposes again every pull parked on `queue`. */
  private wake(queue: string): void {
    const parked = this.parked.get(queue);
    if (parked === undefined) return;
    this.parked.delete(queue);
    for (const pull of parked) {
      if (pull.connection.isClosing) continue;
      this.counters.pullsWoken += 1;
      this.submitCommand(pull.connection, pull.request);
    }
  }

  onRegistryMessage(message: ToDispatcherFromRegistry): void {
    const origin = this.beats.get(message.request);
    if (origin === undefined) return;
    this.beats.delete(message.request);
    const { connection, request } = origin;
    if (request.type !== 'heartbeat') return;
    connection.send(message.registered ? ttlReply(request.id, this.options.workerTtlMs)
      : errorReply(request.id, falconError('NOT_FOUND', `worker ${request.workerId} is not registered (its TTL expired, or it never registered on this leader's log); register again`)));
  }

  /** The connection closed: its parked pulls go (answers to its other requests are dropped). */
  onConnectionClosed(connection: Connection): void {
    this.heldHellos.forget(connection);
    for (const [queue, parked] of this.parked) {
      const kept = parked.filter((pull) => pull.connection !== connection);
      if (kept.length === 0) this.parked.delete(queue);
      else if (kept.length !== parked.length) this.parked.set(queue, kept);
    }
  }

  /** End of a turn: everything queued goes to the Replicator. */
  flush(): void {
    if (this.batcher.hasQueued) this.batcher.flush();
  }

  get hasQueued(): boolean {
    return this.batcher.hasQueued;
  }

  /** From a timer: batches past their deadline, pulls past their wait. */
  tick(): void {
    const nowMs = this.options.nowMs();
    this.batcher.expire(nowMs);
    for (const hello of this.heldHellos.takeExpired(nowMs)) this.answerHello(hello.connection, hello.id);
    for (const [beat, origin] of this.beats) {
      if (origin.deadlineMs > nowMs) continue;
      this.beats.delete(beat);
      origin.connection.send(errorReply(origin.request.id, falconError('UNAVAILABLE', `the registry did not answer within ${this.options.answerTimeoutMs} ms; beat again`)));
    }
    for (const [queue, parked] of this.parked) {
      const waiting: ParkedPull<Connection>[] = [];
      for (const pull of parked) {
        if (pull.deadlineMs > nowMs) {
          waiting.push(pull);
          continue;
        }
        this.counters.pullsTimedOut += 1;
        this.pullDeadlines.delete(pull.request);
        pull.connection.send({ id: pull.request.id, jobs: [] });
      }
      if (waiting.length === 0) this.parked.delete(queue);
      else this.parked.set(queue, waiting);
    }
  }

  private refuseParked(): void {
    for (const parked of this.parked.values()) {
      for (const pull of parked) this.refuseNotLeading(pull.connection, pull.request.id);
    }
    this.parked.clear();
  }
}
