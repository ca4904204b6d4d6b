/**
 * What the HTTP API needs of the cluster: the client protocol's calls, one method each, made on
 * behalf of one caller (its bearer token) within one deadline. The routes (api-routes.ts) speak
 * only to this interface, so what stands behind it (today a pool keyed by token of a
 * ClusterConnection and a FalconClient, connection-gateway.ts) can change without touching them.
 *
 * Contract of every method: it resolves with the protocol's reply (docs/protocol.md, section 4),
 * or rejects with an error whose `code` is a protocol error code (section 5), and settles by the
 * caller's deadline (plus one connect timeout). A method that is not idempotent (pull, nack) is
 * not retried after an outcome it cannot know: it rejects with UNAVAILABLE, and the request may
 * or may not have taken effect. An enqueue is retried without ever adding its jobs twice (a
 * producer session's sequence, and its keys): it rejects UNAVAILABLE only when its deadline
 * passed with the outcome unknown.
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import type {
  AckReply, ClientRequestType, CountReply, EnqueueJobRequest, ExtendReply, JobReplyView, ListReply, NackReply, PulledJob, RequestOf, TtlReply,
} from '../protocol/client.js';
import type { EnqueuedJob, QueueStats } from '../queue/results.js';

/** A request of the protocol without its envelope (`id`, `type`). */
export type CallFields<Type extends ClientRequestType> = Omit<RequestOf<Type>, 'id' | 'type'>;

/** Who asks, and by when the answer must come. */
export interface Caller {
  /** The bearer token from the HTTP request's Authorization header; undefined when none came. */
  readonly token: string | undefined;
  /** How long the call may take, retries and redirects included. */
  readonly deadlineMs: number;
}

/** The calls of the client protocol the HTTP API makes, bound to one caller. */
export interface QueueOperations {
  /** Enqueues `jobs` as one step (all or none), retried safely within the deadline; FRAME_TOO_LARGE when they do not fit one request. */
  enqueue(queue: string, jobs: readonly EnqueueJobRequest[]): Promise<readonly EnqueuedJob[]>;
  pull(fields: CallFields<'pull'>): Promise<readonly PulledJob[]>;
  ack(fields: CallFields<'ack'>): Promise<Omit<AckReply, 'id'>>;
  nack(fields: CallFields<'nack'>): Promise<Omit<NackReply, 'id'>>;
  extend(fields: CallFields<'extend'>): Promise<Omit<ExtendReply, 'id'>>;
  get(jobId: number): Promise<JobReplyView>;
  list(fields: CallFields<'list'>): Promise<Omit<ListReply, 'id'>>;
  /** One queue's figures (an empty list when it does not exist), or every queue's. */
  stats(queue: string | undefined): Promise<readonly QueueStats[]>;
  register(fields: CallFields<'register'>): Promise<Omit<TtlReply, 'id'>>;
  heartbeat(fields: CallFields<'heartbeat'>): Promise<Omit<TtlReply, 'id'>>;
  /** A worker leaving: the leader returns every job it holds at once and forgets it. */
  unregister(fields: CallFields<'unregister'>): Promise<Omit<CountReply, 'id'>>;
}

export interface QueueGateway {
  /**
   * Judges the caller's access before the HTTP API reads or checks anything of the request
   * (docs/protocol.md §3: access before validation). Rejects UNAUTHENTICATED when the cluster
   * lists tokens and the caller has none, or when a node refused the caller's token in a hello;
   * resolves otherwise, also when no node could be reached to judge it (the call itself then
   * finds its own failure). Costs nothing once the caller's connection is open.
   */
  admit(caller: Caller): Promise<void>;
  operationsFor(caller: Caller): QueueOperations;
  /** Closes every connection; calls in flight reject. */
  close(): void;
}

/** The shape a rejection of a QueueOperations method has: a protocol error code and a message. */
export interface CodedError {
  readonly code: string;
  readonly message: string;
}

export function isCodedError(value: unknown): value is CodedError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string';
}
