/**
 * The QueueGateway over the client protocol. Per bearer token the pool holds a ClusterConnection
 * (every call but enqueue: one request each) and, beside it, a FalconClient (the SDK) for
 * enqueues; both list this node's own client port first, then the other nodes of the cluster.
 * Both follow NOT_LEADER to the leader, so a follower's HTTP API serves a request by forwarding
 * it, and the caller never sees a redirect.
 *
 * The caller's bearer token goes into the hello of both, so the leader admits or refuses it
 * exactly as it would any client. Entries are pooled by token: at most `connectionsMax`, the
 * least recently used closed first (once its calls in flight have settled). Requests without a
 * token share one entry.
 *
 * Enqueues go through the FalconClient's producer session: every request carries its session
 * sequence, and a retry after an unknown outcome (a lost connection, a failover) resends the same
 * sequence, which the leader answers instead of applying twice. So an enqueue, with or without an
 * idempotency key, is retried until its deadline; only a deadline that passes while the outcome
 * is unknown rejects UNAVAILABLE. The client also sends together the enqueues of one token that
 * arrive together; each HTTP request's jobs stay one atomic part (all or none). The leader answers
 * a resent sequence with `duplicate: true` for every job; for a job without a key that only means
 * the call's own first attempt added it, so it is answered `duplicate: false`.
 *
 * Idempotency of the other calls (what ClusterConnection may retry after an unknown outcome):
 * reads, ack, extend, register, heartbeat. Not pull (a retry would lease more jobs) nor nack (a
 * retry would meet LEASE_LOST).
 *
 * Invariants: at most `connectionsMax` entries open; every reply of a ClusterConnection is checked
 * against the protocol (protocol/client-validation.ts) before a route reads it; the FalconClient
 * checks its own; an enqueue's jobs fit one request (else FRAME_TOO_LARGE, nothing sent).
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import { ClusterConnection, type NodeAddress } from '../client/cluster-connection.js';
import { FalconClient } from '../client/falcon-client.js';
import { wireBytesMax } from '../client/job-options.js';
import { ProtocolError } from '../client/protocol-connection.js';
import type { ClientRequestType, EnqueueJobRequest, ReplyOf } from '../protocol/client.js';
import type { EnqueuedJob } from '../queue/results.js';
import { checkClientReply, isErrorReply } from '../protocol/client-validation.js';
import type { Caller, CallFields, QueueGateway, QueueOperations } from './queue-gateway.js';

export interface ConnectionGatewayOptions {
  /** This node's client address first, then the other nodes'. */
  readonly nodes: readonly NodeAddress[];
  /** queue.clientFrameBytesMax of the cluster. */
  readonly frameBytesMax: number;
  /** queue.payloadBytesMax of the cluster (default 1 MiB, the cluster's default). */
  readonly payloadBytesMax?: number;
  /** Connections kept open at once, one per distinct token (default 64). */
  readonly connectionsMax?: number;
}

/** Enough distinct callers for a cluster's services and operators; each costs one socket on the leader. */
const connectionsMaxDefault = 64;

/** The refusal of a request without a token on a cluster that lists tokens. */
const tokenNeededMessage = "this cluster needs a bearer token and this request carries none: send the header 'Authorization: Bearer <token>'";

/** Bytes of an enqueue request beside its jobs (length prefix, id, type, sequence, queue key,
 *  array header): the SDK's own bound of the same (enqueue-batcher.ts), so that a batch this
 *  gateway lets through is one request, never cut into parts. */
const enqueueEnvelopeBytesMax = 64;

interface PooledConnection {
  readonly connection: ClusterConnection;
  /** Made on the first enqueue of this token. */
  client: FalconClient | undefined;
  readonly token: string | undefined;
  inflight: number;
  evicted: boolean;
}

export class ConnectionGateway implements QueueGateway {
  private readonly options: ConnectionGatewayOptions;
  /** Token ('' for none) → connection; Map order is least recently used first. */
  private readonly pool = new Map<string, PooledConnection>();

  constructor(options: ConnectionGatewayOptions) {
    this.options = options;
  }

  /** Connections open now (for tests and /status). */
  get connectionsOpen(): number {
    return this.pool.size;
  }

