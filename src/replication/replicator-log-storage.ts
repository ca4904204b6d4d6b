/**
 * The Raft core's view of the durable log on the Replicator thread (the LogStorage contract in
 * src/raft/log-storage.ts), while the log itself lives in the WAL writer on another thread.
 *
 * What is held here: the term of every index (TermIndex: a few numbers), the durable entries from
 * a little behind the applied index up to the last durable one (a window, so that followers that
 * are slightly behind are served from memory and every entry above the applied index is answered
 * at once, as the contract requires), the newest snapshot, and a few ranges loaded from the WAL on
 * request for followers that are further behind (one range each for up to `loadedRangesMax`
 * followers at different places, so that two slow followers do not evict each other's range on
 * every read). A read below the window answers 'unavailable' and asks the WAL for that range; the
 * loop tells the core when it arrived (`entriesLoaded`), and the core sends it then.
 *
 * Invariants: window entries are contiguous from `windowStart` to `durableLast`; the window never
 * starts above applied + 1; durableLast ≥ the snapshot index.
 *
 * Runs on: Replicator thread.
 */
import { assert } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import { compacted, unavailable, type InitialState, type LogStorage } from '../raft/log-storage.js';
import { TermIndex } from './term-index.js';

/** Ranges read from the WAL kept at once: one per lagging follower of a five-node cluster. */
const loadedRangesMax = 4;

export interface LogStorageStart {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  /** Every durable entry after the snapshot, in order (loaded from the WAL at start). */
  readonly entries: readonly LogEntry[];
}

/** Data bytes the in-memory window keeps (applied entries beyond it are dropped first). */
const windowBytesMax = 8 * 1024 * 1024;

function bytesOf(entries: readonly LogEntry[], from: number, to: number): number {
  let bytes = 0;
  for (let at = from; at < to; at++) bytes += (entries[at] as LogEntry).data.byteLength;
  return bytes;
}

export class ReplicatorLogStorage implements LogStorage {
  private readonly hardState: HardState;
  private latestSnapshot: Snapshot | null;
  private readonly terms: TermIndex;
  private window: LogEntry[] = [];
  private windowStart: number;
  /** Data bytes of the entries in `window`. */
  private windowBytes = 0;
  /** Ranges read from the WAL, newest last; at most `loadedRangesMax`. */
  private loaded: Array<readonly LogEntry[]> = [];
  private readonly requestLoad: (fromIndex: number, toIndex: number, bytesMax: number) => void;
  private readonly entriesBehindAppliedMax: number;

  constructor(start: LogStorageStart, entriesBehindAppliedMax: number, requestLoad: (fromIndex: number, toIndex: number, bytesMax: number) => void) {
    this.hardState = start.hardState ?? { term: 0, vote: null, commit: 0 };
    this.latestSnapshot = start.snapshot;
    const baseIndex = start.snapshot?.index ?? 0;
    this.terms = new TermIndex(baseIndex, start.snapshot?.term ?? 0);
    this.windowStart = baseIndex + 1;
    this.entriesBehindAppliedMax = entriesBehindAppliedMax;
    this.requestLoad = requestLoad;
    this.appendDurable(start.entries);
  }

  initialState(): InitialState {
    return { hardState: this.hardState, membership: this.latestSnapshot?.membership ?? null };
  }

  firstIndex(): number {
    return this.terms.firstIndex;
  }

  lastIndex(): number {
    return this.terms.lastIndex;
  }

  term(index: number): number | typeof compacted {
    return this.terms.termAt(index) ?? compacted;
  }

  entries(fromIndex: number, toIndex: number, bytesMax: number): readonly LogEntry[] | typeof compacted | typeof unavailable {
    if (fromIndex < this.terms.firstIndex) return compacted;
    const last = Math.min(toIndex - 1, this.terms.lastIndex);
    if (fromIndex >= this.windowStart) return takeUpTo(this.window, fromIndex - this.windowStart, last - this.windowStart, bytesMax);
    for (const range of this.loaded) {
      const loadedStart = range[0]?.index ?? 0;
      if (loadedStart !== 0 && fromIndex >= loadedStart && fromIndex < loadedStart + range.length) {
        return takeUpTo(range, fromIndex - loadedStart, Math.min(last, loadedStart + range.length - 1) - loadedStart, bytesMax);
      }
    }
    this.requestLoad(fromIndex, Math.min(last, this.windowStart - 1), bytesMax);
    return unavailable;
  }

