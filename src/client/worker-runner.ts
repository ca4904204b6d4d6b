/**
 * A worker for one queue, as the SDK gives it to users and as a node runs it for its local
 * handlers: it registers, beats, pulls jobs with long polls up to its free concurrency, runs each
 * job's handler (in-process, or in a piscina pool for a handler module), extends the lease of a
 * job that runs longer than about half of it, and acks the handler's result (MessagePack bytes) or
 * nacks its error (`NonRetryableError`: not retryable, dead-lettered at once).
 *
 * Everything goes through a ClusterConnection, like any remote worker: there is no other path.
 *
 * close(): stops pulling (a long poll in flight is awaited; the jobs it brings are leased to this
 * worker, so they run too), waits up to `drainTimeoutMs` for the running jobs to finish and be
 * acked or nacked, stops beating, then sends `unregister` (bounded by `unregisterDeadlineMs`) and
 * resolves. Jobs still running at the drain bound are abandoned: their results are dropped and
 * their leases no longer extended. The unregister returns to the queue every job still leased to
 * this worker: the abandoned ones, and those of a long poll whose reply was lost (its connection
 * cut after the node leased them: this worker never saw them, so only the node can name them).
 * Each counts as a failed attempt, as on a TTL expiry (docs/protocol.md "unregister"). If the
 * unregister fails (no leader within its deadline), close() still resolves, and those jobs come
 * back when this worker's TTL runs out, as before.
 *
 * A job's slot is freed when its handler is done, and its ack or nack travels while the next job
 * runs; at most `settlingPerSlotMax` × `concurrency` acks and nacks are in flight besides the running jobs.
 *
 * Invariants: at most `concurrency` jobs run at once; every job pulled is acked, nacked or
 * abandoned exactly once; every wait is bounded (calls by their deadlines, close by the drain bound).
 *
 * Runs on: any thread of a client process (a node's Worker actor thread, a user's process).
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ProtocolError } from './protocol-connection.js';
import { pulledJobsOf, runJobHandler, type HandlerOutcome, type PulledJob } from './job-handler.js';
import type { HostTask } from './piscina-job-host.js';
import { RunningJob } from './running-job.js';

import {
  concurrencyMax, drainTimeoutMsDefault, leaseMsDefault, pullDeadlineMarginMs, retryDelayMsMax, retryDelayMsMin, settleDeadlineMs,
  unregisterDeadlineMsDefault, waitMsDefault, type WorkerRunnerCounters, type WorkerRunnerOptions,
} from './worker-runner-options.js';

export { NonRetryableError, type JobHandler, type WorkerJob } from './job-handler.js';
export { concurrencyMax, type WorkerRunnerCounters, type WorkerRunnerLogger, type WorkerRunnerOptions } from './worker-runner-options.js';


/** Acks and nacks in flight per slot: a short job's ack takes a commit round trip, several times
 *  the job itself, so a worker of short jobs keeps more acks than jobs in flight. */
const settlingPerSlotMax = 2;

export class WorkerRunner {
  readonly counters: WorkerRunnerCounters = {
    pulls: 0, pulled: 0, acked: 0, nacked: 0, deadLettered: 0, extended: 0, leasesLost: 0, failedAcks: 0, failedNacks: 0,
    failedExtends: 0, failedPulls: 0, abandoned: 0, registrations: 0, heartbeats: 0, failedBeats: 0, releasedOnClose: 0,
    failedUnregisters: 0,
  };
  private readonly options: WorkerRunnerOptions;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly pool: Piscina<HostTask, HandlerOutcome> | undefined;
  /** By `jobId:token`: a job may come back under a new lease while an old run of it lingers, and
   *  one pull's jobs share a token. */
  private readonly running = new Map<string, RunningJob>();
  private readonly settling = new Set<Promise<void>>();
  /** Acks and nacks in flight (their jobs' slots are free). */
  private settlingAcks = 0;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private registered = false;
  private ttlMs = 0;
  private abandonedAll = false;
  private closing: Promise<void> | undefined;
  /** Sleepers by loop: a freed slot wakes the pull loop, never the beat loop (beats keep their pace). */
  private readonly wakeUps: Record<'pull' | 'beat', Array<() => void>> = { pull: [], beat: [] };
  private loops: Promise<void>[] = [];
  /** One timer extends every running job's lease when due (a timer per job costs more than a short job). */
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  private readonly firstRegistration: Promise<void>;
  private resolveFirstRegistration: () => void = () => undefined;

