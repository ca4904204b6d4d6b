/**
 * Attack on what the queue remembers across a whole-cluster crash, on three real nodes that take
 * snapshots often (every 50 entries): keyed enqueues with producer sequences, some jobs leased and
 * acked, then every node killed with `kill -9` (their disks kept) and restarted. Afterwards: every
 * key answers its first job, the last producer sequence answers its first jobs (not new ones),
 * a repeated ack with the completing token answers OK, and a stale or foreign token is refused.
 *
 * Runs on: test process (three node processes).
 */
import { expect } from 'chai';
import { ProtocolConnection, ProtocolError } from '../../src/client/protocol-connection.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';

interface Leased { readonly id: number; readonly token: number }

async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => 'OK', (error: unknown) => (error instanceof ProtocolError ? error.code : String(error)));
}

describe('queue attack: every node killed and restarted behind snapshots (three real nodes)', function () {
  this.timeout(90_000);
  const started = startedClusterPerTest({ logLevel: 'warn', extraYaml: 'raft:\n  snapshotEveryEntries: 50\n' });

  it('keeps keys, producer sequences and ack tokens across kill -9 of every node', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const leader = (await nodes.leaderAgreedBy(ids)).node;
    const producer = await ProtocolConnection.open({ host: '127.0.0.1', port: nodes.node(leader).clientPort });
    await producer.request({ type: 'hello', protocol: 1, producerId: 'restart-producer' });
    const requests = 120;
    const idsByKey = new Map<string, number>();
    const idsBySequence = new Map<number, number[]>();
    for (let sequence = 0; sequence < requests; sequence += 1) {
      const keys = [0, 1, 2].map((at) => `r-${sequence}-${at}`);
      const reply = await producer.request({ type: 'enqueue', queue: 'restart', sequence, jobs: keys.map((key) => ({ payload: Buffer.from(key), idempotencyKey: key })) });
      const jobs = reply['jobs'] as Array<{ id: number }>;
      keys.forEach((key, at) => idsByKey.set(key, (jobs[at] as { id: number }).id));
      idsBySequence.set(sequence, jobs.map((job) => job.id));
    }
    const leased = (await producer.request({ type: 'pull', queue: 'restart', jobsMax: 10, leaseMs: 60_000 }))['jobs'] as Leased[];
    expect(leased.length).to.equal(10);
    const acked = leased.slice(0, 5);
    for (const job of acked) await producer.request({ type: 'ack', jobId: job.id, token: job.token });
    producer.close();

    for (const id of ids) await nodes.kill9(id);
    for (const id of ids) nodes.start(id);
    await nodes.leaderAgreedBy(ids, 30_000);

    const client = clusterConnection(cluster);
    for (let sequence = 0; sequence < requests; sequence += 40) {
      const keys = Array.from({ length: 40 }, (_, offset) => [0, 1, 2].map((at) => `r-${sequence + offset}-${at}`)).flat();
      const reply = await client.call({ type: 'enqueue', queue: 'restart', jobs: keys.map((key) => ({ payload: Buffer.from('again'), idempotencyKey: key })) }, { idempotent: true });
      const jobs = reply['jobs'] as Array<{ id: number; duplicate: boolean }>;
      keys.forEach((key, at) => expect(jobs[at], `key ${key} after the restart`).to.deep.include({ id: idsByKey.get(key), duplicate: true }));
    }
    // The producer session: its last sequence, resent with other keys, answers the first jobs.
    const newLeader = (await nodes.leaderAgreedBy(ids)).node;
    const resumed = await ProtocolConnection.open({ host: '127.0.0.1', port: nodes.node(newLeader).clientPort });
    await resumed.request({ type: 'hello', protocol: 1, producerId: 'restart-producer' });
    const last = requests - 1;
    const retried = (await resumed.request({ type: 'enqueue', queue: 'restart', sequence: last, jobs: [0, 1, 2].map((at) => ({ payload: Buffer.from('x'), idempotencyKey: `other-${at}` })) }))['jobs'] as Array<{ id: number; duplicate: boolean }>;
    expect(retried.map((job) => job.id), `sequence ${last} after the restart`).to.deep.equal(idsBySequence.get(last));
    resumed.close();

    for (const job of acked) expect(await outcomeOf(client.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true })), `repeated ack of job ${job.id}`).to.equal('OK');
    for (const job of leased.slice(5)) {
      expect(await outcomeOf(client.call({ type: 'ack', jobId: job.id, token: job.token + 1 }, { idempotent: true })), `foreign token for job ${job.id}`).to.equal('LEASE_LOST');
      expect(await outcomeOf(client.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true })), `live token for job ${job.id}`).to.equal('OK');
    }
    const stats = await client.call({ type: 'stats', queue: 'restart' }, { idempotent: true });
    expect((stats['queues'] as Array<Record<string, number>>)[0]).to.include({ ready: requests * 3 - 10, leased: 0, completed: 10 });
    client.close();
  });
});
