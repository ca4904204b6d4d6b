/**
 * A connection to a cluster rather than a node: it finds the leader, follows NOT_LEADER to the
 * address the node names, opens a producer session with `hello` on every connection it makes (the
 * same producer id each time, so the session survives reconnects and failovers), and retries a
 * request that failed where it is safe, with exponential backoff and jitter, within the call's
 * deadline.
 *
 * When a retry is safe: NOT_LEADER says the request was not taken (with `error.leader` it names
 * where to go; without it an election is under way or the node is stopping: try the next node), a
 * request that never left (no connection) was not taken either, and RESOURCE_EXHAUSTED with
 * `detail.limit: uncommittedBytesMax` says the leader was busy and did nothing, so these are always
 * retried. A lost connection or an UNAVAILABLE "outcome unknown" may hide a request that took
 * effect: it is retried only when the caller says the request is idempotent (`idempotent`: an
 * enqueue with a producer sequence or an idempotency key, an ack, a read). A call that runs out of
 * its deadline rejects with DeadlineExceededError, its `cause` the last failure, `sent: true` when
 * any attempt may have taken effect.
 *
 * A node that takes a request and stays silent (a paused leader keeps its connections open) must
 * not hold the call: every attempt races the time left and `attemptTimeoutMs` (plus the request's
 * own `waitMs`, for a long poll). When the time left runs out, the call rejects with
 * DeadlineExceededError (sent); the connection stays, since a busy leader is not a gone one. When
 * the attempt bound runs out first, the outcome is unknown (UNAVAILABLE, sent): the connection is
 * dropped and the next node is tried, as after a lost connection. The hello is bounded the same way,
 * and probes the same way (a paused node's kernel still accepts connections; its hello waits).
 * The attempt bound is long (a few election timeouts), so the client does not wait for it to learn
 * of a new leader: once the node has sent nothing for `leaderProbeMs` while a request waits on it
 * (beyond a long poll's wait), the client asks the other nodes who leads (leader-search.ts), and
 * moves every waiting call at once to a node that says it leads (their outcomes unknown, as after a
 * lost connection). A failover behind a paused or cut-off leader then costs the election, not 2 s.
 *
 * Many calls share the connection: a failure moves to another node only when it came from the
 * connection in use, so one stale failure never drops the connection the others just opened. And
 * when one call is answered, every call sleeping out its backoff is woken to try again at once:
 * after a failover the calls that failed early in the election would otherwise wait out backoffs
 * of up to `backoffMsMax` while a new leader already answers (a client's window, not the cluster's).
 *
 * Invariants: at most one connection open at a time; every call settles by its deadline (plus one
 * connect timeout); after close() no connection is opened and every call rejects with
 * ClientClosedError; an attempt whose outcome is unknown marks its `RequestAttempts` in doubt
 * before the call goes on.
 *
 * Runs on: any thread of a client process.
 */
import { ProtocolConnection } from './protocol-connection.js';
import { ClientClosedError, DeadlineExceededError, ProtocolError, UnavailableError } from './errors.js';
import { LeaderSearch } from './leader-search.js';
import { mayRetry, outcomeUnknown } from './retry-rules.js';
import { withinBound } from './within-bound.js';
import { RequestAttempts, type RequestBody } from './request-attempts.js';

export { withinBound } from './within-bound.js';

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface ClusterConnectionOptions {
  readonly nodes: readonly NodeAddress[];
  readonly frameBytesMax?: number;
  /** Per call, unless the call says otherwise (default 15 s: longer than an election). */
  readonly deadlineMs?: number;
  /** Random source for the backoff's jitter (default Math.random). */
  readonly random?: () => number;
  /** A producer session to resume. */
  readonly producerId?: string;
  /** The bearer token sent in every hello (a cluster that lists tokens refuses a connection without one). */
  readonly token?: string;
  /** The `client` name sent in every hello, for the node's logs. */
  readonly clientName?: string;
  /** Bound on opening one TCP connection (default 2 s). */
  readonly connectTimeoutMs?: number;
  /** Bound on one attempt's wait for its answer (and on a hello), beyond a long poll's `waitMs`
   *  (default 2 s: a few election timeouts, so a paused leader is left for the next one). */
  readonly attemptTimeoutMs?: number;
  /** A node silent this long with a request waiting on it (beyond a long poll's `waitMs`) makes
   *  the client ask the other nodes who leads, and move at once to one that says it leads
   *  (default 150 ms). */
  readonly leaderProbeMs?: number;
}

export { RequestAttempts, type RequestBody } from './request-attempts.js';

