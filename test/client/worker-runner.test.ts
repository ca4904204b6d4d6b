/**
 * WorkerRunner against a real one-node cluster (a `falcon-node` process), as a user's worker
 * runs: a job that always fails is dead-lettered after exactly its attempts, with the backoff
 * between them in the leader-stamped history, and redrive brings it back; NonRetryableError
 * dead-letters at once; a job longer than its lease is extended and acked once; close() drains
 * the running jobs and stops pulling. Payloads reach the handler decoded by content type and
 * results come back as MessagePack. And, against a scripted connection: a heartbeat answered
 * NOT_FOUND makes the runner register again; close() sends `unregister` last, after the final ack
 * and the last beat, and resolves even when the unregister fails.
 *
 * Waits poll a condition with a bound (a separate process offers no other signal).
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { decode, encode } from '../../src/codec/msgpack.js';
import type { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ProtocolError } from '../../src/client/protocol-connection.js';
import { NonRetryableError, WorkerRunner, type JobHandler } from '../../src/client/worker-runner.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

/** Fixed backoff with no jitter, so the waits between attempts are exact lower bounds. */
const retryDelayMs = 300;
const queueYaml = ['queue:', '  retryBackoffDefault: fixed', `  retryDelayMsDefault: ${retryDelayMs}`, '  retryJitterRatio: 0',
  '  workerTtlMs: 2000', '  workerTtlJitterMs: 100', ''].join('\n');

interface JobView {
  readonly state: string;
  readonly attempts: number;
  readonly leaseDeadlineMs?: number;
  readonly lastError?: string;
  readonly result?: Uint8Array;
  readonly history: ReadonlyArray<{ readonly state: string; readonly atMs: number; readonly reason?: string }>;
}


