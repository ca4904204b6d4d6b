/**
 * What the simulator's queue clients do (requests travel through sim-queue-clients.ts):
 *
 * - producers enqueue batches of jobs into a few queues: some jobs with an idempotency key (unique
 *   per job), some enqueues with the producer's id and its next sequence number, some delayed;
 *   a few in flight per producer;
 * - workers (named, registered) pull leases and, per job, mostly ack within the lease, sometimes
 *   nack (retryable or not), extend then ack, or stall past the lease and ack late with what is by
 *   then a stale token (during a stall the Registry sometimes gives up on the worker: the leader
 *   proposes `releaseWorker`, as its TTL would); now and then an ack is sent twice;
 * - readers `get` an acknowledged job (a linearizable read must find it); a few cancels.
 *
 * Every answer an actor gets is checked where it can be: an enqueue's job ids are acknowledged
 * (sim-queue-checks.ts), an operating error other than the expected ones fails the run.
 *
 * Invariants: a worker holds at most `queue.workerCapacity` jobs and runs one pull at a time; a
 * producer has at most `queue.producerInflightMax` enqueues in flight (those sent by a fault
 * scenario to a given node aside).
 *
 * Runs on: the simulator.
 */
import { isFalconError } from '../../src/errors.js';
import { commandBytes } from '../../src/dispatch/command-batcher.js';
import type { EnqueueCommand, JobSpec, QueueCommand } from '../../src/queue/commands.js';
import type { CommandResult, JobView, LeasedJob } from '../../src/queue/results.js';
import { fail } from './sim-checker.js';
import type { ClientHost, RequestFields, SimQueueClients } from './sim-queue-clients.js';
import type { SimNode } from './sim-node.js';

/** Bytes of payloads one pull's answer may carry (the Dispatcher's pullBytesMax). */
const pullBytesMax = 4096;
/** Share of client actions that cancel an acknowledged job. */
const cancelShare = 0.02;
/** Producers hold back while the queues hold this many waiting jobs (as the furthest node sees
 *  them): a backlog only makes every snapshot bigger and the run slower. */
const backlogJobsMax = 100;

interface Producer {
  readonly id: string;
  nextSequence: number;
  inflight: number;
  keys: number;
}

interface Worker {
  readonly id: string;
  /** Job id → the token of the lease this worker holds on it. */
  readonly held: Map<number, number>;
  pulling: boolean;
  registered: boolean;
}

export interface ActorStats {
  enqueues: number;
  pulls: number;
  jobsLeased: number;
  acksOk: number;
  acksRepeated: number;
  staleAcksRefused: number;
  nacks: number;
  extends: number;
  stalls: number;
  workerReleases: number;
  reads: number;
  cancels: number;
  limitRefusals: number;
  /** Enqueues refused FAILED_PRECONDITION: the node cannot tell whether an earlier attempt was applied. */
  enqueuesInDoubt: number;
}

const ignore = (): void => undefined;

export class QueueActors {
  private readonly host: ClientHost;
  private readonly clients: SimQueueClients;
  private readonly producers: Producer[] = [];
  private readonly workers: Worker[] = [];
  /** Job ids clients were answered with, for reads and cancels. */
  private readonly answered: number[] = [];
  readonly stats: ActorStats = {
    enqueues: 0, pulls: 0, jobsLeased: 0, acksOk: 0, acksRepeated: 0, staleAcksRefused: 0, nacks: 0, extends: 0, stalls: 0,
    workerReleases: 0, reads: 0, cancels: 0, limitRefusals: 0, enqueuesInDoubt: 0,
  };

  constructor(host: ClientHost, clients: SimQueueClients) {
    this.host = host;
    this.clients = clients;
    for (let index = 0; index < host.options.queue.producers; index++) this.producers.push({ id: `p${index + 1}`, nextSequence: 1, inflight: 0, keys: 0 });
    for (let index = 0; index < host.options.queue.workers; index++) this.workers.push({ id: `w${index + 1}`, held: new Map(), pulling: false, registered: false });
  }

  /** One client action: a read, a cancel, an enqueue or a pull. */
  step(): void {
    const random = this.host.random;
    const draw = random.nextFloat();
    const readShare = this.host.options.workload.readShare;
    if (draw < readShare) this.read();
    else if (draw < readShare + cancelShare) this.cancel();
    else if (random.chance(0.5) && this.backlog() < backlogJobsMax) this.enqueue(null, true);
    else this.pull(random.pick(this.workers));
  }

  /** Jobs waiting (ready or delayed) in the state of the node that applied furthest. */
  private backlog(): number {
    let furthest: SimNode | null = null;
    for (const node of this.host.nodes) if (node.machine !== null && (furthest === null || node.appliedIndex > furthest.appliedIndex)) furthest = node;
    if (furthest?.machine == null) return 0;
    let waiting = 0;
    for (const stats of furthest.machine.queue.allQueueStats(0)) waiting += stats.ready + stats.delayed;
    return waiting;
  }

