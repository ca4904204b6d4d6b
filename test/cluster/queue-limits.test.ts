/**
 * Every limit of the queue, on a real node with small limits in its cluster file: a payload over
 * `payloadBytesMax` is refused with PAYLOAD_TOO_LARGE, and an enqueue past `jobsPerQueueMax`,
 * `bytesPerQueueMax` or `queuesMax` with RESOURCE_EXHAUSTED; each message names its limit. A full
 * idempotency key table forgets its oldest keys (counted on /metrics) and never refuses. And the
 * node's memory stays bounded while a client keeps pushing at a full queue.
 */
import { expect } from 'chai';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { ProtocolError } from '../../src/client/protocol-connection.js';
import { residentMbOf } from '../../bench/failover-breakdown.js';

async function refusal(promise: Promise<unknown>): Promise<ProtocolError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('the request was not refused');
}

describe('queue limits (one real node)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({
    nodeCount: 1, logLevel: 'warn',
    extraYaml: 'queue:\n  payloadBytesMax: 1024\n  jobsPerQueueMax: 50\n  bytesPerQueueMax: 20000\n  queuesMax: 3\n  idempotencyKeysMax: 10\n'
      + 'wal:\n  tailCacheEntries: 1024\n',
  });

  it('refuses each limit with its code and a message naming it, evicts old keys instead of refusing, and keeps memory bounded', async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const client = clusterConnection(cluster);
    const enqueue = (queue: string, count: number, bytes: number, keyPrefix?: string): Promise<unknown> => client.call({
      type: 'enqueue', queue,
      jobs: Array.from({ length: count }, (_, at) => ({ payload: Buffer.alloc(bytes), ...(keyPrefix === undefined ? {} : { idempotencyKey: `${keyPrefix}${at}` }) })),
    });

    const tooLarge = await refusal(enqueue('a', 1, 1025));
    expect(tooLarge.code).to.equal('PAYLOAD_TOO_LARGE');
    expect(tooLarge.message).to.match(/payloadBytesMax/);

    await enqueue('a', 50, 10);
    const tooMany = await refusal(enqueue('a', 1, 10));
    expect(tooMany.code).to.equal('RESOURCE_EXHAUSTED');
    expect(tooMany.message).to.match(/jobsPerQueueMax/);

    await enqueue('b', 19, 1000);
    const tooBig = await refusal(enqueue('b', 2, 1000));
    expect(tooBig.code).to.equal('RESOURCE_EXHAUSTED');
    expect(tooBig.message).to.match(/bytesPerQueueMax/);

    await enqueue('c', 1, 10);
    const tooManyQueues = await refusal(enqueue('d', 1, 10));
    expect(tooManyQueues.code).to.equal('RESOURCE_EXHAUSTED');
    expect(tooManyQueues.message).to.match(/queuesMax/);

    // 25 keys through a table of 10: all accepted, the oldest 15 forgotten and counted.
    await enqueue('c', 25, 1, 'key-');
    const metrics = await (await fetch(`${nodes.opsUrl('n1')}/metrics`)).text();
    expect(metrics).to.match(/falcon_queue_idempotency_keys_evicted_total\{node="n1"\} 15\b/);
    expect(metrics).to.match(/falcon_queue_limit_refusals_total\{limit="jobsPerQueueMax",node="n1"\} 1\b/);

    // A client that keeps pushing at a full queue (every refusal is still a replicated log entry,
    // decided where the state is): once the node's bounded caches are full, pushing as much again
    // leaves its memory about where it was.
    const pid = nodes.process('n1').child.pid;
    const push = async (): Promise<void> => {
      for (let round = 0; round < 40; round += 1) {
        const refusals = await Promise.all(Array.from({ length: 100 }, () => refusal(enqueue('a', 4, 1000))));
        expect(refusals.every((error) => error.code === 'RESOURCE_EXHAUSTED')).to.equal(true);
      }
    };
    // The WAL's tail cache (64 MiB) and the log window (32 MiB) fill over the first pushes.
    for (let round = 0; round < 5; round += 1) await push();
    // Two windows of 12,000 more: a leak grows in both; a collector that ran late grows one.
    const rssMb = [residentMbOf(pid)];
    for (let window = 0; window < 2; window += 1) {
      for (let round = 0; round < 3; round += 1) await push();
      rssMb.push(residentMbOf(pid));
    }
    const stats = await client.call({ type: 'stats', queue: 'a' }, { idempotent: true });
    expect((stats['queues'] as Array<Record<string, number>>)[0]).to.include({ ready: 50, bytes: 500 });
    const growthMb = [(rssMb[1] ?? 0) - (rssMb[0] ?? 0), (rssMb[2] ?? 0) - (rssMb[1] ?? 0)];
    expect(Math.min(...growthMb), `RSS growth over each of two windows of 12,000 more refused enqueues after the first 20,000 (RSS ${rssMb.join(', ')} MB)`).to.be.below(24);
    client.close();
  });
});
