/**
 * The client protocol: every request a producer, worker or operator sends on a node's client port,
 * and the reply each one gets. docs/protocol.md is the reference a client in another language is
 * written from; the names here are the names on the wire.
 *
 * | bytes | field                                                    |
 * |-------|----------------------------------------------------------|
 * | 0..3  | u32 big-endian body length, 1..queue.clientFrameBytesMax |
 * | 4..   | one plain MessagePack map (no extension types)           |
 *
 * A request is `{ id, type, ...fields }`; its reply is `{ id, ...fields }` or the error envelope
 * `{ id, error: { code, message, leader?, detail? } }` (net/client-frames.ts). Many requests may be
 * in flight on one connection; replies come in any order and are matched by `id`. An error that
 * ends the connection (FRAME_TOO_LARGE, MALFORMED_FRAME) carries id 0 when the request's id is
 * unknown, which is why request ids start at 1.
 *
 * Invariants: a request that passed client-validation.ts has every field its type declares here,
 * within `clientLimits`; replies carry no `undefined` value (an optional field is absent), since
 * msgpackr would encode one as a codec-private extension.
 *
 * Checked on arrival, one checker per direction: client-validation.ts. Mapped onto the queue's
 * commands and results: client-commands.ts.
 *
 * Runs on: Dispatcher thread, and any client of the protocol (types and limits only).
 */
import { jobsPerEntryMax, type ContentType } from '../queue/commands.js';
import type { EnqueuedJob, JobState, JobSummary, JobTransition, QueueStats } from '../queue/results.js';
import type { ErrorReply } from '../net/client-frames.js';
import type { AccessRole } from '../config/auth-config.js';

export type { ErrorReply, WireError, LeaderAddress } from '../net/client-frames.js';

/** The version of this protocol; `hello` with any other is answered UNSUPPORTED_VERSION. */
export const clientProtocolVersion = 1;

/** Every bound a request is checked against, each with its reason. */
export const clientLimits = {
  /** Queue names are map keys in the state, metrics labels and log fields: short, printable. */
  queueNameBytesMax: 200,
  /** Worker ids, producer ids and client names: labels of the same kind. */
  nameBytesMax: 128,
  /** A hello's bearer token: the longest a cluster may list (config/auth-config.ts tokenCharsMax). */
  tokenBytesMax: 256,
  /** One enqueue becomes one log entry, whose job ids are `index * jobsPerEntryMax + position`. */
  jobsPerEnqueueMax: jobsPerEntryMax,
  /** One pull becomes one Lease command; its reply must stay a frame a client can take. */
  jobsPerPullMax: jobsPerEntryMax,
  /** A long poll holds a slot on the node; a client that wants to wait longer polls again. */
  waitMsMax: 60_000,
  /** A hello held until its node leads: long enough for a few elections. */
  leaderWaitMsMax: 10_000,
  /** Keys are held for the dedup window in every replica's memory. */
  idempotencyKeyBytesMax: 256,
  /** Job priorities are 32-bit signed integers: the ready index orders them as such. */
  priorityMin: -(2 ** 31),
  priorityMax: 2 ** 31 - 1,
  /** A job may be delayed by up to a year; longer is a scheduler's job, not a queue's. */
  delayMsMax: 365 * 24 * 60 * 60 * 1000,
  /** A lease (or one extension of it) lasts at most a day: a dead worker cannot hold a job longer. */
  leaseMsMax: 24 * 60 * 60 * 1000,
  /** Attempts per job: enough for any retry policy, small enough that a poison job ends. */
  attemptsMax: 1000,
  /** A retry waits at most a week between attempts. */
  backoffDelayMsMax: 7 * 24 * 60 * 60 * 1000,
  /** A nack's error text is kept with the job (last error) in every replica. */
  errorBytesMax: 4096,
  /** Jobs per page of `list`, and the page size when the request does not say. */
  listLimitMax: 1000,
  listLimitDefault: 100,
  /** Jobs one redrive moves (one command, applied in one step on every node), and its default. */
  redriveJobsMax: 65_536,
  redriveJobsDefault: jobsPerEntryMax,
  /** Queues one worker registers for. */
  queuesPerWorkerMax: 256,
  /** Jobs one worker says it runs at once. */
  capacityMax: 65_536,
} as const;

