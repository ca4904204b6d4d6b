/**
 * The settings of one Raft node, their defaults and their validation. Every bound of the core
 * lives here, with its unit and its reason.
 *
 * Time is counted in ticks: the caller calls `tick()` at a fixed period (the Replicator's timer,
 * e.g. every 10 ms) and converts cluster.yaml's milliseconds into ticks. With a 10 ms tick the
 * defaults are a 50 ms heartbeat and a 300–600 ms election timeout.
 *
 * Invariants (checked by `resolveRaftConfig`): 1 ≤ heartbeatIntervalTicks < electionTimeoutTicksMin
 * < electionTimeoutTicksMax; every bound is a positive safe integer; `id` is one of `voters`
 * unless the node starts from a snapshot that says otherwise.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { falconError, FalconFailure } from '../errors.js';
import type { NodeId } from '../log/node-id.js';
import type { LogStorage } from './log-storage.js';
import type { Random } from './random.js';

export interface RaftSettings {
  /** A follower campaigns after a random number of ticks in [min, max) without hearing from a
   *  leader. `min` is also the leader's check-quorum period and the followers' lease. */
  readonly electionTimeoutTicksMin: number;
  readonly electionTimeoutTicksMax: number;
  readonly heartbeatIntervalTicks: number;
  /** Ask "would you vote for me?" before raising the term, so a node that was cut off cannot
   *  depose a healthy leader when it comes back (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader steps down when it has not heard from a majority for electionTimeoutTicksMin, and a
   *  follower that heard from its leader within that time ignores vote requests (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** On `peerDisconnected(leader)` drop the leader lease and campaign in the order of the
   *  leader's successor ranking (DESIGN.md §7a, fast failover after kill -9; election.ts). On only
   *  when `preVote` and `checkQuorum` are on too. */
  readonly campaignOnLeaderDisconnect: boolean;
  /** The ticks each place in the successor ranking waits after the one before it: rank r
   *  campaigns r × this many ticks after the close, unless it heard of a winner. A tick count
   *  runs from the next tick, so N ticks last between N - 1 and N tick periods: 2 is at least one
   *  whole period. Also: a fast campaign that did not win retries after 1..2 × this many ticks. */
  readonly successorPauseTicks: number;
  /** Fast campaigns (the first and its retries) after one close; then the election timeout
   *  governs again. */
  readonly fastCampaignAttemptsMax: number;
  /** When no ranking was heard yet (a leader's first heartbeat not yet arrived), a random delay
   *  of 0..this many ticks spreads the survivors' campaigns instead. */
  readonly disconnectCampaignDelayTicksMax: number;
  /** Forward proposals and ReadIndex requests made on a follower to the known leader; when false,
   *  a follower answers NOT_LEADER with the leader's id so the client can go there itself. */
  readonly forwardToLeader: boolean;
  /** Pipelining bound per follower: appends sent and not yet acknowledged, in messages... */
  readonly inflightMessagesMax: number;
  /** ...and in payload bytes. */
  readonly inflightBytesMax: number;
  /** Payload bytes per append message (always at least one entry). */
  readonly appendBytesMax: number;
  /** Payload bytes the leader holds proposed but not committed; beyond it proposals are dropped
   *  with PROPOSAL_DROPPED so that a leader cut off from its followers does not grow without end. */
  readonly uncommittedBytesMax: number;
  /** Committed entries handed out per Ready, in payload bytes (always at least one entry). */
  readonly applyBytesMax: number;
  /** ReadIndex requests waiting for confirmation on a leader. */
  readonly pendingReadsMax: number;
  /** Writes handed out by `ready()` and not yet reported durable. Beyond it the caller is not
   *  reporting durability at all: a bug. */
  readonly writesInFlightMax: number;
  /** A follower in snapshot state that sends no answer for this long is probed again, in case
   *  the snapshot was lost on the way (the transport may also say so with `reportSnapshot`). */
  readonly snapshotRetryTicks: number;
}

export interface RaftConfig extends Partial<RaftSettings> {
  readonly id: NodeId;
  /** The voters when the storage holds no snapshot (a fresh cluster). */
  readonly voters: readonly NodeId[];
  readonly storage: LogStorage;
  readonly random: Random;
  /** The index the state machine already reflects at start (its snapshot's index, usually). */
  readonly appliedIndex: number;
  /** The storage carries the needs-catch-up marker (the WAL's recovery report: its log was cut by
   *  repair, or its data directory was wiped): see catch-up.ts. Absent means false. */
  readonly needsCatchUp?: boolean;
  /** Grows with every start of this node (the Replicator passes its start time in ms, the
   *  simulator its incarnation). Carried on append and heartbeat answers, so that a leader can
   *  tell an answer from before a restart that cut the log from one after it (catch-up.ts).
   *  Absent means 0. */
  readonly bootId?: number;
}

