/**
 * FalconClient against a real 3-node cluster (one cluster for the whole file; the leader is killed
 * only in the last two tests, the node killed first started again between them): an object
 * enqueued reaches a worker's handler decoded and its result is visible in `get`; many concurrent enqueues become few protocol requests, each call with its own
 * id, and one job the node refuses fails only its own call; a worker's close() finishes what it
 * holds and leaves no job leased; and with the leader killed by `kill -9` in the middle of a stream
 * of concurrent enqueues, every call resolves with an id or rejects with a typed error, no job
 * exists twice, and a worker completes them all. Then, with the killed node back, a fresh client's
 * 20,000 enqueues whose idempotency keys were all used before, sent to a leader that is stopped
 * and then killed before it reads them: no new job; every call resolves with its key's first job
 * (its retries reach the new leader in any order), or rejects as outcome unknown (the new leader
 * does not know the fresh producer, so it refuses the retry of its first sequence, keyed or not),
 * and enqueuing those again with their keys answers their first jobs.
 *
 * Waits poll a condition with a bound (a separate process offers no other signal).
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { FalconClient, InvalidArgumentError, PayloadTooLargeError, ProtocolError, UnavailableError, type EnqueuedJob, type WorkerJob } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

/** The node refuses payloads above this; the client (default 1 MiB) does not check it. */
const nodePayloadBytesMax = 64 * 1024;


