/**
 * Second round of attacks on the HTTP and gRPC APIs' promises, on three real nodes whose cluster
 * lists a produce, a consume and an admin token and whose elections are slow (2 to 2.5 s, so that a
 * leader paused for a moment, about 0.3 s, keeps leading when it resumes; the first election of
 * the file waits as long). One cluster for the file.
 *
 * Once broken, now promises:
 * - an HTTP pull whose deadline passes while the leader holds it (taken, not yet answered) was
 *   answered 503 "nothing was done, retry shortly", yet the leader leased the job to that worker
 *   once it resumed; now the 503 says the outcome is unknown (docs/http.md, Retries);
 * - a request without a token had its body (or gRPC fields) judged first: 400 naming the field
 *   instead of 401; now access comes first (docs/protocol.md §3), also through the gateways.
 *
 * Held: a request without a token learns nothing of a job's existence (GET of a real and of an
 * unknown id are both 401, both over gRPC UNAUTHENTICATED); a consume token cannot enqueue
 * through HTTP's ack route nor gRPC's calls.
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { pipelined } from '../support/pipelined-requests.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';
import { FalconQueueClient } from '../grpc/proto-client.js';

const tokens = { produce: 'produce-token-a2f19c', consume: 'consume-token-77b0e1', admin: 'admin-token-3e9d42' };
const grpcUnauthenticated = 16;

describe('api attack 2: what the HTTP and gRPC APIs say happened', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];
  let leader: string;
  let follower: string;

  before(async () => {
    const auth = ['auth:', '  tokens:', ...Object.entries(tokens).map(([role, token]) => `    - { token: ${token}, role: ${role}, name: ${role}-client }`)];
    const raft = ['raft:', '  electionTimeoutMsMin: 2000', '  electionTimeoutMsMax: 2500'];
    cluster = await createTestCluster({ logLevel: 'warn', grpc: true, extraYaml: `${[...auth, ...raft].join('\n')}\n` });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    leader = (await nodes.leaderAgreedBy(ids, 30_000)).node;
    follower = ids.find((id) => id !== leader) ?? '';
  });

  after(async () => {
    if (cluster === undefined) return;
    for (const id of ids) {
      try { nodes.signal(id, 'SIGCONT'); } catch { /* gone */ }
    }
    await removeTestCluster(cluster);
  });

  function http(id: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${nodes.opsUrl(id)}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  it('an HTTP pull cut by its deadline on a paused leader answers 503 "the outcome is unknown", never "nothing was done", and the job may be leased to that worker', async () => {
    const enqueued = await http(follower, '/v1/queues/pull-outcome/jobs', tokens.produce, { payload: { n: 1 } });
    expect(enqueued.status).to.equal(201);
    const { id } = await enqueued.json() as { id: number };
    // The follower's gateway opens its connection for the consume token to the leader now.
    expect((await http(follower, '/v1/queues/pull-outcome', tokens.consume)).status).to.equal(200);
    nodes.signal(leader, 'SIGSTOP');
    let pulled: { status: number; text: string };
    try {
      const response = await http(follower, '/v1/pull', tokens.consume, { workerId: 'w-http', queue: 'pull-outcome', jobsMax: 1, waitMs: 0 }, { 'x-timeout-ms': '300' });
      pulled = { status: response.status, text: await response.text() };
    } finally {
      nodes.signal(leader, 'SIGCONT');
    }
    const job = await waitForJob(id, (state) => state !== 'ready', 5_000);
    const leasedTo = job.state === 'leased' ? job.workerId : undefined;
    expect({ status: pulled.status, saysUnknown: pulled.text.includes('the outcome is unknown'), saysNothingDone: pulled.text.includes('nothing was done') }, `pull answer: ${pulled.text}`)
      .to.deep.equal({ status: 503, saysUnknown: true, saysNothingDone: false });
    // The promise is needed: the pull the leader took while paused leases the job once it resumes.
    expect([undefined, 'w-http'], `job ${JSON.stringify(job)}`).to.include(leasedTo);
  });

  it('without a token, or with one the cluster does not list, a malformed HTTP body or gRPC request is 401 / UNAUTHENTICATED, not 400 / INVALID_ARGUMENT', async () => {
    const statuses = [];
    for (const token of [undefined, 'not-listed-token-01']) {
      for (const [path, body] of [['/v1/queues/acl2/jobs', { priorty: 1, payload: 1 }], ['/v1/pull', { queue: 'acl2', workerId: 'w', jobsMax: 0 }], ['/v1/ack', { jobId: 1 }]] as const) {
        const response = await http(follower, path, token, body);
        statuses.push(`${token ?? 'none'} ${path} ${response.status}`);
      }
      statuses.push(`${token ?? 'none'} /v1/jobs/0 ${(await http(follower, '/v1/jobs/0', token)).status}`);
      const client = new FalconQueueClient(`127.0.0.1:${nodes.node(follower).grpcPort ?? 0}`, token);
      try {
        const outcome = await client.call('GetJob', {});
        statuses.push(`${token ?? 'none'} GetJob ${outcome.ok ? 0 : outcome.code}`);
      } finally {
        client.close();
      }
    }
    const expected = ['none', 'not-listed-token-01'].flatMap((token) => [
      `${token} /v1/queues/acl2/jobs 401`, `${token} /v1/pull 401`, `${token} /v1/ack 401`, `${token} /v1/jobs/0 401`, `${token} GetJob ${grpcUnauthenticated}`,
    ]);
    expect(statuses).to.deep.equal(expected);
    // A listed token still has its body judged: 400 naming the field.
    const judged = await http(follower, '/v1/queues/acl2/jobs', tokens.produce, { priorty: 1, payload: 1 });
    expect(judged.status).to.equal(400);
  });

  it('HELD: without a token a job\'s existence does not leak (HTTP 401 and gRPC UNAUTHENTICATED for a real and an unknown id)', async () => {
    const enqueued = await http(leader, '/v1/queues/acl2/jobs', tokens.produce, { payload: 'secret' });
    const { id } = await enqueued.json() as { id: number };
    const answers: string[] = [];
    for (const jobId of [id, id + 1_000_000]) {
      for (const token of [undefined, 'not-listed-token-00']) {
        answers.push(`http ${(await http(follower, `/v1/jobs/${jobId}`, token)).status}`);
        const client = new FalconQueueClient(`127.0.0.1:${nodes.node(follower).grpcPort ?? 0}`, token);
        try {
          const outcome = await client.call('GetJob', { job_id: jobId });
          answers.push(`grpc ${outcome.ok ? 0 : outcome.code}`);
        } finally {
          client.close();
        }
      }
    }
    expect(new Set(answers)).to.deep.equal(new Set(['http 401', `grpc ${grpcUnauthenticated}`]));
  });

  it('HELD: a hello refused for any reason (version, producerId, client name, missing protocol) takes an admin role away', async () => {
    const badHellos: Record<string, Record<string, unknown>> = {
      'protocol 2': { protocol: 2 },
      'empty producerId': { protocol: 1, producerId: '' },
      'client of 200 bytes': { protocol: 1, client: 'c'.repeat(200) },
      'no protocol': {},
      'producerId a number': { protocol: 1, producerId: 7 },
    };
    const outcomes: Record<string, string[]> = {};
    for (const [label, fields] of Object.entries(badHellos)) {
      const replies = await pipelined(nodes.node(follower).clientPort, [
        { id: 1, type: 'hello', protocol: 1, token: tokens.admin },
        { id: 2, type: 'hello', token: tokens.admin, ...fields },
        { id: 3, type: 'stats' },
      ]);
      outcomes[label] = [replies.get(2)?.error === undefined ? 'OK' : 'refused', replies.get(3)?.error?.code ?? 'OK'];
    }
    expect(Object.values(outcomes).every(([hello, stats]) => hello === 'refused' && stats === 'UNAUTHENTICATED'), JSON.stringify(outcomes)).to.equal(true);
  });

  async function waitForJob(id: number, done: (state: string) => boolean, timeoutMs: number): Promise<{ state: string; workerId?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await http(leader, `/v1/jobs/${id}`, tokens.admin);
      const job = await response.json() as { state: string; workerId?: string };
      if (done(job.state) || Date.now() > deadline) return job;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});

