/**
 * The in-memory twin of the WAL as the core sees it: a `LogStorage` plus the mutators a caller
 * uses when a write becomes durable. Tests and the simulator use it as "the disk"; the Replicator
 * will implement `LogStorage` over the WAL instead.
 *
 * Layout: entries after `baseIndex` (the last compacted index, whose term is `baseTerm`) are
 * held in `held`, `held[k].index == baseIndex + 1 + k`.
 *
 * Invariants: baseIndex ≤ newest snapshot index ≤ lastIndex() when a snapshot exists (a caller
 * compacts only what a snapshot covers); terms never decrease along `held`.
 *
 * Runs on: tests and the simulator (any single thread).
 */
import { assert } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Membership } from '../log/membership.js';
import type { Snapshot } from '../log/snapshot.js';
import { compacted, unavailable, type InitialState, type LogStorage } from './log-storage.js';

export class MemoryLogStorage implements LogStorage {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  private baseIndex = 0;
  private baseTerm = 0;
  private held: LogEntry[] = [];
  private newestSnapshot: Snapshot | null = null;

  initialState(): InitialState {
    return { hardState: this.hardState, membership: this.newestSnapshot?.membership ?? null };
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.held.length;
  }

  term(index: number): number | typeof compacted {
    if (index < this.baseIndex) return compacted;
    if (index === this.baseIndex) return this.baseTerm;
    const entry = this.held[index - this.baseIndex - 1];
    assert(entry !== undefined, `storage term(${index}) beyond the last index ${this.lastIndex()}`);
    return entry.term;
  }

  entries(fromIndex: number, toIndex: number, bytesMax: number): readonly LogEntry[] | typeof compacted | typeof unavailable {
    if (fromIndex <= this.baseIndex) return compacted;
    assert(fromIndex < toIndex && toIndex <= this.lastIndex() + 1,
      `storage entries [${fromIndex}, ${toIndex}) outside [${this.baseIndex + 1}, ${this.lastIndex() + 1})`);
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let index = fromIndex; index < toIndex; index++) {
      const entry = this.held[index - this.baseIndex - 1] as LogEntry;
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  snapshot(): Snapshot | typeof unavailable {
    // Why 'unavailable' and not an empty snapshot: nothing was compacted yet, so no follower needs one.
    return this.newestSnapshot ?? unavailable;
  }

  /** The newest snapshot, or null: for restarts (restore the state machine from it). */
  get heldSnapshot(): Snapshot | null {
    return this.newestSnapshot;
  }

  /** Appends entries; the first may overwrite: everything from its index on is replaced. */
  append(entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.baseIndex && first.index <= this.lastIndex() + 1,
      `storage append at ${first.index} outside [${this.baseIndex + 1}, ${this.lastIndex() + 1}]`);
    this.held.length = first.index - this.baseIndex - 1;
    for (const entry of entries) this.held.push(entry);
  }

  /** Drops every entry after `index`, as a repair that cuts a damaged log does (tests). */
  cutAfter(index: number): void {
    assert(index >= this.baseIndex, `cut after ${index} below the compacted index ${this.baseIndex}`);
    this.held.length = Math.min(this.held.length, index - this.baseIndex);
  }

  /** Installs a snapshot received from the leader: it replaces the whole log. */
  installSnapshot(snapshot: Snapshot): void {
    assert(snapshot.index >= this.baseIndex, `snapshot install at ${snapshot.index} below the compacted index ${this.baseIndex}`);
    this.baseIndex = snapshot.index;
    this.baseTerm = snapshot.term;
    this.held = [];
    this.newestSnapshot = snapshot;
  }

  /** Records a snapshot the local state machine made of everything up to `index`. */
  saveLocalSnapshot(index: number, data: Uint8Array, membership: Membership): void {
    const term = this.term(index);
    assert(term !== compacted && index >= (this.newestSnapshot?.index ?? 0),
      `local snapshot at ${index} is compacted or older than the snapshot at ${this.newestSnapshot?.index ?? 0}`);
    this.newestSnapshot = { index, term, membership, data };
  }

  /** Drops the entries up to `index`; a snapshot must already cover them. */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    assert(index <= (this.newestSnapshot?.index ?? 0) && index <= this.lastIndex(),
      `compact(${index}) beyond the snapshot at ${this.newestSnapshot?.index ?? 0} or the last index ${this.lastIndex()}`);
    const term = this.term(index);
    assert(term !== compacted, `compact(${index}) term unknown`);
    this.held = this.held.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }
}
