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
import type { ProposalEntry } from '../raft/proposal-entry.js';
import type { ProposalPlacement } from '../raft/raft-node.js';

export interface RaftLoadRequest {
  readonly type: 'raftLoad';
  readonly entries: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly inflight: number;
  readonly timeoutMs: number;
  /** Optional, default 0: on a node that is not the leader, how long to wait for it to become
   *  the leader (refused as soon as another node is known to lead). A client that asks every node
   *  during a failover thereby waits for the election instead of polling. */
  readonly leaderWaitMs?: number;
}

export interface RaftLoadResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly committed: number;
  readonly lost: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly latencyMsMax: number;
  readonly lastIndex: number;
}

/** Bounds on a request, so that a mistyped hook call cannot exhaust the node. */
export const raftLoadLimits = { entriesMax: 10_000_000, batchMax: 4096, payloadBytesMax: 65_536, inflightMax: 4096, timeoutMsMax: 600_000, leaderWaitMsMax: 10_000 } as const;

export function checkRaftLoadRequest(request: unknown): RaftLoadRequest | string {
  if (typeof request !== 'object' || request === null) return 'the request is not a map';
  const value = request as Readonly<Record<string, unknown>>;
  const limits: Record<string, number> = { entries: raftLoadLimits.entriesMax, batch: raftLoadLimits.batchMax, payloadBytes: raftLoadLimits.payloadBytesMax, inflight: raftLoadLimits.inflightMax, timeoutMs: raftLoadLimits.timeoutMsMax };
  for (const [field, max] of Object.entries(limits)) {
    const given = value[field];
    if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < (field === 'payloadBytes' ? 0 : 1) || given > max) {
      return `${field} must be an integer from ${field === 'payloadBytes' ? 0 : 1} to ${max}, got ${String(given)}`;
    }
  }
  const leaderWaitMs = value['leaderWaitMs'];
  if (leaderWaitMs !== undefined && (typeof leaderWaitMs !== 'number' || !Number.isSafeInteger(leaderWaitMs) || leaderWaitMs < 0 || leaderWaitMs > raftLoadLimits.leaderWaitMsMax)) {
    return `leaderWaitMs must be an integer from 0 to ${raftLoadLimits.leaderWaitMsMax}, got ${String(leaderWaitMs)}`;
  }
  return request as RaftLoadRequest; // every field it declares was checked above
}

interface Outstanding {
  readonly term: number;
  readonly count: number;
  readonly startMs: number;
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
  private failure: string | undefined;
  private waitingForRoom = false;
  private readonly payload: Uint8Array;
  private finish: ((result: RaftLoadResult) => void) | undefined;
  readonly done: Promise<RaftLoadResult>;

  constructor(request: RaftLoadRequest, now: () => number) {
    this.request = request;
    this.now = now;
    this.startMs = now();
    this.payload = new Uint8Array(request.payloadBytes).fill(0x61);
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
    this.failure = failure;
    const seconds = Math.max(1e-9, (this.now() - this.startMs) / 1000);
    const sorted = Float64Array.from(this.latenciesMs).sort();
    const at = (quantile: number): number => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0;
    finish({
      ok: this.failure === undefined, ...(this.failure === undefined ? {} : { error: this.failure }),
      committed: this.committed, lost: this.lost, seconds, entriesPerSecond: this.committed / seconds,
      latencyMsP50: at(0.5), latencyMsP99: at(0.99), latencyMsMax: sorted[sorted.length - 1] ?? 0, lastIndex: this.lastIndex,
    });
  }
}