  constructor(options: WorkerRunnerOptions) {
    const { concurrency } = options;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > concurrencyMax) {
      throw new RangeError(`options.concurrency must be an integer from 1 to ${concurrencyMax}, got ${concurrency}`);
    }
    this.options = options;
    this.leaseMs = options.leaseMs ?? leaseMsDefault;
    this.waitMs = options.waitMs ?? waitMsDefault;
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 2) throw new RangeError(`options.leaseMs must be an integer >= 2, got ${this.leaseMs}`);
    this.sweepMs = Math.max(1, Math.floor(this.leaseMs / 8));
    if (typeof options.handler !== 'function') {
      const filename = fileURLToPath(new URL('./piscina-job-host.js', import.meta.url));
      this.pool = new Piscina<HostTask, HandlerOutcome>({ filename, minThreads: 1, maxThreads: concurrency });
    }
    this.firstRegistration = new Promise((resolve) => {
      this.resolveFirstRegistration = resolve;
    });
  }

  /** Jobs running now. */
  get runningJobs(): number {
    return this.running.size;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /** Starts registering, beating and pulling; resolves once the worker is first registered (or closed). */
  start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`WorkerRunner for ${this.options.queue} was already started`);
    this.state = 'running';
    this.sweepTimer = setInterval(() => this.sweepExtends(), this.sweepMs);
    this.loops = [this.beatLoop(), this.pullLoop()];
    return this.firstRegistration;
  }

  private get closed(): boolean {
    return this.state === 'closed';
  }

  private get stopping(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  /** Sleeps up to `ms`, or less when `loop` is woken (a slot freed, close begun). */
  private pause(ms: number, loop: 'pull' | 'beat'): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUps[loop].push(done);
    });
  }

  private wake(loop: 'pull' | 'beat'): void {
    const wakeUps = this.wakeUps[loop];
    this.wakeUps[loop] = [];
    for (const wakeUp of wakeUps) wakeUp();
  }

  private get beatIntervalMs(): number {
    const fromTtlMs = Math.max(1, Math.floor(this.ttlMs / 3));
    return Math.min(fromTtlMs, this.options.heartbeatMs ?? fromTtlMs);
  }

  /** Registers, then beats within a third of the TTL; re-registers when a beat is answered NOT_FOUND. Runs until closed. */
  private async beatLoop(): Promise<void> {
    const { connection, workerId, queue, concurrency } = this.options;
    let retryDelayMs = retryDelayMsMin;
    while (!this.closed) {
      let waitMs: number;
      try {
        const deadlineMs = this.registered ? this.beatIntervalMs : settleDeadlineMs;
        const reply = this.registered
          ? await connection.call({ type: 'heartbeat', workerId, load: this.running.size }, { idempotent: true, deadlineMs })
          : await connection.call({ type: 'register', workerId, queues: [queue], capacity: concurrency }, { idempotent: true, deadlineMs });
        if (this.registered) {
          this.counters.heartbeats += 1;
        } else {
          this.registered = true;
          this.counters.registrations += 1;
          this.resolveFirstRegistration();
          this.wake('pull');
        }
        this.ttlMs = Number(reply['ttlMs']);
        retryDelayMs = retryDelayMsMin;
        waitMs = this.beatIntervalMs;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        if (error.code === 'NOT_FOUND') {
          // The leader forgot this worker (its TTL expired, or a new leader): its leases were released.
          this.options.logger?.warn({ workerId, queue }, `worker ${workerId} is not registered on the leader; registering again`);
          this.registered = false;
          waitMs = 0;
        } else {
          this.counters.failedBeats += 1;
          waitMs = retryDelayMs;
          retryDelayMs = Math.min(retryDelayMsMax, retryDelayMs * 2);
        }
      }
      if (this.closed) return;
      await this.pause(waitMs, 'beat');
    }
  }

  /** Pulls up to the free slots with long polls, and starts every job it gets; ends when close begins. */
  private async pullLoop(): Promise<void> {
    const { connection, workerId, queue, concurrency } = this.options;
    // Pull only once registered: the leader then knows whose leases to release if this worker dies.
    while (!this.registered && !this.stopping) await this.pause(this.waitMs, 'pull');
    let retryDelayMs = retryDelayMsMin;
    while (!this.stopping) {
      // Acks in flight count against a second window of `settlingPerSlotMax` × `concurrency`: a
      // stalled leader stops the pulls.
      const free = Math.min(concurrency - this.running.size, (1 + settlingPerSlotMax) * concurrency - this.running.size - this.settlingAcks);
      if (free <= 0) {
        await this.pause(this.waitMs, 'pull');
        // One turn for the other jobs finishing now to free their slots: one pull for all of them.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      let jobs: PulledJob[];
      try {
        const reply = await connection.call(
          { type: 'pull', queue, jobsMax: free, leaseMs: this.leaseMs, waitMs: this.waitMs, workerId },
          { deadlineMs: this.waitMs + pullDeadlineMarginMs },
        );
        jobs = pulledJobsOf(reply['jobs']);
        this.counters.pulls += 1;
        retryDelayMs = retryDelayMsMin;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        // A pull whose reply was lost leased jobs nobody runs: they return when their leases lapse,
        // or at once when close() unregisters this worker.
        this.counters.failedPulls += 1;
        this.options.logger?.warn({ queue, code: error.code }, `pull from ${queue} failed: ${error.message}`);
        await this.pause(retryDelayMs, 'pull');
        retryDelayMs = Math.min(retryDelayMsMax, retryDelayMs * 2);
        continue;
      }
      for (const job of jobs) this.startJob(job);
    }
  }

  private startJob(job: PulledJob): void {
    this.counters.pulled += 1;
    // Extended by the sweep between a half lease less one sweep period and a half lease after the pull.
    const entry = new RunningJob(job, performance.now() + Math.floor(this.leaseMs / 2) - this.sweepMs);
    this.running.set(entry.key, entry);
    const settled = this.runJob(entry).finally(() => {
      this.freeSlot(entry);
      this.settling.delete(settled);
    });
    this.settling.add(settled);
  }

  /** The job's slot is free once its handler is done: its ack or nack travels while the next job runs. */
  private freeSlot(entry: RunningJob): void {
    if (this.running.get(entry.key) !== entry) return;
    this.running.delete(entry.key);
    this.wake('pull');
  }

  private async runJob(entry: RunningJob): Promise<void> {
    const handler = this.options.handler;
    const outcome = typeof handler === 'function'
      ? await runJobHandler(handler, entry.job, entry.context)
      : await this.runInPool(handler.module, entry.job);
    if (entry.lost || this.abandonedAll) return;
    this.freeSlot(entry);
    this.settlingAcks += 1;
    try {
      if (outcome.ok) await this.ack(entry, outcome.result);
      else await this.nack(entry, outcome.message, outcome.retryable);
    } finally {
      this.settlingAcks -= 1;
      this.wake('pull');
    }
  }

  private async runInPool(modulePath: string, job: PulledJob): Promise<HandlerOutcome> {
    const pool = this.pool;
    if (pool === undefined) return { ok: false, message: 'no handler pool', retryable: true };
    // A copy: the payload may be a view into a whole reply frame, which the thread would get too.
    const task: HostTask = { modulePath, job: { ...job, payload: new Uint8Array(job.payload) } };
    try {
      return await pool.run(task);
    } catch (error) {
      // The thread died under the task (an uncaught error, an exit in the handler).
      return { ok: false, message: `the handler thread failed: ${(error as Error).message}`, retryable: true };
    }
  }

  /** Extends the lease of every running job that is due (see startJob). */
  private sweepExtends(): void {
    if (this.abandonedAll) return;
    const nowMs = performance.now();
    for (const entry of this.running.values()) {
      if (!entry.extending && !entry.lost && nowMs >= entry.extendDueMs) void this.extend(entry);
    }
  }

  private async extend(entry: RunningJob): Promise<void> {
    const { id, token } = entry.job;
    entry.extending = true;
    try {
      // Bounded by the half-lease left: an extend answered later would be moot.
      await this.options.connection.call({ type: 'extend', jobId: id, token, leaseMs: this.leaseMs }, { idempotent: true, deadlineMs: Math.floor(this.leaseMs / 2) });
      this.counters.extended += 1;
      entry.extendDueMs = performance.now() + Math.floor(this.leaseMs / 2) - this.sweepMs;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (error.code === 'LEASE_LOST' || error.code === 'NOT_FOUND') {
        this.loseLease(entry, error);
        return;
      }
      this.counters.failedExtends += 1;
      // Again at the next sweep.
      entry.extendDueMs = performance.now();
    } finally {
      entry.extending = false;
    }
  }

  private loseLease(entry: RunningJob, error: ProtocolError): void {
    if (entry.lost) return;
    entry.lost = true;
    this.counters.leasesLost += 1;
    entry.abort(error);
    this.options.logger?.warn({ jobId: entry.job.id, token: entry.job.token }, `job ${entry.job.id} lost its lease: ${error.message}`);
  }

  private async ack(entry: RunningJob, result: Uint8Array | undefined): Promise<void> {
    const { id, token } = entry.job;
    const request = result === undefined ? { type: 'ack', jobId: id, token } : { type: 'ack', jobId: id, token, result };
    try {
      await this.options.connection.call(request, { idempotent: true, deadlineMs: settleDeadlineMs });
      this.counters.acked += 1;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (error.code === 'LEASE_LOST') {
        this.loseLease(entry, error);
      } else if (error.code === 'PAYLOAD_TOO_LARGE') {
        // Retrying would produce the same result: the job cannot complete as written.
        await this.nack(entry, `the handler's result is too large to keep: ${error.message}`, false);
      } else {
        this.counters.failedAcks += 1;
        this.options.logger?.warn({ jobId: id, code: error.code }, `ack of job ${id} failed; its lease will lapse and it will run again: ${error.message}`);
      }
    }
  }

  private async nack(entry: RunningJob, message: string, retryable: boolean): Promise<void> {
    const { id, token } = entry.job;
    try {
      // A repeated nack is refused LEASE_LOST (its token is spent), so retrying it is safe.
      const reply = await this.options.connection.call({ type: 'nack', jobId: id, token, error: message, retryable }, { idempotent: true, deadlineMs: settleDeadlineMs });
      this.counters.nacked += 1;
      if (reply['state'] === 'dead') this.counters.deadLettered += 1;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (error.code === 'LEASE_LOST') this.loseLease(entry, error);
      else this.counters.failedNacks += 1;
    }
  }

  /** Stops pulling, drains running jobs (bounded), stops beating, unregisters, closes the pool. See the header. */
  close(): Promise<void> {
    this.closing ??= this.drainAndStop();
    return this.closing;
  }

  private async drainAndStop(): Promise<void> {
    const started = this.state === 'running';
    this.state = 'closing';
    this.resolveFirstRegistration();
    this.wake('pull');
    if (started) await this.loops[1];
    const drainTimeoutMs = this.options.drainTimeoutMs ?? drainTimeoutMsDefault;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all([...this.settling]).then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), drainTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.abandonedAll = true;
      this.counters.abandoned += this.running.size;
      for (const entry of this.running.values()) entry.abort(new Error('the worker closed before the job finished'));
      this.options.logger?.warn({ queue: this.options.queue, jobs: this.running.size }, `closing with ${this.running.size} jobs still running; they return to the queue`);
    }
    this.state = 'closed';
    clearInterval(this.sweepTimer);
    this.wake('beat');
    if (started) await this.loops[0];
    // Last, after every ack and nack settled (or was given up) and the beats stopped: what is
    // still leased to this worker now, nobody runs.
    if (this.counters.registrations > 0) await this.unregister();
    await this.pool?.destroy();
  }

  /** Tells the leader this worker is gone: it returns every job still leased to it. Never throws. */
  private async unregister(): Promise<void> {
    const { connection, workerId, queue } = this.options;
    try {
      const reply = await connection.call({ type: 'unregister', workerId }, { idempotent: true, deadlineMs: this.options.unregisterDeadlineMs ?? unregisterDeadlineMsDefault });
      const released = reply['jobs'];
      if (typeof released === 'number') this.counters.releasedOnClose += released;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.counters.failedUnregisters += 1;
      this.options.logger?.warn({ workerId, queue, code: error.code }, `unregister of worker ${workerId} failed; the jobs it still holds return when its TTL runs out: ${error.message}`);
    }
  }
}
