/**
 * The gateway's connections to its own node's client port, one per bearer token (and one for
 * callers without a token), each opened with `hello` carrying that token, so that the node judges
 * every gRPC call with its caller's identity. Calls of one token share its connection: the
 * protocol pipelines them and answers in any order, so a long poll never holds up an ack.
 *
 * No following of leaders: the connection stays on this node, whose NOT_LEADER answer goes back
 * to the caller (status-mapping.ts) with the leader's gRPC address.
 *
 * Invariants: at most `connectionsMax` connections are open or opening; a token's connection is
 * opened once however many calls ask for it at the same moment; a closed connection is replaced
 * on the next call. When the pool is full, the least recently used connection with no request in
 * flight is closed to make room; when every one is busy, the call is refused RESOURCE_EXHAUSTED.
 *
 * Runs on: supervisor (main thread).
 */
import { ProtocolConnection, ProtocolError } from '../client/protocol-connection.js';

export interface GatewayConnectionsOptions {
  readonly host: string;
  readonly clientPort: number;
  /** The cluster's queue.clientFrameBytesMax. */
  readonly frameBytesMax: number;
  readonly connectionsMax: number;
  /** Named in the hello, for the node's logs. */
  readonly clientName: string;
}

type Reply = Record<string, unknown> & { readonly id: number };

interface PoolEntry {
  readonly opening: Promise<ProtocolConnection>;
  connection: ProtocolConnection | undefined;
  lastUsedAt: number;
}

/** The pool's key for a caller without a token (a token is never empty). */
const openKey = '';

export class GatewayConnections {
  private readonly options: GatewayConnectionsOptions;
  private readonly entries = new Map<string, PoolEntry>();
  private useCounter = 0;
  private closed = false;

  constructor(options: GatewayConnectionsOptions) {
    this.options = options;
  }

  /** Connections open or opening now. */
  get size(): number {
    return this.entries.size;
  }

  /** Sends one request on `token`'s connection; rejects with a ProtocolError. */
  async request(token: string | undefined, body: Readonly<Record<string, unknown>> & { readonly type: string }): Promise<Reply> {
    const connection = await this.connectionFor(token ?? openKey);
    return await connection.request(body);
  }

  private async connectionFor(key: string): Promise<ProtocolConnection> {
    if (this.closed) throw new ProtocolError('UNAVAILABLE', 'the gRPC gateway is stopping', undefined, false);
    const existing = this.entries.get(key);
    if (existing !== undefined && (existing.connection === undefined || !existing.connection.closed)) {
      existing.lastUsedAt = ++this.useCounter;
      return await existing.opening;
    }
    if (existing !== undefined) this.entries.delete(key);
    if (this.entries.size >= this.options.connectionsMax && !this.evictIdle()) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `the gRPC gateway holds ${this.options.connectionsMax} connections, all busy (one per bearer token); retry shortly`, undefined, false);
    }
    const entry: PoolEntry = { opening: this.open(key), connection: undefined, lastUsedAt: ++this.useCounter };
    this.entries.set(key, entry);
    try {
      entry.connection = await entry.opening;
      return entry.connection;
    } catch (error) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
  }

  private async open(key: string): Promise<ProtocolConnection> {
    const connection = await ProtocolConnection.open({ host: this.options.host, port: this.options.clientPort, frameBytesMax: this.options.frameBytesMax });
    try {
      await connection.request({ type: 'hello', protocol: 1, client: this.options.clientName, ...(key === openKey ? {} : { token: key }) });
    } catch (error) {
      connection.close('the hello was refused');
      throw error;
    }
    if (this.closed) connection.close('the gRPC gateway is stopping');
    return connection;
  }

  /** Closes the least recently used connection with nothing in flight; false when there is none. */
  private evictIdle(): boolean {
    let victim: [string, PoolEntry] | undefined;
    for (const candidate of this.entries) {
      const connection = candidate[1].connection;
      if (connection === undefined || (!connection.closed && connection.inflight > 0)) continue;
      if (victim === undefined || candidate[1].lastUsedAt < victim[1].lastUsedAt) victim = candidate;
    }
    if (victim === undefined) return false;
    this.entries.delete(victim[0]);
    victim[1].connection?.close('making room for another bearer token');
    return true;
  }

  /** Closes every connection; requests in flight reject with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) entry.connection?.close('the gRPC gateway stopped');
    this.entries.clear();
  }
}
