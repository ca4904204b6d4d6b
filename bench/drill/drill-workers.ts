/**
 * The drill's worker processes (drill-worker.ts): started, killed with `kill -9` (and replaced by a
 * new worker with a new id), stopped with SIGTERM at the end; their stdout lines merged into the
 * history as they arrive (worker-lines.ts), anything else they print kept for the report.
 *
 * Invariants: worker ids are never reused (`w1`, `w2`, ...), so a killed worker's leases and a
 * replacement's never share a name; every process started is stopped by `stopAll` or `killAll`
 * (by PID), and each wait for an exit is bounded.
 *
 * Runs on: the drill runner's process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../../src/raft/random.js';
import type { WorkerSettings } from './drill-worker.js';
import type { DrillHistory } from './history.js';
import { WorkerLineMerger } from './worker-lines.js';

const workerEntry = fileURLToPath(new URL('./drill-worker.js', import.meta.url));
/** Output other than history lines kept per worker (the end matters). */
const otherOutputCharsMax = 64 * 1024;
/** How long a SIGTERMed worker may take to finish its jobs and unregister (its own bound is 5 s, plus a call). */
const stopTimeoutMs = 15_000;

export interface WorkerPoolOptions {
  readonly ports: readonly number[];
  readonly queue: string;
  readonly seed: number;
  readonly history: DrillHistory;
  readonly leaseMs: number;
  readonly concurrency: number;
  readonly nackRatio: number;
}

interface RunningWorker {
  readonly id: string;
  readonly child: ChildProcess;
  readonly merger: WorkerLineMerger;
  readonly exited: Promise<number | string>;
  otherOutput: string;
}

export class WorkerPool {
  private readonly options: WorkerPoolOptions;
  private readonly random: SeededRandom;
  private readonly workers = new Map<string, RunningWorker>();
  private nextId = 1;
  /** Every worker ever started, for the report. */
  readonly started: string[] = [];
  /** The latest delivery of each job: who got it, when. */
  private readonly lastDelivery = new Map<number, { workerId: string; atMs: number }>();

  constructor(options: WorkerPoolOptions) {
    this.options = options;
    this.random = new SeededRandom(options.seed);
  }

  start(): string {
    const id = `w${this.nextId++}`;
    const settings: WorkerSettings = {
      nodes: this.options.ports.map((port) => ({ host: '127.0.0.1', port })), queue: this.options.queue, workerId: id,
      seed: this.random.nextUint32(), leaseMs: this.options.leaseMs, concurrency: this.options.concurrency, nackRatio: this.options.nackRatio,
      workMsMin: 2, workMsMax: 50, heartbeatMs: 500,
    };
    const child = spawn(process.execPath, [workerEntry, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const merger = new WorkerLineMerger(id, this.options.history, (record) => this.lastDelivery.set(record.jobId, { workerId: record.workerId, atMs: record.atMs }));
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    const worker: RunningWorker = { id, child, merger, exited, otherOutput: '' };
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (!merger.merge(line) && line.trim() !== '') this.keepOutput(worker, line);
    });
    child.stderr?.on('data', (chunk: Buffer) => this.keepOutput(worker, chunk.toString()));
    this.workers.set(id, worker);
    this.started.push(id);
    return id;
  }

  private keepOutput(worker: RunningWorker, text: string): void {
    worker.otherOutput = `${worker.otherOutput}${text}\n`.slice(-otherOutputCharsMax);
  }

  /** The running workers' ids. */
  get running(): string[] {
    return [...this.workers.values()].filter((worker) => worker.child.exitCode === null && worker.child.signalCode === null).map((worker) => worker.id);
  }

  /** How many jobs each running worker holds now (delivered, not yet answered by it). */
  held(id: string): number {
    return this.workers.get(id)?.merger.held.size ?? 0;
  }

  /** The ids of the jobs worker `id` holds now. */
  heldJobs(id: string): number[] {
    return [...(this.workers.get(id)?.merger.held.keys() ?? [])];
  }

  /** The jobs of `jobIds` not delivered to another worker than `workerId` since `sinceMs`. */
  notMovedFrom(workerId: string, jobIds: readonly number[], sinceMs: number): number[] {
    return jobIds.filter((jobId) => {
      const last = this.lastDelivery.get(jobId);
      return last === undefined || last.workerId === workerId || last.atMs < sinceMs;
    });
  }

  get deliveries(): number {
    return [...this.workers.values()].reduce((sum, worker) => sum + worker.merger.deliveries, 0);
  }

  get answersAccepted(): number {
    return [...this.workers.values()].reduce((sum, worker) => sum + worker.merger.answersAccepted, 0);
  }

  /** `kill -9` of worker `id`; resolves once it exited. */
  async kill9(id: string): Promise<void> {
    const worker = this.workers.get(id);
    if (worker === undefined) return;
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  /** SIGTERM to every running worker, then waits (bounded) for each to finish, unregister and exit; kills those that do not. */
  async stopAll(): Promise<string[]> {
    const notes: string[] = [];
    await Promise.all([...this.workers.values()].map(async (worker) => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
      worker.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([worker.exited, new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), stopTimeoutMs); })]);
      clearTimeout(timer);
      if (code === null) {
        notes.push(`worker ${worker.id} did not stop within ${stopTimeoutMs} ms of SIGTERM: killed`);
        worker.child.kill('SIGKILL');
        await worker.exited;
      } else if (code !== 0) {
        notes.push(`worker ${worker.id} exited ${String(code)}: ${worker.otherOutput.slice(-2000)}`);
      }
    }));
    return notes;
  }

  /** Kills every worker still running (on an interrupt or a failure). */
  killAll(): void {
    for (const worker of this.workers.values()) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  }
}