export const raftSettingsDefault: RaftSettings = {
  electionTimeoutTicksMin: 30,
  electionTimeoutTicksMax: 60,
  heartbeatIntervalTicks: 5,
  preVote: true,
  checkQuorum: true,
  campaignOnLeaderDisconnect: true,
  successorPauseTicks: 2,
  fastCampaignAttemptsMax: 3,
  disconnectCampaignDelayTicksMax: 3,
  forwardToLeader: true,
  inflightMessagesMax: 256,
  inflightBytesMax: 8 * 1024 * 1024,
  appendBytesMax: 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  applyBytesMax: 4 * 1024 * 1024,
  pendingReadsMax: 4096,
  writesInFlightMax: 65_536,
  snapshotRetryTicks: 120,
};

export type ResolvedRaftConfig = RaftSettings & Omit<RaftConfig, keyof RaftSettings>;

function refuse(field: string, rule: string, value: unknown): never {
  throw new FalconFailure(falconError('CONFIG_INVALID', `raft.${field} ${rule} (got ${String(value)})`, { field }));
}

/** The config with defaults filled in; throws CONFIG_INVALID naming the field and the rule. */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = { ...raftSettingsDefault, ...stripUndefined(config) } as ResolvedRaftConfig;
  const positiveFields: (keyof RaftSettings)[] = [
    'electionTimeoutTicksMin', 'electionTimeoutTicksMax', 'heartbeatIntervalTicks', 'inflightMessagesMax',
    'inflightBytesMax', 'appendBytesMax', 'uncommittedBytesMax', 'applyBytesMax', 'pendingReadsMax',
    'writesInFlightMax', 'snapshotRetryTicks', 'successorPauseTicks', 'fastCampaignAttemptsMax',
  ];
  for (const field of positiveFields) {
    const value = resolved[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) refuse(field, 'must be a positive integer', value);
  }
  if (!Number.isSafeInteger(resolved.disconnectCampaignDelayTicksMax) || resolved.disconnectCampaignDelayTicksMax < 0) {
    refuse('disconnectCampaignDelayTicksMax', 'must be a non-negative integer', resolved.disconnectCampaignDelayTicksMax);
  }
  if (resolved.heartbeatIntervalTicks >= resolved.electionTimeoutTicksMin) {
    refuse('heartbeatIntervalTicks', `must be below electionTimeoutTicksMin (${resolved.electionTimeoutTicksMin})`, resolved.heartbeatIntervalTicks);
  }
  if (resolved.electionTimeoutTicksMax <= resolved.electionTimeoutTicksMin) {
    refuse('electionTimeoutTicksMax', `must be above electionTimeoutTicksMin (${resolved.electionTimeoutTicksMin})`, resolved.electionTimeoutTicksMax);
  }
  if (resolved.successorPauseTicks >= resolved.electionTimeoutTicksMin) {
    refuse('successorPauseTicks', `must be below electionTimeoutTicksMin (${resolved.electionTimeoutTicksMin})`, resolved.successorPauseTicks);
  }
  if (resolved.disconnectCampaignDelayTicksMax >= resolved.electionTimeoutTicksMin) {
    refuse('disconnectCampaignDelayTicksMax', `must be below electionTimeoutTicksMin (${resolved.electionTimeoutTicksMin})`,
      resolved.disconnectCampaignDelayTicksMax);
  }
  if (typeof resolved.id !== 'string' || resolved.id.length === 0) refuse('id', 'must be a non-empty string', resolved.id);
  if (new Set(resolved.voters).size !== resolved.voters.length) refuse('voters', 'must not repeat a node', resolved.voters.join(','));
  if (!Number.isSafeInteger(resolved.appliedIndex) || resolved.appliedIndex < 0) {
    refuse('appliedIndex', 'must be a non-negative integer', resolved.appliedIndex);
  }
  return resolved;
}

function stripUndefined(config: RaftConfig): Partial<RaftConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (value !== undefined) out[key] = value;
  return out as Partial<RaftConfig>;
}
