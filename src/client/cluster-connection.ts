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
 * its deadline rejects with DeadlineExceededError, its `cause` the last failure.
 *
 * Many calls share the connection: a failure moves to another node only when it came from the
 * connection in use, so one stale failure never drops the connection the others just opened.
 *
 * Invariants: at most one connection open at a time; every call settles by its deadline (plus one
 * connect timeout); after close() no connection is opened and every call rejects with
 * ClientClosedError.
 *
 * Runs on: any thread of a client process.
 */
import { ProtocolConnection } from './protocol-connection.js';
import { ClientClosedError, DeadlineExceededError, ProtocolError, UnavailableError } from './errors.js';

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
}

export interface CallOptions {
  readonly deadlineMs?: number;
  /** Retrying after an unknown outcome cannot duplicate the request's effect. */
  readonly idempotent?: boolean;
}

type Reply = Record<string, unknown> & { readonly id: number };

const backoffMsMin = 10;
const backoffMsMax = 500;

export class ClusterConnection {
  private readonly options: ClusterConnectionOptions;
  private connection: ProtocolConnection | undefined;
  private connecting: Promise<ProtocolConnection> | undefined;
  /** Where to connect next: the leader a node named, else the next node in turn. */
  private target: NodeAddress;
  private nextNode = 0;
  private producer: string | undefined;
  private closedByUser = false;
  /** Calls retried, for the caller's figures. */
  retries = 0;
  /** Requests sent (attempts, retries included), by type: for the caller's figures and tests. */
  readonly requestsSent = new Map<string, number>();

  constructor(options: ClusterConnectionOptions) {
    if (options.nodes.length === 0) throw new Error('ClusterConnection needs at least one node address');
    this.options = options;
    this.target = options.nodes[0] as NodeAddress;
    this.producer = options.producerId;
  }

  /** The producer session's id, once a hello was answered. */
  get producerId(): string | undefined {
    return this.producer;
  }

  /** Sends `body` to the leader, following redirects and retrying as the header says. */
  async call(body: Readonly<Record<string, unknown>> & { readonly type: string }, callOptions: CallOptions = {}): Promise<Reply> {
    const deadline = Date.now() + (callOptions.deadlineMs ?? this.options.deadlineMs ?? 15_000);
    // Whether any attempt may have reached a node: a later attempt that never left does not undo it.
    let sentOnce = false;
    for (let attempt = 0; ; attempt += 1) {
      if (this.closedByUser) throw new ClientClosedError(`the connection to the cluster was closed before this ${body.type} could be sent`, { sent: false });
      let failure: ProtocolError;
      let usedConnection: ProtocolConnection | undefined;
      try {
        usedConnection = await this.connected();
        this.requestsSent.set(body.type, (this.requestsSent.get(body.type) ?? 0) + 1);
        return await usedConnection.request(body);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        failure = error;
      }
      sentOnce ||= failure.sent;
      if (this.closedByUser) throw new ClientClosedError(`the connection to the cluster was closed during this ${body.type}`, { sent: sentOnce, cause: failure });
      if (!this.mayRetry(failure, callOptions.idempotent === true)) throw failure;
      if (Date.now() >= deadline) throw this.deadlineError(body.type, failure, sentOnce);
      this.retries += 1;
      this.moveOn(failure, usedConnection);
      const backoffMs = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(attempt, 10));
      const random = this.options.random ?? Math.random;
      await new Promise((resolve) => setTimeout(resolve, Math.min(backoffMs * (0.5 + random() / 2), Math.max(0, deadline - Date.now()))));
    }
  }

  /** `sentOnce`: an attempt, not necessarily the last, may have reached a node. */
  private deadlineError(type: string, last: ProtocolError, sentOnce: boolean): DeadlineExceededError {
    const outcome = sentOnce ? 'its outcome is unknown' : 'it never reached a node';
    return new DeadlineExceededError(`${type} ran out of its deadline (${last.code}: ${last.message}); ${outcome}`, { sent: sentOnce, cause: last });
  }

  private mayRetry(error: ProtocolError, idempotent: boolean): boolean {
    if (error.code === 'NOT_LEADER' || !error.sent) return true;
    if (error.code === 'RESOURCE_EXHAUSTED' && error.detail?.['limit'] === 'uncommittedBytesMax') return true;
    return error.code === 'UNAVAILABLE' && idempotent;
  }

  /** After a failure on `used`: follow the leader a node named, or drop the connection and try the
   *  next node. A failure of a connection already replaced changes nothing. */
  private moveOn(error: ProtocolError, used: ProtocolConnection | undefined): void {
    if (error.code === 'RESOURCE_EXHAUSTED') return; // the leader is busy, not gone: stay
    if (used !== undefined && used !== this.connection && this.connection !== undefined) return;
    if (error.leader !== undefined) {
      this.target = { host: error.leader.host, port: error.leader.clientPort };
      this.dropConnection();
      return;
    }
    this.dropConnection();
    this.nextNode = (this.nextNode + 1) % this.options.nodes.length;
    this.target = this.options.nodes[this.nextNode] as NodeAddress;
  }

  private dropConnection(): void {
    this.connection?.close('moving to another node');
    this.connection = undefined;
  }

  private async connected(): Promise<ProtocolConnection> {
    if (this.connection !== undefined && !this.connection.closed) return this.connection;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return await this.connecting;
  }

  /** Connects to the target and sends hello. A hello that fails leaves no connection open; when it
   *  failed for want of a connection, the request it preceded never left (`sent: false`). */
  private async open(): Promise<ProtocolConnection> {
    const { host, port } = this.target;
    const { frameBytesMax, connectTimeoutMs, token, clientName } = this.options;
    const connection = await ProtocolConnection.open({
      host, port, ...(frameBytesMax === undefined ? {} : { frameBytesMax }), ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    });
    let hello: Reply;
    try {
      hello = await connection.request({
        type: 'hello', protocol: 1,
        ...(this.producer === undefined ? {} : { producerId: this.producer }),
        ...(clientName === undefined ? {} : { client: clientName }),
        ...(token === undefined ? {} : { token }),
      });
    } catch (error) {
      connection.close('the hello failed');
      if (error instanceof ProtocolError && error.code === 'UNAVAILABLE') {
        throw new UnavailableError(`hello to ${host}:${port} failed: ${error.message}`, { sent: false, cause: error });
      }
      throw error;
    }
    if (typeof hello['producerId'] === 'string') this.producer = hello['producerId'];
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
  }

  get closed(): boolean {
    return this.closedByUser;
  }
}