describe('WorkerRunner on a real node', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  let client: ClusterConnection;
  let nextQueue = 0;
  /** Every runner a test made, closed after it even when the test failed half-way. */
  const runners: Array<WorkerRunner & { connection: ClusterConnection }> = [];

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: queueYaml });
    const nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    client = clusterConnection(cluster);
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map(async (worker) => {
      await worker.close();
      worker.connection.close();
    }));
  });

  after(async () => {
    client.close();
    await removeTestCluster(cluster);
  });

  async function enqueue(queue: string, job: Record<string, unknown>): Promise<number> {
    const reply = await client.call({ type: 'enqueue', queue, jobs: [job] });
    return (reply['jobs'] as Array<{ id: number }>)[0]?.id as number;
  }

  async function get(jobId: number): Promise<JobView> {
    return (await client.call({ type: 'get', jobId }))['job'] as JobView;
  }

  function runner(queue: string, handler: JobHandler, options: { concurrency?: number; leaseMs?: number } = {}): WorkerRunner & { connection: ClusterConnection } {
    const connection = clusterConnection(cluster);
    const created = new WorkerRunner({
      connection, queue, workerId: `w-${queue}`, concurrency: options.concurrency ?? 1, handler, leaseMs: options.leaseMs ?? 5_000, waitMs: 200,
      drainTimeoutMs: 5_000,
    });
    const worker = Object.assign(created, { connection });
    runners.push(worker);
    return worker;
  }

  function freshQueue(): string {
    nextQueue += 1;
    return `q${nextQueue}`;
  }

  it('dead-letters a job that always fails after exactly attemptsMax attempts, with the backoff between them, and redrive brings it back', async () => {
    const queue = freshQueue();
    const attemptsMax = 3;
    const jobId = await enqueue(queue, { payload: Buffer.from('{}'), contentType: 'application/json', attemptsMax });
    const worker = runner(queue, () => Promise.reject(new Error('smtp timeout')));
    await worker.start();
    await waitUntil(() => worker.counters.deadLettered === 1, 'the job dead-lettered');
    await worker.close();

    const job = await get(jobId);
    expect(job.state).to.equal('dead');
    expect(job.attempts).to.equal(attemptsMax);
    expect(job.lastError).to.equal('Error: smtp timeout');
    expect(worker.counters).to.include({ pulled: attemptsMax, nacked: attemptsMax, acked: 0, deadLettered: 1 });
    const leases = job.history.filter((step) => step.state === 'leased');
    const failures = job.history.filter((step) => step.reason === 'nack');
    expect(leases).to.have.length(attemptsMax);
    expect(failures.map((step) => step.state)).to.deep.equal(['delayed', 'delayed', 'dead']);
    for (let attempt = 1; attempt < attemptsMax; attempt += 1) {
      const waitedMs = (leases[attempt]?.atMs ?? 0) - (failures[attempt - 1]?.atMs ?? 0);
      expect(waitedMs, `wait before attempt ${attempt + 1}`).to.be.at.least(retryDelayMs);
    }

    const redriven = await client.call({ type: 'redrive', queue });
    expect(redriven['jobs']).to.equal(1);
    const back = await get(jobId);
    expect(back.state).to.equal('ready');
    expect(back.attempts).to.equal(0);
  });

  it('dead-letters a job at once when its handler throws NonRetryableError', async () => {
    const queue = freshQueue();
    const jobId = await enqueue(queue, { payload: Buffer.from('x'), attemptsMax: 5 });
    const worker = runner(queue, () => Promise.reject(new NonRetryableError('malformed address')));
    await worker.start();
    await waitUntil(() => worker.counters.nacked === 1, 'the job nacked');
    await worker.close();
    const job = await get(jobId);
    expect(job.state).to.equal('dead');
    expect(job.attempts).to.equal(1);
    expect(job.lastError).to.equal('NonRetryableError: malformed address');
    expect(worker.counters).to.include({ pulled: 1, deadLettered: 1 });
  });

  it('extends the lease of a job that runs longer than it, and acks it once', async () => {
    const queue = freshQueue();
    const leaseMs = 1_000;
    const jobId = await enqueue(queue, { payload: encode({ n: 1 }), contentType: 'application/msgpack' });
    let deadlinesSeen: number[] = [];
    const worker = runner(queue, async (job) => {
      // Runs past two lease lengths and the worker TTL; without extensions and beats the lease would end under it.
      await waitUntil(() => worker.counters.extended >= 1, 'a first extension', 5_000);
      const view = await get(job.id);
      deadlinesSeen = [job.deadlineMs, view.leaseDeadlineMs ?? 0];
      await waitUntil(() => worker.counters.extended >= 5, 'five extensions', 10_000);
      return { payloadSeen: job.payload };
    }, { leaseMs });
    await worker.start();
    await waitUntil(() => worker.counters.acked === 1, 'the job acked', 15_000);
    await worker.close();

    const [pulledDeadlineMs = 0, extendedDeadlineMs = 0] = deadlinesSeen;
    expect(extendedDeadlineMs, 'the lease deadline moved').to.be.greaterThan(pulledDeadlineMs);
    const job = await get(jobId);
    expect(job.state).to.equal('completed');
    expect(job.attempts).to.equal(1);
    expect(job.history.filter((step) => step.state === 'leased')).to.have.length(1);
    expect(job.history.some((step) => step.reason === 'expired')).to.equal(false);
    expect(decode(job.result as Uint8Array)).to.deep.equal({ payloadSeen: { n: 1 } });
    expect(worker.counters).to.include({ pulled: 1, acked: 1, leasesLost: 0, nacked: 0 });
    // The job outlived the worker TTL (2 s): only the beats kept the worker's leases.
    expect(worker.counters.heartbeats).to.be.at.least(1);
  });

  it('close() waits for the running jobs to finish and be acked, then pulls no more', async () => {
    const queue = freshQueue();
    const ids = await Promise.all([1, 2, 3].map((n) => enqueue(queue, { payload: Buffer.from(JSON.stringify({ n })), contentType: 'application/json' })));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const worker = runner(queue, async (job) => {
      await gate;
      return (job.payload as { n: number }).n * 10;
    }, { concurrency: 3 });
    await worker.start();
    await waitUntil(() => worker.runningJobs === 3, 'three jobs running');
    let closed = false;
    const closing = worker.close().then(() => { closed = true; });
    // The jobs cannot finish before the gate opens, so close() cannot have resolved.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).to.equal(false);
    release();
    await closing;
    expect(worker.counters).to.include({ pulled: 3, acked: 3, abandoned: 0 });

    const results = await Promise.all(ids.map(async (id) => {
      const job = await get(id);
      expect(job.state).to.equal('completed');
      return decode(job.result as Uint8Array);
    }));
    expect(results).to.deep.equal([10, 20, 30]);

    const laterId = await enqueue(queue, { payload: Buffer.from('later') });
    const stats = await client.call({ type: 'stats', queue });
    expect((stats['queues'] as Array<{ ready: number; leased: number }>)[0]).to.include({ ready: 1, leased: 0 });
    expect((await get(laterId)).state).to.equal('ready');
  });
});