export interface HelloRequest {
  readonly id: number;
  readonly type: 'hello';
  readonly protocol: number;
  /** The producer session to resume; the node makes one when absent. */
  readonly producerId?: string;
  /** A free-form name of the client library or program, for logs. */
  readonly client?: string;
  /** The bearer token of a cluster that lists tokens (auth in cluster.yaml); it grants its role to
   *  this connection until the next hello. Never logged. */
  readonly token?: string;
  /** Answer once this node leads, or after this many ms (a client looking for a new leader past a
   *  silent one); absent or 0: answer at once. */
  readonly leaderWaitMs?: number;
}

/** Retry delays after failed attempts (queue/commands.ts `Backoff`); unset fields take the
 *  queue's defaults (client-commands.ts says how). */
export interface BackoffRequest {
  readonly kind: 'fixed' | 'exponential';
  readonly delayMs: number;
  readonly delayMsMax?: number;
  readonly jitterRatio?: number;
}

export interface EnqueueJobRequest {
  readonly payload: Uint8Array;
  readonly contentType?: ContentType;
  readonly priority?: number;
  readonly delayMs?: number;
  readonly attemptsMax?: number;
  readonly leaseMs?: number;
  readonly backoff?: BackoffRequest;
  readonly idempotencyKey?: string;
}

export interface EnqueueRequest {
  readonly id: number;
  readonly type: 'enqueue';
  readonly queue: string;
  readonly jobs: readonly EnqueueJobRequest[];
  /** The producer session's number for this enqueue, the same on every retry of it. */
  readonly sequence?: number;
  /** True on a resend of a sequence whose earlier attempt may have taken effect: from a producer the
   *  node does not know (a session it forgot), such a retry is refused, never applied as new. */
  readonly retry?: boolean;
}

export interface PullRequest {
  readonly id: number;
  readonly type: 'pull';
  readonly queue: string;
  readonly jobsMax: number;
  readonly leaseMs?: number;
  /** When no job is ready, wait up to this long for one (long poll); 0 or absent: answer at once. */
  readonly waitMs?: number;
  readonly workerId?: string;
}

export interface AckRequest {
  readonly id: number;
  readonly type: 'ack';
  readonly jobId: number;
  readonly token: number;
  readonly result?: Uint8Array;
}

export interface NackRequest {
  readonly id: number;
  readonly type: 'nack';
  readonly jobId: number;
  readonly token: number;
  readonly error?: string;
  readonly retryable?: boolean;
  readonly delayMs?: number;
}

export interface ExtendRequest {
  readonly id: number;
  readonly type: 'extend';
  readonly jobId: number;
  readonly token: number;
  readonly leaseMs?: number;
}

export interface GetRequest { readonly id: number; readonly type: 'get'; readonly jobId: number }

export interface ListRequest {
  readonly id: number;
  readonly type: 'list';
  readonly queue: string;
  readonly state: JobState;
  readonly afterId?: number;
  readonly limit?: number;
}

export interface CancelRequest { readonly id: number; readonly type: 'cancel'; readonly jobId: number }
export interface StatsRequest { readonly id: number; readonly type: 'stats'; readonly queue?: string }
export interface PauseRequest { readonly id: number; readonly type: 'pause'; readonly queue: string }
export interface ResumeRequest { readonly id: number; readonly type: 'resume'; readonly queue: string }

export interface RegisterRequest {
  readonly id: number;
  readonly type: 'register';
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly capacity: number;
}

export interface HeartbeatRequest {
  readonly id: number;
  readonly type: 'heartbeat';
  readonly workerId: string;
  /** Jobs the worker runs now. */
  readonly load?: number;
}

/** The worker is going away: the leader stops tracking its TTL and returns every job it still
 *  holds to its queue now, as a TTL expiry would (docs/protocol.md "unregister"). */
export interface UnregisterRequest {
  readonly id: number;
  readonly type: 'unregister';
  readonly workerId: string;
}

export interface RedriveRequest { readonly id: number; readonly type: 'redrive'; readonly queue: string; readonly jobsMax?: number }
export interface PurgeRequest { readonly id: number; readonly type: 'purge'; readonly queue: string; readonly set: 'ready' | 'dead' }

