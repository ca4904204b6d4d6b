/**
 * Access on the HTTP API of a real node whose cluster lists bearer tokens (produce, consume,
 * admin), one node shared by the cases: each role is allowed and refused on representative routes
 * (403 for a verb beyond its role, per docs/protocol.md §3), no token, an unlisted token and a
 * header that is not `Bearer <token>` are 401 on every route, the probes (/healthz, /readyz,
 * /metrics) and /v1/openapi.json stay open, and a refusal changes nothing in the queue.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

const tokens = { produce: 'http-produce-token-4e1c9b', consume: 'http-consume-token-8a2f07', admin: 'http-admin-token-3d6e51' } as const;
type Role = keyof typeof tokens;

interface Answer { readonly status: number; readonly headers: Headers; readonly body: Record<string, unknown> }

describe('HTTP API access: bearer tokens and roles on a real node', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ops = '';

  /** `as`: a role's token, `none`, an unlisted token (`wrong`), or a raw Authorization header. */
  async function ask(as: Role | 'none' | 'wrong' | { readonly header: string }, method: string, path: string, body?: unknown): Promise<Answer> {
    const authorization = as === 'none' ? undefined
      : as === 'wrong' ? `Bearer ${tokens.admin}-not-listed`
        : typeof as === 'object' ? as.header : `Bearer ${tokens[as]}`;
    const response = await fetch(`${ops}${path}`, {
      method, headers: authorization === undefined ? {} : { authorization },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text.startsWith('{') ? JSON.parse(text) as Record<string, unknown> : {} };
  }

  const codeOf = (answer: Answer): unknown => (answer.body['error'] as { code?: unknown } | undefined)?.code;

  before(async () => {
    const auth = ['auth:', '  tokens:', ...Object.entries(tokens).map(([role, token]) => `    - { token: ${token}, role: ${role}, name: ${role}-http }`)];
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: `${auth.join('\n')}\n` });
    const nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    ops = nodes.opsUrl('n1');
  });

  after(async () => {
    await removeTestCluster(cluster);
  });

  it('produce: enqueues (one job and a batch) and reads; pull, register, heartbeat, extend and ack are 403', async () => {
    const one = await ask('produce', 'POST', '/v1/queues/acc-p/jobs', { payload: { n: 1 } });
    expect(one.status).to.equal(201);
    expect((await ask('produce', 'POST', '/v1/queues/acc-p/jobs', { jobs: [{ payload: 2 }, { payload: 3 }] })).status).to.equal(201);
    expect((await ask('produce', 'GET', `/v1/jobs/${String(one.body['id'])}`)).body).to.include({ state: 'ready' });
    expect((await ask('produce', 'GET', '/v1/queues/acc-p')).body).to.include({ ready: 3 });
    expect((await ask('produce', 'GET', '/v1/queues/acc-p/jobs')).status).to.equal(200);
    expect((await ask('produce', 'GET', '/v1/queues')).status).to.equal(200);
    for (const [path, body] of [
      ['/v1/pull', { queue: 'acc-p' }], ['/v1/register', { workerId: 'w-p', capacity: 1, queues: ['acc-p'] }], ['/v1/heartbeat', { workerId: 'w-p' }],
      ['/v1/extend', { jobId: one.body['id'], token: 1 }], ['/v1/ack', { jobId: one.body['id'], token: 1 }], ['/v1/ack', { jobId: one.body['id'], token: 1, status: 'failed' }],
    ] as const) {
      const refused = await ask('produce', 'POST', path, body);
      expect([refused.status, codeOf(refused)], `${path} ${JSON.stringify(body)}`).to.deep.equal([403, 'PERMISSION_DENIED']);
    }
    expect((await ask('produce', 'GET', '/v1/queues/acc-p')).body, 'the refused pull leased nothing').to.include({ ready: 3, leased: 0 });
  });

  it('consume: registers, beats, pulls, extends, acks and reads; an enqueue (one job or a batch) is 403 and adds nothing', async () => {
    await ask('admin', 'POST', '/v1/queues/acc-c/jobs', { jobs: [{ payload: 1 }, { payload: 2 }] });
    expect((await ask('consume', 'POST', '/v1/register', { workerId: 'w-c', capacity: 2, queues: ['acc-c'] })).status).to.equal(200);
    expect((await ask('consume', 'POST', '/v1/heartbeat', { workerId: 'w-c', load: 0 })).status).to.equal(200);
    const [first, second] = (await ask('consume', 'POST', '/v1/pull', { workerId: 'w-c', queue: 'acc-c', jobsMax: 2 })).body['jobs'] as Array<{ id: number; token: number }>;
    expect((await ask('consume', 'POST', '/v1/extend', { jobId: first?.id, token: first?.token })).status).to.equal(200);
    expect((await ask('consume', 'POST', '/v1/ack', { jobId: first?.id, token: first?.token, result: { ok: 1 } })).body).to.include({ state: 'completed' });
    expect((await ask('consume', 'POST', '/v1/ack', { jobId: second?.id, token: second?.token, status: 'failed', retryable: false })).body).to.include({ state: 'dead' });
    expect((await ask('consume', 'GET', `/v1/jobs/${String(first?.id)}`)).body).to.deep.include({ state: 'completed', result: { ok: 1 } });
    for (const body of [{ payload: 3 }, { jobs: [{ payload: 3 }] }]) {
      const refused = await ask('consume', 'POST', '/v1/queues/acc-c/jobs', body);
      expect([refused.status, codeOf(refused)], JSON.stringify(body)).to.deep.equal([403, 'PERMISSION_DENIED']);
    }
    expect((await ask('consume', 'GET', '/v1/queues/acc-c')).body).to.include({ enqueuedTotal: 2 });
  });

  it('admin: enqueues, pulls and acks', async () => {
    expect((await ask('admin', 'POST', '/v1/queues/acc-a/jobs', { payload: 'x' })).status).to.equal(201);
    const [job] = (await ask('admin', 'POST', '/v1/pull', { queue: 'acc-a' })).body['jobs'] as Array<{ id: number; token: number }>;
    expect((await ask('admin', 'POST', '/v1/ack', { jobId: job?.id, token: job?.token })).body).to.include({ state: 'completed' });
  });

  it('no token, an unlisted token, or another Authorization scheme is 401 with WWW-Authenticate on every kind of route, and changes nothing', async () => {
    const routes: Array<[string, string, unknown]> = [
      ['POST', '/v1/queues/acc-u/jobs', { payload: 1 }], ['POST', '/v1/queues/acc-u/jobs', { jobs: [{ payload: 1 }] }],
      ['GET', '/v1/jobs/1', undefined], ['GET', '/v1/queues/acc-p', undefined], ['GET', '/v1/queues', undefined],
      ['POST', '/v1/pull', { queue: 'acc-p' }], ['POST', '/v1/register', { workerId: 'w-u', capacity: 1, queues: ['acc-p'] }],
      ['POST', '/v1/ack', { jobId: 1, token: 1 }],
    ];
    for (const who of ['none', 'wrong', { header: 'Basic dXNlcjpwYXNz' }] as const) {
      for (const [method, path, body] of routes) {
        const refused = await ask(who, method, path, body);
        const what = `${JSON.stringify(who)} ${method} ${path}`;
        expect([refused.status, codeOf(refused)], what).to.deep.equal([401, 'UNAUTHENTICATED']);
        expect(refused.headers.get('www-authenticate'), what).to.equal('Bearer');
      }
    }
    expect((await ask('admin', 'GET', '/v1/queues/acc-u')).status, 'no refused enqueue made the queue').to.equal(404);
    expect((await ask('admin', 'GET', '/v1/queues/acc-p')).body).to.include({ ready: 3, leased: 0 });
  });

  it('keeps /healthz, /readyz, /metrics and /v1/openapi.json open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/v1/openapi.json']) {
      expect((await ask('none', 'GET', path)).status, path).to.equal(200);
    }
  });
});
