/**
 * A bounded load generator inside the Replicator, for benchmarks and tests of the Raft layer alone
 * (a no-op state machine: nothing but the applied hash chain). It is reachable only through the ops
 * port's test hooks, which a node serves only when started with --test-hooks.
 *
 * It proposes `entries` entries of `payloadBytes` each, `batch` per proposal, keeping `inflight`
 * proposals outstanding, and times each from propose to applied on this (leader) node. A proposal
 * whose index is applied with another term was lost to a leadership change: counted, not retried.
 * The whole run is bounded by `timeoutMs`.
 *
 * Driven by applies, not by spinning: the Replicator asks for a Ready cycle for the load only while
 * `wantsToPropose` (the window has room), so a load waiting on commits leaves the thread asleep
 * like a real client would. The raft tick still runs cycles, which checks the time bound.
 *
 * Runs on: Replicator thread.
 */
import type { Outcome } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import { queueFormatVersion } from '../queue/commands.js';
import { encodeQueueEntry } from '../queue/entry-codec.js';
import type { ProposalEntry } from '../raft/proposal-entry.js';
import type { ProposalPlacement } from '../raft/raft-node.js';
import type { RaftLoadRequest, RaftLoadRun } from '../protocol/control.js';

interface Outstanding {
  readonly term: number;
  readonly count: number;
  readonly startMs: number;
}

/**
 * The data of one load entry: a queue entry with no command and `payloadBytes` of filler, about
 * `payloadBytes` long, so that every node's queue state machine applies it as the no-op it is.
 */
function loadEntryData(payloadBytes: number): Uint8Array {
  return encodeQueueEntry({ v: queueFormatVersion, atMs: 0, commands: [], filler: new Uint8Array(Math.max(0, payloadBytes - 24)).fill(0x61) });
}

export class RaftLoad {
  private readonly request: RaftLoadRequest;
  private readonly now: () => number;
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly latenciesMs: number[] = [];
  private readonly startMs: number;
  private proposed = 0;
  private committed = 0;
  private lost = 0;
  private lastIndex = 0;
  private waitingForRoom = false;
  private readonly payload: Uint8Array;
  private finish: ((result: RaftLoadRun) => void) | undefined;
  readonly done: Promise<RaftLoadRun>;

  constructor(request: RaftLoadRequest, now: () => number) {
    this.request = request;
    this.now = now;
    this.startMs = now();
    this.payload = loadEntryData(request.payloadBytes);
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  /** Proposes as many batches as the in-flight window allows. Call outside ready()/advance(). */
  proposeDue(propose: (entries: readonly ProposalEntry[]) => Outcome<ProposalPlacement>): void {
    if (this.finish === undefined) return;
    if (this.now() - this.startMs > this.request.timeoutMs) {
      this.end(`timed out after ${this.request.timeoutMs} ms with ${this.committed} of ${this.request.entries} entries committed`);
      return;
    }
    // Bounded by the in-flight window and the entries left.
    while (this.outstanding.size < this.request.inflight && this.proposed < this.request.entries) {
      const count = Math.min(this.request.batch, this.request.entries - this.proposed);
      const entries: ProposalEntry[] = Array.from({ length: count }, () => ({ type: 0, data: this.payload }));
      const outcome = propose(entries);
      if (!outcome.ok) {
        if (outcome.error.code === 'PROPOSAL_DROPPED') { // over the uncommitted bound: again once an entry is applied
          this.waitingForRoom = true;
          return;
        }
        this.end(`${outcome.error.code}: ${outcome.error.message}`);
        return;
      }
      const placement = outcome.value;
      if (placement.kind !== 'appended') {
        this.end(`this node is not the leader (forwarded to ${placement.leader}); run the load on the leader`);
        return;
      }
      this.outstanding.set(placement.lastIndex, { term: placement.term, count, startMs: this.now() });
      this.proposed += count;
    }
  }

  /** Every entry this node applies, in order. */
  onApplied(entry: LogEntry): void {
    this.waitingForRoom = false;
    const waiting = this.outstanding.get(entry.index);
    if (waiting === undefined) return;
    this.outstanding.delete(entry.index);
    if (entry.term === waiting.term) {
      this.committed += waiting.count;
      this.latenciesMs.push(this.now() - waiting.startMs);
      this.lastIndex = Math.max(this.lastIndex, entry.index);
    } else {
      this.lost += waiting.count;
    }
    if (this.proposed >= this.request.entries && this.outstanding.size === 0) this.end(undefined);
  }

  /** Leadership was lost: what is outstanding will be counted as it is applied (or never). */
  abort(reason: string): void {
    this.end(reason);
  }

  get active(): boolean {
    return this.finish !== undefined;
  }

  /**
   * True when a proposal would be made now: the window has room, entries are left and the last
   * attempt was not refused for want of room. The load is driven by applies (and the tick, which
   * checks the time bound), never by spinning the event loop while it waits.
   */
  get wantsToPropose(): boolean {
    return this.finish !== undefined && !this.waitingForRoom
      && this.outstanding.size < this.request.inflight && this.proposed < this.request.entries;
  }

  private end(failure: string | undefined): void {
    const finish = this.finish;
    if (finish === undefined) return;
    this.finish = undefined;
    const seconds = Math.max(1e-9, (this.now() - this.startMs) / 1000);
    const sorted = Float64Array.from(this.latenciesMs).sort();
    const at = (quantile: number): number => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0;
    const figures = {
      committed: this.committed, lost: this.lost, seconds, entriesPerSecond: this.committed / seconds,
      latencyMsP50: at(0.5), latencyMsP99: at(0.99), latencyMsMax: sorted[sorted.length - 1] ?? 0, lastIndex: this.lastIndex,
    };
    finish(failure === undefined ? { ok: true, ...figures } : { ok: false, error: failure, ...figures });
  }
}
