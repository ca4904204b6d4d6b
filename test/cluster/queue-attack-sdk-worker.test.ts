/**
 * Attacks on a FalconClient worker's close() (docs/sdk.md "Workers"; issue: "on close() stops
 * pulling, finishes or releases what it holds", "close() leaves no leased job behind"), on one
 * real node, the worker reaching it through a loopback relay the test controls.
 *
 * FIXED (failed on the code it was written against): a long poll whose reply is lost (the
 * connection cut after the node leased jobs to it: what a failover does to a parked pull) left
 * those jobs leased to the worker after close() resolved, until the worker's TTL lapsed
 * (queue.workerTtlMs, 5 s). close() now ends with `unregister`, so nothing is leased once it
 * resolves and the worker is no longer listed; the jobs wait their backoff with the attempt
 * counted, as on a TTL expiry (docs/protocol.md "unregister").
 *
 * A job still running at the drain bound is given back at once too, not after its lease (30 s).
 *
 * And on the protocol itself: unregister returns a worker's leases at once, answers how many,
 * drops the worker from the list, and answers OK again (and for a worker nobody knows).
 *
 * HELD (kept as a guard): close() while a long poll is parked resolves within the poll's wait, and
 * the jobs that poll brings are run and acked; nothing is left leased.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { Relay } from '../support/relay.js';
import { FalconClient } from '../../src/client/index.js';
import { ProtocolError } from '../../src/client/protocol-connection.js';
import { clusterStatus } from '../../src/cli/cluster-status.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { freePorts } from '../support/free-port.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';



describe("queue attack: a worker's close() leaves nothing leased", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let direct: FalconClient;
  let relay: Relay | undefined;

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    direct = new FalconClient({ nodes: [`127.0.0.1:${cluster.nodes[0]?.clientPort ?? 0}`] });
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
  });

  after(async () => {
    await direct?.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  /** The worker ids `falcon status` lists (the leader's view, from its ops port). */
  async function listedWorkers(): Promise<string[]> {
    const node = cluster.nodes[0];
    const status = await clusterStatus([{ id: node?.id ?? 'n1', host: '127.0.0.1', opsPort: node?.opsPort ?? 0 }], 1_000, undefined);
    return status.workers.map((worker) => worker.workerId);
  }

  async function relayedClient(): Promise<FalconClient> {
    const [port = 0] = await freePorts(1);
    relay = new Relay(port, cluster.nodes[0]?.clientPort ?? 0);
    await relay.listen();
    return new FalconClient({ nodes: [`127.0.0.1:${port}`], connectTimeoutMs: 500 });
  }

  it('FIXED: close() leaves nothing leased even when a long poll\'s reply was lost; the jobs are back at once, their attempt counted', async () => {
    const client = await relayedClient();
    const ran: number[] = [];
    const worker = client.worker('lost-pull', async (job) => { ran.push(job.id); }, { concurrency: 4, waitMs: 2_000 });
    try {
      await worker.ready;
      await waitUntil(() => worker.counters.pulls >= 1, 'the worker polled once (a long poll is parked now)');
      if (relay !== undefined) relay.passReplies = false;
      const jobs = await direct.enqueueMany('lost-pull', [{ payload: 1 }, { payload: 2 }]);
      await waitUntil(async () => (await direct.stats('lost-pull'))?.leased === 2, 'the parked poll leased both jobs');
      const closing = worker.close();
      relay?.cut(); // the pull's reply is lost with its connection; the worker may connect again
      await closing;
      const afterClose = await direct.stats('lost-pull');
      expect({ leased: afterClose?.leased, ran: ran.length }, 'right after close() resolved').to.deep.equal({ leased: 0, ran: 0 });
      expect((afterClose?.ready ?? 0) + (afterClose?.delayed ?? 0), 'both jobs are back in the queue').to.equal(2);
      expect(worker.counters).to.include({ releasedOnClose: 2, failedUnregisters: 0 });
      expect(await listedWorkers(), 'falcon status, right after close()').to.not.include(worker.workerId);
      for (const { id } of jobs) {
        const job = await direct.get(id);
        expect(job.history.at(-1)?.reason, `job ${id}`).to.equal('workerReleased');
        expect(job.lastError, `job ${id}`).to.contain(`worker ${worker.workerId} released (goodbye)`);
        expect(job.attempts, `job ${id}: the lost lease counts as an attempt, as on a TTL expiry`).to.equal(1);
      }
    } finally {
      await worker.close();
      await client.close();
    }
  });

  it('HELD: close() while a long poll is parked resolves within its wait, and runs and acks what the poll brings', async () => {
    const client = await relayedClient();
    const ran: number[] = [];
    const waitMs = 1_500;
    const worker = client.worker('parked', async (job) => { ran.push(job.id); }, { concurrency: 4, waitMs });
    try {
      await worker.ready;
      await waitUntil(() => worker.counters.pulls >= 1, 'the worker polled once (a long poll is parked now)');
      const startedAt = Date.now();
      const closing = worker.close();
      const jobs = await direct.enqueueMany('parked', [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
      await closing;
      const closeMs = Date.now() - startedAt;
      const stats = await direct.stats('parked');
      expect(closeMs, 'close() took').to.be.below(waitMs + 2_000);
      expect(ran.length + (stats?.ready ?? 0), 'every job ran or is still ready').to.equal(jobs.length);
      expect({ leased: stats?.leased, acked: worker.counters.acked }).to.deep.equal({ leased: 0, acked: ran.length });
    } finally {
      await client.close();
    }
  });

  it('close() gives back at once the jobs it abandons at its drain bound, not after their lease', async () => {
    const client = new FalconClient({ nodes: [`127.0.0.1:${cluster.nodes[0]?.clientPort ?? 0}`] });
    // A handler that never ends: close() must give its job up at the drain bound.
    const worker = client.worker('stuck', () => new Promise<never>(() => undefined), { concurrency: 1, waitMs: 200, drainTimeoutMs: 100 });
    try {
      await worker.ready;
      await direct.enqueue('stuck', { payload: 1 });
      await waitUntil(() => worker.runningJobs === 1, 'the job is running');
      await worker.close();
      const stats = await direct.stats('stuck');
      expect({ abandoned: worker.counters.abandoned, releasedOnClose: worker.counters.releasedOnClose }).to.deep.equal({ abandoned: 1, releasedOnClose: 1 });
      expect({ leased: stats?.leased, back: (stats?.ready ?? 0) + (stats?.delayed ?? 0) }, 'right after close() resolved').to.deep.equal({ leased: 0, back: 1 });
    } finally {
      await client.close();
    }
  });

  it('unregister returns a worker\'s leases at once, says how many, unlists it, and answers OK again and for an unknown worker', async () => {
    const connection = clusterConnection(cluster, 5_000);
    const workerId = 'w-goodbye';
    try {
      await connection.call({ type: 'register', workerId, queues: ['goodbye'], capacity: 4 });
      const payload = new Uint8Array([1]);
      await connection.call({ type: 'enqueue', queue: 'goodbye', jobs: [{ payload }, { payload }, { payload }] });
      const pulled = (await connection.call({ type: 'pull', queue: 'goodbye', jobsMax: 3, workerId }))['jobs'] as Array<{ id: number; token: number }>;
      expect(pulled).to.have.length(3);
      const [done, ...held] = pulled;
      await connection.call({ type: 'ack', jobId: done?.id, token: done?.token });
      expect(await listedWorkers()).to.include(workerId);

      const startedAt = Date.now();
      expect(await connection.call({ type: 'unregister', workerId })).to.deep.include({ jobs: 2 });
      const stats = await direct.stats('goodbye');
      expect({ leased: stats?.leased, back: (stats?.ready ?? 0) + (stats?.delayed ?? 0) }, 'once unregister answered').to.deep.equal({ leased: 0, back: 2 });
      await waitUntil(async () => !(await listedWorkers()).includes(workerId), 'falcon status no longer lists the worker', 2_000);
      expect(Date.now() - startedAt, 'unlisted well before its TTL (5 s) would have run out').to.be.below(2_500);

      // Idempotent: again, and for a worker nobody knows; a beat after it registers nothing back.
      expect(await connection.call({ type: 'unregister', workerId })).to.deep.include({ jobs: 0 });
      expect(await connection.call({ type: 'unregister', workerId: 'w-never-registered' })).to.deep.include({ jobs: 0 });
      const beat = await connection.call({ type: 'heartbeat', workerId }).catch((error: unknown) => error);
      expect(beat instanceof ProtocolError && beat.code).to.equal('NOT_FOUND');
      // A released lease's token is spent: the worker cannot complete a job it gave back.
      const late = await connection.call({ type: 'ack', jobId: held[0]?.id, token: held[0]?.token }).catch((error: unknown) => error);
      expect(late instanceof ProtocolError && late.code).to.equal('LEASE_LOST');
    } finally {
      connection.close();
    }
  });
});
