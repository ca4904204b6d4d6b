/**
 * The simulator's safety checks, run after every step (Raft §5.2's Figure 3 properties, plus
 * the durability promise of DESIGN.md §3):
 *
 * - election safety: at most one leader per term;
 * - log matching: a registry of every entry any node ever appended, keyed by (index, term),
 *   holding its content digest and the term of the entry before it; a second node appending the
 *   same (index, term) must match both — by induction, equal (index, term) means equal prefixes;
 * - leader completeness: a new leader of term T holds every entry committed in a term < T;
 * - state machine safety: a hash chain of applied entries; every node's hash at index i is equal;
 * - commit monotonicity per node lifetime (after a restart a node starts again from its durable
 *   commit, clamped to its durable log: knowledge may be lost, committed entries may not);
 * - durability: the newest committed entry is on the disks of a majority at all times, counting
 *   only what each node's WAL claimed durable (sim-wal.ts); a restart checks that the claims held.
 *   A node barred by damage at rest (sim-damage.ts: it may not vote or count toward commit until
 *   caught up) counts as holding it: what the entry needs is that no majority able to elect a
 *   leader lacks it, and a barred node is in no such majority;
 * - reads: a ReadIndex read is served at an index ≥ every index committed before it was asked;
 * - at the end, every acknowledged write is applied on every node (simulation.ts).
 *
 * Invariants: `committedTerm[i]` is set once and never changes; `chain[i]` likewise.
 *
 * Runs on: the simulator.
 */
import type { LogEntry } from '../../src/log/log-entry.js';
import type { RaftNode } from '../../src/raft/raft-node.js';
import type { ClaimedDurable } from './sim-wal.js';
import { entryDigest } from './sim-workload.js';

export class SimulationFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationFailure';
  }
}

export function fail(message: string): never {
  throw new SimulationFailure(message);
}

const termsPerIndex = 1_048_576;
const prevTermRange = 1_048_576;

export class SimChecker {
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly entryRegistry = new Map<number, number>();
  private readonly committedTerm: number[] = [];
  private readonly commitObservedTerm: number[] = [];
  private readonly chain: number[] = [];
  maxCommitted = 0;
  maxAckedIndex = 0;
  leaderChanges = 0;

  /** Election safety; leader completeness when `node` just became leader of `term`. */
  onLeader(id: string, term: number, core: RaftNode): void {
    const known = this.leaderOfTerm.get(term);
    if (known !== undefined) {
      if (known !== id) fail(`election safety: two leaders in term ${term}: ${known} and ${id}`);
      return;
    }
    this.leaderOfTerm.set(term, id);
    this.leaderChanges++;
    const status = core.status();
    const from = Math.max(1, status.firstIndex);
    for (let index = from; index <= this.maxCommitted; index++) {
      const committedIn = this.commitObservedTerm[index];
      if (committedIn === undefined || committedIn >= term) continue;
      const held = core.logTerm(index);
      if (held !== this.committedTerm[index]) {
        fail(`leader completeness: ${id} leads term ${term} but holds term ${held} at index ${index}, `
          + `committed with term ${this.committedTerm[index]} in term ${committedIn}`);
      }
    }
  }

  /** Log matching, for entries a node just appended (`prevTerm`: the term before the first). */
  onAppended(id: string, entries: readonly LogEntry[], prevTerm: number): void {
    let previous = prevTerm;
    for (const entry of entries) {
      if (entry.term >= termsPerIndex || previous >= prevTermRange) fail(`term ${entry.term} beyond the checker's range`);
      if (previous > entry.term) fail(`log terms decrease on ${id}: term ${previous} before term ${entry.term} at index ${entry.index}`);
      const key = entry.index * termsPerIndex + entry.term;
      const value = entryDigest(entry) * prevTermRange + previous;
      const known = this.entryRegistry.get(key);
      if (known === undefined) this.entryRegistry.set(key, value);
      else if (known !== value) {
        fail(`log matching: ${id} holds a different entry (or prefix) at index ${entry.index} term ${entry.term} `
          + `(digest/prev-term ${value} vs ${known})`);
      }
      previous = entry.term;
    }
  }

  /** A node's commit moved from `from` to `to` while it was in `term`. */
  onCommitted(id: string, from: number, to: number, term: number, core: RaftNode): void {
    for (let index = from + 1; index <= to; index++) {
      const held = core.logTerm(index);
      if (held < 0) continue;
      const known = this.committedTerm[index];
      if (known === undefined) {
        this.committedTerm[index] = held;
        this.commitObservedTerm[index] = term;
      } else {
        if (known !== held) fail(`committed entry changed: ${id} commits term ${held} at index ${index}, term ${known} was committed there`);
        if (term < (this.commitObservedTerm[index] ?? term)) this.commitObservedTerm[index] = term;
      }
    }
    if (to > this.maxCommitted) this.maxCommitted = to;
  }

  /** State machine safety: the hash after applying (or restoring) index `index`. */
  onAppliedHash(id: string, index: number, hash: number): void {
    const known = this.chain[index];
    if (known === undefined) {
      this.chain[index] = hash;
      return;
    }
    if (known !== hash) fail(`state machine safety: ${id} applied a different history up to index ${index}`);
  }

  hasAppliedHash(index: number): boolean {
    return this.chain[index] !== undefined;
  }

  /** The newest committed entry is durable on a majority of disks (as their WALs claimed), a
   *  barred disk (`isBarred(position)`, asked only when needed) counting as one that holds it. */
  checkDurability(disks: readonly ClaimedDurable[], isBarred: (position: number) => boolean): void {
    const index = this.maxCommitted;
    if (index === 0) return;
    const term = this.committedTerm[index] ?? -1;
    const majority = Math.floor(disks.length / 2) + 1;
    let holding = 0;
    for (const disk of disks) if (disk.holds(index, term)) holding++;
    if (holding >= majority) return;
    let barred = 0;
    disks.forEach((disk, position) => {
      if (!disk.holds(index, term) && isBarred(position)) barred++;
    });
    if (holding + barred < majority) {
      fail(`durability: committed index ${index} (term ${term}) is on ${holding} of ${disks.length} disks (${barred} more barred by damage)`);
    }
  }

  onAcknowledged(index: number): void {
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  onRead(id: string, index: number, committedWhenAsked: number): void {
    if (index < committedWhenAsked) {
      fail(`linearizable read: ${id} served a read at index ${index}, but index ${committedWhenAsked} was committed before it was asked`);
    }
  }
}
