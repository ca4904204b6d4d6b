/**
 * The term of every index in a log, kept as runs: `[startIndex, term]` pairs, one per term change.
 * A log of millions of entries over a handful of leaders costs a handful of numbers, so the
 * Replicator can answer the Raft core's term questions at once, without asking the WAL thread.
 *
 * Invariants: runs are sorted by startIndex, strictly; terms never decrease from one run to the
 * next; every index in [baseIndex, lastIndex] has a term (baseIndex = the snapshot index, whose
 * term is `baseTerm`).
 *
 * Runs on: Replicator thread.
 */
import { assert } from '../errors.js';

export class TermIndex {
  private starts: number[] = [];
  private terms: number[] = [];
  private base: number;
  private baseTerm: number;
  private last: number;

  /** An index whose log starts after `baseIndex` (a snapshot's index and term, or 0 and 0). */
  constructor(baseIndex: number, baseTerm: number) {
    this.base = baseIndex;
    this.baseTerm = baseTerm;
    this.last = baseIndex;
  }

  get lastIndex(): number {
    return this.last;
  }

  get firstIndex(): number {
    return this.base + 1;
  }

  /** Records that `index` holds `term`; indexes must follow the last one. */
  append(index: number, term: number): void {
    assert(index === this.last + 1, `term index append at ${index}, expected ${this.last + 1}`);
    const lastTerm = this.termAt(this.last);
    assert(lastTerm !== undefined && term >= lastTerm, `term ${term} at ${index} below the previous term ${String(lastTerm)}`);
    if (term !== lastTerm || this.starts.length === 0) {
      this.starts.push(index);
      this.terms.push(term);
    }
    this.last = index;
  }

  /** Forgets every index from `index` on (a Raft conflict). */
  truncateFrom(index: number): void {
    assert(index > this.base, `term index truncate at ${index}, at or below the base ${this.base}`);
    if (index > this.last) return;
    while (this.starts.length > 0 && (this.starts[this.starts.length - 1] ?? 0) >= index) {
      this.starts.pop();
      this.terms.pop();
    }
    this.last = index - 1;
  }

  /** Makes `index` (term `term`) the new base: a snapshot was taken or installed there. */
  rebase(index: number, term: number): void {
    if (index >= this.last) {
      this.starts = [];
      this.terms = [];
      this.last = index;
    } else {
      // Keep the runs above index; the run containing index+1 must start at index+1 at the latest.
      const keepFrom = this.runAt(index + 1);
      const startTerm = this.terms[keepFrom] ?? term;
      this.starts = [index + 1, ...this.starts.slice(keepFrom + 1)];
      this.terms = [startTerm, ...this.terms.slice(keepFrom + 1)];
    }
    this.base = index;
    this.baseTerm = term;
  }

  /** The term at `index`, or undefined when below the base or above the last index. */
  termAt(index: number): number | undefined {
    if (index === this.base) return this.baseTerm;
    if (index < this.base || index > this.last) return undefined;
    return this.terms[this.runAt(index)];
  }

  /** Position of the run holding `index` (binary search; runs are few, but logs are long). */
  private runAt(index: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.starts[middle] ?? 0) <= index) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
