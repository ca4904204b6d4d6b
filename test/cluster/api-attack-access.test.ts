/**
 * Attacks on access control over the client protocol, HTTP and gRPC, on three real nodes whose
 * cluster lists a produce, a consume and an admin token (one cluster for the file).
 *
 * Once broken, now promises:
 * - after a hello with a good token, a hello whose token is malformed (empty, over 256 bytes, not
 *   a string) is UNAUTHENTICATED and leaves the connection with no role (it was INVALID_ARGUMENT
 *   and the earlier admin role stayed); before a role, a malformed request is UNAUTHENTICATED too;
 * - over HTTP a bearer token over 256 bytes is 401, like any unlisted token (it was 400 with the
 *   node's "hello: token ..." message);
 * - over HTTP a request with two Authorization headers is refused 401 (it was judged by the first
 *   alone, so a proxy that appends its own header would be ignored);
 * - whitespace around a credential is ignored by both gateways; over gRPC it never arrives (HTTP/2
 *   drops such a field value), and the refusal says so instead of only asking for a token.
 *
 * Guards that held from the start: requests pipelined in the same write as a bad hello are refused; a
 * follower refuses UNAUTHENTICATED/PERMISSION_DENIED before NOT_LEADER; many concurrent HTTP and
 * gRPC calls with different tokens through one follower each get their own token's answer (no
 * call rides on another token's connection).
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { pipelined, type PipelinedReply } from '../support/pipelined-requests.js';
import { connect } from 'node:net';
import { tokenNeededMessage } from '../../src/grpc/grpc-gateway.js';
import { createGrpcTestCluster, type GrpcTestCluster } from '../grpc/grpc-cluster.js';
import { FalconQueueClient } from '../grpc/proto-client.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { removeTestCluster } from '../support/test-cluster.js';

const tokens = { produce: 'produce-token-7f3a9c21e4', consume: 'consume-token-0b8d6e52f1', admin: 'admin-token-5c1e9a7d30b' };
const grpcUnauthenticated = 16;
const grpcPermissionDenied = 7;

type Reply = PipelinedReply;

function codeOf(reply: Reply | undefined): string {
  return reply?.error?.code ?? 'OK';
}

describe('api attack: access control cannot be bypassed', function () {
  this.timeout(60_000);
  let cluster: GrpcTestCluster;
  let nodes: ClusterNodes;
  let leader: string;
  let follower: string;

  before(async () => {
    const auth = ['auth:', '  tokens:', ...Object.entries(tokens).map(([role, token]) => `    - { token: ${token}, role: ${role}, name: ${role}-client }`)];
    cluster = await createGrpcTestCluster(3, `${auth.join('\n')}\n`);
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    leader = (await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id))).node;
    follower = cluster.nodes.find((node) => node.id !== leader)?.id ?? '';
    const admin = await pipelined(nodes.node(leader).clientPort, [
      { id: 1, type: 'hello', protocol: 1, token: tokens.admin }, { id: 2, type: 'enqueue', queue: 'acl', jobs: [{ payload: Buffer.from('x') }] },
    ]);
    expect(codeOf(admin.get(2))).to.equal('OK');
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('a hello with a malformed token after a good one is UNAUTHENTICATED and takes the earlier admin role away', async () => {
    const port = nodes.node(leader).clientPort;
    const outcomes: Record<string, string[]> = {};
    for (const [label, token] of [['empty', ''], ['257 bytes', 'x'.repeat(257)], ['a number', 12_345]] as const) {
      const replies = await pipelined(port, [
        { id: 1, type: 'hello', protocol: 1, token: tokens.admin },
        { id: 2, type: 'hello', protocol: 1, token },
        { id: 3, type: 'pause', queue: 'acl' },
        { id: 4, type: 'resume', queue: 'acl' },
      ]);
      outcomes[label] = [codeOf(replies.get(2)), codeOf(replies.get(3))];
    }
    const expected = { empty: ['UNAUTHENTICATED', 'UNAUTHENTICATED'], '257 bytes': ['UNAUTHENTICATED', 'UNAUTHENTICATED'], 'a number': ['UNAUTHENTICATED', 'UNAUTHENTICATED'] };
    expect(outcomes, '[second hello, pause after it]').to.deep.equal(expected);
  });

  it('before a hello with a listed token, a malformed request is UNAUTHENTICATED: nothing about it is judged', async () => {
    const replies = await pipelined(nodes.node(follower).clientPort, [
      { id: 1, type: 'purge', queue: 'acl', set: 'everything' },
      { id: 2, type: 'no-such-request' },
      { id: 3, type: 'hello', protocol: 1, token: tokens.produce },
      { id: 4, type: 'purge', queue: 'acl', set: 'everything' },
      { id: 5, type: 'enqueue', queue: '', jobs: [] },
    ]);
    expect([1, 2, 3, 4, 5].map((id) => codeOf(replies.get(id)))).to.deep.equal(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'OK', 'PERMISSION_DENIED', 'INVALID_ARGUMENT']);
  });

  it('over HTTP and gRPC a bearer token over 256 bytes is refused as an unlisted one (401, UNAUTHENTICATED)', async () => {
    for (const length of [257, 1_024, 4_000]) {
      const response = await fetch(`${nodes.opsUrl(follower)}/v1/queues/acl`, { headers: { authorization: `Bearer ${'t'.repeat(length)}` } });
      const text = await response.text();
      expect([response.status, text.includes('hello:')], `${length} bytes: ${text}`).to.deep.equal([401, false]);
    }
    const client = new FalconQueueClient(cluster.grpcAddresses.get(follower) ?? '', 't'.repeat(257));
    try {
      const outcome = await client.call('GetJob', { jobId: 1 });
      expect(outcome.ok ? 0 : outcome.code).to.equal(grpcUnauthenticated);
    } finally {
      client.close();
    }
  });

  it('over HTTP a request with two Authorization headers is refused 401, whatever they hold', async () => {
    const statuses: number[] = [];
    for (const pair of [[tokens.produce, 'not-a-listed-token-000000'], [tokens.produce, tokens.consume], [tokens.produce, tokens.produce]]) {
      // fetch would join repeated headers with ', ': they are sent as separate lines.
      const raw = await rawHttp(nodes.node(follower).opsPort, [
        'POST /v1/queues/acl/jobs HTTP/1.1', 'Host: x', ...pair.map((token) => `Authorization: Bearer ${token}`),
        'Content-Type: application/json', 'Content-Length: 13', 'Connection: close', '', '{"payload":1}',
      ].join('\r\n'));
      statuses.push(Number(raw.split(' ')[1]));
    }
    expect(statuses, 'a request with two Authorization headers').to.deep.equal([401, 401, 401]);
  });

  it('whitespace around a credential: HTTP ignores it; gRPC, whose transport drops such a value, says so', async () => {
    const raw = await rawHttp(nodes.node(follower).opsPort, [
      'POST /v1/queues/acl/jobs HTTP/1.1', 'Host: x', `Authorization: \t Bearer ${tokens.produce} \t `,
      'Content-Type: application/json', 'Content-Length: 13', 'Connection: close', '', '{"payload":1}',
    ].join('\r\n'));
    expect(Number(raw.split(' ')[1]), raw).to.equal(201);
    const client = new FalconQueueClient(cluster.grpcAddresses.get(leader) ?? '', `${tokens.produce}  `);
    try {
      const outcome = await client.call('SubmitJob', { queue: 'acl', payload: Buffer.from('w') });
      expect(outcome.ok ? 0 : outcome.code).to.equal(grpcUnauthenticated);
      expect(outcome.ok ? '' : outcome.details).to.contain(tokenNeededMessage);
    } finally {
      client.close();
    }
  });

  it('requests in the same write as a bad hello, or after a good hello on a follower, get only what their token allows', async () => {
    const bad = await pipelined(nodes.node(leader).clientPort, [
      { id: 1, type: 'hello', protocol: 1, token: 'not-a-listed-token-000000' },
      { id: 2, type: 'enqueue', queue: 'acl', jobs: [{ payload: Buffer.from('y') }] },
      { id: 3, type: 'purge', queue: 'acl', set: 'ready' },
      { id: 4, type: 'get', jobId: 1 },
    ]);
    expect([1, 2, 3, 4].map((id) => codeOf(bad.get(id)))).to.deep.equal(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    const onFollower = await pipelined(nodes.node(follower).clientPort, [
      { id: 1, type: 'stats' },
      { id: 2, type: 'hello', protocol: 1, token: tokens.produce },
      { id: 3, type: 'stats' },
      { id: 4, type: 'pull', queue: 'acl', jobsMax: 1, workerId: 'w' },
      { id: 5, type: 'purge', queue: 'acl', set: 'ready' },
      { id: 6, type: 'hello', protocol: 1, token: 'not-a-listed-token-000000' },
      { id: 7, type: 'stats' },
    ]);
    expect([1, 3, 4, 5, 7].map((id) => codeOf(onFollower.get(id))))
      .to.deep.equal(['UNAUTHENTICATED', 'NOT_LEADER', 'PERMISSION_DENIED', 'PERMISSION_DENIED', 'UNAUTHENTICATED']);
  });

  it('concurrent HTTP and gRPC calls with different tokens through a follower each get their own answer', async () => {
    const cases = [
      { token: tokens.produce, http: 201, grpc: 0 },
      { token: tokens.consume, http: 403, grpc: grpcPermissionDenied },
      { token: 'not-a-listed-token-000000', http: 401, grpc: grpcUnauthenticated },
      { token: undefined, http: 401, grpc: grpcUnauthenticated },
    ];
    const url = `${nodes.opsUrl(follower)}/v1/queues/acl/jobs`;
    const grpcAddress = cluster.grpcAddresses.get(leader) ?? '';
    const clients = cases.map((entry) => new FalconQueueClient(grpcAddress, entry.token));
    try {
      const calls = Array.from({ length: 120 }, async (_, n) => {
        const entry = cases[n % cases.length] as (typeof cases)[number];
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (entry.token !== undefined) headers['authorization'] = `${n % 3 === 0 ? 'bearer' : 'Bearer'}  ${entry.token}`;
        const [response, grpc] = await Promise.all([
          fetch(url, { method: 'POST', headers, body: JSON.stringify({ payload: { n } }) }),
          (clients[n % cases.length] as FalconQueueClient).call('SubmitJob', { queue: 'acl', payload: Buffer.from(`g${n}`) }),
        ]);
        return { n, http: response.status, grpc: grpc.ok ? 0 : grpc.code };
      });
      const wrong = (await Promise.all(calls)).filter(({ n, http, grpc }) => {
        const entry = cases[n % cases.length] as (typeof cases)[number];
        return http !== entry.http || grpc !== entry.grpc;
      });
      expect(wrong, 'calls answered as another token would be').to.deep.equal([]);
    } finally {
      for (const client of clients) client.close();
    }
  });
});

/** Sends `text` on a fresh connection and resolves with everything the server sent back. */
async function rawHttp(port: number, text: string): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  let received = '';
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8'); });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(text);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return received;
}
