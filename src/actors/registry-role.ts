/**
 * The Registry role: the leader's table of worker heartbeats and TTLs (registry/worker-ttls.ts)
 * wired to the Dispatcher (beats in, answers out), to the Replicator (which workers the state
 * machine lists, whether this node leads; releases out) and to a timer that looks for expired
 * workers.
 *
 * A worker that misses its TTL (`queue.workerTtlMs` plus up to `queue.workerTtlJitterMs`) is
 * released: the Replicator proposes `releaseWorker`, and its leased jobs return to ready on every
 * node, each counting as a failed attempt (docs/queue.md says why). A worker that unregisters is
 * released the same way, proposed by the Dispatcher; the Registry only stops its TTL, and asks
 * the release again if it has not happened within `releaseRetryMs`.
 *
 * A beat that names a worker this table does not know (while leading) is not refused at once: its
 * registration may be applied already, with the Replicator's new list of workers still on its way
 * on another ring (a worker that beats as soon as its `register` is answered). The beat waits for
 * the next list, or for one expiry scan, and is answered from the table then.
 *
 * Runs on: Registry thread.
 */
import { assert, isFalconError } from '../errors.js';
import type { LinkMessage } from '../protocol/link-message.js';
import { checkToRegistry } from '../protocol/registry-validation.js';
import { WorkerTtls } from '../registry/worker-ttls.js';
import type { RegistryStatus } from '../runtime/node-status.js';
import type { ActorName } from '../runtime/topology.js';
import type { ActorContext, ActorRole } from './actor-context.js';

/** How often the table is scanned for expired workers: a small share of the shortest sane TTL. */
const expiryScanMs = 100;
/** An asked release that has not happened after this long is asked again. */
const releaseRetryMs = 2_000;
/** Beats of unknown workers waiting for the next list of workers; beyond this, answered at once. */
const unknownBeatsMax = 10_000;

interface UnknownBeat {
  readonly request: number;
  readonly workerId: string;
  readonly load: number;
  readonly atMs: number;
}

export function createRegistryRole(context: ActorContext<'registry'>): ActorRole {
  return new RegistryRole(context);
}

class RegistryRole implements ActorRole {
  private readonly context: ActorContext<'registry'>;
  private readonly ttls: WorkerTtls;
  private leading = false;
  private term = 0;
  private timer: NodeJS.Timeout | undefined;
  private releasesAsked = 0;
  private beats = 0;
  private unregistered = 0;
  /** Beats of workers the table did not know when they came (see the header), oldest first. */
  private unknownBeats: UnknownBeat[] = [];

  constructor(context: ActorContext<'registry'>) {
    this.context = context;
    const { workerTtlMs, workerTtlJitterMs } = context.config.queue;
    this.ttls = new WorkerTtls({ ttlMs: workerTtlMs, jitterMs: workerTtlJitterMs, random: Math.random, releaseRetryMs });
  }

  start(): Promise<void> {
    this.timer = setInterval(() => {
      this.answerUnknownBeats(Date.now() - expiryScanMs);
      this.releaseExpired();
    }, expiryScanMs);
    return Promise.resolve();
  }

  onMessage(from: ActorName, value: LinkMessage): void {
    const message = checkToRegistry(value);
    // A bug on the other side of the ring: a dropped beat would cost a worker its jobs.
    if (isFalconError(message)) assert(false, `from ${from}: ${message.message}`);
    const nowMs = Date.now();
    if (message.type === 'beat') {
      this.beats += 1;
      const registered = this.leading && this.ttls.beat(message.workerId, message.load, nowMs);
      if (!registered && this.leading && this.unknownBeats.length < unknownBeatsMax) {
        this.unknownBeats.push({ request: message.request, workerId: message.workerId, load: message.load, atMs: nowMs });
        return;
      }
      this.context.send('dispatcher', { type: 'beatAnswer', request: message.request, registered });
      return;
    }
    if (message.type === 'unregister') {
      if (this.leading && this.ttls.unregister(message.workerId, nowMs)) this.unregistered += 1;
      return;
    }
    if (message.leading && (!this.leading || message.term !== this.term)) {
      // A new leadership: every listed worker gets a fresh TTL before anyone can expire.
      this.ttls.reset(message.workerIds, nowMs);
      this.context.logger.info({ workers: message.workerIds.length, term: message.term }, 'leading: every registered worker gets a fresh TTL');
    } else if (message.leading) {
      this.ttls.reconcile(message.workerIds, nowMs);
    } else {
      this.ttls.clear();
    }
    this.leading = message.leading;
    this.term = message.term;
    this.answerUnknownBeats(Number.POSITIVE_INFINITY);
  }

  /** Answers, from the table as it is now, the waiting beats that came at or before `cameByMs`. */
  private answerUnknownBeats(cameByMs: number): void {
    if (this.unknownBeats.length === 0) return;
    const nowMs = Date.now();
    const waiting: UnknownBeat[] = [];
    for (const beat of this.unknownBeats) {
      if (beat.atMs > cameByMs) {
        waiting.push(beat);
        continue;
      }
      const registered = this.leading && this.ttls.beat(beat.workerId, beat.load, nowMs);
      this.context.send('dispatcher', { type: 'beatAnswer', request: beat.request, registered });
    }
    this.unknownBeats = waiting;
  }

  private releaseExpired(): void {
    if (!this.leading) return;
    for (const workerId of this.ttls.takeExpired(Date.now())) {
      this.releasesAsked += 1;
      this.context.logger.warn({ workerId }, `worker ${workerId} missed its TTL; its leases return to ready`);
      this.context.send('replicator', { type: 'releaseWorker', workerId });
    }
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    this.answerUnknownBeats(Number.POSITIVE_INFINITY);
    return Promise.resolve();
  }

  status(): RegistryStatus {
    return { role: 'registry', leading: this.leading, term: this.term, beats: this.beats, releasesAsked: this.releasesAsked, unregistered: this.unregistered, workers: this.ttls.view() };
  }
}
