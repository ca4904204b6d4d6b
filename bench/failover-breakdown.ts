/**
 * Where a failover's time goes (`npm run bench:raft -- --breakdown`): from the survivors' debug
 * logs (wall-clock milliseconds, one machine), the time from the kill until the first survivor saw
 * the dead leader's connection close (the kernel tearing the process down), until a new leader was
 * elected, and until that leader applied the first entry of its term. The bench's own figure adds
 * the measuring request on top.
 *
 * Runs on: the bench process.
 */
import { readFileSync } from 'node:fs';

/** The resident set of process `pid` in MB, from /proc (NaN when unreadable). */
export function residentMbOf(pid: number | undefined): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid ?? 0}/status`, 'utf8'));
    return match === null ? Number.NaN : Math.round(Number(match[1]) / 1024);
  } catch {
    return Number.NaN;
  }
}

export interface FailoverBreakdown {
  /** The killed process's resident set just before the kill (its teardown grows with it); NaN
   *  where /proc is not there. */
  readonly killedRssMb: number;
  readonly closeSeenMs: number;
  readonly leaderMs: number;
  readonly firstAppliedMs: number;
}

interface LogLine {
  readonly time?: number;
  readonly msg?: string;
  readonly peer?: string;
}

/** The three moments after `killedAtWallMs`, from the survivors' log output; NaN when not logged. */
export function failoverBreakdown(outputs: readonly string[], dead: string, killedAtWallMs: number, killedRssMb: number): FailoverBreakdown {
  let closeSeen = Number.POSITIVE_INFINITY;
  let leader = Number.POSITIVE_INFINITY;
  let firstApplied = Number.POSITIVE_INFINITY;
  for (const output of outputs) {
    for (const text of output.split('\n')) {
      if (!text.startsWith('{')) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      const time = line.time ?? 0;
      const message = line.msg ?? '';
      if (time < killedAtWallMs) continue;
      if (message === 'peer connection closed' && line.peer === dead) closeSeen = Math.min(closeSeen, time);
      else if (message.startsWith('now leader')) leader = Math.min(leader, time);
      else if (message.startsWith('first entry of term')) firstApplied = Math.min(firstApplied, time);
    }
  }
  const since = (time: number): number => (Number.isFinite(time) ? time - killedAtWallMs : Number.NaN);
  return { killedRssMb, closeSeenMs: since(closeSeen), leaderMs: since(leader), firstAppliedMs: since(firstApplied) };
}
