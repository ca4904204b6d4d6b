/**
 * How the cluster file's Raft timings (milliseconds) become the core's abstract ticks.
 *
 * One tick is `raftTickMs`; every timeout is a whole number of ticks, at least one. 5 ms keeps
 * the rounding of the default timings (50 ms heartbeat, 300-600 ms election) exact, and keeps tick
 * granularity from dominating a failover: the survivors of a crashed leader take turns one
 * successor pause (two ticks, 10 ms) apart, and a split fast campaign retries after 1-4 ticks. It
 * costs two hundred timer callbacks a second on the Replicator thread.
 *
 * Runs on: Replicator thread.
 */
import type { RaftConfig as RaftFileSettings } from '../config/cluster-config.js';
import type { RaftSettings } from '../raft/raft-config.js';

export const raftTickMs = 5;

export function ticksOf(ms: number): number {
  return Math.max(1, Math.round(ms / raftTickMs));
}

/**
 * When the leader's connection closes, the survivors campaign in the order of the successor
 * ranking the leader's heartbeats carried (src/raft/election.ts). Only a follower that has heard
 * no ranking yet (just after it started) falls back to a random delay of 0..this many ticks:
 * 0..40 ms, so that two such followers rarely campaign in the same tick and split the vote.
 */
function disconnectCampaignDelayTicksFor(electionTimeoutTicksMin: number): number {
  return Math.max(0, Math.min(ticksOf(40), Math.floor(electionTimeoutTicksMin / 3)));
}

export function raftSettingsFrom(file: RaftFileSettings): Partial<RaftSettings> {
  return {
    heartbeatIntervalTicks: ticksOf(file.heartbeatIntervalMs),
    electionTimeoutTicksMin: ticksOf(file.electionTimeoutMsMin),
    electionTimeoutTicksMax: Math.max(ticksOf(file.electionTimeoutMsMax), ticksOf(file.electionTimeoutMsMin) + 1),
    preVote: file.preVote,
    checkQuorum: file.checkQuorum,
    inflightMessagesMax: file.inflightMessagesMax,
    inflightBytesMax: file.inflightBytesMax,
    uncommittedBytesMax: file.uncommittedBytesMax,
    appendBytesMax: Math.min(file.inflightBytesMax, Math.floor(file.frameBytesMax / 2)),
    disconnectCampaignDelayTicksMax: disconnectCampaignDelayTicksFor(ticksOf(file.electionTimeoutMsMin)),
  };
}