export interface CallOptions {
  readonly deadlineMs?: number;
  /** Retrying after an unknown outcome cannot duplicate the request's effect. */
  readonly idempotent?: boolean;
  /** Shared across this request's calls; its `body` replaces the `body` argument. */
  readonly attempts?: RequestAttempts;
}

type Reply = Record<string, unknown> & { readonly id: number };

const backoffMsMin = 10;
const backoffMsMax = 500;
const attemptTimeoutMsDefault = 2_000;
const leaderProbeMsDefault = 150;

export class ClusterConnection {
  private readonly options: ClusterConnectionOptions;
  private connection: ProtocolConnection | undefined;
  private connecting: Promise<ProtocolConnection> | undefined;
  /** Where to connect next: the leader a node named, else the next node in turn. */
  private target: NodeAddress;
  private nextNode = 0;
  /** Calls sleeping out a backoff: each entry wakes its call. */
  private readonly sleepers = new Set<() => void>();
  private producer: string | undefined;
  private helloAccess: string | undefined;
  private closedByUser = false;
  /** Calls retried, for the caller's figures. */
  retries = 0;
  /** Requests sent (attempts, retries included), by type: for the caller's figures and tests. */
  readonly requestsSent = new Map<string, number>();
  /** The connection last dropped: later failures of calls that were waiting on it change nothing. */
  private left: ProtocolConnection | undefined;
  /** The failure of the last opening that moved the target: every call that waited for that opening
   *  gets this same error, and only the first moves on (as many moves as calls could lead back to the
   *  failed node, again and again, while the calls keep failing together). */
  private openFailureMovedOn: ProtocolError | undefined;
  /** Nodes found silent, and the leader probes past them. */
  private readonly search: LeaderSearch;
  /** The node id each connection's hello named. */
  private readonly nodeIds = new WeakMap<ProtocolConnection, string>();

  constructor(options: ClusterConnectionOptions) {
    if (options.nodes.length === 0) throw new Error('ClusterConnection needs at least one node address');
    this.options = options;
    this.target = options.nodes[0] as NodeAddress;
    this.producer = options.producerId;
    const { token, clientName, frameBytesMax } = options;
    this.search = new LeaderSearch({
      nodes: options.nodes, attemptBoundMs: options.attemptTimeoutMs ?? attemptTimeoutMsDefault,
      probeMs: options.leaderProbeMs ?? leaderProbeMsDefault,
      ...(token === undefined ? {} : { token }), ...(clientName === undefined ? {} : { clientName }),
      ...(frameBytesMax === undefined ? {} : { frameBytesMax }),
    });
  }

  /** Leader probes made, and those that moved the calls to another node: for the caller's figures and tests. */
  get probes(): number {
    return this.search.probes;
  }

  get probeMoves(): number {
    return this.search.probeMoves;
  }

  /**
   * What the last hello answered this connection may do (docs/protocol.md §3): 'open' (the
   * cluster lists no tokens), 'none' (no token given, so every request but hello is refused),
   * or the token's role; undefined before a hello was answered, or from a node that does not say.
   */
  get access(): string | undefined {
    return this.helloAccess;
  }

  /** The producer session's id, once a hello was answered. */
  get producerId(): string | undefined {
    return this.producer;
  }

  /**
   * Resolves once a connection is open and its hello answered (at once when one is); rejects with
   * the hello's refusal (UNAUTHENTICATED for a token no node lists) or the failure to connect,
   * without trying another node. Lets a gateway judge its caller's token before anything else.
   */
  async ready(deadlineMs: number): Promise<void> {
    if (this.closedByUser) throw new ClientClosedError('the connection to the cluster is closed', { sent: false });
    await this.connected(Date.now() + deadlineMs);
  }