describe('WorkerRunner registration', () => {
  it('registers again when a heartbeat is answered NOT_FOUND (the leader forgot the worker)', async () => {
    const calls: string[] = [];
    let heartbeats = 0;
    const connection = {
      call(body: { type: string }): Promise<Record<string, unknown> & { id: number }> {
        calls.push(body.type);
        if (body.type === 'register') return Promise.resolve({ id: 1, ttlMs: 60 });
        if (body.type === 'heartbeat') {
          heartbeats += 1;
          if (heartbeats === 2) return Promise.reject(new ProtocolError('NOT_FOUND', 'worker w-1 is not registered'));
          return Promise.resolve({ id: 1, ttlMs: 60 });
        }
        // An empty long poll.
        return new Promise((resolve) => setTimeout(() => resolve({ id: 1, jobs: [] }), 20));
      },
    } as unknown as ClusterConnection;
    const worker = new WorkerRunner({ connection, queue: 'q', workerId: 'w-1', concurrency: 1, handler: () => Promise.resolve(), waitMs: 20 });
    await worker.start();
    await waitUntil(() => worker.counters.registrations === 2 && worker.counters.heartbeats >= 2, 'a second registration and a beat after it', 5_000);
    await worker.close();
    const beatsAndRegistrations = calls.filter((type) => type !== 'pull');
    expect(beatsAndRegistrations.slice(0, 4)).to.deep.equal(['register', 'heartbeat', 'heartbeat', 'register']);
    expect(worker.counters.failedBeats).to.equal(0);
  });

  /** A scripted connection: one job on the first pull, then empty polls; `unregister` answered by `onUnregister`. */
  function scriptedConnection(calls: string[], onUnregister: (deadlineMs: number | undefined) => Promise<Record<string, unknown> & { id: number }>): ClusterConnection {
    let pulls = 0;
    const job = {
      id: 4097, queue: 'q', payload: new Uint8Array([1]), contentType: 'application/octet-stream', priority: 0, attempt: 1, attemptsMax: 5,
      token: 12, deadlineMs: Date.now() + 30_000, enqueuedAtMs: Date.now(),
    };
    return {
      call(body: { type: string }, options: { deadlineMs?: number } = {}): Promise<Record<string, unknown> & { id: number }> {
        calls.push(body.type);
        switch (body.type) {
          case 'register': case 'heartbeat': return Promise.resolve({ id: 1, ttlMs: 60 });
          case 'ack': return Promise.resolve({ id: 1, repeated: false });
          case 'unregister': return onUnregister(options.deadlineMs);
          default:
            pulls += 1;
            return new Promise((resolve) => setTimeout(() => resolve({ id: 1, jobs: pulls === 1 ? [job] : [] }), pulls === 1 ? 0 : 20));
        }
      },
    } as unknown as ClusterConnection;
  }

  it('close() unregisters last, after the final ack and the last beat, and counts what the node returned', async () => {
    const calls: string[] = [];
    const connection = scriptedConnection(calls, () => Promise.resolve({ id: 1, jobs: 3 }));
    const worker = new WorkerRunner({ connection, queue: 'q', workerId: 'w-1', concurrency: 1, handler: () => Promise.resolve(), waitMs: 20 });
    await worker.start();
    await waitUntil(() => worker.counters.acked === 1, 'the pulled job acked', 5_000);
    await worker.close();
    expect(calls.at(-1)).to.equal('unregister');
    expect(calls.filter((type) => type === 'unregister')).to.have.length(1);
    expect(calls.lastIndexOf('ack')).to.be.below(calls.indexOf('unregister'));
    expect(worker.counters).to.include({ releasedOnClose: 3, failedUnregisters: 0 });
  });

  it('close() resolves when the unregister fails, within its deadline, and counts the failure', async () => {
    const calls: string[] = [];
    let unregisterDeadlineMs: number | undefined;
    const connection = scriptedConnection(calls, (deadlineMs) => {
      unregisterDeadlineMs = deadlineMs;
      return Promise.reject(new ProtocolError('DEADLINE_EXCEEDED', 'no leader within 50 ms'));
    });
    const worker = new WorkerRunner({ connection, queue: 'q', workerId: 'w-1', concurrency: 1, handler: () => Promise.resolve(), waitMs: 20, unregisterDeadlineMs: 50 });
    await worker.start();
    await worker.close();
    expect(calls.at(-1)).to.equal('unregister');
    expect(worker.counters).to.include({ failedUnregisters: 1, releasedOnClose: 0 });
    expect(unregisterDeadlineMs, 'the unregister is bounded by its own short deadline').to.equal(50);
  });

  it('close() of a worker that never registered sends no unregister', async () => {
    const calls: string[] = [];
    // No leader: the register fails at its deadline, again and again.
    const connection = {
      call: (body: { type: string }) => {
        calls.push(body.type);
        return new Promise((_resolve, reject) => setTimeout(() => reject(new ProtocolError('DEADLINE_EXCEEDED', 'no leader')), 10));
      },
    } as unknown as ClusterConnection;
    const worker = new WorkerRunner({ connection, queue: 'q', workerId: 'w-1', concurrency: 1, handler: () => Promise.resolve(), waitMs: 20 });
    void worker.start();
    await worker.close();
    expect(calls.length).to.be.above(0);
    expect(calls.every((type) => type === 'register'), calls.join(' ')).to.equal(true);
  });
});