describe('FalconClient on three real nodes', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let client: FalconClient;
  /** The node the kill -9 case killed; the fresh-session case starts it again. */
  let killedNode: string | undefined;

  before(async () => {
    cluster = await createTestCluster({ logLevel: 'warn', extraYaml: `queue:\n  payloadBytesMax: ${nodePayloadBytesMax}\n` });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    client = new FalconClient({ nodes: cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`), deadlineMs: 20_000 });
  });

  after(async () => {
    await client?.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('delivers an object to a worker decoded, and shows the decoded result in get', async () => {
    const seen: WorkerJob[] = [];
    const worker = client.worker('roundtrip', async (job) => {
      seen.push(job);
      return { echoed: job.payload, attempt: job.attempt };
    }, { concurrency: 2, waitMs: 500 });
    const payload = { to: 'a@b.c', lines: ['hello', 'world'], n: 42 };
    const { id, state, duplicate } = await client.enqueue('roundtrip', payload);
    expect({ state, duplicate }).to.deep.equal({ state: 'ready', duplicate: false });
    const json = await client.enqueue('roundtrip', { kind: 'json' }, { contentType: 'application/json', priority: 5 });
    const bytes = await client.enqueue('roundtrip', Buffer.from([1, 2, 3]));
    await waitUntil(async () => (await client.get(bytes.id)).state === 'completed' && (await client.get(id)).state === 'completed', 'the jobs completed');

    const job = await client.get(id);
    expect(job).to.include({ id, queue: 'roundtrip', state: 'completed', contentType: 'application/msgpack', attempts: 1 });
    expect(job.payload).to.deep.equal(payload);
    expect(job.result).to.deep.equal({ echoed: payload, attempt: 1 });
    expect(seen.find((entry) => entry.id === id)?.payload).to.deep.equal(payload);
    const jsonJob = await client.get(json.id);
    expect(jsonJob).to.include({ contentType: 'application/json', priority: 5 });
    expect(jsonJob.payload).to.deep.equal({ kind: 'json' });
    const bytesSeen = seen.find((entry) => entry.id === bytes.id)?.payload as Uint8Array;
    expect([...bytesSeen]).to.deep.equal([1, 2, 3]);
    expect(jobIdsOf(await client.list('roundtrip', 'completed', { limit: 1 }))).to.have.length(1);
    const all: number[] = [];
    for await (const summary of client.listAll('roundtrip', 'completed', { limit: 1 })) all.push(summary.id);
    expect(all.sort((a, b) => a - b)).to.deep.equal([id, json.id, bytes.id].sort((a, b) => a - b));
    await worker.close();
    expect(worker.counters.acked).to.equal(3);
  });

  it('batches concurrent enqueues into few requests, and one refused job fails only its own call', async () => {
    const requestsBefore = client.counters.enqueueRequests;
    const jobs = await Promise.all(Array.from({ length: 2000 }, (_, n) => client.enqueue('batched', { n })));
    const requests = client.counters.enqueueRequests - requestsBefore;
    expect(new Set(jobs.map((job) => job.id)).size, 'distinct ids').to.equal(2000);
    expect(requests, 'enqueue requests for 2000 concurrent calls').to.be.at.most(4);

    // Calls spread over many turns while requests are in flight still share requests.
    const spreadBefore = client.counters.enqueueRequests;
    const spread: Array<Promise<EnqueuedJob>> = [];
    for (let turn = 0; turn < 100; turn += 1) {
      for (let n = 0; n < 20; n += 1) spread.push(client.enqueue('batched', { turn, n }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(new Set((await Promise.all(spread)).map((job) => job.id)).size).to.equal(2000);
    expect(client.counters.enqueueRequests - spreadBefore, 'requests for 2000 calls over 100 turns').to.be.below(100);

    const tooLarge = Buffer.alloc(nodePayloadBytesMax + 1);
    const settled = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, n) => client.enqueue('split', { n })),
      client.enqueue('split', tooLarge),
      client.enqueueMany('split', [{ payload: 'a' }, { payload: 'b' }, { payload: tooLarge }]),
      ...Array.from({ length: 20 }, (_, n) => client.enqueue('split', { n: n + 20 })),
    ]);
    const refused = settled.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason as ProtocolError);
    expect(refused.map((error) => [error.constructor.name, error.detail?.['field']])).to.deep.equal([
      ['PayloadTooLargeError', 'payload'], ['PayloadTooLargeError', 'jobs[2].payload'],
    ]);
    expect(refused[0]).to.be.instanceOf(PayloadTooLargeError);
    const accepted = settled.filter((outcome) => outcome.status === 'fulfilled');
    expect(accepted).to.have.length(40);
    const stats = await client.stats('split');
    expect(stats).to.include({ ready: 40, enqueuedTotal: 40 });
    await client.enqueue('split', 1, { priority: 2 ** 31 }).then(() => expect.fail('a priority out of bounds was sent'), (error: unknown) => {
      expect(error).to.be.instanceOf(InvalidArgumentError);
      expect((error as ProtocolError).detail).to.deep.equal({ field: 'priority' });
    });
  });

  it("a worker's close() finishes the jobs it holds and leaves none leased", async () => {
    await client.enqueueMany('drain', Array.from({ length: 30 }, (_, n) => ({ payload: { n } })));
    let started = 0;
    const worker = client.worker('drain', async () => {
      started += 1;
      await new Promise((resolve) => setTimeout(resolve, 40));
      return 'done';
    }, { concurrency: 4, waitMs: 500 });
    await waitUntil(() => worker.counters.acked >= 4, 'the worker acked some jobs');
    await worker.close();
    expect(worker.counters.abandoned).to.equal(0);
    expect(worker.counters.acked).to.equal(started);
    const stats = await client.stats('drain');
    expect(stats).to.include({ leased: 0, completed: started, ready: 30 - started });
  });

  it('across a kill -9 of the leader, every enqueue resolves or rejects typed, no job exists twice, and a worker completes them all', async () => {
    const leader = await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    const retriesBefore = client.counters.retries;
    const callsTotal = 3000;
    const outstandingMax = 300;
    const idsByMarker = new Map<number, number>();
    const failures: unknown[] = [];
    const calls: Array<Promise<void>> = [];
    let outstanding = 0;
    let settledCalls = 0;
    let killing: Promise<void> | undefined;
    let settledAtKill = 0;
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    // A steady stream (15 calls a turn, at most 300 waiting) keeps several requests in flight, so
    // the kill lands on requests the leader may have committed without answering.
    for (let marker = 0; marker < callsTotal; marker += 1) {
      while (outstanding >= outstandingMax) await turn();
      if (killing === undefined && settledCalls >= callsTotal / 3) {
        settledAtKill = settledCalls;
        killedNode = leader.node;
        killing = nodes.kill9(leader.node);
      }
      outstanding += 1;
      calls.push(client.enqueue('failover', { marker }).then((job) => { idsByMarker.set(marker, job.id); }, (error: unknown) => { failures.push(error); })
        .finally(() => { outstanding -= 1; settledCalls += 1; }));
      if (marker % 15 === 14) await turn();
    }
    await Promise.all(calls);
    await killing;
    expect(settledAtKill, 'the leader was killed mid-stream').to.be.within(1, callsTotal - outstandingMax);
    expect(idsByMarker.size + failures.length).to.equal(callsTotal);
    expect(client.counters.retries, 'requests retried across the failover').to.be.above(retriesBefore);
    const untyped = failures.filter((error) => !(error instanceof ProtocolError));
    expect(untyped.map(String), 'rejections that are not typed errors').to.deep.equal([]);

    const jobIdsByMarker = new Map<number, Set<number>>();
    const worker = client.worker('failover', async (job) => {
      const { marker } = job.payload as { marker: number };
      const ids = jobIdsByMarker.get(marker) ?? new Set<number>();
      ids.add(job.id);
      jobIdsByMarker.set(marker, ids);
    }, { concurrency: 64, waitMs: 500 });
    await waitUntil(async () => {
      const stats = await client.stats('failover');
      return stats !== undefined && stats.ready + stats.delayed + stats.leased === 0 && stats.completed === stats.enqueuedTotal;
    }, 'the worker completed every job', 40_000);
    await worker.close();

    const stats = await client.stats('failover');
    const twice = [...jobIdsByMarker].filter(([, ids]) => ids.size > 1);
    expect(twice, 'markers with more than one job').to.deep.equal([]);
    const distinctJobs = new Set([...jobIdsByMarker.values()].flatMap((ids) => [...ids]));
    expect(stats?.enqueuedTotal, 'jobs created vs. jobs the worker saw').to.equal(distinctJobs.size);
    expect(distinctJobs.size).to.be.at.most(callsTotal);
    const missing = [...idsByMarker].filter(([marker, id]) => !jobIdsByMarker.get(marker)?.has(id));
    expect(missing.slice(0, 10), `resolved enqueues never completed (${missing.length})`).to.deep.equal([]);
    expect(stats).to.include({ dead: 0, leased: 0 });
    if (failures.length > 0) console.log(`      (${failures.length} enqueues rejected: ${[...new Set(failures.map((error) => (error as ProtocolError).code))].join(', ')})`);
  });

  // The same cluster, with the node killed above started again (its own queue, keys and clients).
  describe('a fresh session across a kill -9 of the leader', () => {
    before(async () => {
      if (killedNode !== undefined) nodes.start(killedNode);
      await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    });

    it("answers all 20,000 duplicate-keyed enqueues of a fresh client with their first jobs, or outcome unknown settled by the key, when the leader dies before reading them", async () => {
      const addresses = cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`);
      const keysTotal = 20_000;
      const keys = Array.from({ length: keysTotal }, (_, at) => `tour-${at}`);
      const earlier = new FalconClient({ nodes: addresses, deadlineMs: 20_000 });
      const firstJobs = await earlier.enqueueMany('email', keys.map((key) => ({ payload: { to: key }, idempotencyKey: key })));
      await earlier.close();
      const leader = await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
      const client = new FalconClient({ nodes: addresses, deadlineMs: 20_000 });
      try {
        await client.stats(); // the connection and the producer session are open, on the leader
        // The leader takes the requests into its socket but never reads them: whatever the client
        // sent has an unknown outcome, and every retry meets the new leader, in the order it comes.
        nodes.signal(leader.node, 'SIGSTOP');
        const calls = keys.map((key) => client.enqueue('email', { to: key }, { idempotencyKey: key }));
        await new Promise((resolve) => setImmediate(resolve));
        await nodes.kill9(leader.node);
        const settled = await Promise.allSettled(calls);
        const unknown = (reason: unknown): boolean => reason instanceof UnavailableError && reason.sent;
        const rejected = settled.flatMap((outcome) => (outcome.status === 'rejected' && !unknown(outcome.reason) ? [String(outcome.reason)] : []));
        expect(rejected.slice(0, 3), `${rejected.length} calls rejected other than outcome unknown`).to.deep.equal([]);
        // A caller holding keys settles an unknown outcome by enqueuing again with the same key.
        const answers = await Promise.all(settled.map((outcome, at) => (outcome.status === 'fulfilled' ? outcome.value
          : client.enqueue('email', { to: keys[at] }, { idempotencyKey: keys[at] ?? '' }))));
        const wrong = answers.filter((answer, at) => !answer.duplicate || answer.id !== firstJobs[at]?.id);
        expect(wrong.length, 'calls not answered with their key\'s first job').to.equal(0);
        expect(client.counters.retries, 'requests retried across the failover').to.be.above(0);
        expect((await client.stats('email'))?.enqueuedTotal, 'no new job').to.equal(keysTotal);
      } finally {
        await client.close();
      }
    });
  });
});

function jobIdsOf(page: { jobs: ReadonlyArray<{ id: number }> }): number[] {
  return page.jobs.map((job) => job.id);
}
