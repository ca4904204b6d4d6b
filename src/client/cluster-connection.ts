/**
 * A connection to a cluster rather than a node: it finds the leader, follows NOT_LEADER to the
 * address the node names, opens a producer session with `hello` on every connection it makes (the
 * same producer id each time, so the session survives reconnects and failovers), and retries a
 * request that failed where it is safe, with exponential backoff and jitter, within the call's
 * deadline.
 *
 * When a retry is safe: NOT_LEADER says the request was not taken (with `error.leader` it names
 * where to go; without it an election is under way or the node is stopping: try the next node), and
 * a request that never left (no connection) was not taken either, so both are always retried. A
 * lost connection or an UNAVAILABLE "outcome unknown" may hide a request that took effect: it is
 * retried only when the caller says the request is idempotent (`idempotent`: an enqueue with a
 * producer sequence or an idempotency key, an ack, a read).
 *
 * Invariants: at most one connection open at a time; every call settles by its deadline (plus one
 * connect timeout).
 *
 * Runs on: any thread of a client process.
 */
import { ProtocolConnection, ProtocolError } from './protocol-connection.js';

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
  /** Calls retried, for the caller's figures. */
  retries = 0;

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
    for (let attempt = 0; ; attempt += 1) {
      let failure: ProtocolError;
      try {
        const connection = await this.connected();
        return await connection.request(body);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        failure = error;
      }
      if (!this.mayRetry(failure, callOptions.idempotent === true) || Date.now() >= deadline) throw failure;
      this.retries += 1;
      this.moveOn(failure);
      const backoffMs = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(attempt, 10));
      const random = this.options.random ?? Math.random;
      await new Promise((resolve) => setTimeout(resolve, Math.min(backoffMs * (0.5 + random() / 2), Math.max(0, deadline - Date.now()))));
    }
  }

  private mayRetry(error: ProtocolError, idempotent: boolean): boolean {
    if (error.code === 'NOT_LEADER' || !error.sent) return true;
    return error.code === 'UNAVAILABLE' && idempotent;
  }

  /** After a failure: follow the leader a node named, or drop the connection and try the next node. */
  private moveOn(error: ProtocolError): void {
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

  private async open(): Promise<ProtocolConnection> {
    const { host, port } = this.target;
    const frameBytesMax = this.options.frameBytesMax;
    const connection = await ProtocolConnection.open(frameBytesMax === undefined ? { host, port } : { host, port, frameBytesMax });
    const hello = await connection.request({
      type: 'hello', protocol: 1,
      ...(this.producer === undefined ? {} : { producerId: this.producer }),
      ...(this.options.token === undefined ? {} : { token: this.options.token }),
    });
    if (typeof hello['producerId'] === 'string') this.producer = hello['producerId'];
    this.connection = connection;
    return connection;
  }

  close(): void {
    this.dropConnection();
  }
}