export type ClientRequest =
  | HelloRequest | EnqueueRequest | PullRequest | AckRequest | NackRequest | ExtendRequest | GetRequest
  | ListRequest | CancelRequest | StatsRequest | PauseRequest | ResumeRequest | RegisterRequest
  | HeartbeatRequest | UnregisterRequest | RedriveRequest | PurgeRequest;

export type ClientRequestType = ClientRequest['type'];

export interface HelloReply {
  readonly id: number;
  readonly protocol: number;
  /** The answering node's id. */
  readonly node: string;
  /** The leader's node id as this node knows it; null during an election. */
  readonly leader: string | null;
  readonly producerId: string;
  /** What this connection may do after the hello (docs/protocol.md §3): `open` (the cluster lists
   *  no tokens), `none` (no token given: every request but hello is refused UNAUTHENTICATED), or
   *  the role of the token given. */
  readonly access: HelloAccess;
}

/** A hello's `access` answer: see HelloReply. */
export type HelloAccess = 'open' | 'none' | AccessRole;

export interface EnqueueReply { readonly id: number; readonly jobs: readonly EnqueuedJob[] }

/** A leased job as a pull hands it out (queue/results.ts `LeasedJob`, content type by name). */
export interface PulledJob {
  readonly id: number;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly contentType: ContentType;
  readonly priority: number;
  readonly attempt: number;
  readonly attemptsMax: number;
  readonly token: number;
  readonly deadlineMs: number;
  readonly enqueuedAtMs: number;
}

export interface PullReply { readonly id: number; readonly jobs: readonly PulledJob[] }
export interface AckReply { readonly id: number; readonly repeated: boolean }
export interface NackReply { readonly id: number; readonly state: JobState; readonly retryAtMs: number }
export interface ExtendReply { readonly id: number; readonly deadlineMs: number }

/** A job as `get` shows it (queue/results.ts `JobView`, content type by name). */
export interface JobReplyView {
  readonly id: number;
  readonly queue: string;
  readonly state: JobState;
  readonly priority: number;
  readonly payload: Uint8Array;
  readonly contentType: ContentType;
  readonly attempts: number;
  readonly attemptsMax: number;
  readonly runAtMs: number;
  readonly enqueuedAtMs: number;
  readonly updatedAtMs: number;
  readonly idempotencyKey?: string;
  readonly token?: number;
  readonly leaseDeadlineMs?: number;
  readonly workerId?: string;
  readonly result?: Uint8Array;
  readonly lastError?: string;
  readonly history: readonly JobTransition[];
}

export interface GetReply { readonly id: number; readonly job: JobReplyView }
export interface ListReply { readonly id: number; readonly jobs: readonly JobSummary[]; readonly nextAfterId: number | null }
/** cancel, pause, resume. */
export interface EmptyReply { readonly id: number }
export interface StatsReply { readonly id: number; readonly queues: readonly QueueStats[] }
/** register, heartbeat: beat again well within `ttlMs`. */
export interface TtlReply { readonly id: number; readonly ttlMs: number }
/** redrive, purge: how many jobs moved; unregister: how many leases it returned. */
export interface CountReply { readonly id: number; readonly jobs: number }

/** Every request type and the reply it gets when it succeeds. */
export interface ClientReplies {
  readonly hello: HelloReply;
  readonly enqueue: EnqueueReply;
  readonly pull: PullReply;
  readonly ack: AckReply;
  readonly nack: NackReply;
  readonly extend: ExtendReply;
  readonly get: GetReply;
  readonly list: ListReply;
  readonly cancel: EmptyReply;
  readonly stats: StatsReply;
  readonly pause: EmptyReply;
  readonly resume: EmptyReply;
  readonly register: TtlReply;
  readonly heartbeat: TtlReply;
  readonly unregister: CountReply;
  readonly redrive: CountReply;
  readonly purge: CountReply;
}

export type ReplyOf<Type extends ClientRequestType> = ClientReplies[Type];
export type ClientReply = ClientReplies[ClientRequestType] | ErrorReply;
export type RequestOf<Type extends ClientRequestType> = Extract<ClientRequest, { type: Type }>;
