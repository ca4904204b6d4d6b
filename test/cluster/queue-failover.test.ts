/**
 * The promise users come for, tried on three real processes: jobs enqueued with idempotency keys
 * while the leader is killed with `kill -9` half-way, the producer retrying what was not
 * acknowledged with the same keys, and two workers draining the queue. Afterwards: every
 * acknowledged enqueue completed, each key maps to exactly one job, and no ack with a stale token
 * was accepted (every accepted ack carries the token of the job's last lease).
 */
import { expect } from 'chai';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection, drainWorker, enqueueWithKeys, newWorkerRecord } from '../support/queue-cluster.js';

describe('the queue across a leader crash (three real nodes)', function () {
  this.timeout(120_000);
  const started = startedClusterPerTest({ logLevel: 'warn', extraYaml: 'queue:\n  completedPerQueueMax: 20000\n' });

  it('loses no acknowledged job, makes one job per key, and accepts no stale ack when the leader is killed half-way', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const firstLeader = await nodes.leaderAgreedBy(ids);
    const jobCount = 10_000;
    const producer = clusterConnection(cluster);
    let killed = false;
    const enqueued = await enqueueWithKeys(producer, 'crash', {
      count: jobCount, batch: 50, inflight: 8, prefix: 'order-', timeoutMs: 60_000,
      onAcknowledged: async (total) => {
        if (killed || total < jobCount / 2) return;
        killed = true;
        await nodes.kill9(firstLeader.node);
      },
    });
    expect(killed, 'the leader was killed half-way').to.equal(true);

    const keysWithTwoJobs = [...enqueued.idsByKey].filter(([, jobIds]) => jobIds.size !== 1);
    expect(keysWithTwoJobs, 'keys answered with more than one job id').to.deep.equal([]);
    expect(enqueued.idsByKey.size).to.equal(jobCount);
    const jobIds = new Set([...enqueued.idsByKey.values()].map((set) => [...set][0] as number));
    expect(jobIds.size, 'distinct jobs').to.equal(jobCount);

    const records = [newWorkerRecord(), newWorkerRecord()];
    const workers = records.map((record) => ({ record, connection: clusterConnection(cluster) }));
    const done = (): boolean => records.reduce((total, record) => total + record.acceptedAcks.size, 0) >= jobCount
      && new Set(records.flatMap((record) => [...record.acceptedAcks.keys()])).size >= jobCount;
    await Promise.all(workers.map(({ record, connection }, index) => drainWorker(connection, 'crash', { workerId: `w${index + 1}`, stop: done, timeoutMs: 60_000, record })));

    const completedIds = new Set(records.flatMap((record) => [...record.acceptedAcks.keys()]));
    const missing = [...jobIds].filter((id) => !completedIds.has(id));
    expect(missing.slice(0, 10), `acknowledged jobs never completed (${missing.length})`).to.deep.equal([]);
    const unknown = [...completedIds].filter((id) => !jobIds.has(id));
    expect(unknown, 'jobs delivered that were never enqueued').to.deep.equal([]);

    // Every accepted ack carries the token of the job's last lease, as the leader recorded it.
    const sample = [...completedIds].slice(0, 2_000);
    const views = await Promise.all(sample.map((jobId) => producer.call({ type: 'get', jobId }, { idempotent: true })));
    for (const [position, reply] of views.entries()) {
      const jobId = sample[position] as number;
      const job = reply['job'] as { state: string; history: Array<{ state: string; token?: number }> };
      expect(job.state, `job ${jobId}`).to.equal('completed');
      const leases = job.history.filter((step) => step.state === 'leased');
      const lastToken = leases[leases.length - 1]?.token;
      const accepted = new Set(records.flatMap((record) => record.acceptedAcks.get(jobId) ?? []));
      expect([...accepted], `accepted ack tokens of job ${jobId}`).to.deep.equal([lastToken]);
    }
    const stats = await producer.call({ type: 'stats', queue: 'crash' }, { idempotent: true });
    const [queueStats] = stats['queues'] as Array<{ ready: number; leased: number; delayed: number; dead: number }>;
    expect(queueStats).to.include({ ready: 0, leased: 0, delayed: 0, dead: 0 });
    producer.close();
    for (const { connection } of workers) connection.close();
  });
});
