/**
 * The delay before a failed job's next attempt, computed from its backoff and a jitter value the
 * leader drew (a nack's `jitter`), or derived from a command's `jitterSeed` and the job's id (lease
 * expiry and worker release, which fail many jobs at once). Apply never draws a random number:
 * every node computes the same delay from the same command.
 *
 * Rule (commands.ts `Backoff`): after failed attempt n (1-based), fixed `delayMs`, or exponential
 * `delayMs * 2^(n-1)` capped at `delayMsMax`; then `jitterRatio` of it is replaced by
 * `jitter * that part`: delay = base * (1 - jitterRatio) + base * jitterRatio * jitter, rounded
 * down to a whole millisecond.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import type { Backoff } from './commands.js';

/** Exponents beyond this only overflow: 2^52 ms is already 142,000 years. */
const exponentMax = 52;

/** The delay in ms after failed attempt `attempt` (≥ 1), with `jitter` in [0, 1). */
export function retryDelayMs(backoff: Backoff, attempt: number, jitter: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), exponentMax);
  const base = backoff.kind === 'fixed'
    ? backoff.delayMs
    : Math.min(backoff.delayMsMax, backoff.delayMs * 2 ** exponent);
  return Math.floor(base * (1 - backoff.jitterRatio) + base * backoff.jitterRatio * jitter);
}

/** A jitter value in [0, 1) derived from a leader's seed and a job id (a 32-bit integer hash). */
export function derivedJitter(jitterSeed: number, jobId: number): number {
  let hash = Math.imul((jitterSeed % 0x1_0000_0000) ^ 0x9e3779b9, 0x85ebca6b);
  hash ^= Math.imul(jobId % 0x1_0000_0000, 0xc2b2ae35) ^ Math.floor(jobId / 0x1_0000_0000);
  hash = Math.imul(hash ^ (hash >>> 16), 0x7feb352d);
  hash = Math.imul(hash ^ (hash >>> 15), 0x846ca68b);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}
