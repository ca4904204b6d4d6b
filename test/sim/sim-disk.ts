/**
 * The simulated disk of one node: a durable image (`MemoryLogStorage`, what survives a crash)
 * and a FIFO of writes started and not yet durable, made durable by group commit: one fsync at a
 * time, and every write started during it joins the next one (as the WAL writer does).
 *
 * A write is the Ready's snapshot, then its entries, then its hard state (ready.ts). When it
 * completes it is applied to the image. A crash applies a random prefix of the operations of all
 * writes in flight — the last one possibly torn, i.e. not there — and forgets the rest: exactly
 * "whatever was not fsynced is lost, a torn last record is dropped".
 *
 * Invariants: completion times are non-decreasing along the FIFO (writes finish in order); the
 * image only ever holds writes' operations in the order they were started.
 *
 * Runs on: the simulator.
 */
import type { RaftEntry } from '../../src/raft/raft-entry.js';
import type { DurableReport } from '../../src/raft/raft-log.js';
import type { HardState, RaftMessage, RaftSnapshot } from '../../src/raft/raft-messages.js';
import { unavailable } from '../../src/raft/log-storage.js';
import { MemoryLogStorage } from '../../src/raft/memory-log-storage.js';
import type { SeededRandom } from '../../src/raft/random.js';

export interface DiskWrite {
  readonly snapshot: RaftSnapshot | null;
  readonly entries: readonly RaftEntry[];
  readonly hardState: HardState | null;
  /** Released when this write (and every earlier one) is durable. */
  readonly messagesAfterDurable: readonly RaftMessage[];
  /** What to tell the core when durable, or null when the write holds no snapshot or entries. */
  readonly report: DurableReport | null;
}


/**
 * The durable image as the core reads it. Like the WAL, it sometimes does not have old entries
 * (at or below the applied index) or the snapshot in memory, and answers 'unavailable': the core
 * must take its "retry later" path (docs/raft.md §3).
 */
export class SimLogStorage extends MemoryLogStorage {
  /** Chance that a read of old entries or of the snapshot answers 'unavailable'. */
  unavailableRate = 0;
  random: SeededRandom | null = null;
  /** The node's applied index: entries above it must always be served. */
  appliedIndex = (): number => 0;
  /** The range start last answered 'unavailable': the caller loads it, so the retry finds it. */
  private loadingFromIndex = -1;

  override entries(fromIndex: number, toIndex: number, bytesMax: number): ReturnType<MemoryLogStorage['entries']> {
    if (fromIndex === this.loadingFromIndex) this.loadingFromIndex = -1;
    else if (this.random !== null && fromIndex <= this.appliedIndex() && this.random.chance(this.unavailableRate)) {
      this.loadingFromIndex = fromIndex;
      return unavailable;
    }
    return super.entries(fromIndex, toIndex, bytesMax);
  }

  override snapshot(): ReturnType<MemoryLogStorage['snapshot']> {
    if (this.random !== null && this.random.chance(this.unavailableRate)) return unavailable;
    return super.snapshot();
  }
}

export class SimDisk {
  readonly storage = new SimLogStorage();
  private pending: DiskWrite[] = [];
  /** completeAtUs[k]: when pending[k] is durable. */
  private completeAtUs: number[] = [];
  private head = 0;
  /** Group commit: the fsync in progress ends at `syncEndUs`; writes started meanwhile join
   *  the next one, which starts when it ends and ends at `nextSyncEndUs` (0: none queued). */
  private syncEndUs = 0;
  private nextSyncEndUs = 0;

  get writesInFlight(): number {
    return this.pending.length - this.head;
  }

  /** Starts a write (`latencyUs`: the fsync time if it opens a new group); returns when it will
   *  be durable. */
  start(write: DiskWrite, nowUs: number, latencyUs: number): number {
    if (this.nextSyncEndUs !== 0 && nowUs >= this.syncEndUs) {
      this.syncEndUs = this.nextSyncEndUs;
      this.nextSyncEndUs = 0;
    }
    let completeAtUs: number;
    if (nowUs >= this.syncEndUs) {
      this.syncEndUs = nowUs + latencyUs;
      completeAtUs = this.syncEndUs;
    } else {
      if (this.nextSyncEndUs === 0) this.nextSyncEndUs = this.syncEndUs + latencyUs;
      completeAtUs = this.nextSyncEndUs;
    }
    this.pending.push(write);
    this.completeAtUs.push(completeAtUs);
    return completeAtUs;
  }

  /** Makes every write due by `nowUs` durable and returns them, oldest first. */
  completeDue(nowUs: number): DiskWrite[] {
    const done: DiskWrite[] = [];
    while (this.head < this.pending.length) {
      const write = this.pending[this.head] as DiskWrite;
      if ((this.completeAtUs[this.head] ?? Infinity) > nowUs) break;
      this.head++;
      this.applyWhole(write);
      done.push(write);
    }
    if (this.head === this.pending.length) {
      this.pending = [];
      this.completeAtUs = [];
      this.head = 0;
    }
    return done;
  }

  private applyWhole(write: DiskWrite): void {
    if (write.snapshot !== null) this.storage.installSnapshot(write.snapshot);
    if (write.entries.length > 0) this.storage.append(write.entries);
    if (write.hardState !== null) this.storage.hardState = write.hardState;
  }

  /** A crash: keeps a random prefix of the operations in flight; returns how many were kept. */
  crash(random: SeededRandom): number {
    let operations = 0;
    for (let position = this.head; position < this.pending.length; position++) {
      const write = this.pending[position] as DiskWrite;
      operations += (write.snapshot !== null ? 1 : 0) + write.entries.length + (write.hardState !== null ? 1 : 0);
    }
    const kept = random.between(0, operations);
    let remaining = kept;
    for (let position = this.head; position < this.pending.length && remaining > 0; position++) {
      const write = this.pending[position] as DiskWrite;
      if (write.snapshot !== null && remaining-- > 0) this.storage.installSnapshot(write.snapshot);
      for (const entry of write.entries) {
        if (remaining <= 0) break;
        this.storage.append([entry]);
        remaining--;
      }
      if (write.hardState !== null && remaining-- > 0) this.storage.hardState = write.hardState;
    }
    this.pending = [];
    this.completeAtUs = [];
    this.head = 0;
    this.syncEndUs = 0;
    this.nextSyncEndUs = 0;
    return kept;
  }
}
