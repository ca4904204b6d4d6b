/**
 * The QueueGateway over the client protocol: each call is one request made through a
 * ClusterConnection whose first address is this node's own client port, then the other nodes of
 * the cluster. The connection follows NOT_LEADER to the leader, so a follower's HTTP API serves a
 * request by forwarding it, and the caller never sees a redirect.
 *
 * The caller's bearer token goes into the connection's hello, so the leader admits or refuses it
 * exactly as it would any client. Connections are pooled by token: at most `connectionsMax`, the
 * least recently used closed first (once its calls in flight have settled). Requests without a
 * token share one connection.
 *
 * Idempotency (what ClusterConnection may retry after an unknown outcome): reads, ack, extend,
 * register, heartbeat, and an enqueue whose every job has an idempotency key. Not pull (a retry
 * would lease more jobs), nack (a retry would meet LEASE_LOST), nor an enqueue without a key.
 *
 * Invariants: at most `connectionsMax` connections open; every reply is checked against the
 * protocol (protocol/client-validation.ts) before a route reads it.
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import { ClusterConnection, type NodeAddress } from '../client/cluster-connection.js';
import { ProtocolError } from '../client/protocol-connection.js';
import type { ClientRequestType, ReplyOf } from '../protocol/client.js';
import { checkClientReply, isErrorReply } from '../protocol/client-validation.js';
import type { Caller, CallFields, QueueGateway, QueueOperations } from './queue-gateway.js';

export interface ConnectionGatewayOptions {
  /** This node's client address first, then the other nodes'. */
  readonly nodes: readonly NodeAddress[];
  /** queue.clientFrameBytesMax of the cluster. */
  readonly frameBytesMax: number;
  /** Connections kept open at once, one per distinct token (default 64). */
  readonly connectionsMax?: number;
}

/** Enough distinct callers for a cluster's services and operators; each costs one socket on the leader. */
const connectionsMaxDefault = 64;

interface PooledConnection {
  readonly connection: ClusterConnection;
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

  operationsFor(caller: Caller): QueueOperations {
    const call = <Type extends ClientRequestType>(type: Type, fields: CallFields<Type>, idempotent: boolean): Promise<ReplyOf<Type>> =>
      this.call(caller, type, fields, idempotent);
    return {
      enqueue: async (queue, jobs) => (await call('enqueue', { queue, jobs }, jobs.every((job) => job.idempotencyKey !== undefined))).jobs,
      pull: async (fields) => (await call('pull', fields, false)).jobs,
      ack: async (fields) => withoutId(await call('ack', fields, true)),
      nack: async (fields) => withoutId(await call('nack', fields, false)),
      extend: async (fields) => withoutId(await call('extend', fields, true)),
      get: async (jobId) => (await call('get', { jobId }, true)).job,
      list: async (fields) => withoutId(await call('list', fields, true)),
      stats: async (queue) => (await call('stats', queue === undefined ? {} : { queue }, true)).queues,
      register: async (fields) => withoutId(await call('register', fields, true)),
      heartbeat: async (fields) => withoutId(await call('heartbeat', fields, true)),
    };
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
      throw error instanceof ProtocolError ? explained(error, caller.deadlineMs) : error;
    } finally {
      pooled.inflight -= 1;
      if (pooled.evicted && pooled.inflight === 0) pooled.connection.close();
    }
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
    const pooled: PooledConnection = { connection, inflight: 0, evicted: false };
    this.pool.set(key, pooled);
    this.evictBeyond(this.options.connectionsMax ?? connectionsMaxDefault);
    return pooled;
  }

  private evictBeyond(connectionsMax: number): void {
    for (const [key, pooled] of this.pool) {
      if (this.pool.size <= connectionsMax) return;
      this.pool.delete(key);
      pooled.evicted = true;
      if (pooled.inflight === 0) pooled.connection.close();
    }
  }

  close(): void {
    for (const pooled of this.pool.values()) pooled.connection.close();
    this.pool.clear();
  }
}

/**
 * A failure as a caller can act on it: NOT_LEADER at the deadline, or a request that never left
 * (no node reachable), both mean nothing was done and no leader could be reached.
 */
function explained(error: ProtocolError, deadlineMs: number): ProtocolError {
  if (error.code !== 'NOT_LEADER' && error.sent) return error;
  return new ProtocolError('NOT_LEADER', `no leader could be reached within ${deadlineMs} ms (an election is under way, or too few nodes are up); ` +
    `nothing was done, retry shortly (last: ${error.message})`, undefined, false);
}

function withoutId<Reply extends { readonly id: number }>(reply: Reply): Omit<Reply, 'id'> {
  const { id: _id, ...rest } = reply;
  return rest;
}
