/**
 * Attacks on FalconClient and its workers across leader failures on three real nodes (one cluster
 * for the file).
 *
 * A leader paused with SIGSTOP keeps its connections open and answers nothing. Each attempt is
 * bounded (the time left, and `attemptTimeoutMs` beyond a long poll's wait), so an enqueue settles
 * by its deadline and a worker's close() does not wait on a long poll parked there, while the
 * cluster elects another leader. (This once failed: nothing bounded a request in flight.)
 *
 * Kept as a guard: a stream of concurrent enqueues from many callers, with short and long
 * deadlines, across a SIGSTOP/SIGCONT of the leader (its calls move on after the attempt bound;
 * a leader killed under load is queue-failover.test.ts's), while a worker with short leases drains
 * the queue: no payload marker has two jobs, every resolved call's job completes, nothing stays
 * leased, and a handler ran a job twice only when the worker saw its lease lost or its ack fail.
 *
 * Waits poll a condition with a bound (a separate process offers no other signal).
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { FalconClient, ProtocolError } from '../../src/client/index.js';
import { withinBound } from '../../src/client/cluster-connection.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';


/** Whether `promise` settles within `boundMs`. */
async function settlesWithin(promise: Promise<unknown>, boundMs: number): Promise<boolean> {
  return (await withinBound(promise.then(() => true, () => true), boundMs, () => undefined)) === true;
}

describe('queue attack: FalconClient across leader failures', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];

  before(async () => {
    cluster = await createTestCluster({ logLevel: 'warn' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    await nodes.leaderAgreedBy(ids);
  });

  after(async () => {
    if (cluster === undefined) return;
    for (const id of ids) {
      try { nodes.signal(id, 'SIGCONT'); } catch { /* gone */ }
    }
    await removeTestCluster(cluster);
  });

  function addressOf(id: string): string {
    return `127.0.0.1:${nodes.node(id).clientPort}`;
  }

  it('settles an enqueue by its deadline and a worker close() within the attempt bound while the leader is paused (SIGSTOP)', async () => {
    const leader = (await nodes.leaderAgreedBy(ids)).node;
    // A 1 s attempt bound (2 s by default): a close() waits for its long poll and a heartbeat in flight, each bounded by it.
    const client = new FalconClient({ nodes: [leader, ...ids.filter((id) => id !== leader)].map(addressOf), connectTimeoutMs: 500, attemptTimeoutMs: 1_000 });
    try {
      await client.enqueue('paused', { warm: true });
      const worker = client.worker('paused', async () => 'done', { waitMs: 500 });
      await worker.ready;
      await waitUntil(() => worker.counters.acked === 1, 'the worker took the first job');
      nodes.signal(leader, 'SIGSTOP');
      const deadlineMs = 3_000;
      const boundMs = deadlineMs + 500 + 2_500;
      const pausedAt = Date.now();
      const enqueue = client.enqueue('paused', { marker: 'during-pause' }, { deadlineMs });
      const closing = worker.close();
      const [enqueueInTime, closeInTime] = await Promise.all([settlesWithin(enqueue, boundMs), settlesWithin(closing, boundMs)]);
      const settledMs = Date.now() - pausedAt;
      const newLeader = await nodes.leaderAgreedBy(ids.filter((id) => id !== leader)).then((view) => view.node, () => 'none');
      nodes.signal(leader, 'SIGCONT');
      await Promise.allSettled([enqueue, closing]);
      expect({ enqueueInTime, closeInTime, newLeaderElected: newLeader !== 'none' },
        `within ${boundMs} ms of pausing ${leader} (a ${deadlineMs} ms deadline; ${newLeader} leads meanwhile; both settled after ${settledMs} ms)`)
        .to.deep.equal({ enqueueInTime: true, closeInTime: true, newLeaderElected: true });
    } finally {
      nodes.signal(leader, 'SIGCONT');
      await client.close();
    }
  });

  it('keeps every payload of many callers single and none lost across a SIGSTOP/SIGCONT of the leader', async () => {
    await nodes.leaderAgreedBy(ids);
    const client = new FalconClient({ nodes: ids.map(addressOf), connectTimeoutMs: 500 });
    const worker = client.worker('storm', async (job) => {
      const { marker } = job.payload as { marker: string };
      runsByJob.set(job.id, (runsByJob.get(job.id) ?? 0) + 1);
      const jobIds = jobsByMarker.get(marker) ?? new Set<number>();
      jobsByMarker.set(marker, jobIds.add(job.id));
    }, { concurrency: 16, waitMs: 300, leaseMs: 3_000 });
    const runsByJob = new Map<number, number>();
    const jobsByMarker = new Map<string, Set<number>>();
    const resolved = new Map<string, number>();
    const rejected: Array<{ marker: string; error: unknown }> = [];
    let stopped = false;
    let settledCalls = 0;
    const callers = Array.from({ length: 20 }, async (_, caller) => {
      for (let n = 0; !stopped; n += 1) {
        const marker = `${caller}-${n}`;
        // One call in four has a deadline shorter than an election.
        const deadlineMs = n % 4 === 3 ? 400 : 15_000;
        try {
          resolved.set(marker, (await client.enqueue('storm', { marker }, { deadlineMs })).id);
        } catch (error) {
          rejected.push({ marker, error });
        }
        settledCalls += 1;
      }
    });
    try {
      const progress = async (calls: number): Promise<void> => {
        const target = settledCalls + calls;
        await waitUntil(() => settledCalls >= target, `${calls} more calls settled`, 30_000);
      };
      await progress(200);
      const paused = (await nodes.leaderAgreedBy(ids)).node;
      nodes.signal(paused, 'SIGSTOP');
      // Longer than an election timeout (500 ms at most): the others elect a leader meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      nodes.signal(paused, 'SIGCONT');
      await progress(200);
    } finally {
      stopped = true;
      await Promise.all(callers);
    }
    await waitUntil(async () => {
      const stats = await client.stats('storm');
      return stats !== undefined && stats.ready + stats.delayed + stats.leased === 0 && stats.completed === stats.enqueuedTotal;
    }, 'the worker completed every job', 60_000);
    await worker.close();
    const stats = await client.stats('storm');
    await client.close();

    const twice = [...jobsByMarker].filter(([, jobIds]) => jobIds.size > 1).map(([marker, jobIds]) => `${marker}: ${[...jobIds].join(',')}`);
    expect(twice, 'payload markers with more than one job').to.deep.equal([]);
    const lost = [...resolved].filter(([marker, id]) => !jobsByMarker.get(marker)?.has(id));
    expect(lost.slice(0, 10), `resolved enqueues whose job never ran (${lost.length})`).to.deep.equal([]);
    expect(rejected.filter(({ error }) => !(error instanceof ProtocolError)).map(({ error }) => String(error))).to.deep.equal([]);
    expect(stats).to.include({ leased: 0, dead: 0 });
    const rerun = [...runsByJob.values()].filter((runs) => runs > 1).length;
    const { leasesLost, failedAcks, abandoned } = worker.counters;
    expect(rerun, `jobs the handler ran twice (leases lost ${leasesLost}, failed acks ${failedAcks})`).to.be.at.most(leasesLost + failedAcks);
    expect(abandoned).to.equal(0);
    const codes = [...new Set(rejected.map(({ error }) => (error as ProtocolError).code))].join(', ');
    console.log(`      (${resolved.size} resolved, ${rejected.length} rejected: ${codes}; ${stats?.enqueuedTotal} jobs; reruns ${rerun})`);
  });
});