  /** See QueueGateway: a token a node refused in the hello of the caller's pooled connection, or
   *  no token where the node's hello answered that the connection may do nothing (`access:
   *  'none'`: the cluster lists tokens), is UNAUTHENTICATED (sent: false, nothing was done). The
   *  node decides, never this gateway's reading of cluster.yaml. */
  async admit(caller: Caller): Promise<void> {
    const pooled = this.connectionFor(caller.token);
    pooled.inflight += 1;
    try {
      await pooled.connection.ready(caller.deadlineMs);
      if (caller.token === undefined && pooled.connection.access === 'none') throw new ProtocolError('UNAUTHENTICATED', tokenNeededMessage, undefined, false);
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') throw new ProtocolError('UNAUTHENTICATED', error.message, undefined, false);
      // Any other failure (no node reachable now) is left to the call, which retries other nodes.
    } finally {
      this.release(pooled);
    }
  }

  operationsFor(caller: Caller): QueueOperations {
    const call = <Type extends ClientRequestType>(type: Type, fields: CallFields<Type>, idempotent: boolean): Promise<ReplyOf<Type>> =>
      this.call(caller, type, fields, idempotent);
    return {
      enqueue: (queue, jobs) => this.enqueue(caller, queue, jobs),
      pull: async (fields) => (await call('pull', fields, false)).jobs,
      ack: async (fields) => withoutId(await call('ack', fields, true)),
      nack: async (fields) => withoutId(await call('nack', fields, false)),
      extend: async (fields) => withoutId(await call('extend', fields, true)),
      get: async (jobId) => (await call('get', { jobId }, true)).job,
      list: async (fields) => withoutId(await call('list', fields, true)),
      stats: async (queue) => (await call('stats', queue === undefined ? {} : { queue }, true)).queues,
      register: async (fields) => withoutId(await call('register', fields, true)),
      heartbeat: async (fields) => withoutId(await call('heartbeat', fields, true)),
      unregister: async (fields) => withoutId(await call('unregister', fields, true)),
    };
  }

  /** `jobs` as one atomic part of the token's producer session (see the header). */
  private async enqueue(caller: Caller, queue: string, jobs: readonly EnqueueJobRequest[]): Promise<readonly EnqueuedJob[]> {
    const jobBytes = jobs.reduce((total, job) => total + wireBytesMax(job), 0);
    const requestBytesMax = this.options.frameBytesMax - enqueueEnvelopeBytesMax - Buffer.byteLength(queue, 'utf8');
    if (jobBytes > requestBytesMax) {
      throw new ProtocolError('FRAME_TOO_LARGE', `these ${jobs.length} jobs take up to ${jobBytes} bytes, more than one enqueue request carries ` +
        `(${requestBytesMax} bytes within queue.clientFrameBytesMax); send them in smaller batches`, undefined, false);
    }
    const pooled = this.connectionFor(caller.token);
    pooled.client ??= new FalconClient({
      nodes: this.options.nodes, frameBytesMax: this.options.frameBytesMax, clientName: 'http-gateway',
      ...(this.options.payloadBytesMax === undefined ? {} : { payloadBytesMax: this.options.payloadBytesMax }),
      ...(pooled.token === undefined ? {} : { token: pooled.token }),
    });
    pooled.inflight += 1;
    try {
      const enqueued = await pooled.client.enqueueMany(queue, jobs, { deadlineMs: caller.deadlineMs });
      // A job without a key is `duplicate` only when the leader answered a resent sequence: this
      // very call added it (its first attempt's reply was lost), which is not a duplicate to the caller.
      return enqueued.map((job, index) => (job.duplicate && jobs[index]?.idempotencyKey === undefined ? { ...job, duplicate: false } : job));
    } catch (error) {
      throw error instanceof ProtocolError ? enqueueFailure(error, caller.deadlineMs) : error;
    } finally {
      this.release(pooled);
    }
  }

