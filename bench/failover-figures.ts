/**
 * The figures of a failover under steady load, from the times at which a producer saw its
 * enqueues acknowledged and the time the leader was killed (all wall-clock milliseconds on one
 * machine):
 *
 *   before window          around window (aroundMs, centred on the kill)
 *   [beforeStart, aroundStart) [kill - aroundMs/2, kill + aroundMs/2)
 *                                        ^ kill   ^ first ack after the kill
 *                                        |<------>| unavailableMs
 *
 * - unavailableMs: from the kill to the first enqueue acknowledged after it, as the client saw it,
 *   counting only enqueues sent after the kill: a reply the dead leader wrote just before it died
 *   may still reach the client after the kill, and would hide the window; an enqueue sent after the
 *   kill can only be acknowledged by a new leader;
 * - firstAckAfterKillMs: the first acknowledgement after the kill of any enqueue (such a reply);
 * - beforePerSec / aroundPerSec: acknowledged enqueues per second in each window; dropPercent is
 *   how much lower the around window is than the before window (negative when it is higher);
 * - worstSecondPerSec: the fewest acknowledgements in any 1 s span of the around window.
 * Pure: no I/O, no clock.
 *
 * Runs on: a bench client process (and the tests).
 */

export interface FailoverWindows {
  readonly killedAtMs: number;
  /** Length of the window centred on the kill. */
  readonly aroundMs: number;
  /** Where the before window starts (it ends where the around window starts). */
  readonly beforeStartMs: number;
}

/** One acknowledged enqueue: when the client sent it and when it saw the acknowledgement. */
export interface AckedEnqueue {
  readonly sentMs: number;
  readonly ackedMs: number;
}

export interface FailoverFigures {
  readonly unavailableMs: number;
  readonly firstAckAfterKillMs: number;
  readonly beforePerSec: number;
  readonly aroundPerSec: number;
  readonly dropPercent: number;
  readonly worstSecondPerSec: number;
}

/** The span the worst-second figure slides over the around window. */
const spanMs = 1_000;

function countIn(sortedMs: readonly number[], fromMs: number, toMs: number): number {
  return lowerBound(sortedMs, toMs) - lowerBound(sortedMs, fromMs);
}

/** The first position whose value is >= `valueMs` (`after`: > `valueMs`), by binary search on ascending times. */
function lowerBound(sortedMs: readonly number[], valueMs: number, after = false): number {
  let low = 0;
  let high = sortedMs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const value = sortedMs[middle] ?? Number.POSITIVE_INFINITY;
    if (value < valueMs || (after && value === valueMs)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The fewest values in any `spanMs` span inside [fromMs, toMs): the span that starts at the window
 * start, and every span (startMs, startMs + spanMs] that starts at an ack (the spans that could
 * hold fewer are those that begin right after an ack).
 */
function fewestInSpan(sortedMs: readonly number[], fromMs: number, toMs: number): number {
  if (toMs - fromMs < spanMs) return Number.NaN;
  let fewest = countIn(sortedMs, fromMs, fromMs + spanMs);
  for (let at = lowerBound(sortedMs, fromMs); at < sortedMs.length; at += 1) {
    const startMs = sortedMs[at] ?? 0;
    if (startMs + spanMs >= toMs) break;
    fewest = Math.min(fewest, lowerBound(sortedMs, startMs + spanMs, true) - lowerBound(sortedMs, startMs, true));
  }
  return (fewest * 1_000) / spanMs;
}

export function failoverFigures(acks: readonly AckedEnqueue[], windows: FailoverWindows): FailoverFigures {
  const sorted = acks.map((ack) => ack.ackedMs).sort((a, b) => a - b);
  const { killedAtMs, aroundMs, beforeStartMs } = windows;
  const aroundStartMs = killedAtMs - aroundMs / 2;
  const aroundEndMs = killedAtMs + aroundMs / 2;
  const firstAfter = sorted[lowerBound(sorted, killedAtMs)];
  let firstSentAfter = Number.POSITIVE_INFINITY;
  for (const ack of acks) if (ack.sentMs >= killedAtMs) firstSentAfter = Math.min(firstSentAfter, ack.ackedMs);
  const beforeMs = aroundStartMs - beforeStartMs;
  const beforePerSec = beforeMs > 0 ? (countIn(sorted, beforeStartMs, aroundStartMs) * 1_000) / beforeMs : Number.NaN;
  const aroundPerSec = (countIn(sorted, aroundStartMs, aroundEndMs) * 1_000) / aroundMs;
  return {
    unavailableMs: Number.isFinite(firstSentAfter) ? firstSentAfter - killedAtMs : Number.NaN,
    firstAckAfterKillMs: firstAfter === undefined ? Number.NaN : firstAfter - killedAtMs,
    beforePerSec,
    aroundPerSec,
    dropPercent: (1 - aroundPerSec / beforePerSec) * 100,
    worstSecondPerSec: fewestInSpan(sorted, aroundStartMs, aroundEndMs),
  };
}
