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
  };
}
