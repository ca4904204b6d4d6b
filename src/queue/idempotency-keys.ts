/**
 * The first tier of enqueue idempotency: a user's key maps to the first job enqueued with it, for
 * the dedup window, per queue (the same key in two queues names two jobs).
 *
 * Bounded: at most the latest enqueue's `idempotencyKeysMax` keys are kept; when full, the oldest
 * key is forgotten first (counted in `evicted`), never an enqueue refused. Keys older than the
 * window are dropped as time moves (oldest first, O(1) per key dropped).
 *
 * A key whose job was forgotten (retention, purge) still answers that job's id, with the state it
 * was last seen in (`completed`, or `cancelled` for a cancelled or purged job): one small field
 * per key, set when the job is forgotten.
 *
 * Invariants: the map's order is the order keys were first seen, which is also `seenAtMs` order
 * (time never goes back), so its first entry is the oldest; a snapshot keeps that order.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import type { JobState } from './results.js';

export class KeyEntry {
  constructor(
    readonly jobId: number,
    readonly seenAtMs: number,
    readonly windowMs: number,
    /** The state to answer once the job is forgotten; undefined while the state holds the job. */
    public forgottenState: JobState | undefined,
  ) {}
}

/** The key's name in the table: the queue and the key, which a queue name cannot contain. */
export function scopedKey(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}

export class IdempotencyKeys {
  readonly entries = new Map<string, KeyEntry>();
  evicted = 0;
  dedupHits = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Drops the keys whose window closed by `nowMs`. */
  expire(nowMs: number): void {
    for (const [name, entry] of this.entries) {
      if (entry.seenAtMs + entry.windowMs > nowMs) return;
      this.entries.delete(name);
    }
  }

  /** The live entry for `name` at `nowMs`, or undefined. */
  find(name: string, nowMs: number): KeyEntry | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.seenAtMs + entry.windowMs > nowMs) return entry;
    this.entries.delete(name);
    return undefined;
  }

  /** Remembers `name` → `jobId`, forgetting the oldest keys beyond `keysMax`. */
  remember(name: string, jobId: number, nowMs: number, windowMs: number, keysMax: number): void {
    this.entries.set(name, new KeyEntry(jobId, nowMs, windowMs, undefined));
    while (this.entries.size > keysMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
      this.evicted += 1;
    }
  }

  /** The job `jobId` left the state in `state`: its key, if still mapped to it, answers that. */
  forgetJob(name: string, jobId: number, state: JobState): void {
    const entry = this.entries.get(name);
    if (entry !== undefined && entry.jobId === jobId) entry.forgottenState = state;
  }

  /** Restores one entry (snapshot order is insertion order). */
  restore(name: string, entry: KeyEntry): void {
    this.entries.set(name, entry);
  }
}