  /** Sends `body` to the leader, following redirects and retrying as the header says. */
  async call(body: RequestBody, callOptions: CallOptions = {}): Promise<Reply> {
    const deadline = Date.now() + (callOptions.deadlineMs ?? this.options.deadlineMs ?? 15_000);
    // Across this call's attempts (and, when given, the earlier calls of the same request).
    const attempts = callOptions.attempts ?? new RequestAttempts(body);
    let previous: ProtocolError | undefined;
    for (let attempt = 0; ; attempt += 1) {
      if (this.closedByUser) throw new ClientClosedError(`the connection to the cluster was closed before this ${body.type} could be sent`, { sent: attempts.mayHaveTakenEffect });
      if (attempts.abandoned) throw new DeadlineExceededError(`${body.type} was abandoned: no call waits for it`, { sent: attempts.mayHaveTakenEffect });
      let failure: ProtocolError;
      let usedConnection: ProtocolConnection | undefined;
      try {
        usedConnection = await this.connected(deadline);
        const reply = await this.attempt(usedConnection, attempts, deadline);
        if (this.sleepers.size > 0) this.wakeSleepers();
        return reply;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        failure = error;
      }
      if (outcomeUnknown(failure)) attempts.inDoubt = true;
      if (!(failure instanceof DeadlineExceededError)) attempts.lastFailure = failure;
      if (this.closedByUser) throw new ClientClosedError(`the connection to the cluster was closed during this ${body.type}`, { sent: attempts.mayHaveTakenEffect, cause: failure });
      if (failure instanceof DeadlineExceededError) {
        // Out of time while waiting for a connection or an answer: the cause is what went wrong before, if anything.
        throw this.deadlineError(body.type, previous ?? failure, attempts.mayHaveTakenEffect);
      }
      previous = failure;
      if (!mayRetry(failure, callOptions.idempotent === true)) throw failure;
      if (Date.now() >= deadline) throw this.deadlineError(body.type, failure, attempts.mayHaveTakenEffect);
      this.retries += 1;
      this.moveOn(failure, usedConnection);
      const backoffMs = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(attempt, 10));
      const random = this.options.random ?? Math.random;
      await this.backOff(Math.min(backoffMs * (0.5 + random() / 2), Math.max(0, deadline - Date.now())));
    }
  }

  /** Sleeps `ms`, or less when another call is answered meanwhile (or close() is called). */
  private backOff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** A call was answered: the calls sleeping out a backoff go again now. */
  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /** One attempt on `connection`, bounded by the time left and by the attempt bound, probing the
   *  other nodes while the node is silent (see the header). */
  private async attempt(connection: ProtocolConnection, attempts: RequestAttempts, deadline: number): Promise<Reply> {
    const body = attempts.nextBody;
    this.requestsSent.set(body.type, (this.requestsSent.get(body.type) ?? 0) + 1);
    const waitMs = typeof body['waitMs'] === 'number' ? body['waitMs'] : 0;
    const boundMs = waitMs + (this.options.attemptTimeoutMs ?? attemptTimeoutMsDefault);
    const probeMs = this.options.leaderProbeMs ?? leaderProbeMsDefault;
    const reply = connection.request(body);
    attempts.inFlight = true;
    const startedMs = Date.now();
    // A long poll is silent by design until its wait is over.
    const probeFromMs = startedMs + waitMs + probeMs;
    let boundStartMs = startedMs;
    let framesAtBoundStart = connection.framesReceived;
    try {
      for (;;) {
        const nowMs = Date.now();
        const sliceMs = Math.max(0, Math.min(deadline - nowMs, boundStartMs + boundMs - nowMs, probeMs));
        const answered = await withinBound(reply, sliceMs, () => undefined);
        if (answered !== undefined) return answered;
        const afterMs = Date.now();
        if (afterMs >= deadline) {
          throw new DeadlineExceededError(`${body.type} ran out of its deadline waiting for ${connection.address}; its outcome is unknown`, { sent: true });
        }
        if (afterMs >= boundStartMs + boundMs) {
          // Answers to other requests came meanwhile: the node is busy, not silent; wait on.
          if (connection.framesReceived !== framesAtBoundStart) {
            boundStartMs = afterMs;
            framesAtBoundStart = connection.framesReceived;
            continue;
          }
          // Silent (a paused node): the next attempt goes elsewhere, and the calls waiting on it move too.
          this.search.suspect(connection.address, this.nodeIds.get(connection));
          connection.close(`no answer within ${boundMs} ms`);
          throw new UnavailableError(`no answer from ${connection.address} within ${boundMs} ms; the request's outcome is unknown`, { sent: true });
        }
        if (afterMs >= probeFromMs && afterMs - connection.lastFrameAtMs >= probeMs) this.probeOthers(connection, probeMs);
      }
    } finally {
      attempts.inFlight = false;
    }
  }

  /**
   * `connection`'s node has been silent for `probeMs` with a request waiting: asks the other nodes
   * who leads (one probe at a time). One that says it leads becomes the target, the silent node is
   * skipped for an attempt bound, and the connection is dropped: the calls waiting on it go again
   * there at once (their outcomes unknown, as after any lost connection). Neither the silent node
   * (by its id: the list may name it under another address) nor a node found silent before is
   * asked or believed: a stale leader says it leads until check-quorum steps it down.
   */
  private probeOthers(connection: ProtocolConnection, probeMs: number): void {
    const silentId = this.nodeIds.get(connection);
    this.search.probeOnce(connection.address, silentId, (leader) => {
      if (leader === undefined || this.closedByUser || this.connection !== connection) return;
      // Answered meanwhile: busy, not silent.
      if (Date.now() - connection.lastFrameAtMs < probeMs) return;
      this.search.suspect(connection.address, silentId);
      this.target = { host: leader.host, port: leader.port };
      this.dropConnection(`${connection.address} was silent for ${probeMs} ms and ${leader.host}:${leader.port} says it leads`);
      this.search.probeMoves += 1;
    });
  }

  /** `sent`: an attempt, not necessarily the last, may have taken effect. */
  private deadlineError(type: string, last: ProtocolError, sent: boolean): DeadlineExceededError {
    const outcome = sent ? 'its outcome is unknown' : 'it never reached a node';
    return new DeadlineExceededError(`${type} ran out of its deadline (${last.code}: ${last.message}); ${outcome}`, { sent, cause: last });
  }

  /** After a failure on `used`: follow the leader a node named, or drop the connection and try the
   *  next node. A failure of a connection already replaced changes nothing. */
  private moveOn(error: ProtocolError, used: ProtocolConnection | undefined): void {
    if (error.code === 'RESOURCE_EXHAUSTED') return; // the leader is busy, not gone: stay
    if (used !== undefined && (used === this.left || (used !== this.connection && this.connection !== undefined))) return;
    if (used === undefined && error === this.openFailureMovedOn) return;
    if (used === undefined) this.openFailureMovedOn = error;
    // A follower may still name a leader found silent just now (before its election): not followed.
    if (error.leader !== undefined && !this.search.suspected({ host: error.leader.host, port: error.leader.clientPort }, error.leader.id)) {
      this.target = { host: error.leader.host, port: error.leader.clientPort };
      this.dropConnection();
      return;
    }
    this.dropConnection();
    // The next node in turn, but neither one found silent nor the one that just failed (a redirect
    // may have led there from anywhere in the list).
    const { nodes } = this.options;
    const failed = `${this.target.host}:${this.target.port}`;
    for (let step = 0; step < nodes.length; step += 1) {
      this.nextNode = (this.nextNode + 1) % nodes.length;
      const node = nodes[this.nextNode] as NodeAddress;
      if (!this.search.suspected(node) && `${node.host}:${node.port}` !== failed) break;
    }
    this.target = nodes[this.nextNode] as NodeAddress;
  }

  private dropConnection(reason = 'moving to another node'): void {
    this.connection?.close(reason);
    this.left = this.connection ?? this.left;
    this.connection = undefined;
  }

  /** The open connection, or a new one (connect and hello) bounded by the attempt bound and `deadline`. */
  private async connected(deadline: number): Promise<ProtocolConnection> {
    if (this.connection !== undefined && !this.connection.closed) return this.connection;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    // The connection opening goes on for the other calls; this one stops waiting at its deadline.
    const leftMs = Math.max(0, deadline - Date.now());
    return await withinBound(this.connecting, leftMs, () => new DeadlineExceededError(`ran out of its deadline waiting for a connection to the cluster; it never left`, { sent: false }));
  }

  /** Connects to the target and sends hello. A hello that fails leaves no connection open; when it
   *  failed for want of a connection, or found no answer within the attempt bound, the request it
   *  preceded never left (`sent: false`). */
  private async open(): Promise<ProtocolConnection> {
    const { host, port } = this.target;
    const { frameBytesMax, connectTimeoutMs, token, clientName } = this.options;
    const connection = await ProtocolConnection.open({
      host, port, ...(frameBytesMax === undefined ? {} : { frameBytesMax }), ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    });
    let hello: Reply;
    try {
      hello = await this.search.helloAnswer(connection, connection.request({
        type: 'hello', protocol: 1,
        ...(this.producer === undefined ? {} : { producerId: this.producer }),
        ...(clientName === undefined ? {} : { client: clientName }),
        ...(token === undefined ? {} : { token }),
      }));
    } catch (error) {
      connection.close('the hello failed');
      if (error instanceof ProtocolError && error.code === 'UNAVAILABLE') {
        throw new UnavailableError(`hello to ${host}:${port} failed: ${error.message}`, { sent: false, cause: error, leader: error.leader });
      }
      throw error;
    }
    if (typeof hello['producerId'] === 'string') this.producer = hello['producerId'];
    this.helloAccess = typeof hello['access'] === 'string' ? hello['access'] : undefined;
    if (typeof hello['node'] === 'string') this.nodeIds.set(connection, hello['node']);
    if (this.closedByUser) {
      connection.close();
      throw new ClientClosedError('the connection to the cluster was closed while connecting', { sent: false });
    }
    this.connection = connection;
    return connection;
  }

  /** Closes the connection; calls in flight and later reject with ClientClosedError. */
  close(): void {
    this.closedByUser = true;
    this.dropConnection();
    this.search.close();
    this.wakeSleepers();
  }

  get closed(): boolean {
    return this.closedByUser;
  }
}
