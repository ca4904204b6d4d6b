/**
 * Attacks on the queue's fencing and idempotency across a frozen leader, on three real nodes:
 * a worker holds leases when its leader is SIGSTOPped past the election timeout; the producer
 * enqueues the same keys again on the new leader; the leases expire (after the new term's grace)
 * and another worker takes the jobs. Then: stale acks (tokens of the first leases) are refused
 * with LEASE_LOST by the new leader, acks queued on the frozen leader's socket are never accepted
 * once it resumes, and every job ends completed by the second worker's token only.
 *
 * Also, without faults: an ack, nack or extend with the token of a lease that expired (the job
 * not leased again) is refused with LEASE_LOST.
 *
 * Every wait is bounded; only loopback, free ports and temp dirs (startedClusterPerTest).
 *
 * Runs on: test process (three or one node processes).
 */
import { expect } from 'chai';
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ProtocolConnection, ProtocolError } from '../../src/client/protocol-connection.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';

interface Leased { readonly id: number; readonly token: number }
interface JobStep { readonly state: string; readonly token?: number }

const retryYaml = 'queue:\n  retryDelayMsDefault: 20\n  retryDelayMsMax: 50\n';

/** The error code `promise` rejects with, or 'OK' when it resolves; 'TIMEOUT' after `timeoutMs`. */
async function outcomeOf(promise: Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('TIMEOUT'), timeoutMs); });
  try {
    return await Promise.race([promise.then(() => 'OK', (error: unknown) => (error instanceof ProtocolError ? error.code : String(error))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pulls from `queue` until every id of `wanted` was leased once (bounded by `timeoutMs`). */
async function pullAll(connection: ClusterConnection, queue: string, wanted: ReadonlySet<number>, leaseMs: number, timeoutMs: number): Promise<Map<number, number>> {
  const tokens = new Map<number, number>();
  const deadline = Date.now() + timeoutMs;
  while (tokens.size < wanted.size) {
    if (Date.now() > deadline) throw new Error(`only ${tokens.size} of ${wanted.size} jobs leased within ${timeoutMs} ms`);
    const reply = await connection.call({ type: 'pull', queue, jobsMax: 256, leaseMs, waitMs: 500, workerId: 'attack-w' }, { idempotent: false });
    for (const job of reply['jobs'] as Leased[]) {
      expect(wanted.has(job.id), `job ${job.id} leased but never enqueued`).to.equal(true);
      expect(tokens.has(job.id), `job ${job.id} leased twice by one worker in one round`).to.equal(false);
      tokens.set(job.id, job.token);
    }
  }
  return tokens;
}

describe('queue attack: fencing across a frozen leader (three real nodes)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({ logLevel: 'warn', extraYaml: retryYaml });

  it('refuses every stale ack, on the new leader and from the resumed old one, and keeps one job per key', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const oldLeader = (await nodes.leaderAgreedBy(ids)).node;
    const others = ids.filter((id) => id !== oldLeader);
    const address = (id: string): { host: string; port: number } => ({ host: '127.0.0.1', port: nodes.node(id).clientPort });
    const producer = clusterConnection(cluster);
    const jobCount = 40;
    const jobs = Array.from({ length: jobCount }, (_, at) => ({ payload: Buffer.from(`job-${at}`), idempotencyKey: `fence-${at}` }));
    const first = (await producer.call({ type: 'enqueue', queue: 'fence', jobs }, { idempotent: true }))['jobs'] as Array<{ id: number }>;
    const jobIds = first.map((job) => job.id);
    const wanted = new Set(jobIds);
    expect(wanted.size).to.equal(jobCount);

    const firstWorker = clusterConnection(cluster);
    const oldTokens = await pullAll(firstWorker, 'fence', wanted, 1_500, 10_000);
    firstWorker.close();
    producer.close();
    const frozen = await ProtocolConnection.open(address(oldLeader));

    nodes.signal(oldLeader, 'SIGSTOP');
    await nodes.leaderAgreedBy(others, 20_000);
    // Acks with the first tokens for jobs 0..9 wait in the frozen leader's socket.
    const frozenAcks = jobIds.slice(0, 10).map((jobId) => frozen.request({ type: 'ack', jobId, token: oldTokens.get(jobId) as number }));

    const live = new ClusterConnection({ nodes: others.map(address), deadlineMs: 20_000 });
    const again = (await live.call({ type: 'enqueue', queue: 'fence', jobs }, { idempotent: true }))['jobs'] as Array<{ id: number; duplicate: boolean }>;
    expect(again.map((job) => job.id), 'the same keys after the failover').to.deep.equal(jobIds);
    expect(again.every((job) => job.duplicate), 'every re-enqueue answered as a duplicate').to.equal(true);

    const newTokens = await pullAll(live, 'fence', wanted, 20_000, 20_000);
    for (const jobId of jobIds) {
      expect(newTokens.get(jobId), `job ${jobId}'s new token`).to.be.above(oldTokens.get(jobId) as number);
    }
    const staleOnNewLeader = await Promise.all(jobIds.slice(10).map((jobId) => outcomeOf(live.call({ type: 'ack', jobId, token: oldTokens.get(jobId) as number }, { idempotent: true }), 10_000)));
    expect(new Set(staleOnNewLeader), 'stale acks on the new leader').to.deep.equal(new Set(['LEASE_LOST']));
    const staleExtends = await Promise.all(jobIds.slice(10, 20).map((jobId) => outcomeOf(live.call({ type: 'extend', jobId, token: oldTokens.get(jobId) as number, leaseMs: 60_000 }, { idempotent: true }), 10_000)));
    expect(new Set(staleExtends), 'stale extends on the new leader').to.deep.equal(new Set(['LEASE_LOST']));

    nodes.signal(oldLeader, 'SIGCONT');
    const fromOldLeader = await Promise.all(frozenAcks.map((ack) => outcomeOf(ack, 15_000)));
    expect(fromOldLeader.filter((outcome) => outcome === 'OK'), `acks with stale tokens accepted by the resumed old leader (${fromOldLeader.join(',')})`).to.deep.equal([]);
    frozen.close();

    const acks = await Promise.all(jobIds.map((jobId) => outcomeOf(live.call({ type: 'ack', jobId, token: newTokens.get(jobId) as number }, { idempotent: true }), 10_000)));
    expect(new Set(acks), 'acks with the live tokens').to.deep.equal(new Set(['OK']));
    for (const jobId of jobIds) {
      const job = (await live.call({ type: 'get', jobId }, { idempotent: true }))['job'] as { state: string; history: JobStep[] };
      expect(job.state, `job ${jobId}`).to.equal('completed');
      const leases = job.history.filter((step) => step.state === 'leased').map((step) => step.token);
      expect(leases[leases.length - 1], `job ${jobId}: the completing lease`).to.equal(newTokens.get(jobId));
    }
    await nodes.converged(ids, 1, 20_000);
    live.close();
  });
});

describe('queue attack: tokens of expired leases (one real node)', function () {
  this.timeout(30_000);
  const started = startedClusterPerTest({ nodeCount: 1, logLevel: 'warn', extraYaml: retryYaml });

  it('refuses ack, nack and extend with the token of a lease that expired, before and after the job is leased again', async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const client = clusterConnection(cluster);
    const [job] = (await client.call({ type: 'enqueue', queue: 'expiry', jobs: [{ payload: Buffer.from('x'), attemptsMax: 10 }] }))['jobs'] as Array<{ id: number }>;
    const jobId = job?.id as number;
    const [first] = (await client.call({ type: 'pull', queue: 'expiry', jobsMax: 1, leaseMs: 200, waitMs: 1_000 }))['jobs'] as Leased[];
    expect(first?.id).to.equal(jobId);
    const staleToken = first?.token as number;
    // Wait (bounded) until the leader expired the lease: the job is no longer leased.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const view = (await client.call({ type: 'get', jobId }, { idempotent: true }))['job'] as { state: string };
      if (view.state !== 'leased') break;
      if (Date.now() > deadline) throw new Error('the lease did not expire within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const refusals = await Promise.all([
      outcomeOf(client.call({ type: 'extend', jobId, token: staleToken, leaseMs: 60_000 }), 5_000),
      outcomeOf(client.call({ type: 'nack', jobId, token: staleToken, error: 'stale' }), 5_000),
      outcomeOf(client.call({ type: 'ack', jobId, token: staleToken }), 5_000),
    ]);
    expect(refusals, 'extend, nack, ack with the expired token').to.deep.equal(['LEASE_LOST', 'LEASE_LOST', 'LEASE_LOST']);
    const [second] = (await client.call({ type: 'pull', queue: 'expiry', jobsMax: 1, leaseMs: 30_000, waitMs: 5_000 }))['jobs'] as Leased[];
    expect(second?.id).to.equal(jobId);
    expect(await outcomeOf(client.call({ type: 'ack', jobId, token: staleToken }), 5_000), 'expired token against the new lease').to.equal('LEASE_LOST');
    expect(await outcomeOf(client.call({ type: 'ack', jobId, token: second?.token as number }), 5_000)).to.equal('OK');
    expect(await outcomeOf(client.call({ type: 'ack', jobId, token: second?.token as number }), 5_000), 'a repeated ack with the completing token').to.equal('OK');
    expect(await outcomeOf(client.call({ type: 'ack', jobId, token: staleToken }), 5_000), 'the expired token after completion').to.equal('LEASE_LOST');
    client.close();
  });
});
