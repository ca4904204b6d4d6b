/**
 * The role requests of the control link (supervisor <-> actor): what the supervisor asks an
 * actor's role, and the answer each request gets. The control ring's own messages (ping, status,
 * stop, and the `roleRequest` / `roleResponse` envelopes that carry these) are in
 * runtime/control-messages.ts.
 *
 * Supervisor -> actor: `handOverLeadership` (the graceful stop's first step, Replicator), and
 * `raftLoad` (the --test-hooks load generator behind POST /debug/raft-load, Replicator).
 * Actor -> supervisor: one `roleResponse` per request: the role's answer tagged with the request's
 * kind, or `refused` with an error value when the role takes no such request or failed on it.
 *
 * `RoleRequests` is the one list: each request with its answer, so that `askRole` and a role's
 * handlers are typed by the request's kind.
 *
 * Checked on arrival, one checker per direction: control-validation.ts.
 *
 * Runs on: supervisor and every actor thread (types only).
 */
import type { FalconError } from '../errors.js';

/** How a graceful stop's wait for the hand-over ended. */
export type HandOverEnd = 'newLeaderCommits' | 'targetGone' | 'gaveUp' | 'timedOut';
export const handOverEnds: readonly HandOverEnd[] = ['newLeaderCommits', 'targetGone', 'gaveUp', 'timedOut'];

/** A leader hands leadership to its most caught-up follower and answers when that is done, or after `timeoutMs`. */
export interface HandOverLeadershipRequest {
  readonly type: 'handOverLeadership';
  readonly timeoutMs: number;
}

export interface HandOverResult {
  /** True when this node still leads at the end (the hand-over timed out before it stepped down). */
  readonly leading: boolean;
  /** The follower leadership was handed to; null when this node did not lead (nothing to hand over). */
  readonly handedTo: string | null;
  /** How the wait ended; null when there was nothing to hand over. */
  readonly end: HandOverEnd | null;
  readonly ms: number;
}

/**
 * A bounded Raft load run on the leader (replication/raft-load.ts): `entries` entries of
 * `payloadBytes` each, `batch` per proposal, `inflight` proposals outstanding, within `timeoutMs`.
 */
export interface RaftLoadRequest {
  readonly type: 'raftLoad';
  readonly entries: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly inflight: number;
  readonly timeoutMs: number;
  /** Optional, default 0: on a node that is not the leader, how long to wait for it to become
   *  the leader (refused as soon as another node is known to lead). A client that asks every node
   *  during a failover thereby waits for the election instead of polling. */
  readonly leaderWaitMs?: number;
}

/** Bounds on a load request, so that a mistyped hook call cannot exhaust the node. */
export const raftLoadLimits = { entriesMax: 10_000_000, batchMax: 4096, payloadBytesMax: 65_536, inflightMax: 4096, timeoutMsMax: 600_000, leaderWaitMsMax: 10_000 } as const;

/** What a load that ran measured. */
export interface RaftLoadFigures {
  readonly committed: number;
  readonly lost: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly latencyMsMax: number;
  readonly lastIndex: number;
}

/** A load that ran: every entry committed (`ok`), or it ended early (`error`: timed out, leadership moved). */
export type RaftLoadRun =
  | (RaftLoadFigures & { readonly ok: true })
  | (RaftLoadFigures & { readonly ok: false; readonly error: string });

/** A load that did not run (raft not started, a load already running, not the leader). */
export interface RaftLoadRefused {
  readonly ok: false;
  readonly error: string;
}

/** The answer to `raftLoad`, as POST /debug/raft-load returns it (200 when `ok`, else 409). */
export type RaftLoadResult = RaftLoadRun | RaftLoadRefused;

/** Every role request with its answer: the one list of them. */
export interface RoleRequests {
  readonly handOverLeadership: { readonly request: HandOverLeadershipRequest; readonly response: HandOverResult };
  readonly raftLoad: { readonly request: RaftLoadRequest; readonly response: RaftLoadResult };
}

export type RoleRequestKind = keyof RoleRequests;
export type RequestOf<Kind extends RoleRequestKind> = RoleRequests[Kind]['request'];
export type ResponseOf<Kind extends RoleRequestKind> = RoleRequests[Kind]['response'];
/** Any role request, as the supervisor sends it. */
export type RoleRequest = RequestOf<RoleRequestKind>;

/** The runtime's answer when the role takes no such request, failed on it, or the request was malformed. */
export interface RoleRequestRefused {
  readonly type: 'refused';
  readonly error: FalconError;
}

/**
 * A role's answer on the ring, tagged with the kind of request it answers. The pairing of kind
 * and answer is checked on arrival against the kind the supervisor asked
 * (control-validation.ts `checkRoleResponse`), which types the answer by that kind.
 */
export interface RoleAnswered<Kind extends RoleRequestKind = RoleRequestKind> {
  readonly type: Kind;
  readonly answer: ResponseOf<Kind>;
}

/** What an actor sends back for a role request. */
export type RoleResponse = RoleAnswered | RoleRequestRefused;

/** What a role answers, one handler per request it takes (actors/actor-context.ts `ActorRole.requestHandlers`). */
export type RoleRequestHandlers = { readonly [Kind in RoleRequestKind]?: (request: RequestOf<Kind>) => Promise<ResponseOf<Kind>> };
