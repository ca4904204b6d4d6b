/**
 * One queue's part of the state: its ready index (priority, then ready time, then id), the
 * oldest-ready index, its dead-letter set (oldest first), its retained completed and cancelled
 * jobs, its per-state counts, its totals, and its jobs in id order for paginated listing.
 *
 * Invariants:
 * - `ready.size`, `delayed`, `leased`, `dead.size` and `retained.size` count exactly the queue's
 *   jobs in those states; `heldJobs` and `heldBytes` cover every state but completed and
 *   cancelled (what `jobsPerQueueMax` and `bytesPerQueueMax` bound).
 * - `listing` holds every job of the queue the state still holds, in increasing id order, plus
 *   forgotten ones not yet dropped (`forgottenInListing` of them, never more than the live ones
 *   after a drop).
 * - Totals only grow; they survive snapshots.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import type { QueueLimits } from './commands.js';
import { Fifo } from './fifo.js';
import { IndexedHeap, type HeapSlots } from './indexed-heap.js';
import type { JobRecord } from './job-record.js';
import type { JobPage, JobState, QueueStats } from './results.js';
import { jobSummary } from './job-record.js';

/** Jobs a `list` page examines at most: bounds a read's work whatever the filter. */
export const listScanJobsMax = 10_000;

const heapSlots: HeapSlots<JobRecord> = {
  slotOf: (job) => job.heapSlot,
  setSlot: (job, slot) => {
    job.heapSlot = slot;
  },
};
const ageSlots: HeapSlots<JobRecord> = {
  slotOf: (job) => job.ageSlot,
  setSlot: (job, slot) => {
    job.ageSlot = slot;
  },
};

/** Higher priority first, then the earlier ready time, then the older job. */
function readyBefore(left: JobRecord, right: JobRecord): boolean {
  if (left.priority !== right.priority) return left.priority > right.priority;
  if (left.runAtMs !== right.runAtMs) return left.runAtMs < right.runAtMs;
  return left.id < right.id;
}

function readySooner(left: JobRecord, right: JobRecord): boolean {
  return left.runAtMs !== right.runAtMs ? left.runAtMs < right.runAtMs : left.id < right.id;
}

function olderJob(left: JobRecord, right: JobRecord): boolean {
  return left.id < right.id;
}

/** The totals a queue keeps from its creation (in snapshot order). */
export const queueTotalNames = ['enqueuedTotal', 'leasedTotal', 'ackedTotal', 'nackedTotal', 'expiredTotal', 'deadLetteredTotal'] as const;
export type QueueTotalName = (typeof queueTotalNames)[number];

export class QueueRecord {
  paused = false;
  /** The limits of the latest enqueue into this queue: retention of finished jobs follows them. */
  limits: QueueLimits | undefined = undefined;
  readonly ready = new IndexedHeap<JobRecord>(readyBefore, heapSlots);
  readonly readyByAge = new IndexedHeap<JobRecord>(readySooner, ageSlots);
  readonly dead = new IndexedHeap<JobRecord>(olderJob, heapSlots);
  /** Completed and cancelled jobs, oldest finished first. */
  readonly retained = new Fifo<JobRecord>();
  /** Position in the state's retention timer heap (-1 when nothing is retained). */
  retentionSlot = -1;
  delayed = 0;
  leased = 0;
  heldJobs = 0;
  heldBytes = 0;
  readonly totals: Record<QueueTotalName, number> = {
    enqueuedTotal: 0, leasedTotal: 0, ackedTotal: 0, nackedTotal: 0, expiredTotal: 0, deadLetteredTotal: 0,
  };
  private listing: JobRecord[] = [];
  private forgottenInListing = 0;

  constructor(readonly name: string) {}

  /** A job of this queue joined the state (ids only grow, so the listing stays in id order). */
  listed(job: JobRecord): void {
    this.listing.push(job);
  }

  /** A job of this queue left the state; drops the forgotten ones once they are the majority. */
  unlisted(): void {
    this.forgottenInListing += 1;
    if (this.forgottenInListing * 2 > this.listing.length) {
      this.listing = this.listing.filter((job) => !job.forgotten);
      this.forgottenInListing = 0;
    }
  }

  /** Up to `limit` jobs in `state` with ids above `afterId`, examining at most `listScanJobsMax`. */
  list(state: JobState, afterId: number, limit: number): JobPage {
    const listing = this.listing;
    let low = 0;
    let high = listing.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((listing[middle] as JobRecord).id <= afterId) low = middle + 1;
      else high = middle;
    }
    const jobs = [];
    let examined = 0;
    let lastId = afterId;
    for (let at = low; at < listing.length; at += 1) {
      const job = listing[at] as JobRecord;
      if (job.forgotten) continue;
      if (jobs.length >= limit || examined >= listScanJobsMax) return { jobs, nextAfterId: lastId };
      examined += 1;
      lastId = job.id;
      if (job.state === state) jobs.push(jobSummary(job));
    }
    return { jobs, nextAfterId: null };
  }

  /** When the oldest retained job is to be forgotten (Infinity when none is retained). */
  retentionDueMs(): number {
    const oldest = this.retained.peek();
    if (oldest === undefined) return Number.POSITIVE_INFINITY;
    return oldest.updatedAtMs + (this.limits?.completedRetentionMs ?? 0);
  }

  /** The jobs the state holds, in id order (a copy: safe while jobs are removed). */
  liveJobs(): JobRecord[] {
    return this.listing.filter((job) => !job.forgotten);
  }

  stats(nowMs: number): QueueStats {
    const oldest = this.readyByAge.peek();
    return {
      queue: this.name,
      paused: this.paused,
      ready: this.ready.size,
      delayed: this.delayed,
      leased: this.leased,
      dead: this.dead.size,
      completed: this.retained.size,
      bytes: this.heldBytes,
      oldestReadyAgeMs: oldest === undefined ? 0 : Math.max(0, nowMs - oldest.runAtMs),
      ...this.totals,
    };
  }
}
