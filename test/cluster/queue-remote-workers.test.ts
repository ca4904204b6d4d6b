/**
 * The seed's integration scenario on three real nodes with no local handlers: two remote worker
 * processes, 100 jobs. Every job is processed by the remote workers (the nodes lease nothing on
 * their own: no second dispatch path can take a job from under a worker), every ack is recorded,
 * and a worker killed with `kill -9` while it holds leases loses them after its TTL: the
 * leader-stamped history of each of its jobs shows the release no sooner than the TTL after the
 * lease, and the other worker completes them.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { startProcess, type StartedProcess } from '../support/test-cluster.js';

const workerEntry = fileURLToPath(new URL('../support/queue-worker-process.js', import.meta.url));
const workerTtlMs = 1_000;

interface WorkerEvent { readonly event: string; readonly ids?: number[]; readonly id?: number; readonly token?: number }

function eventsOf(worker: StartedProcess): WorkerEvent[] {
  return worker.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as WorkerEvent);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('remote workers on a cluster without local handlers (three real nodes)', function () {
  this.timeout(90_000);
  const started = startedClusterPerTest({
    logLevel: 'warn',
    extraYaml: `queue:\n  workerTtlMs: ${workerTtlMs}\n  workerTtlJitterMs: 100\n  retryDelayMsDefault: 20\n  retryDelayMsMax: 100\n`,
  });

  it('processes every job by the remote workers, and a worker killed while holding leases loses them after its TTL', async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    const ports = cluster.nodes.map((node) => node.clientPort);
    const client = clusterConnection(cluster);
    const jobs = Array.from({ length: 100 }, (_, at) => ({ payload: Buffer.from(`job ${at}`), idempotencyKey: `seed-${at}` }));
    const enqueued = await client.call({ type: 'enqueue', queue: 'seed', jobs }, { idempotent: true });
    const ids = (enqueued['jobs'] as Array<{ id: number }>).map((job) => job.id);

    // Nothing leases a job while no worker pulls: the nodes have no handlers of their own.
    const idle = await client.call({ type: 'stats', queue: 'seed' }, { idempotent: true });
    expect((idle['queues'] as Array<{ ready: number; leased: number }>)[0]).to.include({ ready: 100, leased: 0 });

    const holder = startProcess([workerEntry, JSON.stringify({ ports, queue: 'seed', workerId: 'holder', mode: 'hold', beatMs: 200, lifetimeMs: 60_000 })]);
    const held = await until('the holding worker leases a batch', 20_000, () => eventsOf(holder).find((event) => event.event === 'leased')?.ids);
    expect(held.length).to.be.greaterThan(0);
    holder.child.kill('SIGKILL');
    await holder.exited;

    const worker = startProcess([workerEntry, JSON.stringify({ ports, queue: 'seed', workerId: 'worker', mode: 'work', beatMs: 200, lifetimeMs: 60_000 })]);
    const acked = await until('the second worker acks all 100 jobs', 40_000, () => {
      const done = new Set(eventsOf(worker).filter((event) => event.event === 'acked').map((event) => event.id));
      return done.size === 100 ? done : undefined;
    });
    expect([...acked].sort((a, b) => (a ?? 0) - (b ?? 0))).to.deep.equal([...ids].sort((a, b) => a - b));
    worker.child.kill('SIGKILL');

    const stats = await client.call({ type: 'stats', queue: 'seed' }, { idempotent: true });
    expect((stats['queues'] as Array<Record<string, number>>)[0]).to.include({ ackedTotal: 100, ready: 0, leased: 0, dead: 0 });
    for (const id of held) {
      const reply = await client.call({ type: 'get', jobId: id }, { idempotent: true });
      const history = (reply['job'] as { history: Array<{ state: string; atMs: number; reason?: string; token?: number }> }).history;
      const firstLease = history.find((step) => step.state === 'leased');
      const release = history.find((step) => step.reason === 'workerReleased');
      expect(firstLease, `job ${id} history ${JSON.stringify(history)}`).to.not.equal(undefined);
      expect(release, `job ${id} was released by the worker's TTL: ${JSON.stringify(history)}`).to.not.equal(undefined);
      expect((release?.atMs ?? 0) - (firstLease?.atMs ?? 0), `job ${id}: lease to release, leader-stamped`).to.be.at.least(workerTtlMs);
      expect(history[history.length - 1]?.state).to.equal('completed');
    }
    client.close();
  });
});
