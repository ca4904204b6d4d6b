/**
 * The Replicator's test hooks: the bounded Raft load generator (replication/raft-load.ts) behind
 * the ops port's POST /debug/raft-load, which a node serves only when started with --test-hooks.
 * Benchmarks and tests only.
 *
 * Outside the hot cycle: the role creates this on the first load request, and the loop's
 * `beforeCycles` / `wantsCycle` hooks are installed only while a load runs and removed when it
 * ends, so a node that runs no load pays one `undefined` check per cycle and nothing per entry.
 *
 * Runs on: Replicator thread.
 */
import type { LogEntry } from '../log/log-entry.js';
import type { RaftLoadRequest, RaftLoadResult } from '../protocol/control.js';
import { RaftLoad } from '../replication/raft-load.js';
import type { ReplicaLoop } from '../replication/replica-loop.js';

export class ReplicatorTestHooks {
  private readonly loop: ReplicaLoop;
  /** True once this node leads, within `waitMs` (the role's own wait, shared with its requests). */
  private readonly leadsWithin: (waitMs: number) => Promise<boolean>;
  private load: RaftLoad | undefined;

  constructor(loop: ReplicaLoop, leadsWithin: (waitMs: number) => Promise<boolean>) {
    this.loop = loop;
    this.leadsWithin = leadsWithin;
  }

  /** Runs one load to its end and answers its figures, or why it did not run. The request's
   *  fields and bounds were checked on arrival (protocol/control-validation.ts). */
  async runRaftLoad(request: RaftLoadRequest): Promise<RaftLoadResult> {
    if (!this.loop.started) return { ok: false, error: 'raft has not started yet' };
    if (this.load?.active === true) return { ok: false, error: 'a load is already running' };
    if (!await this.leadsWithin(request.leaderWaitMs ?? 0)) {
      return { ok: false, error: `this node is not the leader (the leader is ${this.loop.node?.leader ?? 'unknown'}); run the load on the leader` };
    }
    const load = new RaftLoad(request, () => performance.now());
    this.load = load;
    this.loop.beforeCycles = () => load.proposeDue((entries) => this.loop.propose(entries));
    this.loop.wantsCycle = () => load.wantsToPropose;
    this.loop.schedule();
    try {
      return await load.done;
    } finally {
      this.loop.beforeCycles = undefined;
      this.loop.wantsCycle = undefined;
    }
  }

  /** Entries this node applied, in order (called only while this object exists). */
  onApplied(entries: readonly LogEntry[]): void {
    const load = this.load;
    if (load?.active === true) for (const entry of entries) load.onApplied(entry);
  }

  /** Ends a running load with `reason` (leadership moved, the node stops). */
  abort(reason: string): void {
    this.load?.abort(reason);
  }
}