  snapshot(): Snapshot | typeof unavailable {
    return this.latestSnapshot ?? unavailable;
  }

  /** A range the WAL read on our request; the oldest range goes when there are too many. */
  onLoaded(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.loaded.push(entries);
    if (this.loaded.length > loadedRangesMax) this.loaded.shift();
  }

  /** Entries that just became durable (contiguous; the first may overwrite a suffix). */
  appendDurable(entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.terms.lastIndex) {
      this.terms.truncateFrom(first.index);
      if (first.index >= this.windowStart) {
        this.window.length = first.index - this.windowStart;
        this.windowBytes = bytesOf(this.window, 0, this.window.length);
      } else {
        this.window = [];
        this.windowBytes = 0;
        this.windowStart = first.index;
      }
    }
    for (const entry of entries) {
      this.terms.append(entry.index, entry.term);
      this.window.push(entry);
      this.windowBytes += entry.data.byteLength;
    }
    assert(this.windowStart + this.window.length - 1 === this.terms.lastIndex,
      `log window ${this.windowStart}+${this.window.length} does not end at the last durable index ${this.terms.lastIndex}`);
  }

  /**
   * Drops window entries more than `entriesBehindAppliedMax` below `applied`, and more applied
   * entries while the window holds more than `windowBytesMax` (entries may be up to a ring message
   * each: a count alone would not bound the memory). Followers further behind read from the WAL.
   */
  trimBehind(applied: number): void {
    const window = this.window;
    let drop = Math.max(0, Math.min(applied + 1 - this.entriesBehindAppliedMax - this.windowStart, window.length));
    if (drop === 0 && this.windowBytes <= windowBytesMax) return;
    let bytes = this.windowBytes - bytesOf(window, 0, drop);
    while (drop < window.length && this.windowStart + drop <= applied && bytes > windowBytesMax) {
      bytes -= (window[drop] as LogEntry).data.byteLength;
      drop += 1;
    }
    if (drop === 0) return;
    window.splice(0, drop);
    this.windowStart += drop;
    this.windowBytes = bytes;
  }

  /**
   * A snapshot became durable (taken here or installed from the leader): the log now starts after
   * it, or after `logKeptAfter` when that is lower and still held (the entries a follower that is
   * being sent an older snapshot goes on from, see snapshot-sender.ts).
   */
  onSnapshotDurable(snapshot: Snapshot, logKeptAfter = snapshot.index): void {
    this.latestSnapshot = snapshot;
    const logHoldsIt = this.terms.termAt(snapshot.index) === snapshot.term;
    if (logHoldsIt) {
      const base = Math.max(Math.min(logKeptAfter, snapshot.index), this.terms.firstIndex - 1);
      const baseTerm = this.terms.termAt(base);
      assert(baseTerm !== undefined, `no term at ${base} to keep the log after`);
      this.terms.rebase(base, baseTerm);
      if (this.windowStart <= base) {
        const drop = Math.min(base + 1 - this.windowStart, this.window.length);
        this.windowBytes -= bytesOf(this.window, 0, drop);
        this.window.splice(0, drop);
        this.windowStart += drop;
      }
    } else {
      // The log does not hold the snapshot's entry: the snapshot supersedes the whole log.
      this.terms.truncateFrom(Math.max(this.terms.firstIndex, 1));
      this.terms.rebase(snapshot.index, snapshot.term);
      this.window = [];
      this.windowBytes = 0;
      this.windowStart = snapshot.index + 1;
    }
    this.loaded = [];
  }

  get windowEntries(): number {
    return this.window.length;
  }
}

/** entries[from..to] (inclusive positions), at least one, then while within `bytesMax`. */
function takeUpTo(entries: readonly LogEntry[], from: number, to: number, bytesMax: number): readonly LogEntry[] {
  const out: LogEntry[] = [];
  let bytes = 0;
  for (let position = from; position <= to; position += 1) {
    const entry = entries[position];
    if (entry === undefined) break;
    bytes += entry.data.byteLength;
    if (out.length > 0 && bytes > bytesMax) break;
    out.push(entry);
  }
  return out;
}
