/**
 * The core's view of its log: the durable part, read from the caller's `LogStorage`, plus the
 * part not yet durable ("unstable"), held here: a snapshot received from a leader and entries.
 *
 *   storage (durable)            unstable (memory)
 *   [firstIndex ... offset-1]    [offset ... lastIndex]     (or: snapshot, then entries after it)
 *                                 \__ handed out __/\__ not yet handed out __/
 *
 * Durability is reported per write (one Ready's snapshot + entries) in the order the writes were
 * handed out. A write may finish after memory has overwritten part of what it wrote (a follower
 * truncating a conflicting suffix): each write in flight remembers up to where memory still holds
 * what it wrote (`matchingIndexMax`), and only that part moves to the durable side.
 *
 * An overwrite may start at the first index after a snapshot that is still being written: the
 * snapshot stays, the entries after it are replaced.
 *
 * Invariants: offset == (unstable snapshot ? its index : last durable index) + 1;
 * offset - 1 ≤ handedOutIndex ≤ lastIndex(); applied ≤ committed ≤ lastIndex(); entries at or
 * below `committed` are never overwritten.
 *
 * Runs on: the thread that owns the RaftNode.
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import { compacted, unavailable, type LogStorage } from './log-storage.js';

/** What the caller reports when a write is durable: the last entry it wrote (or the snapshot's
 *  index and term for a write with a snapshot and no entries). */
export interface DurableReport {
  readonly lastIndex: number;
  readonly term: number;
}

interface WriteInFlight {
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** The snapshot this write installs, or -1. */
  snapshotIndex: number;
  /** Memory still holds what this write wrote only up to here (lowered by later overwrites). */
  matchingIndexMax: number;
}

/** Marker returned by `termAt` for an index that is compacted or beyond the last index. */
export const termUnknown = -1;

export class RaftLog {
  private readonly storage: LogStorage;
  private readonly writesInFlightMax: number;
  private snapshotUnstable: Snapshot | null = null;
  private snapshotHandedOut = false;
  private unstable: LogEntry[] = [];
  /** The index of unstable[0]. */
  private offset: number;
  /** Entries up to here were handed to the caller for persisting. */
  private handedOutIndex: number;
  private readonly writesInFlight: WriteInFlight[] = [];
  /** The highest index known committed. */
  committed: number;
  /** The highest index handed out for application (or restored from a snapshot). */
  applied: number;

  constructor(storage: LogStorage, committed: number, applied: number, writesInFlightMax: number) {
    this.storage = storage;
    this.writesInFlightMax = writesInFlightMax;
    const lastDurable = storage.lastIndex();
    const snapshotIndex = storage.firstIndex() - 1;
    this.offset = lastDurable + 1;
    this.handedOutIndex = lastDurable;
    assert(applied >= snapshotIndex && applied <= lastDurable,
      `applied index ${applied} outside [compacted ${snapshotIndex}, last durable ${lastDurable}] at start`);
    // Why clamp: the hard state may have been written with a commit index beyond the entries
    // that reached the disk before a crash; commit is knowledge, and lowering it is safe. What
    // the state machine applied (a local snapshot newer than the hard state) was committed.
    this.committed = Math.max(snapshotIndex, applied, Math.min(committed, lastDurable));
    this.applied = applied;
  }

  firstIndex(): number {
    return this.snapshotUnstable !== null ? this.snapshotUnstable.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.offset + this.unstable.length - 1;
  }

  /** The highest index whose entry, as memory holds it, is durable; 0 while a received
   *  snapshot is not yet durable (conservative: nothing of the new log is). */
  durableIndex(): number {
    return this.snapshotUnstable !== null ? 0 : this.offset - 1;
  }

  termAt(index: number): number {
    if (index >= this.offset) return this.unstable[index - this.offset]?.term ?? termUnknown;
    if (this.snapshotUnstable !== null) return index === this.snapshotUnstable.index ? this.snapshotUnstable.term : termUnknown;
    if (index < this.storage.firstIndex() - 1) return termUnknown;
    const term = this.storage.term(index);
    return term === compacted ? termUnknown : term;
  }

