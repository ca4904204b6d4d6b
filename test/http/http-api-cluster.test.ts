/**
 * The HTTP API on real nodes: one 3-node cluster shared by the cases (asked through a follower,
 * which forwards to the leader), and one node of another 3-node cluster started alone, which has
 * no majority and so no leader. docs/http.md's curl examples run first, verbatim, on the fresh
 * cluster.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FalconClient } from '../../src/client/index.js';
import { encode } from '../../src/codec/msgpack.js';
import { ConnectionGateway } from '../../src/http/connection-gateway.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { createTestCluster, removeTestCluster, waitForHttp, type TestCluster } from '../support/test-cluster.js';
import { mismatch, runBlocks, shellBlocks } from './doc-examples.js';

interface Answer { readonly status: number; readonly headers: Headers; readonly body: Record<string, unknown> }

async function ask(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> };
}

const payloadBytesMax = 64 * 1024;

describe('HTTP API on a real cluster', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let lonely: TestCluster;
  let follower = '';
  let leader = '';
  let lonelyOps = '';
  let lonelyNodes: ClusterNodes;

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 3, logLevel: 'warn', extraYaml: `queue:\n  payloadBytesMax: ${payloadBytesMax}\n` });
    lonely = await createTestCluster({ nodeCount: 3, logLevel: 'warn' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    lonelyNodes = new ClusterNodes(lonely);
    lonelyOps = lonelyNodes.opsUrl('n1');
    const view = await nodes.leaderAgreedBy(['n1', 'n2', 'n3'], 30_000);
    // Started once the shared cluster leads, so that it starts while the first cases run rather
    // than competing with three starting nodes; its case waits for it to answer.
    lonelyNodes.start('n1');
    const followerId = ['n1', 'n2', 'n3'].find((id) => id !== view.node) ?? 'n1';
    follower = nodes.opsUrl(followerId);
    leader = nodes.opsUrl(view.node);
  });
  after(async () => {
    await removeTestCluster(cluster);
    await removeTestCluster(lonely);
  });

  it('runs the curl examples of docs/http.md verbatim through a follower, with the outputs the page shows', async function () {
    for (const tool of ['curl', 'jq']) {
      expect(spawnSync(tool, ['--version']).status, `docs/http.md's examples need ${tool} on this machine`).to.equal(0);
    }
    const page = readFileSync(fileURLToPath(new URL('../../../docs/http.md', import.meta.url)), 'utf8');
    const blocks = shellBlocks(page);
    expect(blocks.length).to.be.greaterThan(8);
    const outputs = await runBlocks(blocks, { FALCON: follower }, 45_000);
    const problems = blocks.flatMap((block, index) => {
      const lines = outputs[index] ?? [];
      if (lines.length !== block.expected.length) return [`block at line ${block.line}: ${block.expected.length} lines expected, got:\n${lines.join('\n')}`];
      return block.expected.flatMap((expected, line) => {
        const problem = mismatch(expected, lines[line] ?? '');
        return problem === undefined ? [] : [`block at line ${block.line}: ${problem}`];
      });
    });
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('enqueues through a follower; every node answers the job; an Idempotency-Key adds one job', async () => {
    const created = await ask(`${follower}/v1/queues/http-a/jobs`, 'POST', { payload: { n: 1 } }, { 'Idempotency-Key': 'http-a-1' });
    expect(created.status).to.equal(201);
    const id = created.body['id'] as number;
    expect(created.headers.get('location')).to.equal(`/v1/jobs/${id}`);
    const again = await ask(`${leader}/v1/queues/http-a/jobs`, 'POST', { payload: { n: 2 } }, { 'Idempotency-Key': 'http-a-1' });
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal({ id, state: 'ready', duplicate: true });
    for (const node of ['n1', 'n2', 'n3']) {
      const job = await ask(`${nodes.opsUrl(node)}/v1/jobs/${id}`);
      expect(job.body, node).to.deep.include({ id, queue: 'http-a', state: 'ready', payload: { n: 1 }, idempotencyKey: 'http-a-1', contentType: 'application/json' });
    }
    expect((await ask(`${follower}/v1/queues/http-a`)).body).to.include({ queue: 'http-a', ready: 1, enqueuedTotal: 1 });
  });

  it('runs the seed\'s worker cycle with the seed\'s names: register, heartbeat, pull, ack, fail, extend', async () => {
    expect((await ask(`${follower}/v1/register`, 'POST', { nodeId: 'http-w', role: 'worker', cap: 2, queues: ['http-b'] })).body).to.have.property('ttlMs');
    expect((await ask(`${follower}/v1/heartbeat`, 'POST', { nodeId: 'http-w', load: 0 })).status).to.equal(200);
    expect((await ask(`${follower}/v1/heartbeat`, 'POST', { workerId: 'http-nobody' })).status, 'an unknown worker').to.equal(404);
    for (const n of [1, 2]) await ask(`${follower}/v1/queues/http-b/jobs`, 'POST', { payload: { n }, maxAttempts: 1 });
    const pulled = await ask(`${follower}/v1/pull`, 'POST', { workerId: 'http-w', queue: 'http-b', maxN: 2, waitMs: 1_000 });
    const [first, second] = pulled.body['jobs'] as Array<{ id: number; token: number; payload: unknown; attempt: number }>;
    expect([first?.payload, second?.payload]).to.deep.equal([{ n: 1 }, { n: 2 }]);
    const extended = await ask(`${follower}/v1/extend`, 'POST', { jobId: first?.id, token: first?.token, leaseMs: 60_000 });
    expect(extended.body['deadlineMs']).to.be.a('number');
    expect((await ask(`${follower}/v1/extend`, 'POST', { jobId: first?.id, token: (first?.token ?? 0) + 100_000 })).status, 'a stale token').to.equal(409);
    const acked = await ask(`${follower}/v1/ack`, 'POST', { jobId: first?.id, token: first?.token, status: 'ok', result: { sent: true } });
    expect(acked.body).to.deep.equal({ state: 'completed', repeated: false });
    expect((await ask(`${follower}/v1/ack`, 'POST', { jobId: first?.id, token: first?.token })).body).to.deep.equal({ state: 'completed', repeated: true });
    expect((await ask(`${follower}/v1/jobs/${first?.id}`)).body).to.deep.include({ state: 'completed', result: { sent: true } });
    const failed = await ask(`${follower}/v1/ack`, 'POST', { jobId: second?.id, token: second?.token, status: 'failed', error: 'smtp down' });
    expect(failed.body).to.include({ state: 'dead' });
    const dead = await ask(`${follower}/v1/queues/http-b/jobs?state=dead`);
    expect(dead.body).to.deep.include({ nextAfterId: null });
    expect((dead.body['jobs'] as Array<{ id: number }>).map((job) => job.id)).to.deep.equal([second?.id]);
    expect((await ask(`${follower}/v1/jobs/${second?.id}`)).body).to.include({ state: 'dead', lastError: 'smtp down' });
    expect((await ask(`${follower}/v1/ack`, 'POST', { jobId: second?.id, token: second?.token })).status, 'ack of a dead job').to.equal(409);
  });

  it('shows MessagePack payloads and results as JSON, and other bytes as base64', async () => {
    const connection = clusterConnection(cluster);
    try {
      await connection.call({ type: 'enqueue', queue: 'http-c', jobs: [
        { payload: encode({ to: ['a', 'b'], n: 1.5 }), contentType: 'application/msgpack' },
        { payload: Buffer.from([0xde, 0xad]), contentType: 'application/octet-stream' },
        { payload: encode(Buffer.from([1])), contentType: 'application/msgpack' },
      ] });
      const jobs = (await ask(`${follower}/v1/pull`, 'POST', { queue: 'http-c', jobsMax: 3 })).body['jobs'] as Array<Record<string, unknown> & { id: number; token: number }>;
      expect(jobs.map((job) => job['payload'] ?? job['payloadBase64'])).to.deep.equal([{ to: ['a', 'b'], n: 1.5 }, '3q0=', encode(Buffer.from([1])).toString('base64')]);
      const [first, second] = jobs;
      await connection.call({ type: 'ack', jobId: first?.id, token: first?.token, result: encode({ ok: true }) });
      await ask(`${follower}/v1/ack`, 'POST', { jobId: second?.id, token: second?.token, resultBase64: '3q0=' });
      expect((await ask(`${follower}/v1/jobs/${first?.id}`)).body).to.deep.include({ result: { ok: true } });
      expect((await ask(`${follower}/v1/jobs/${second?.id}`)).body).to.deep.include({ resultBase64: '3q0=' });
    } finally {
      connection.close();
    }
  });

  it('adds a batch of 100 jobs through a follower in one step, in order; a batch with one bad job adds none', async () => {
    const jobs = Array.from({ length: 100 }, (_, n) => ({ payload: { n } }));
    const added = await ask(`${follower}/v1/queues/http-batch/jobs`, 'POST', { jobs });
    expect(added.status).to.equal(201);
    const ids = (added.body['jobs'] as Array<{ id: number; state: string }>).map((job) => job.id);
    expect(new Set(ids).size).to.equal(100);
    expect(ids, 'ids ascend in request order').to.deep.equal([...ids].sort((a, b) => a - b));
    expect((await ask(`${follower}/v1/jobs/${ids[42]}`)).body).to.deep.include({ payload: { n: 42 } });
    const refused = await ask(`${follower}/v1/queues/http-batch/jobs`, 'POST', { jobs: [{ payload: 1 }, { payload: 2, maxAttempts: 0 }] });
    expect([refused.status, (refused.body['error'] as { field: string }).field]).to.deep.equal([400, 'jobs[1].maxAttempts']);
    expect((await ask(`${follower}/v1/queues/http-batch`)).body).to.include({ ready: 100, enqueuedTotal: 100 });
  });

  it("stores an ack's JSON result as MessagePack: the SDK's get decodes it to the same value", async () => {
    const id = ((await ask(`${follower}/v1/queues/http-result/jobs`, 'POST', { payload: { n: 1 } })).body['id']) as number;
    const [job] = (await ask(`${follower}/v1/pull`, 'POST', { queue: 'http-result' })).body['jobs'] as Array<{ id: number; token: number }>;
    expect(job?.id).to.equal(id);
    await ask(`${follower}/v1/ack`, 'POST', { jobId: id, token: job?.token, result: { sent: true, to: ['a', 'b'], n: 2.5 } });
    const client = new FalconClient({ nodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.clientPort })) });
    try {
      const info = await client.get(id);
      expect(info.result).to.deep.equal({ sent: true, to: ['a', 'b'], n: 2.5 });
      expect(Buffer.from(info.resultBytes ?? new Uint8Array())).to.deep.equal(encode({ sent: true, to: ['a', 'b'], n: 2.5 }));
    } finally {
      await client.close();
    }
  });

  it('answers 404 for an unknown job or queue, 413 above the payload limit, 400 for a bad body', async () => {
    expect((await ask(`${follower}/v1/jobs/9007199254740991`)).status).to.equal(404);
    expect((await ask(`${follower}/v1/queues/http-never`)).status).to.equal(404);
    const large = await ask(`${follower}/v1/queues/http-d/jobs`, 'POST', { payload: 'x'.repeat(payloadBytesMax) });
    expect(large.status).to.equal(413);
    expect(large.body['error']).to.include({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    expect((await ask(`${follower}/v1/queues/http-d/jobs`, 'POST', { payload: 'x'.repeat(payloadBytesMax - 2) })).status, 'at the limit').to.equal(201);
    expect((await ask(`${follower}/v1/queues/http-d/jobs`, 'POST', 'not json')).status).to.equal(400);
  });

  it('keeps one connection per bearer token, closing the least recently used beyond its bound', async () => {
    const nodeAddresses = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.clientPort }));
    const gateway = new ConnectionGateway({ nodes: nodeAddresses, frameBytesMax: 4 * 1024 * 1024, connectionsMax: 2 });
    try {
      for (const token of ['t-1', 't-2', 't-3', 't-1', undefined]) {
        const stats = await gateway.operationsFor({ token, deadlineMs: 5_000 }).stats('http-a');
        expect(stats.map((queue) => queue.queue)).to.deep.equal(['http-a']);
        expect(gateway.connectionsOpen).to.be.at.most(2);
      }
    } finally {
      gateway.close();
    }
    expect(gateway.connectionsOpen).to.equal(0);
  });

  it('answers 503 with Retry-After when no leader is known (one node of three, no majority)', async () => {
    await waitForHttp(`${lonelyOps}/healthz`, (status) => status === 200, 15_000, () => lonelyNodes.process('n1').output().slice(-4000));
    const started = Date.now();
    const refused = await ask(`${lonelyOps}/v1/queues/email/jobs`, 'POST', { payload: 1 }, { 'X-Timeout-Ms': '1000' });
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('1');
    expect(refused.body['error']).to.include({ code: 'UNAVAILABLE' });
    expect((refused.body['error'] as { message: string }).message).to.contain('no leader could be reached');
    expect(Date.now() - started, 'answered within the deadline asked for').to.be.below(5_000);
    expect((await ask(`${lonelyOps}/v1/jobs/1`, 'GET', undefined, { 'X-Timeout-Ms': '300' })).status).to.equal(503);
  });

  // Last: it kills the leader of the shared cluster.
  it('answers every enqueue without a key across a leader killed with kill -9, adding each job exactly once', async function () {
    this.timeout(60_000);
    const old = await nodes.leaderAgreedBy(['n1', 'n2', 'n3']);
    const survivor = nodes.opsUrl(['n1', 'n2', 'n3'].find((id) => id !== old.node) ?? 'n1');
    const lanes = 8;
    const perLane = 40;
    let answered = 0;
    let killed: Promise<void> | undefined;
    const statuses: number[] = [];
    const ids: number[] = [];
    const lane = async (laneIndex: number): Promise<void> => {
      for (let n = 0; n < perLane; n += 1) {
        const answer = await ask(`${survivor}/v1/queues/http-failover/jobs`, 'POST', { payload: { lane: laneIndex, n } });
        statuses.push(answer.status);
        if (typeof answer.body['id'] === 'number') ids.push(answer.body['id']);
        answered += 1;
        if (answered === 40) killed = nodes.kill9(old.node);
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, index) => lane(index)));
    await killed;
    expect(statuses.filter((status) => status !== 201), 'every enqueue answered 201').to.deep.equal([]);
    expect(new Set(ids).size).to.equal(lanes * perLane);
    const stats = (await ask(`${survivor}/v1/queues/http-failover`)).body;
    expect(stats, 'each job added once: none lost, none twice').to.include({ ready: lanes * perLane, enqueuedTotal: lanes * perLane });
  });
});
