/**
 * The leader's table of worker liveness: when each registered worker last beat, and when it
 * expires. Heartbeats are not replicated (too chatty, DESIGN §4): this table lives in the leader's
 * memory, and when a worker misses its TTL the Registry asks for a `releaseWorker` command, which
 * returns the worker's leases to ready on every node.
 *
 * Rules:
 * - A worker's deadline is its last beat + `ttlMs` + a jitter in [0, `jitterMs`), drawn per beat,
 *   so that workers cut off together do not all expire in the same instant.
 * - A new leader (`reset`) gives every worker the state machine lists a fresh TTL from now before
 *   expiring anyone: a worker that beat the old leader a moment ago must not lose its jobs for it.
 * - Only workers the state machine lists are tracked (`reconcile`): a beat from an unknown worker
 *   is answered `registered: false`, so that it registers again.
 * - An expired worker stays in the table, marked `releasing`, until the state machine drops it; its
 *   release is asked again after `releaseRetryMs` if it has not happened by then (the proposal may
 *   have been lost in a leader change).
 * - A worker that unregisters is marked `releasing` at once, as if its release had just been asked
 *   (the Dispatcher proposes it): it can no longer expire on its own, and if the state machine
 *   still lists it `releaseRetryMs` later, its release is asked again like any expired worker's.
 *
 * Invariants: at most `workersMax` entries (the state machine's own bound); deadlines only move
 * forward for a worker that beats.
 *
 * Runs on: Registry thread (the clock and the random source are injected).
 */

export interface WorkerTtlsOptions {
  readonly ttlMs: number;
  readonly jitterMs: number;
  /** A uniform draw in [0, 1). */
  readonly random: () => number;
  /** How long an asked release may take before it is asked again. */
  readonly releaseRetryMs: number;
}

export interface WorkerLiveness {
  readonly workerId: string;
  /** ms since the epoch of the last beat; the time tracking started for a worker that never beat this leader. */
  readonly lastBeatMs: number;
  readonly deadlineMs: number;
  /** The load the worker reported with its last beat (jobs it runs). */
  readonly load: number;
  /** True once its release was asked. */
  readonly releasing: boolean;
}

interface Entry {
  lastBeatMs: number;
  deadlineMs: number;
  load: number;
  /** When the release was last asked; null when not expired. */
  releaseAskedMs: number | null;
}

export class WorkerTtls {
  private readonly options: WorkerTtlsOptions;
  private readonly entries = new Map<string, Entry>();

  constructor(options: WorkerTtlsOptions) {
    this.options = options;
  }

  get size(): number {
    return this.entries.size;
  }

  private deadlineFrom(nowMs: number): number {
    return nowMs + this.options.ttlMs + Math.floor(this.options.random() * this.options.jitterMs);
  }

  /** A beat from `workerId`: true when it is registered (its TTL starts again), false when not. */
  beat(workerId: string, load: number, nowMs: number): boolean {
    const entry = this.entries.get(workerId);
    if (entry === undefined) return false;
    entry.lastBeatMs = nowMs;
    entry.load = load;
    // A worker that beats again after its release was asked keeps the release: its leases may
    // be gone already; it learns so from LEASE_LOST and registers again.
    if (entry.releaseAskedMs === null) entry.deadlineMs = Math.max(entry.deadlineMs, this.deadlineFrom(nowMs));
    return true;
  }

  /** This node became the leader: every listed worker gets a fresh TTL from now. */
  reset(workerIds: readonly string[], nowMs: number): void {
    this.entries.clear();
    for (const workerId of workerIds) this.track(workerId, nowMs);
  }

  /** The state machine's list of workers changed: track new ones from now, forget gone ones. */
  reconcile(workerIds: readonly string[], nowMs: number): void {
    const listed = new Set(workerIds);
    for (const workerId of this.entries.keys()) {
      if (!listed.has(workerId)) this.entries.delete(workerId);
    }
    for (const workerId of workerIds) {
      if (!this.entries.has(workerId)) this.track(workerId, nowMs);
    }
  }

  private track(workerId: string, nowMs: number): void {
    this.entries.set(workerId, { lastBeatMs: nowMs, deadlineMs: this.deadlineFrom(nowMs), load: 0, releaseAskedMs: null });
  }

  /** `workerId` unregistered, and its release was proposed now: false when it is not tracked
   *  (never registered on this leader's log, or already dropped). */
  unregister(workerId: string, nowMs: number): boolean {
    const entry = this.entries.get(workerId);
    if (entry === undefined) return false;
    entry.deadlineMs = Math.min(entry.deadlineMs, nowMs);
    entry.releaseAskedMs = nowMs;
    return true;
  }

  /** Workers whose release should be asked now: past their deadline, and not asked within
   *  `releaseRetryMs`. Marks them asked. */
  takeExpired(nowMs: number): string[] {
    const expired: string[] = [];
    for (const [workerId, entry] of this.entries) {
      if (entry.deadlineMs > nowMs) continue;
      if (entry.releaseAskedMs !== null && nowMs - entry.releaseAskedMs < this.options.releaseRetryMs) continue;
      entry.releaseAskedMs = nowMs;
      expired.push(workerId);
    }
    return expired;
  }

  /** Stops tracking everything (this node no longer leads). */
  clear(): void {
    this.entries.clear();
  }

  view(): WorkerLiveness[] {
    const workers: WorkerLiveness[] = [];
    for (const [workerId, entry] of this.entries) {
      workers.push({ workerId, lastBeatMs: entry.lastBeatMs, deadlineMs: entry.deadlineMs, load: entry.load, releasing: entry.releaseAskedMs !== null });
    }
    return workers;
  }
}
