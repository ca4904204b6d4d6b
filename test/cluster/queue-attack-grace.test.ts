/**
 * Attacks on the grace a new leader gives, on three real nodes: a registered worker holds leases
 * whose deadline passes while the leader is dead (`kill -9` right after the pull). On the new
 * leader, as soon as it leads: the worker's heartbeat finds it still registered (a fresh TTL, not
 * a release for the silence during the election), and extends of its leases, sent at once, are
 * accepted (the leases got the grace of one election timeout from the new term's first entry).
 * Then the worker goes silent for good: its leases are released after its TTL and another
 * worker completes the jobs.
 *
 * Also: a long poll parked on a leader that is SIGSTOPped and resumed after a new election is
 * answered (NOT_LEADER, or no jobs), never with a job that the cluster does not hold leased for it.
 *
 * Runs on: test process (three node processes).
 */
import { expect } from 'chai';
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ProtocolConnection, ProtocolError } from '../../src/client/protocol-connection.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';

interface Leased { readonly id: number; readonly token: number }
const workerTtlMs = 1_500;

async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => 'OK', (error: unknown) => (error instanceof ProtocolError ? error.code : String(error)));
}

describe('queue attack: grace and TTL after a leader change (three real nodes)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({
    logLevel: 'warn', extraYaml: `queue:\n  workerTtlMs: ${workerTtlMs}\n  workerTtlJitterMs: 100\n  retryDelayMsDefault: 20\n  retryDelayMsMax: 50\n`,
  });

  it('keeps a worker registered and its overdue leases extendable right after a failover, and releases them after its TTL', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const leader = (await nodes.leaderAgreedBy(ids)).node;
    const others = ids.filter((id) => id !== leader);
    const worker = clusterConnection(cluster);
    await worker.call({ type: 'register', workerId: 'g1', queues: ['grace'], capacity: 64 });
    const jobs = Array.from({ length: 20 }, (_, at) => ({ payload: Buffer.from(`g${at}`), attemptsMax: 10 }));
    await worker.call({ type: 'enqueue', queue: 'grace', jobs });
    const leased = (await worker.call({ type: 'pull', queue: 'grace', jobsMax: 64, leaseMs: 200, workerId: 'g1' }))['jobs'] as Leased[];
    expect(leased.length).to.equal(20);
    await nodes.kill9(leader);
    worker.close();

    const newLeader = (await nodes.leaderAgreedBy(others, 20_000)).node;
    const direct = await ProtocolConnection.open({ host: '127.0.0.1', port: nodes.node(newLeader).clientPort });
    const beat = direct.request({ type: 'heartbeat', workerId: 'g1', load: 20 });
    const extends_ = leased.map((job) => outcomeOf(direct.request({ type: 'extend', jobId: job.id, token: job.token, leaseMs: 60_000 })));
    expect(await outcomeOf(beat), 'the worker is still registered on the new leader').to.equal('OK');
    const outcomes = await Promise.all(extends_);
    expect(outcomes.filter((outcome) => outcome !== 'OK'), 'extends of overdue leases right after the failover').to.deep.equal([]);
    direct.close();

    // The worker never beats again: after its TTL its leases go back, and another worker takes them.
    const live = new ClusterConnection({ nodes: others.map((id) => ({ host: '127.0.0.1', port: nodes.node(id).clientPort })), deadlineMs: 20_000 });
    const taken = new Map<number, number>();
    const deadline = Date.now() + 20_000;
    while (taken.size < leased.length) {
      expect(Date.now() < deadline, `jobs back after the TTL: ${taken.size} of ${leased.length}`).to.equal(true);
      const reply = await live.call({ type: 'pull', queue: 'grace', jobsMax: 64, leaseMs: 30_000, waitMs: 500, workerId: 'g2' });
      for (const job of reply['jobs'] as Leased[]) taken.set(job.id, job.token);
    }
    for (const job of leased) {
      expect(await outcomeOf(live.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true })), `the released worker's ack of job ${job.id}`).to.equal('LEASE_LOST');
      expect(await outcomeOf(live.call({ type: 'ack', jobId: job.id, token: taken.get(job.id) as number }, { idempotent: true }))).to.equal('OK');
    }
    live.close();
  });

  it('answers a pull parked on a leader that was frozen past an election without leasing it a job', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const leader = (await nodes.leaderAgreedBy(ids)).node;
    const others = ids.filter((id) => id !== leader);
    const parked = await ProtocolConnection.open({ host: '127.0.0.1', port: nodes.node(leader).clientPort });
    const pull = parked.request({ type: 'pull', queue: 'parked', jobsMax: 8, leaseMs: 60_000, waitMs: 20_000, workerId: 'p1' });
    let pullAnswer: Record<string, unknown> | string | undefined;
    const settled = pull.then((reply) => { pullAnswer = reply; }, (error: unknown) => { pullAnswer = error instanceof ProtocolError ? error.code : String(error); });
    // Until the leader's Dispatcher reports the pull parked (bounded wait on the event, not a sleep).
    const parkedBy = Date.now() + 5_000;
    for (;;) {
      const status = await (await fetch(`${nodes.opsUrl(leader)}/status`)).json() as { actors: { dispatcher?: { reported?: { role?: { parkedPulls?: number } } } } };
      if ((status.actors.dispatcher?.reported?.role?.parkedPulls ?? 0) >= 1) break;
      if (Date.now() > parkedBy) throw new Error('the pull did not park on the leader within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    nodes.signal(leader, 'SIGSTOP');
    await nodes.leaderAgreedBy(others, 20_000);
    const live = new ClusterConnection({ nodes: others.map((id) => ({ host: '127.0.0.1', port: nodes.node(id).clientPort })), deadlineMs: 20_000 });
    const enqueued = (await live.call({ type: 'enqueue', queue: 'parked', jobs: [{ payload: Buffer.from('a') }, { payload: Buffer.from('b') }] }))['jobs'] as Array<{ id: number }>;
    nodes.signal(leader, 'SIGCONT');
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 25_000))]);
    expect(pullAnswer, 'the parked pull was answered').to.not.equal(undefined);
    const views = await Promise.all(enqueued.map(async (job) => (await live.call({ type: 'get', jobId: job.id }, { idempotent: true }))['job'] as { state: string; history: Array<{ state: string; token?: number }> }));
    if (typeof pullAnswer === 'object') {
      for (const job of pullAnswer['jobs'] as Leased[]) {
        const view = views[enqueued.findIndex((candidate) => candidate.id === job.id)];
        const leases = view?.history.filter((step) => step.state === 'leased') ?? [];
        expect(view?.state, `job ${job.id} handed to the parked pull`).to.equal('leased');
        expect(leases[leases.length - 1]?.token, `job ${job.id}'s live token`).to.equal(job.token);
      }
    }
    parked.close();
    live.close();
  });
});
