/**
 * How the cluster file's Raft timings (milliseconds) become the core's abstract ticks.
 *
 * One tick is `raftTickMs`; every timeout is a whole number of ticks, at least one. 5 ms keeps
 * the rounding of the default timings (50 ms heartbeat, 300-500 ms election) exact, and keeps tick
 * granularity from dominating a failover: the survivors of a crashed leader take turns one
 * successor pause (two ticks, 10 ms) apart, and a split fast campaign retries after 1-4 ticks. It
 * costs two hundred timer callbacks a second on the Replicator thread.
 *
 * Ticks follow the clock, not the timer's callbacks: on a busy thread a 5 ms interval fires every
 * 7-10 ms, and counting callbacks stretched every timeout with the load (a 300-600 ms election
 * timeout took 500-600 ms under a drill's load, where an idle cluster took 320-580). Each callback
 * makes one tick of as many 5 ms periods as passed since the last, up to `catchUpTicksMax`: a
 * thread that did not run at all for longer (a long task, a pause of the process) counts that gap
 * as 40 ms, so a follower that was itself stopped does not campaign the moment it resumes, before
 * reading the heartbeats waiting in its sockets. One call, not as many calls: the core's timeouts
 * follow the elapsed ticks, but its pauses that wait to hear a message (the successor ranking's
 * two ticks) count calls, since the thread reads its sockets only between two callbacks; made up
 * for in one burst, those pauses ran out before the message was read, and both survivors of a
 * killed leader campaigned and split the vote (raft-node.ts `tick`).
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

/** The most ticks one timer callback makes up for (40 ms): see the header. */
export const catchUpTicksMax = 8;

/**
 * A timer callback that calls `tick(elapsedTicks)` once with the `raftTickMs` periods of `nowMs`
 * since the last tick, at most `catchUpTicksMax`, and not at all when none passed; a longer gap is
 * dropped, the remainder under one tick carried.
 */
export function clockTicker(tick: (elapsedTicks: number) => void, nowMs: () => number = () => performance.now()): () => void {
  let accountedMs = nowMs();
  return () => {
    const now = nowMs();
    let due = Math.floor((now - accountedMs) / raftTickMs);
    if (due > catchUpTicksMax) {
      accountedMs = now - catchUpTicksMax * raftTickMs;
      due = catchUpTicksMax;
    }
    accountedMs += due * raftTickMs;
    if (due > 0) tick(due);
  };
}