  lastTerm(): number {
    const term = this.termAt(this.lastIndex());
    assert(term !== termUnknown, `term of the last index ${this.lastIndex()} unknown`);
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownLastTerm = this.lastTerm();
    return lastTerm > ownLastTerm || (lastTerm === ownLastTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [fromIndex, toIndex): at least one, then as many as fit in `bytesMax`. */
  slice(fromIndex: number, toIndex: number, bytesMax: number): LogEntry[] | typeof compacted | typeof unavailable {
    assert(fromIndex < toIndex && toIndex <= this.lastIndex() + 1, `slice [${fromIndex}, ${toIndex}) beyond last index ${this.lastIndex()}`);
    if (fromIndex < this.firstIndex()) return compacted;
    const out: LogEntry[] = [];
    let bytes = 0;
    if (fromIndex < this.offset) {
      const stored = this.storage.entries(fromIndex, Math.min(toIndex, this.offset), bytesMax);
      if (stored === compacted || stored === unavailable) return stored;
      for (const entry of stored) {
        out.push(entry);
        bytes += entry.data.byteLength;
      }
      if (fromIndex + stored.length < Math.min(toIndex, this.offset)) return out;
    }
    for (let index = Math.max(fromIndex, this.offset); index < toIndex; index++) {
      const entry = this.unstable[index - this.offset] as LogEntry;
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  /** A leader's append: entries follow the last index, in the leader's term. */
  appendAsLeader(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, `leader append of index ${entry.index} after last index ${this.lastIndex()}`);
      this.unstable.push(entry);
    }
  }

  /**
   * A follower's append (Raft §5.3): when the entry at prevIndex has prevTerm, drop any
   * conflicting suffix, append what is new, and learn the commit index. Returns the index of the
   * last entry the message vouched for, or -1 when prevIndex/prevTerm do not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly LogEntry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNewIndex = prevIndex + entries.length;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== 0) {
      assert(conflictIndex > this.committed, `append would overwrite committed index ${conflictIndex} (commit ${this.committed})`);
      this.truncateAndAppend(entries.slice(conflictIndex - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /** The first index where `entries` disagree with the log (or extend it), or 0. */
  private findConflict(entries: readonly LogEntry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  private truncateAndAppend(entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const fromIndex = first.index;
    if (fromIndex === this.lastIndex() + 1) {
      for (const entry of entries) this.unstable.push(entry);
      return;
    }
    // An overwrite: writes in flight no longer match memory from `fromIndex` on.
    for (const write of this.writesInFlight) write.matchingIndexMax = Math.min(write.matchingIndexMax, fromIndex - 1);
    if (fromIndex <= this.offset) {
      // A snapshot still being written covers everything up to offset - 1, and it is committed
      // (restore), so an overwrite can only start right after it: keep the snapshot, replace the
      // entries that followed it (a leader retried them after a slow snapshot, then a new leader
      // overwrote them).
      assert(this.snapshotUnstable === null || fromIndex === this.offset,
        `overwrite at ${fromIndex} into a pending snapshot at ${this.offset - 1}`);
      this.offset = fromIndex;
      this.unstable = entries.slice();
    } else {
      this.unstable.length = fromIndex - this.offset;
      for (const entry of entries) this.unstable.push(entry);
    }
    this.handedOutIndex = Math.min(this.handedOutIndex, fromIndex - 1);
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term`, with that term (thesis §5.3's faster
   * back-off: one round trip per term instead of one per entry). Stops at the first compacted
   * index, reporting term 0 there (unknown).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let candidate = index; candidate > 0; candidate--) {
      const candidateTerm = this.termAt(candidate);
      if (candidateTerm === termUnknown) return { index: candidate, term: 0 };
      if (candidateTerm <= term) return { index: candidate, term: candidateTerm };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit to ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Installs a snapshot from the leader in memory: it replaces the whole log. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.index > this.committed, `snapshot at ${snapshot.index} not beyond commit ${this.committed}`);
    for (const write of this.writesInFlight) {
      write.matchingIndexMax = -1;
      write.snapshotIndex = -1;
    }
    this.snapshotUnstable = snapshot;
    this.snapshotHandedOut = false;
    this.unstable = [];
    this.offset = snapshot.index + 1;
    this.handedOutIndex = snapshot.index;
    this.committed = snapshot.index;
  }

  // ---- the Ready side -------------------------------------------------------------------

  snapshotToPersist(): Snapshot | null {
    return this.snapshotUnstable !== null && !this.snapshotHandedOut ? this.snapshotUnstable : null;
  }

  hasEntriesToPersist(): boolean {
    return this.handedOutIndex < this.lastIndex();
  }

  entriesToPersist(): LogEntry[] {
    return this.unstable.slice(this.handedOutIndex + 1 - this.offset);
  }

  /** The caller took a write: remember it until it reports the write durable. */
  handOut(snapshot: Snapshot | null, entries: readonly LogEntry[]): void {
    const last = entries[entries.length - 1];
    if (snapshot === null && last === undefined) return;
    assert(this.writesInFlight.length < this.writesInFlightMax,
      `${this.writesInFlight.length} writes in flight: durability is not being reported (bound ${this.writesInFlightMax})`);
    if (snapshot !== null) {
      this.snapshotHandedOut = true;
      this.applied = snapshot.index;
    }
    if (last !== undefined) this.handedOutIndex = last.index;
    const lastIndex = last?.index ?? (snapshot as Snapshot).index;
    const lastTerm = last?.term ?? (snapshot as Snapshot).term;
    this.writesInFlight.push({ lastIndex, lastTerm, snapshotIndex: snapshot?.index ?? -1, matchingIndexMax: lastIndex });
  }

  /** Applies a durable report: every write up to and including the named one is durable. */
  onDurable(report: DurableReport): void {
    const position = this.writesInFlight.findIndex((write) => write.lastIndex === report.lastIndex && write.lastTerm === report.term);
    assert(position >= 0, `durable report (index ${report.lastIndex}, term ${report.term}) names no write in flight `
      + `(${this.writesInFlight.length} in flight, oldest ${this.writesInFlight[0]?.lastIndex ?? '-'})`);
    for (let count = 0; count <= position; count++) this.stabilize(this.writesInFlight.shift() as WriteInFlight);
  }

  private stabilize(write: WriteInFlight): void {
    if (write.snapshotIndex >= 0 && this.snapshotUnstable?.index === write.snapshotIndex) this.snapshotUnstable = null;
    if (this.snapshotUnstable !== null) return;
    const durableUpTo = Math.min(write.lastIndex, write.matchingIndexMax);
    if (durableUpTo < this.offset) return;
    assert(durableUpTo <= this.handedOutIndex, `durable up to ${durableUpTo} beyond the handed-out index ${this.handedOutIndex}`);
    this.unstable.splice(0, durableUpTo - this.offset + 1);
    this.offset = durableUpTo + 1;
  }

  /** The end of what may be applied: committed AND durable here (see docs/raft.md, "Apply"). */
  private applyLimit(): number {
    return Math.min(this.committed, this.durableIndex());
  }

  hasEntriesToApply(): boolean {
    return this.applied < this.applyLimit();
  }

  entriesToApply(bytesMax: number): LogEntry[] {
    const limit = this.applyLimit();
    if (this.applied >= limit) return [];
    const entries = this.slice(this.applied + 1, limit + 1, bytesMax);
    assert(entries !== compacted && entries !== unavailable,
      `committed entries [${this.applied + 1}, ${limit}] are ${String(entries)}: storage must serve entries above the applied index`);
    return entries;
  }

  markApplied(index: number): void {
    assert(index >= this.applied && index <= this.committed, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  /** The highest index the caller may compact its storage up to. */
  compactableIndex(): number {
    return Math.min(this.applied, this.durableIndex());
  }
}
