/**
 * How the cluster file's Raft timings (milliseconds) become the core's abstract ticks.
 *
 * One tick is `raftTickMs`; every timeout is a whole number of ticks, at least one. 10 ms keeps
 * the rounding of the default timings (50 ms heartbeat, 300-600 ms election) exact while costing
 * a hundred timer callbacks a second.
 *
 * Runs on: Replicator thread.
 */
import type { RaftConfig as RaftFileSettings } from '../config/cluster-config.js';
import type { RaftSettings } from '../raft/raft-config.js';

export const raftTickMs = 10;

export function ticksOf(ms: number): number {
  return Math.max(1, Math.round(ms / raftTickMs));
}

/**
 * When the leader's connection closes, every follower sees it at once and campaigns after a random
 * delay of 0..this many ticks. Followers that draw the same tick both win their pre-votes and
 * split the real vote, which costs a whole election timeout (seen in bench:raft with 0..3 ticks:
 * about 1 failover in 10). 0..8 ticks (80 ms) makes that rare, for some 40 ms more on the median;
 * it stays well under the election timeout.
 */
function disconnectCampaignDelayTicksFor(electionTimeoutTicksMin: number): number {
  return Math.max(0, Math.min(8, Math.floor(electionTimeoutTicksMin / 3)));
}

export function raftSettingsFrom(file: RaftFileSettings): Partial<RaftSettings> {
  return {
    heartbeatIntervalTicks: ticksOf(file.heartbeatIntervalMs),
    electionTimeoutTicksMin: ticksOf(file.electionTimeoutMinMs),
    electionTimeoutTicksMax: Math.max(ticksOf(file.electionTimeoutMaxMs), ticksOf(file.electionTimeoutMinMs) + 1),
    preVote: file.preVote,
    checkQuorum: file.checkQuorum,
    inflightMessagesMax: file.maxInflightMessages,
    inflightBytesMax: file.maxInflightBytes,
    uncommittedBytesMax: file.maxUncommittedBytes,
    appendBytesMax: Math.min(file.maxInflightBytes, Math.floor(file.maxFrameBytes / 2)),
    disconnectCampaignDelayTicksMax: disconnectCampaignDelayTicksFor(ticksOf(file.electionTimeoutMinMs)),
  };
}