  private command(command: QueueCommand, bounded: boolean, onCommand: RequestFields['onCommand'], onAbandoned: () => void = ignore): boolean {
    return this.clients.send({ command, query: null, bounded, onCommand, onQuery: ignore, onAbandoned });
  }

  private unexpected(what: string, result: CommandResult): never {
    fail(`a client's ${what} answered ${isFalconError(result) ? `${result.code}: ${result.message}` : JSON.stringify(result)}`);
  }

  /** A producer enqueues 1 to `jobsPerEnqueueMax` jobs (to `target` when given). */
  enqueue(target: SimNode | null, bounded: boolean): void {
    const { random, options } = this.host;
    const settings = options.queue;
    const ready = this.producers.filter((producer) => producer.inflight < settings.producerInflightMax);
    if (ready.length === 0 && target === null) return;
    const producer = random.pick(ready.length > 0 ? ready : this.producers);
    const jobs: JobSpec[] = [];
    const count = random.between(1, settings.jobsPerEnqueueMax);
    for (let position = 0; position < count; position++) {
      const spec: { -readonly [K in keyof JobSpec]: JobSpec[K] } = { payload: random.chance(0.3) ? new Uint8Array(random.below(options.workload.paddingBytesMax + 1)).fill(position + 1) : new Uint8Array(0) };
      if (random.chance(settings.keyShare)) spec.key = `${producer.id}-k${++producer.keys}`;
      if (random.chance(settings.delayedShare)) spec.delayMs = random.between(1, 500);
      if (random.chance(0.2)) spec.priority = random.between(-3, 3);
      jobs.push(spec);
    }
    const command: { -readonly [K in keyof EnqueueCommand]: EnqueueCommand[K] } = {
      type: 'enqueue', queue: random.pick(settings.queueNames), jobs, defaults: settings.defaults, limits: settings.limits,
      ...(random.chance(settings.producerShare) ? { producer: { id: producer.id, sequence: producer.nextSequence++ } } : {}),
    };
    // As an SDK does: an enqueue too big for one entry is cut down (the rest would be another).
    while (jobs.length > 1 && commandBytes(command) > settings.entryBytesMax) jobs.pop();
    const done = (): void => {
      producer.inflight--;
    };
    const sent = this.clients.send({
      command, query: null, bounded, onQuery: ignore, onAbandoned: done,
      onCommand: (result, index) => {
        done();
        this.onEnqueued(result, index);
      },
    }, target);
    if (!sent) return;
    producer.inflight++;
    this.stats.enqueues++;
  }

  private onEnqueued(result: CommandResult, index: number | null): void {
    if (isFalconError(result)) {
      if (result.code === 'RESOURCE_EXHAUSTED') this.stats.limitRefusals++;
      else if (result.code === 'FAILED_PRECONDITION') this.stats.enqueuesInDoubt++;
      else this.unexpected('enqueue', result);
      return;
    }
    if (result.type !== 'enqueued' || index === null) this.unexpected('enqueue', result);
    this.host.queueChecks.onEnqueueAnswered(result.jobs, index, this.host.nodes);
    for (const job of result.jobs) if (!job.duplicate) this.answered.push(job.id);
  }

  private pull(worker: Worker): void {
    const { random, options } = this.host;
    const capacity = options.queue.workerCapacity;
    if (worker.pulling || worker.held.size >= capacity || this.clients.boundedFull) return;
    if (!worker.registered) {
      worker.registered = true;
      this.command({ type: 'registerWorker', workerId: worker.id, queues: [...options.queue.queueNames], capacity }, false, ignore);
    }
    const leaseMs = random.pick(options.queue.leaseMsChoices);
    const command: QueueCommand = {
      type: 'lease', queue: random.pick(options.queue.queueNames), jobsMax: random.between(1, capacity - worker.held.size),
      bytesMax: pullBytesMax, leaseMs, workerId: worker.id,
    };
    const finished = (): void => {
      worker.pulling = false;
    };
    worker.pulling = this.command(command, true, (result) => {
      finished();
      if (isFalconError(result) || result.type !== 'leased') this.unexpected('pull', result);
      for (const job of result.jobs) this.work(worker, job, leaseMs);
      if (result.jobs.length > 0) this.pull(worker);
    }, finished);
    if (worker.pulling) this.stats.pulls++;
  }

  /** After `ms` of simulated time (client-side: runs whatever the nodes do). */
  private after(ms: number, run: () => void): void {
    this.host.queue.schedule(this.host.nowUs() + Math.max(1, Math.round(ms * 1000)), -1, 0, () => {
      if (this.host.faultPhase) run();
    });
  }

