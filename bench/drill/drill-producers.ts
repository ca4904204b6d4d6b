/**
 * The drill's producers: `FalconClient`s in the drill's process, each enqueueing at its share of a
 * bounded rate, every job with an idempotency key and a high `attemptsMax`, and every call
 * recorded in the history (invoke, then ok / failed / unknown).
 *
 * What a producer does after each outcome, as an application that must not lose or double a job:
 * - ok: the key is done;
 * - unknown (`sent: true`: a deadline, UNAVAILABLE): enqueue again with the SAME key after a pause;
 *   the cluster's key table answers with the first job if the first attempt took effect;
 * - failed (`sent: false`: surely not applied): enqueue again with the same key too, the job is
 *   still wanted.
 * A key is given up after `attemptsPerKeyMax` calls. Each call is a new op id, written into the
 * payload, so a delivered payload names the call that made its job.
 *
 * Invariants: at most `inflightMax` calls in flight per producer (the rate is bounded, and a slow
 * cluster does not pile calls up); `stop()` stops new keys and retries, and resolves once every
 * call settled (each is bounded by its deadline).
 *
 * Runs on: the drill runner's process.
 */
import { FalconClient } from '../../src/client/falcon-client.js';
import { ProtocolError } from '../../src/client/errors.js';
import type { DrillHistory } from './history.js';

export const drillQueue = 'drill';
/** Far above any retry count a job sees in a drill: a job that ends dead counts as lost. */
const attemptsMaxPerJob = 1000;
/** Each enqueue call's deadline, the SDK's retries included: a few elections. */
const enqueueDeadlineMs = 10_000;
const inflightMax = 64;
const attemptsPerKeyMax = 8;
const retryPauseMs = 200;
/** The pacing tick: every tick starts the calls due since the last one. */
const tickMs = 10;

export interface ProducerCounters {
  keys: number;
  calls: number;
  ok: number;
  unknown: number;
  failed: number;
  keysGivenUp: number;
  /** Calls not started because `inflightMax` were in flight (the cluster was slower than the rate). */
  skipped: number;
}

class Producer {
  readonly name: string;
  private readonly client: FalconClient;
  private readonly history: DrillHistory;
  private readonly counters: ProducerCounters;
  private nextKey = 1;
  private nextOp = 1;
  /** Set by `close()`: a key whose call failed is not tried again. */
  private closing = false;
  readonly inflight = new Set<Promise<void>>();

  constructor(name: string, ports: readonly number[], history: DrillHistory, counters: ProducerCounters) {
    this.name = name;
    this.history = history;
    this.counters = counters;
    this.client = new FalconClient({ nodes: ports.map((port) => ({ host: '127.0.0.1', port })), clientName: `drill-${name}`, deadlineMs: enqueueDeadlineMs });
  }

  /** Starts one new key, unless the producer is at its bound. */
  startKey(): void {
    if (this.inflight.size >= inflightMax) {
      this.counters.skipped += 1;
      return;
    }
    const key = `${this.name}-k${this.nextKey++}`;
    this.counters.keys += 1;
    const done: Promise<void> = this.enqueueKey(key).finally(() => this.inflight.delete(done));
    this.inflight.add(done);
  }

  private async enqueueKey(key: string): Promise<void> {
    for (let attempt = 1; attempt <= attemptsPerKeyMax; attempt += 1) {
      const opId = `${this.name}-op${this.nextOp++}`;
      const call = this.history.invokeEnqueue({ opId, process: this.name, atMs: Date.now(), idempotencyKey: key });
      this.counters.calls += 1;
      try {
        const job = await this.client.enqueue(drillQueue, { opId, key }, {
          idempotencyKey: key, attemptsMax: attemptsMaxPerJob, backoff: { kind: 'fixed', delayMs: 200 },
        });
        call.ok({ atMs: Date.now(), jobId: job.id, duplicate: job.duplicate });
        this.counters.ok += 1;
        return;
      } catch (error) {
        const code = error instanceof ProtocolError ? error.code : String(error);
        if (error instanceof ProtocolError && !error.sent) {
          call.failed({ atMs: Date.now(), code });
          this.counters.failed += 1;
        } else {
          call.unknown({ atMs: Date.now(), code });
          this.counters.unknown += 1;
        }
        if (this.closing) break;
      }
      await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
    }
    this.counters.keysGivenUp += 1;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.inflight);
    await this.client.close();
  }
}

/** `count` producers sharing `ratePerSecond` new keys per second. */
export class Producers {
  readonly counters: ProducerCounters = { keys: 0, calls: 0, ok: 0, unknown: 0, failed: 0, keysGivenUp: 0, skipped: 0 };
  private readonly producers: Producer[];
  private readonly ratePerSecond: number;
  private timer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private keysStarted = 0;

  constructor(options: { count: number; ratePerSecond: number; ports: readonly number[]; history: DrillHistory }) {
    this.ratePerSecond = options.ratePerSecond;
    this.producers = Array.from({ length: options.count }, (_, index) => new Producer(`p${index + 1}`, options.ports, options.history, this.counters));
  }

  start(): void {
    this.startedAtMs = Date.now();
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  get inflight(): number {
    return this.producers.reduce((sum, producer) => sum + producer.inflight.size, 0);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.startedAtMs) / 1000) * this.ratePerSecond);
    while (this.keysStarted < due) {
      const producer = this.producers[this.keysStarted % this.producers.length];
      this.keysStarted += 1;
      producer?.startKey();
    }
  }

  /** Stops starting keys; resolves once every call settled and the clients are closed. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.producers.map((producer) => producer.close()));
  }
}
