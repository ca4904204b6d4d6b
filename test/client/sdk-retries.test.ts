/**
 * The SDK's retries against scripted nodes (loopback TCP servers speaking the framing of
 * docs/protocol.md): an enqueue whose connection drops before the reply is sent again with the
 * SAME sequence and the SAME jobs, after a hello that resumes the same producer session with the
 * same token; a NOT_LEADER reply is followed to the address it names; and a cluster that never
 * answers ends the call with DeadlineExceededError.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { DeadlineExceededError, FalconClient, ProtocolError } from '../../src/client/index.js';
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { startScriptedNode, type Request, type ScriptedNode } from '../support/scripted-node.js';
import { waitUntil } from '../support/wait-until.js';

function enqueueAnswer(request: Request): Record<string, unknown> {
  const jobs = request['jobs'] as unknown[];
  return { jobs: jobs.map((_, position) => ({ id: 1000 + position, state: 'ready', duplicate: false })) };
}

describe('SDK retries against scripted nodes', () => {
  const nodes: ScriptedNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.close()));
  });

  it('resends an enqueue whose reply was lost with the same sequence and jobs, in the same producer session', async () => {
    let enqueues = 0;
    const node = await startScriptedNode((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'n1', leader: 'n1', producerId: 'p-1' };
      if (request.type !== 'enqueue') return { };
      enqueues += 1;
      return enqueues === 1 ? 'drop' : enqueueAnswer(request);
    });
    nodes.push(node);
    const client = new FalconClient({ nodes: [`127.0.0.1:${node.port}`], token: 'secret', deadlineMs: 5_000 });
    const answers = await Promise.all([client.enqueue('q', { n: 1 }, { idempotencyKey: 'k-1' }), client.enqueue('q', { n: 2 })]);
    expect(answers.map((answer) => answer.id)).to.deep.equal([1000, 1001]);
    const hellos = node.requests.filter((request) => request.type === 'hello');
    expect(hellos.map((hello) => [hello['producerId'], hello['token']])).to.deep.equal([[undefined, 'secret'], ['p-1', 'secret']]);
    const sent = node.requests.filter((request) => request.type === 'enqueue');
    expect(sent).to.have.length(2);
    const [first, retry] = sent.map(({ queue, sequence, jobs }) => ({ queue, sequence, jobs }));
    expect(retry).to.deep.equal(first);
    expect(first?.sequence).to.equal(0);
    const keys = (first?.jobs as Array<{ idempotencyKey?: string }>).map((job) => job.idempotencyKey);
    expect(keys, 'only the caller\'s key goes to the node').to.deep.equal(['k-1', undefined]);
    await client.close();
  });

  it('marks a resend retry only when an earlier attempt may have been applied: not after an UNAVAILABLE the node says had no effect', async () => {
    let enqueues = 0;
    const node = await startScriptedNode((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'n1', leader: 'n1', producerId: 'p-3' };
      enqueues += 1;
      if (enqueues === 1) return { error: { code: 'UNAVAILABLE', message: 'replaced by a new leader\'s entry: it had no effect', detail: { outcome: 'noEffect' } } };
      if (enqueues === 2) return 'drop';
      return enqueueAnswer(request);
    });
    nodes.push(node);
    const client = new FalconClient({ nodes: [`127.0.0.1:${node.port}`], deadlineMs: 5_000 });
    expect((await client.enqueue('q', { n: 1 })).id).to.equal(1000);
    const sent = node.requests.filter((request) => request.type === 'enqueue').map((request) => request['retry']);
    expect(sent, 'first attempt, after "no effect", after a lost connection').to.deep.equal([undefined, undefined, true]);
    await client.close();
  });

  it('wakes a call sleeping out its backoff as soon as another call is answered (after an election, not at its timer)', async () => {
    // Until `elected`, every request is refused NOT_LEADER with no leader known (an election).
    let elected = false;
    const refusedAt: number[] = [];
    const node = await startScriptedNode((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'n1', leader: null, producerId: 'p-1' };
      if (!elected) {
        refusedAt.push(Date.now());
        return { error: { code: 'NOT_LEADER', message: 'no leader known: an election is under way' } };
      }
      return { queues: [] };
    });
    nodes.push(node);
    // Jitter pinned at its top: the backoff after the 7th refusal is exactly backoffMsMax (500 ms).
    const connection = new ClusterConnection({ nodes: [{ host: '127.0.0.1', port: node.port }], deadlineMs: 10_000, random: () => 1 });
    const early = connection.call({ type: 'stats' }, { idempotent: true });
    await waitUntil(() => refusedAt.length >= 8, 'the early call refused 8 times', 10_000);
    const sleptFrom = refusedAt[refusedAt.length - 1] as number;
    elected = true;
    const stats = node.requests.filter((request) => request.type === 'stats').length;
    await connection.call({ type: 'stats' }, { idempotent: true });
    await early;
    const retriedAt = Date.now();
    expect(node.requests.filter((request) => request.type === 'stats').length, 'one more attempt each').to.equal(stats + 2);
    expect(retriedAt - sleptFrom, 'the early call went again when the late one was answered, not after its 500 ms backoff').to.be.below(450);
    connection.close();
  });

  it('follows NOT_LEADER to the address it names', async () => {
    const leader = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n2', leader: 'n2', producerId: 'p-2' } : { queues: [] }));
    const follower = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n1', leader: 'n2', producerId: 'p-2' }
      : { error: { code: 'NOT_LEADER', message: 'n2 leads', leader: { id: 'n2', host: '127.0.0.1', clientPort: leader.port } } }));
    nodes.push(leader, follower);
    const client = new FalconClient({ nodes: [`127.0.0.1:${follower.port}`], deadlineMs: 5_000 });
    expect(await client.stats()).to.deep.equal([]);
    expect(follower.requests.map((request) => request.type)).to.deep.equal(['hello', 'stats']);
    expect(leader.requests.map((request) => request.type)).to.deep.equal(['hello', 'stats']);
    await client.close();
  });

  it('after a NOT_LEADER naming no leader, tries the next node, not again the one that refused (reached by a redirect)', async () => {
    const stopping = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n2', leader: 'n2', producerId: 'p-2' }
      : { error: { code: 'NOT_LEADER', message: 'node n2 is stopping and takes no new requests' } }));
    const elected = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n3', leader: 'n3', producerId: 'p-2' } : { queues: [] }));
    const first = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n1', leader: 'n2', producerId: 'p-2' }
      : { error: { code: 'NOT_LEADER', message: 'n2 leads', leader: { id: 'n2', host: '127.0.0.1', clientPort: stopping.port } } }));
    nodes.push(stopping, elected, first);
    const client = new FalconClient({ nodes: [first, stopping, elected].map((node) => `127.0.0.1:${node.port}`), deadlineMs: 5_000 });
    expect(await client.stats()).to.deep.equal([]);
    expect(stopping.requests.map((request) => request.type), 'asked once').to.deep.equal(['hello', 'stats']);
    expect(elected.requests.map((request) => request.type)).to.deep.equal(['hello', 'stats']);
    await client.close();
  });

  it('leaves a node that takes a request and stays silent for the next one after attemptTimeoutMs, and does not follow a redirect back to it at once', async () => {
    const silent = await startScriptedNode((request) => (request.type === 'hello' ? { protocol: 1, node: 'n1', leader: 'n1', producerId: 'p-4' } : undefined));
    const other = await startScriptedNode((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'n2', leader: 'n1', producerId: 'p-4' };
      // The first answer still names the silent node as leader (its followers have not elected yet).
      const stats = other.requests.filter((seen) => seen.type === 'stats').length;
      if (stats === 1) return { error: { code: 'NOT_LEADER', message: 'n1 leads', leader: { id: 'n1', host: '127.0.0.1', clientPort: silent.port } } };
      return { queues: [] };
    });
    nodes.push(silent, other);
    const client = new FalconClient({ nodes: [`127.0.0.1:${silent.port}`, `127.0.0.1:${other.port}`], deadlineMs: 5_000, attemptTimeoutMs: 200 });
    const startedAt = Date.now();
    expect(await client.stats()).to.deep.equal([]);
    expect(Date.now() - startedAt).to.be.below(1_500);
    expect(silent.requests.map((request) => request.type)).to.deep.equal(['hello', 'stats']);
    expect(other.requests.filter((request) => request.type === 'stats')).to.have.length(2);
    await client.close();
  });

  it('ends a call the cluster never answers with DeadlineExceededError', async () => {
    const node = await startScriptedNode((request) => (request.type === 'hello'
      ? { protocol: 1, node: 'n1', leader: null, producerId: 'p-3' }
      : { error: { code: 'NOT_LEADER', message: 'an election is under way' } }));
    nodes.push(node);
    const client = new FalconClient({ nodes: [`127.0.0.1:${node.port}`], deadlineMs: 300 });
    const error = await client.get(1).then(() => undefined, (thrown: unknown) => thrown);
    expect(error).to.be.instanceOf(DeadlineExceededError);
    expect((error as ProtocolError).cause).to.be.instanceOf(ProtocolError);
    expect(((error as ProtocolError).cause as ProtocolError).code).to.equal('NOT_LEADER');
    await client.close();
  });
});
