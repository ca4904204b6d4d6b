/**
 * Reads of old entries a follower needs from the WAL, for followers behind the in-memory window
 * of the log (replicator-log-storage.ts asks). A read takes as much as one request carries, not
 * just the one append the core asked for: the follower's next appends are then served from memory
 * instead of one WAL round trip (and one heartbeat wait) each.
 *
 * Invariant: at most one read is in flight; a request while one is goes nowhere (the storage asks
 * again when the core needs entries it still does not hold).
 *
 * Runs on: Replicator thread, or the simulator.
 */
import type { ReplicaHost } from './replica-loop-options.js';

export class CatchUpReads {
  private readonly host: ReplicaHost;
  private readonly requestBytesMax: number;
  private readonly counters: { catchUpReads: number };
  private inFlight = false;
  private requestId = 0;

  /** `counters`: the loop's, one more per read sent. */
  constructor(host: ReplicaHost, requestBytesMax: number, counters: { catchUpReads: number }) {
    this.host = host;
    this.requestBytesMax = requestBytesMax;
    this.counters = counters;
  }

  /** Loads the entries from `fromIndex` to `toIndex` (or as many as one request carries). */
  request(fromIndex: number, toIndex: number): void {
    if (this.inFlight || toIndex < fromIndex) return;
    this.inFlight = true;
    this.counters.catchUpReads += 1;
    this.requestId += 1;
    this.host.toWal({ type: 'read', requestId: this.requestId, fromIndex, toIndex, bytesMax: this.requestBytesMax });
  }

  /** The WAL answered the read (its entries, or its failure): the next one may go. */
  onAnswered(): void {
    this.inFlight = false;
  }
}
