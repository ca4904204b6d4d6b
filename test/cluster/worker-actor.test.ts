/**
 * The Worker actor on three real nodes: only n2 lists a handler (for queue `email`, a tiny module
 * written in the test's directory). n2 runs every `email` job through its piscina pool and acks
 * the handler's result (`get` shows it completed, with the result); a handler error named
 * NonRetryableError dead-letters its job at once across the thread boundary. n1 and n3 have no
 * handlers and run no runner, and jobs of a queue no node handles stay ready, leased by nobody,
 * until a remote worker pulls them. n2 stops cleanly on SIGTERM, and its runner unregisters on the
 * way out: the leader counts the unregister and no longer lists the worker.
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode } from '../../src/codec/msgpack.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { createTestCluster, removeTestCluster, waitForExit, type TestCluster } from '../support/test-cluster.js';

const handlerModule = `
export default async (job) => {
  if (job.payload.fail) {
    const error = new Error('refused by the handler');
    error.name = 'NonRetryableError';
    throw error;
  }
  return { doubled: job.payload.n * 2, attempt: job.attempt };
};
`;

interface WorkerRunnerView {
  readonly queue: string;
  readonly workerId: string;
  readonly counters: Record<string, number>;
}

/** On whichever of `ids` leads: the workers its status lists, and the unregisters its Registry counted. */
async function leaderWorkers(nodes: ClusterNodes, ids: readonly string[]): Promise<{ listed: string[]; unregistered: number } | undefined> {
  for (const id of ids) {
    try {
      const response = await fetch(`${nodes.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) });
      const status = await response.json() as {
        raft: { role: string } | null; workers: Array<{ workerId: string }>;
        actors: { registry?: { reported?: { role?: { unregistered?: number } } | null } };
      };
      if (status.raft?.role !== 'leader') continue;
      return { listed: status.workers.map((worker) => worker.workerId), unregistered: status.actors.registry?.reported?.role?.unregistered ?? 0 };
    } catch {
      // not answering now: try the next node
    }
  }
  return undefined;
}

async function workerRunners(nodes: ClusterNodes, id: string): Promise<WorkerRunnerView[] | undefined> {
  const response = await fetch(`${nodes.opsUrl(id)}/status`, { signal: AbortSignal.timeout(2_000) });
  const status = await response.json() as { actors: { worker?: { reported?: { role?: { role: string; runners?: WorkerRunnerView[] } } | null } } };
  const role = status.actors.worker?.reported?.role;
  return role?.role === 'worker' ? role.runners : undefined;
}

describe('the Worker actor runs local handlers, and only those (three real nodes)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await createTestCluster({ logLevel: 'warn', extraYaml: 'queue:\n  retryBackoffDefault: fixed\n  retryDelayMsDefault: 200\n' });
    await writeFile(join(cluster.dir, 'email-handler.mjs'), handlerModule);
    // n2's own handlers: the cluster-wide list stays empty, so n1 and n3 have none.
    const text = await readFile(cluster.configPath, 'utf8');
    const withHandler = text.replace('    dataDir: ./data/n2\n', '    dataDir: ./data/n2\n    handlers:\n      email: { module: ./email-handler.mjs, concurrency: 2 }\n');
    expect(withHandler).to.not.equal(text);
    await writeFile(cluster.configPath, withHandler);
  });

  after(async () => {
    await removeTestCluster(cluster);
  });

  it('n2 completes every email job with its handler; n1 and n3 lease nothing; unhandled jobs wait for a remote worker', async () => {
    const nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1', 'n2', 'n3']);
    const client = clusterConnection(cluster);
    const jobCount = 20;

    const other = await client.call({ type: 'enqueue', queue: 'other', jobs: Array.from({ length: jobCount }, (_, n) => ({ payload: Buffer.from(`o${n}`) })) });
    const emailJobs = Array.from({ length: jobCount }, (_, n) => ({ payload: Buffer.from(JSON.stringify({ n })), contentType: 'application/json' }));
    const email = await client.call({ type: 'enqueue', queue: 'email', jobs: [...emailJobs, { payload: Buffer.from('{"fail":true}'), contentType: 'application/json', attemptsMax: 5 }] });
    const emailIds = (email['jobs'] as Array<{ id: number }>).map((job) => job.id);
    const failingId = emailIds.pop() as number;

    const deadline = Date.now() + 30_000;
    for (;;) {
      const stats = await client.call({ type: 'stats', queue: 'email' });
      const [queue] = stats['queues'] as Array<{ completed: number; dead: number }>;
      if (queue !== undefined && queue.completed === jobCount && queue.dead === 1) break;
      if (Date.now() > deadline) throw new Error(`email jobs not all done within 30 s: ${JSON.stringify(queue)}\n${nodes.logsTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    for (const [n, jobId] of emailIds.entries()) {
      const job = (await client.call({ type: 'get', jobId }))['job'] as { state: string; attempts: number; result: Uint8Array };
      expect(job.state, `job ${jobId}`).to.equal('completed');
      expect(decode(job.result)).to.deep.equal({ doubled: n * 2, attempt: 1 });
    }
    const failing = (await client.call({ type: 'get', jobId: failingId }))['job'] as { state: string; attempts: number; lastError: string };
    expect(failing).to.include({ state: 'dead', attempts: 1 });
    expect(failing.lastError).to.equal('NonRetryableError: refused by the handler');

    const [n1, n2, n3] = await Promise.all(['n1', 'n2', 'n3'].map((id) => workerRunners(nodes, id)));
    expect(n1, 'n1 runners').to.deep.equal([]);
    expect(n3, 'n3 runners').to.deep.equal([]);
    expect(n2?.map((runner) => runner.queue)).to.deep.equal(['email']);
    const n2WorkerId = n2?.[0]?.workerId ?? '';
    expect(n2WorkerId, 'node, queue, queue hash, process nonce and incarnation').to.match(/^n2:email:[0-9a-f]{8}:[0-9a-f]{8}\.1$/);
    expect(n2?.[0]?.counters).to.include({ pulled: jobCount + 1, acked: jobCount, nacked: 1, deadLettered: 1, leasesLost: 0 });

    // Nobody handles `other`: its jobs were never leased, and a remote worker gets them all.
    const otherStats = await client.call({ type: 'stats', queue: 'other' });
    expect((otherStats['queues'] as Array<Record<string, number>>)[0]).to.include({ ready: jobCount, leased: 0, leasedTotal: 0 });
    const pulled = await client.call({ type: 'pull', queue: 'other', jobsMax: 100, workerId: 'remote-1' });
    const otherIds = (other['jobs'] as Array<{ id: number }>).map((job) => job.id);
    expect((pulled['jobs'] as Array<{ id: number }>).map((job) => job.id).sort((a, b) => a - b)).to.deep.equal(otherIds);
    client.close();

    // A node with a runner (long poll in flight, piscina threads) still stops cleanly on SIGTERM.
    const stoppingAtMs = Date.now();
    nodes.signal('n2', 'SIGTERM');
    expect(await waitForExit(nodes.process('n2'), 10_000)).to.equal(0);
    // Bounded by the last long poll (2 s) and the drain; the supervisor's own bound is 5 s.
    expect(Date.now() - stoppingAtMs, 'stop time (ms)').to.be.below(8_000);
    // ... and its runner said goodbye: the leader counted the unregister and unlisted the worker
    // (its TTL alone would have kept it listed up to 5 s after its last beat).
    const goneBy = Date.now() + 3_000;
    let seen = await leaderWorkers(nodes, ['n1', 'n3']);
    while (seen === undefined || seen.unregistered < 1 || seen.listed.includes(n2WorkerId)) {
      if (Date.now() > goneBy) throw new Error(`n2's runner was not unregistered: ${JSON.stringify(seen)}\n${nodes.logsTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await leaderWorkers(nodes, ['n1', 'n3']);
    }
  });
});
