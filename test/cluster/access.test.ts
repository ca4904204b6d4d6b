/**
 * Access on real nodes, over the client protocol.
 *
 * A node whose cluster lists tokens (produce, consume, admin) and runs a local handler: each role
 * is allowed and refused on a representative request of each kind; no token and a wrong token are
 * UNAUTHENTICATED; the connection stays usable after every refusal and a later hello with a good
 * token is accepted; the local handler, which pulls through the client port with the consume
 * token, completes its jobs; no token appears in the node's output.
 *
 * A node of an open cluster whose host is `localhost` and whose ports listen on 127.0.0.2: it
 * answers there and not on 127.0.0.1 (the listen address is honoured, not the host), and it says
 * it is open in exactly one warning line.
 *
 * Runs on: the mocha process (each node in its own process).
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtocolConnection, ProtocolError } from '../../src/client/protocol-connection.js';
import { tokenNeededMessage } from '../../src/dispatch/access-control.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import {
  createTestCluster, falconNodeEntry, removeTestCluster, startProcess, waitForHttp, type TestCluster,
} from '../support/test-cluster.js';

const tokens = { produce: 'produce-token-7f3a9c21e4', consume: 'consume-token-0b8d6e52f1', admin: 'admin-token-5c1e9a7d30b' };
const handlerModule = 'export default async (job) => ({ seen: job.payload.n });\n';

async function refusal(connection: ProtocolConnection, body: Record<string, unknown> & { type: string }): Promise<ProtocolError> {
  try {
    await connection.request(body);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error(`${body.type} was not refused`);
}

async function expectCode(connection: ProtocolConnection, body: Record<string, unknown> & { type: string }, code: string): Promise<string> {
  const error = await refusal(connection, body);
  expect(error.code, `${body.type}: ${error.message}`).to.equal(code);
  return error.message;
}

describe('access: bearer tokens and roles on a real node', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    const auth = ['auth:', '  tokens:', ...Object.entries(tokens).map(([role, token]) => `    - { token: ${token}, role: ${role}, name: ${role}-client }`)];
    const handlers = ['handlers:', '  local: { module: ./local-handler.mjs, concurrency: 2 }'];
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: `${[...auth, ...handlers].join('\n')}\n` });
    await writeFile(join(cluster.dir, 'local-handler.mjs'), handlerModule);
  });

  after(async () => {
    await removeTestCluster(cluster);
  });

  it('enforces the role table, keeps connections usable after refusals, and runs local handlers with the consume token', async () => {
    const nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    const connection = await ProtocolConnection.open({ host: '127.0.0.1', port: cluster.nodes[0]?.clientPort ?? 0 });
    const job = (n: number) => ({ payload: Buffer.from(JSON.stringify({ n })), contentType: 'application/json' });
    const hello = (token?: string) => connection.request({ type: 'hello', protocol: 1, ...(token === undefined ? {} : { token }) });

    // No hello, a hello without a token, a wrong token: UNAUTHENTICATED; the connection stays open.
    expect(await expectCode(connection, { type: 'enqueue', queue: 'plain', jobs: [job(1)] }, 'UNAUTHENTICATED')).to.equal(`enqueue: ${tokenNeededMessage}`);
    expect(await hello()).to.include({ node: 'n1', leader: 'n1' });
    await expectCode(connection, { type: 'stats' }, 'UNAUTHENTICATED');
    expect(await expectCode(connection, { type: 'hello', protocol: 1, token: `${tokens.admin}x` }, 'UNAUTHENTICATED')).to.contain('not one the cluster lists');
    await expectCode(connection, { type: 'get', jobId: 1 }, 'UNAUTHENTICATED');

    // produce: enqueue and read; not pull, not purge.
    await hello(tokens.produce);
    const enqueued = await connection.request({ type: 'enqueue', queue: 'plain', jobs: [job(1), job(2)] });
    const [first, second] = (enqueued['jobs'] as Array<{ id: number }>).map((entry) => entry.id);
    expect((await connection.request({ type: 'get', jobId: first }))['job']).to.include({ state: 'ready' });
    await connection.request({ type: 'stats', queue: 'plain' });
    expect(await expectCode(connection, { type: 'pull', queue: 'plain', jobsMax: 1 }, 'PERMISSION_DENIED'))
      .to.equal("pull: role 'produce' (token produce-client) may not make this request; it needs role 'consume' or 'admin'");
    await expectCode(connection, { type: 'purge', queue: 'plain', set: 'ready' }, 'PERMISSION_DENIED');

    // consume: worker requests and reads; not enqueue, not cancel.
    await hello(tokens.consume);
    await connection.request({ type: 'register', workerId: 'w1', queues: ['plain'], capacity: 1 });
    await connection.request({ type: 'heartbeat', workerId: 'w1' });
    const pulled = (await connection.request({ type: 'pull', queue: 'plain', jobsMax: 1, workerId: 'w1' }))['jobs'] as Array<{ id: number; token: number }>;
    expect(pulled.map((entry) => entry.id)).to.deep.equal([first]);
    await connection.request({ type: 'extend', jobId: first, token: pulled[0]?.token });
    expect(await connection.request({ type: 'ack', jobId: first, token: pulled[0]?.token })).to.include({ repeated: false });
    await connection.request({ type: 'list', queue: 'plain', state: 'completed' });
    await expectCode(connection, { type: 'enqueue', queue: 'plain', jobs: [job(3)] }, 'PERMISSION_DENIED');
    expect(await expectCode(connection, { type: 'cancel', jobId: second }, 'PERMISSION_DENIED')).to.contain("role 'consume'");

    // admin: everything, including the operator's requests.
    await hello(tokens.admin);
    await connection.request({ type: 'pause', queue: 'plain' });
    await connection.request({ type: 'resume', queue: 'plain' });
    await connection.request({ type: 'cancel', jobId: second });
    await connection.request({ type: 'enqueue', queue: 'plain', jobs: [job(4)] });
    expect(await connection.request({ type: 'purge', queue: 'plain', set: 'ready' })).to.include({ jobs: 1 });
    await connection.request({ type: 'redrive', queue: 'plain' });

    // A wrong token takes the admin role away again.
    await expectCode(connection, { type: 'hello', protocol: 1, token: 'wrong-token-wrong-token' }, 'UNAUTHENTICATED');
    await expectCode(connection, { type: 'stats' }, 'UNAUTHENTICATED');

    // The local handler pulls through the client port with the consume token.
    await hello(tokens.produce);
    const jobCount = 10;
    await connection.request({ type: 'enqueue', queue: 'local', jobs: Array.from({ length: jobCount }, (_, n) => job(n)) });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [stats] = (await connection.request({ type: 'stats', queue: 'local' }))['queues'] as Array<{ completed: number }>;
      if (stats?.completed === jobCount) break;
      if (Date.now() > deadline) throw new Error(`local jobs not completed within 20 s: ${JSON.stringify(stats)}\n${nodes.logsTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    connection.close('test done');

    const output = nodes.process('n1').output();
    for (const token of Object.values(tokens)) expect(output, 'a token in the node output').to.not.contain(token);
    expect(output).to.not.contain('this cluster is open');
  });
});

describe('access: listen addresses and the open-cluster warning on a real node', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn' });
    const text = await readFile(cluster.configPath, 'utf8');
    const relocated = text.replace('    host: 127.0.0.1\n', '    host: localhost\n    listen: { peer: 127.0.0.2, client: 127.0.0.2, ops: 127.0.0.2 }\n');
    expect(relocated).to.not.equal(text);
    await writeFile(cluster.configPath, relocated);
  });

  after(async () => {
    await removeTestCluster(cluster);
  });

  it('binds 127.0.0.2 rather than its host, and warns once that it is open', async () => {
    const { clientPort, opsPort } = cluster.nodes[0] ?? { clientPort: 0, opsPort: 0 };
    const node = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json']);
    await waitForHttp(`http://127.0.0.2:${opsPort}/status`, (status, body) => status === 200 && body.includes('"role":"leader"'), 15_000, () => node.output());

    const listening = await ProtocolConnection.open({ host: '127.0.0.2', port: clientPort });
    expect(await listening.request({ type: 'hello', protocol: 1 })).to.include({ node: 'n1' });
    await listening.request({ type: 'stats' });
    listening.close('test done');
    let refused: unknown;
    try {
      await ProtocolConnection.open({ host: '127.0.0.1', port: clientPort, connectTimeoutMs: 2_000 });
    } catch (error) {
      refused = error;
    }
    expect(refused, 'a client connection on 127.0.0.1').to.be.instanceOf(ProtocolError);
    const opsOnHost = await fetch(`http://127.0.0.1:${opsPort}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(() => 'answered', () => 'refused');
    expect(opsOnHost, 'the ops port on 127.0.0.1').to.equal('refused');

    const warnings = node.output().split('\n').filter((line) => line.includes('this cluster is open'));
    expect(warnings, node.output()).to.have.length(1);
    expect(warnings[0]).to.contain('"level":40');
  });
});
