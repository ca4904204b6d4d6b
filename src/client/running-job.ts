/**
 * A job a WorkerRunner is running: its pulled form, when its lease is next to be extended, and
 * the abort signal its handler sees. The signal is made only when the handler first reads it:
 * an AbortController costs more than a short job's whole run, and most handlers never look.
 *
 * Runs on: any thread of a client process (with its WorkerRunner).
 */
import type { JobHandlerContext, PulledJob } from './job-handler.js';

export class RunningJob {
  /** When (performance.now() ms) the runner's sweep extends this job's lease next. */
  extendDueMs: number;
  /** An extend is in flight (the sweep sends no second one). */
  extending = false;
  /** The lease is gone (LEASE_LOST or NOT_FOUND): the result would be refused, so none is sent. */
  lost = false;
  /** `jobId:token`: a job may come back under a new lease while an old run of it lingers. */
  readonly key: string;
  /** What the handler gets as its second argument. */
  readonly context: JobHandlerContext;
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;

  constructor(readonly job: PulledJob, extendDueMs: number) {
    this.extendDueMs = extendDueMs;
    this.key = runKey(job);
    const signalOf = (): AbortSignal => this.signal();
    this.context = {
      get signal(): AbortSignal {
        return signalOf();
      },
    };
  }

  /** Aborts the handler's signal (now, or as soon as the handler reads it). Once only. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  private signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
}

/** The running map's key of a pulled job. */
export function runKey(job: PulledJob): string {
  return `${job.id}:${job.token}`;
}