  private async call<Type extends ClientRequestType>(caller: Caller, type: Type, fields: CallFields<Type>, idempotent: boolean): Promise<ReplyOf<Type>> {
    const pooled = this.connectionFor(caller.token);
    pooled.inflight += 1;
    try {
      const reply = await pooled.connection.call({ type, ...fields }, { deadlineMs: caller.deadlineMs, idempotent });
      const checked = checkClientReply(reply, type);
      if ('code' in checked) throw new ProtocolError('INTERNAL', `the node's reply to ${type} is not the protocol's: ${checked.message}`);
      if (isErrorReply(checked)) throw new ProtocolError(checked.error.code, checked.error.message);
      return checked;
    } catch (error) {
      // The node's words ask for hello's token field: an HTTP caller sends a header instead.
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED' && caller.token === undefined) {
        throw new ProtocolError('UNAUTHENTICATED', tokenNeededMessage, undefined, false);
      }
      throw error instanceof ProtocolError ? explained(error, caller.deadlineMs, idempotent) : error;
    } finally {
      this.release(pooled);
    }
  }

  private release(pooled: PooledConnection): void {
    pooled.inflight -= 1;
    if (pooled.evicted && pooled.inflight === 0) closeEntry(pooled);
  }

  private connectionFor(token: string | undefined): PooledConnection {
    const key = token ?? '';
    const found = this.pool.get(key);
    if (found !== undefined) {
      this.pool.delete(key);
      this.pool.set(key, found);
      return found;
    }
    const connection = new ClusterConnection({
      nodes: this.options.nodes, frameBytesMax: this.options.frameBytesMax, ...(token === undefined ? {} : { token }),
    });
    const pooled: PooledConnection = { connection, client: undefined, token, inflight: 0, evicted: false };
    this.pool.set(key, pooled);
    this.evictBeyond(this.options.connectionsMax ?? connectionsMaxDefault);
    return pooled;
  }

  private evictBeyond(connectionsMax: number): void {
    for (const [key, pooled] of this.pool) {
      if (this.pool.size <= connectionsMax) return;
      this.pool.delete(key);
      pooled.evicted = true;
      if (pooled.inflight === 0) closeEntry(pooled);
    }
  }

  close(): void {
    for (const pooled of this.pool.values()) closeEntry(pooled);
    this.pool.clear();
  }
}

function closeEntry(pooled: PooledConnection): void {
  pooled.connection.close();
  // The client's close settles every call it holds (ClientClosedError); nothing is left to await.
  void pooled.client?.close();
}

/**
 * An enqueue's failure in the protocol's codes. A deadline that passed is UNAVAILABLE: some
 * attempt before the last may have reached a leader, so the outcome is unknown even when the
 * last attempt found no leader (the message then says so). A closed gateway is UNAVAILABLE too.
 * Refusals (UNAUTHENTICATED, INVALID_ARGUMENT, ...) pass as they are.
 */
function enqueueFailure(error: ProtocolError, deadlineMs: number): ProtocolError {
  if (error.code === 'CLIENT_CLOSED') return new ProtocolError('UNAVAILABLE', `the node is closing its HTTP API: ${error.message}`, undefined, error.sent);
  if (error.code !== 'DEADLINE_EXCEEDED') return error;
  const last = error.cause instanceof ProtocolError ? error.cause : undefined;
  const noLeader = last !== undefined && (last.code === 'NOT_LEADER' || !last.sent);
  const why = noLeader ? `no leader could be reached within ${deadlineMs} ms (an election is under way, or too few nodes are up)` : `it ran out of its ${deadlineMs} ms deadline`;
  return new ProtocolError('UNAVAILABLE', `the enqueue's outcome is unknown: ${why} (last: ${last?.message ?? error.message})`);
}

/**
 * A failure as a caller can act on it. NOT_LEADER, or a request that never left (no node
 * reachable): no leader could be reached, and nothing was done. A deadline that passed
 * (DEADLINE_EXCEEDED, the SDK's own code) is UNAVAILABLE: an idempotent call may simply be
 * retried; a call that is not (pull, nack) did nothing only when its error says `sent: false`
 * (only refusals that did nothing, or never sent); with `sent: true` a leader may have taken it
 * (a pull's jobs leased, a nack applied), and the answer says the outcome is unknown.
 */
function explained(error: ProtocolError, deadlineMs: number, idempotent: boolean): ProtocolError {
  const noLeader = `no leader could be reached within ${deadlineMs} ms (an election is under way, or too few nodes are up)`;
  if (error.code === 'DEADLINE_EXCEEDED') {
    const last = error.cause instanceof ProtocolError ? error.cause : error;
    const why = last.code === 'NOT_LEADER' || !last.sent ? noLeader : `the call ran out of its ${deadlineMs} ms deadline`;
    const outcome = idempotent ? 'it is safe to retry'
      : error.sent ? 'the outcome is unknown: the leader may have done it (a pull may have leased jobs, which come back when their lease runs out)'
        : 'nothing was done, retry shortly';
    return new ProtocolError('UNAVAILABLE', `${why}; ${outcome} (last: ${last.message})`, undefined, error.sent);
  }
  if (error.code !== 'NOT_LEADER' && error.sent) return error;
  return new ProtocolError('NOT_LEADER', `${noLeader}; nothing was done, retry shortly (last: ${error.message})`, undefined, false);
}

function withoutId<Reply extends { readonly id: number }>(reply: Reply): Omit<Reply, 'id'> {
  const { id: _id, ...rest } = reply;
  return rest;
}
