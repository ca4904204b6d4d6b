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
 * on the next call. When the pool is full, the least recently used connection with no call routed
 * to it (opening, sending or awaiting its reply) is closed to make room; when every one has a
 * call, the new token's call is refused RESOURCE_EXHAUSTED (not sent). Every call settles within
 * its bound (the gRPC call's deadline, else `callMsDefault` plus a long poll's `waitMs`), even on a
 * node that took the request and went silent: then it rejects UNAVAILABLE, the outcome unknown.
 *
 * Runs on: supervisor (main thread).
 */
import { withinBound } from '../client/cluster-connection.js';
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
  /** Calls routed to this entry and not yet answered (opening, sending or waiting): never evicted while > 0. */
  calls: number;
}

/** A call's bound when its caller set no deadline: beyond the node's own answer bound
 *  (queue.requestTimeoutMs, default 10 s, after which a live node answers UNAVAILABLE itself). */
export const callMsDefault = 15_000;

/** The pool's key for a caller without a token (a token is never empty). */
const openKey = '';

export class GatewayConnections {
  private readonly options: GatewayConnectionsOptions;
  private readonly entries = new Map<string, PoolEntry>();
  private useCounter = 0;
  private closed = false;
  /** What each connection's hello answered it may do (`access`; absent from a node that does not say). */
  private readonly accessOf = new WeakMap<ProtocolConnection, string>();

  constructor(options: GatewayConnectionsOptions) {
    this.options = options;
  }

  /** Connections open or opening now. */
  get size(): number {
    return this.entries.size;
  }

  /** Sends one request on `token`'s connection; rejects with a ProtocolError, UNAVAILABLE when no
   *  answer came within `boundMs` (default: `callMsDefault` plus the request's `waitMs`). */
  async request(token: string | undefined, body: Readonly<Record<string, unknown>> & { readonly type: string }, boundMs?: number): Promise<Reply> {
    const key = token ?? openKey;
    const entry = this.entryFor(key);
    const waitMs = typeof body['waitMs'] === 'number' ? body['waitMs'] : 0;
    const bound = Math.max(0, boundMs ?? callMsDefault + waitMs);
    entry.calls += 1;
    let gaveUp = false;
    let sent = false;
    try {
      const answer = (async (): Promise<Reply> => {
        const connection = await entry.opening;
        entry.connection ??= connection;
        // A request is never sent after its caller was answered.
        if (gaveUp) throw new ProtocolError('UNAVAILABLE', 'the call gave up before it was sent', { sent: false });
        sent = true;
        return await connection.request(body);
      })();
      // Whichever loses is ignored: a late answer (or failure) after the bound has no one to go to.
      answer.catch(() => undefined);
      return await withinBound(answer, bound, () => {
        gaveUp = true;
        const outcome = sent ? "the request's outcome is unknown" : 'the request was not sent';
        return new ProtocolError('UNAVAILABLE', `no answer from the node within ${bound} ms; ${outcome}`, { sent });
      });
    } catch (error) {
      this.forgetUnopened(key, entry);
      throw error;
    } finally {
      entry.calls -= 1;
    }
  }

  /**
   * Resolves once `token`'s connection is open and its hello answered (at once when it is), with
   * what the hello answered the connection may do (`access`: 'open', 'none' or the token's role;
   * undefined from a node that does not say): rejects with the hello's refusal (UNAUTHENTICATED
   * for a token the cluster does not list) or the failure to connect, UNAVAILABLE after `boundMs`.
   * Nothing is sent but the hello.
   */
  async admit(token: string | undefined, boundMs = callMsDefault): Promise<string | undefined> {
    const key = token ?? openKey;
    const entry = this.entryFor(key);
    if (entry.connection !== undefined) return this.accessOf.get(entry.connection);
    entry.calls += 1;
    try {
      const opened = await withinBound(entry.opening, Math.max(0, boundMs),
        () => new ProtocolError('UNAVAILABLE', `no answer to the hello within ${boundMs} ms; nothing was sent`, { sent: false }));
      entry.connection ??= opened;
      return this.accessOf.get(opened);
    } catch (error) {
      this.forgetUnopened(key, entry);
      throw error;
    } finally {
      entry.calls -= 1;
    }
  }

  /** A connection that could not be opened (or whose hello was refused) is not kept; one that
   *  opens after its callers gave up is closed. */
  private forgetUnopened(key: string, entry: PoolEntry): void {
    if (entry.connection !== undefined || this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    entry.opening.then((connection) => connection.close('opened after the call gave up'), () => undefined);
  }

  /** The entry of `key`, made (and its connection opened) when there is none or it closed. */
  private entryFor(key: string): PoolEntry {
    if (this.closed) throw new ProtocolError('UNAVAILABLE', 'the gRPC gateway is stopping', undefined, false);
    const existing = this.entries.get(key);
    if (existing !== undefined && (existing.connection === undefined || !existing.connection.closed)) {
      existing.lastUsedAt = ++this.useCounter;
      return existing;
    }
    if (existing !== undefined) this.entries.delete(key);
    if (this.entries.size >= this.options.connectionsMax && !this.evictIdle()) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `the gRPC gateway holds ${this.options.connectionsMax} connections, all busy (one per bearer token); retry shortly`, undefined, false);
    }
    const entry: PoolEntry = { opening: this.open(key), connection: undefined, lastUsedAt: ++this.useCounter, calls: 0 };
    // Settled here too, so that a failed open with no call left waiting is not an unhandled rejection.
    entry.opening.catch(() => undefined);
    this.entries.set(key, entry);
    return entry;
  }

  private async open(key: string): Promise<ProtocolConnection> {
    const connection = await ProtocolConnection.open({ host: this.options.host, port: this.options.clientPort, frameBytesMax: this.options.frameBytesMax });
    try {
      const hello = await connection.request({ type: 'hello', protocol: 1, client: this.options.clientName, ...(key === openKey ? {} : { token: key }) });
      if (typeof hello['access'] === 'string') this.accessOf.set(connection, hello['access']);
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
      if (candidate[1].calls > 0) continue;
      if (victim === undefined || candidate[1].lastUsedAt < victim[1].lastUsedAt) victim = candidate;
    }
    if (victim === undefined) return false;
    this.entries.delete(victim[0]);
    victim[1].opening.then((connection) => connection.close('making room for another bearer token'), () => undefined);
    return true;
  }

  /** Closes every connection (those still opening close once open); requests in flight reject with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      entry.opening.then((connection) => connection.close('the gRPC gateway stopped'), () => undefined);
    }
    this.entries.clear();
  }
}
