/**
 * One actor as the supervisor sees it: its thread, its state, its liveness, its restarts.
 *
 * States:  starting -> ready -> (failed -> restarting -> starting ...) | stopping -> stopped
 *
 * The rings of an actor outlive its thread: a restarted actor reattaches to the same
 * SharedArrayBuffers and goes on from where the ring heads are, so a neighbour's unread records
 * are not lost by a restart. The old thread is always terminated (awaited) before the new one
 * starts, so a ring never has two consumers or two producers.
 *
 * Runs on: supervisor (main thread).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logging/logger.js';
import type { ActorWorkerData } from '../runtime/actor-worker-data.js';
import { readBeats } from '../runtime/liveness.js';
import { RestartPolicy, type RestartPolicySettings } from './restart-policy.js';
import type { ActorName } from '../runtime/topology.js';

export type ActorState = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped' | 'given-up';

const actorEntryUrl = new URL('../actors/actor-main.js', import.meta.url);

/**
 * Until an actor has beaten once, it is loading its modules; on a loaded 2-core machine that alone
 * can take seconds. It gets at least this long before it is declared stuck.
 */
const firstBeatTimeoutMsMin = 15_000;

/**
 * Actors whose threads allocate little (the Registry's TTL table; the Worker, whose handlers run in
 * their own pool): a small young generation, since V8 reserves tens of MB per thread for it by
 * default and a node's memory target counts every thread.
 */
const lightActors: ReadonlySet<ActorName> = new Set<ActorName>(['registry', 'worker']);
const lightYoungGenerationMb = 4;

export interface ActorHandleOptions {
  readonly actor: ActorName;
  readonly logger: Logger;
  readonly restart: RestartPolicySettings;
  readonly livenessTimeoutMs: number;
  readonly liveness: Int32Array;
  /** Builds the workerData of incarnation `n` (rings and config do not change between them). */
  readonly workerDataFor: (incarnation: number) => ActorWorkerData;
  /** Called once when this actor has exhausted its restart budget. */
  readonly onGiveUp: (actor: ActorName, reason: string, failuresInWindow: number) => void;
  readonly clock?: () => number;
}

export class ActorHandle {
  readonly actor: ActorName;
  state: ActorState = 'starting';
  incarnation = 0;
  restarts = 0;
  lastFailure: string | undefined;
  private worker: Worker | undefined;
  private readonly options: ActorHandleOptions;
  private readonly policy: RestartPolicy;
  private readonly slot: number;
  private lastBeats = 0;
  private lastBeatAtMs = 0;
  private hasBeaten = false;
  private lastError: string | undefined;
  private failing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(options: ActorHandleOptions, slot: number) {
    this.actor = options.actor;
    this.options = options;
    this.slot = slot;
    this.policy = new RestartPolicy(options.restart);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  start(): void {
    this.incarnation += 1;
    this.state = 'starting';
    this.failing = false;
    this.lastError = undefined;
    this.lastBeats = readBeats(this.options.liveness, this.slot);
    this.lastBeatAtMs = this.now();
    this.hasBeaten = false;
    const resourceLimits = lightActors.has(this.actor) ? { maxYoungGenerationSizeMb: lightYoungGenerationMb } : undefined;
    const worker = new Worker(actorEntryUrl, { workerData: this.options.workerDataFor(this.incarnation), ...(resourceLimits === undefined ? {} : { resourceLimits }) });
    this.worker = worker;
    this.exited = new Promise((resolve) => {
      worker.on('error', (error: Error) => {
        this.lastError = error.stack ?? String(error);
      });
      worker.on('exit', (code) => {
        resolve();
        if (this.worker === worker) this.onExit(code);
      });
    });
  }

  /** The actor's runtime reported that its role started and all its links answered. */
  onReady(): void {
    if (this.state !== 'starting') return;
    this.state = 'ready';
    this.options.logger.info({ actor: this.actor, incarnation: this.incarnation }, 'actor ready');
  }

  /** The actor reported an unrecoverable failure: no restart; the node is stopping. */
  onFatal(reason: string): void {
    this.lastFailure = reason;
    this.state = 'given-up';
  }

  onStopping(): void {
    if (this.state === 'ready' || this.state === 'starting') this.state = 'stopping';
  }

  /** Liveness check, called every liveness interval. */
  checkLiveness(): void {
    if (this.state !== 'ready' && this.state !== 'starting') return;
    const beats = readBeats(this.options.liveness, this.slot);
    const nowMs = this.now();
    if (beats !== this.lastBeats) {
      this.lastBeats = beats;
      this.lastBeatAtMs = nowMs;
      this.hasBeaten = true;
      return;
    }
    const silentMs = nowMs - this.lastBeatAtMs;
    if (silentMs > this.timeoutMs()) {
      void this.fail(`no liveness beat for ${silentMs} ms (timeout ${this.timeoutMs()} ms): the actor's event loop is blocked`);
    }
  }

  private timeoutMs(): number {
    return this.hasBeaten ? this.options.livenessTimeoutMs : Math.max(this.options.livenessTimeoutMs, firstBeatTimeoutMsMin);
  }

  /** Alive: running and beating. Used by /healthz. */
  isAlive(): boolean {
    return (this.state === 'ready' || this.state === 'starting') && this.now() - this.lastBeatAtMs <= this.timeoutMs();
  }

  describeProblem(): string {
    if (this.isAlive()) return 'alive';
    const failure = this.lastFailure === undefined ? '' : `; last failure: ${firstLine(this.lastFailure)}`;
    return `${this.state}${failure}`;
  }

  private onExit(code: number): void {
    this.worker = undefined;
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'given-up') {
      if (this.state !== 'given-up') this.state = 'stopped';
      return;
    }
    void this.fail(this.lastError ?? `thread exited unexpectedly with code ${code}`);
  }

  private async fail(reason: string): Promise<void> {
    if (this.failing || this.state === 'stopping' || this.state === 'stopped' || this.state === 'given-up') return;
    this.failing = true;
    this.lastFailure = reason;
    this.state = 'restarting';
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) {
      await worker.terminate();
      await this.exited;
    }
    const decision = this.policy.onFailure(this.now());
    if (decision.action === 'give-up') {
      this.state = 'given-up';
      this.options.onGiveUp(this.actor, reason, decision.failuresInWindow);
      return;
    }
    this.options.logger.error(
      { actor: this.actor, incarnation: this.incarnation, reason, restartInMs: decision.delayMs, failuresInWindow: decision.failuresInWindow },
      `actor ${this.actor} failed; restarting in ${decision.delayMs} ms`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== 'restarting') return;
      this.restarts += 1;
      this.start();
    }, decision.delayMs);
  }

  /** Asks nothing: the caller has already sent `stop` over the control ring. Waits up to `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    if (this.state !== 'stopped' && this.state !== 'given-up') this.state = 'stopping';
    if (this.worker === undefined) {
      this.state = 'stopped';
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const clean = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!clean) await this.terminate();
    this.state = 'stopped';
    return clean;
  }

  async terminate(): Promise<void> {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : text.slice(0, newline);
}