  private work(worker: Worker, job: LeasedJob, leaseMs: number): void {
    const random = this.host.random;
    worker.held.set(job.id, job.token);
    this.stats.jobsLeased++;
    const stallShare = this.host.options.queue.stallShare;
    const draw = random.nextFloat();
    if (draw < stallShare) {
      this.stats.stalls++;
      if (random.chance(0.4)) this.after(random.between(leaseMs >> 1, leaseMs), () => this.releaseWorker(worker));
      this.after(leaseMs + random.between(50, 1_500), () => this.ack(worker, job));
    } else if (draw < stallShare + 0.12) {
      this.after(random.between(1, Math.max(1, leaseMs >> 1)), () => this.nack(worker, job));
    } else if (draw < stallShare + 0.22) {
      this.after(leaseMs >> 1, () => this.extend(worker, job, leaseMs));
    } else {
      this.after(random.between(1, Math.max(1, Math.floor(leaseMs * 0.6))), () => this.ack(worker, job));
    }
  }

  /** The worker is done with a job (whatever the answer): it pulls again while clients run. */
  private finish(worker: Worker, jobId: number): void {
    if (!worker.held.delete(jobId) || !this.host.faultPhase) return;
    this.pull(worker);
  }

  private ack(worker: Worker, job: LeasedJob, again = false): void {
    const random = this.host.random;
    const command: QueueCommand = {
      type: 'ack', jobId: job.id, token: job.token, ...(random.chance(0.3) ? { result: new Uint8Array(random.between(1, 16)).fill(7) } : {}),
    };
    this.command(command, false, (result) => {
      this.finish(worker, job.id);
      if (isFalconError(result)) {
        if (result.code === 'LEASE_LOST') this.stats.staleAcksRefused++;
        else if (result.code !== 'NOT_FOUND') this.unexpected('ack', result);
        return;
      }
      if (result.type !== 'acked') this.unexpected('ack', result);
      if (result.repeated) this.stats.acksRepeated++;
      else this.stats.acksOk++;
      if (!again && random.chance(0.05)) this.after(random.between(1, 200), () => this.ack(worker, job, true));
    }, () => this.finish(worker, job.id));
  }

  private nack(worker: Worker, job: LeasedJob): void {
    const random = this.host.random;
    const command: QueueCommand = {
      type: 'nack', jobId: job.id, token: job.token, error: 'the simulated handler failed', retryable: random.chance(0.85),
      jitter: random.nextFloat(), ...(random.chance(0.3) ? { delayMs: random.between(0, 300) } : {}),
    };
    this.command(command, false, (result) => {
      this.finish(worker, job.id);
      if (isFalconError(result) ? result.code !== 'LEASE_LOST' && result.code !== 'NOT_FOUND' : result.type !== 'nacked') this.unexpected('nack', result);
      if (!isFalconError(result)) this.stats.nacks++;
    }, () => this.finish(worker, job.id));
  }

  private extend(worker: Worker, job: LeasedJob, leaseMs: number): void {
    this.command({ type: 'extend', jobId: job.id, token: job.token, leaseMs }, false, (result) => {
      if (isFalconError(result)) {
        if (result.code !== 'LEASE_LOST' && result.code !== 'NOT_FOUND') this.unexpected('extend', result);
        this.finish(worker, job.id);
        return;
      }
      if (result.type !== 'extended') this.unexpected('extend', result);
      this.stats.extends++;
      this.after(this.host.random.between(1, Math.max(1, leaseMs >> 1)), () => this.ack(worker, job));
    }, () => this.finish(worker, job.id));
  }

  /** The Registry gives up on a stalled worker: the leader proposes its release; it registers again. */
  private releaseWorker(worker: Worker): void {
    const leader = this.host.nodes.find((node) => node.core?.role === 'leader' && node.service !== null);
    if (leader === undefined) return;
    this.stats.workerReleases++;
    this.host.queue.schedule(this.host.nowUs(), leader.index, leader.incarnation, () => leader.service?.onReleaseWorker(worker.id));
    worker.registered = false;
  }

  private read(): void {
    const id = this.pickAnswered();
    if (id === undefined) return;
    const sent = this.clients.send({
      command: null, query: { type: 'get', jobId: id }, bounded: true, onCommand: ignore, onAbandoned: ignore,
      onQuery: (result, nodeId) => {
        if (result === null) this.host.queueChecks.onJobNotFound(id, nodeId);
        else if ((result as JobView).id !== id) fail(`a read of job ${id} on ${nodeId} answered job ${(result as JobView).id}`);
      },
    });
    if (sent) this.stats.reads++;
  }

  private cancel(): void {
    const id = this.pickAnswered();
    if (id === undefined) return;
    if (this.command({ type: 'cancel', jobId: id }, true, ignore)) this.stats.cancels++;
  }

  /** A recent acknowledged job, mostly (old ones are likely completed and forgotten). */
  private pickAnswered(): number | undefined {
    const count = this.answered.length;
    if (count === 0) return undefined;
    return this.answered[count - 1 - this.host.random.below(Math.min(count, 50))];
  }
}
