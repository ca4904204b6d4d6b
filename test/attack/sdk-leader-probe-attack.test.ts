/**
 * Attacks on the SDK's leader probe (cluster-connection.ts, leader-probe.ts) with scripted nodes:
 * - a stale leader (cut off from its peers, before check-quorum steps it down) keeps saying it
 *   leads while the new leader is slow to answer its first requests: the client must not move
 *   back to the node it just found silent, and back again (a ping-pong that resends every call);
 * - the silent node itself, reached under another spelling of its address (a redirect named it by
 *   the address the cluster file gives, the client was given another), must not be "found" by
 *   the probe and the connection to it dropped and opened again;
 * - a non-idempotent call (purge) moved by a probe rejects with UnavailableError, `sent: true`, and
 *   is never resent;
 * - a probe that ends after close() opens no connection;
 * - a full window of sequenced enqueues on a leader that applied some and answers none, moved by
 *   a probe, adds every job once;
 * - a hello to a paused node (its kernel accepts the connection) probes like a request;
 * - calls that all waited for one failed connection move the target one node on, not one node
 *   per call (with two nodes and an even number of calls, back to the failed one, every time).
 *
 * Each test sets an attempt bound far longer than its call's deadline, so what moves a call is the
 * probe, not the bound.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ClientClosedError, DeadlineExceededError, FalconClient, UnavailableError } from '../../src/client/index.js';
import { scriptedNodesPerTest, type OnRequest, type Request, type ScriptedNode } from '../support/scripted-node.js';
import { waitUntil } from '../support/wait-until.js';
import { outcomeOf, scriptedNode, SharedLog } from './scripted-cluster.js';

describe('attack: the SDK leader probe', () => {
  const node = scriptedNodesPerTest();

  function hello(id: string, leader: string | null): Record<string, unknown> {
    return { protocol: 1, node: id, leader, producerId: `p-${id}` };
  }

  /** Says hello as `id` naming `leader`; every other request is left unanswered (silent). */
  function silent(id: string, leader: string): OnRequest {
    return (request) => (request.type === 'hello' ? hello(id, leader) : undefined);
  }

  function sentOf(of: ScriptedNode, type: string): Request[] {
    return of.requests.filter((request) => request.type === type);
  }

  it('does not move back to the stale leader it left while the new leader is slow to answer', async () => {
    const stale = await node(silent('a', 'a'));
    const elected = await node((request, reply) => {
      if (request.type === 'hello') return hello('b', 'b');
      // A new leader answers its first requests once its term's first entry commits: 300 ms here.
      setTimeout(() => reply.answer({ queues: [] }), 300);
      return undefined;
    });
    const follower = await node(silent('c', 'b'));
    const connection = new ClusterConnection({
      nodes: [stale, elected, follower].map((each) => ({ host: '127.0.0.1', port: each.port })), attemptTimeoutMs: 120_000, leaderProbeMs: 100,
    });
    try {
      const reply = await connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 3_000 });
      expect(reply['queues']).to.deep.equal([]);
      expect(connection.probeMoves, 'one move: from the stale leader to the elected one').to.equal(1);
      expect(sentOf(stale, 'stats'), 'the stale leader got only the first attempt').to.have.length(1);
    } finally {
      connection.close();
    }
  });

  it('does not take the silent node, named under another address, for a new leader', async () => {
    // A leader cut off from its peers: it still says it leads, and answers no request.
    const cutOff = await node(silent('a', 'a'));
    // A follower that names it, under the address the cluster file gives (127.0.0.1).
    const follower = await node((request) => {
      if (request.type === 'hello') return hello('b', 'a');
      return { error: { code: 'NOT_LEADER', message: 'a leads', leader: { id: 'a', host: '127.0.0.1', clientPort: cutOff.port } } };
    });
    // The client was given the same nodes under another spelling.
    const connection = new ClusterConnection({
      nodes: [{ host: '127.1', port: follower.port }, { host: '127.1', port: cutOff.port }], attemptTimeoutMs: 120_000, leaderProbeMs: 50,
    });
    try {
      const error = await connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 1_000 }).then(() => undefined, (failure: unknown) => failure);
      expect(error).to.be.instanceOf(DeadlineExceededError);
      expect(connection.probes, 'the silent node was probed about').to.be.at.least(1);
      expect(connection.probeMoves, 'no move to the silent node itself').to.equal(0);
      expect(sentOf(cutOff, 'stats'), 'one attempt on the silent node, not one per probe').to.have.length(1);
    } finally {
      connection.close();
    }
  });

  it('rejects a purge moved by a probe with UnavailableError (sent) and never resends it', async () => {
    const paused = await node(silent('a', 'a'));
    const elected = await node((request) => (request.type === 'hello' ? hello('b', 'b') : { moved: 3 }));
    const client = new FalconClient({
      nodes: [`127.0.0.1:${paused.port}`, `127.0.0.1:${elected.port}`], deadlineMs: 5_000, attemptTimeoutMs: 120_000, leaderProbeMs: 50,
    });
    try {
      const error = await client.purge('q', 'dead').then(() => undefined, (failure: unknown) => failure);
      expect(error).to.be.instanceOf(UnavailableError);
      expect((error as UnavailableError).sent).to.equal(true);
      expect(sentOf(elected, 'purge'), 'the purge was not resent').to.deep.equal([]);
      expect(sentOf(paused, 'purge')).to.have.length(1);
    } finally {
      await client.close();
    }
  });

  it('opens no connection when the probe ends after close()', async () => {
    const paused = await node(silent('a', 'a'));
    let answerProbe: (() => void) | undefined;
    const elected = await node((request, reply) => {
      if (request.type !== 'hello') return { queues: [] };
      answerProbe = () => reply.answer(hello('b', 'b'));
      return undefined;
    });
    const connection = new ClusterConnection({
      nodes: [paused, elected].map((each) => ({ host: '127.0.0.1', port: each.port })), attemptTimeoutMs: 120_000, leaderProbeMs: 200,
    });
    const call = connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 5_000 }).then(() => undefined, (failure: unknown) => failure);
    await waitUntil(() => answerProbe !== undefined, 'the probe says hello to the other node', 5_000, 5);
    connection.close();
    answerProbe?.();
    expect(await call).to.be.instanceOf(ClientClosedError);
    await waitUntil(() => connection.probes === 1, 'the probe is over', 5_000, 5);
    expect(sentOf(elected, 'hello'), 'only the probe said hello to the other node').to.have.length(1);
    expect(sentOf(elected, 'stats')).to.deep.equal([]);
  });

  it('adds every job once when a probe moves a full window of sequences, some applied by the silent leader', async () => {
    const log = new SharedLog();
    // A answers the first sequence, then applies the odd ones (their replies lost with it) and holds the rest.
    const paused = await scriptedNode('a', (request, { producerId }) => {
      if (request.type !== 'enqueue') return undefined;
      const sequence = request['sequence'] as number;
      if (sequence === 0) return log.enqueue(request, producerId);
      if (sequence % 2 === 1) log.enqueue(request, producerId);
      return undefined;
    });
    const elected = await scriptedNode('b', (request, { producerId }) => (request.type === 'enqueue' ? log.enqueue(request, producerId) : undefined));
    const client = new FalconClient({ nodes: [paused.address, elected.address], deadlineMs: 8_000, attemptTimeoutMs: 120_000, leaderProbeMs: 50 });
    try {
      await client.enqueue('q', { marker: 'warm-up' });
      const markers = Array.from({ length: 40 }, (_, at) => `m-${at}`);
      const outcomes: Array<Promise<unknown>> = [];
      for (const marker of markers) {
        outcomes.push(outcomeOf(client.enqueue('q', { marker })));
        // One call per turn: each leaves under its own sequence while the window has room.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const settled = await Promise.all(outcomes);
      expect(settled.filter((outcome) => outcome instanceof Error), 'every call answered').to.deep.equal([]);
      const sequencesOnA = new Set(paused.requests.filter((request) => request.type === 'enqueue').map((request) => request['sequence']));
      expect(sequencesOnA.size, 'several sequences were waiting on the silent leader').to.be.at.least(4);
      const byMarker = log.jobsByMarker('q');
      for (const marker of ['warm-up', ...markers]) expect(byMarker.get(marker), marker).to.have.length(1);
      const sessionHellos = elected.requests.filter((request) => request.type === 'hello' && request['producerId'] !== undefined);
      expect(sessionHellos, 'one move to the elected node').to.have.length(1);
    } finally {
      await client.close();
      await Promise.all([paused.close(), elected.close()]);
    }
  });

  it('does not wait out the attempt bound on a hello to a paused node when another node says it leads', async () => {
    // A paused process: the kernel still accepts connections, nothing is answered, hello included.
    const paused = await node(() => undefined);
    const elected = await node((request) => (request.type === 'hello' ? hello('b', 'b') : { queues: [] }));
    const connection = new ClusterConnection({
      // The hello's own bound (the attempt bound) is far beyond the call's deadline: only the probe can answer it in time.
      nodes: [paused, elected].map((each) => ({ host: '127.0.0.1', port: each.port })), attemptTimeoutMs: 120_000, leaderProbeMs: 100,
    });
    try {
      const reply = await connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 10_000 });
      expect(reply['queues']).to.deep.equal([]);
      expect(sentOf(elected, 'stats')).to.have.length(1);
    } finally {
      connection.close();
    }
  });

  it('moves one node on, not one per waiting call, when the connection they all waited for fails', async () => {
    // A node that ends every connection at its hello (a crashing process).
    const crashing = await node((request) => (request.type === 'hello' ? 'drop' : undefined));
    const leader = await node((request) => (request.type === 'hello' ? hello('b', 'b') : { queues: [] }));
    const connection = new ClusterConnection({
      nodes: [crashing, leader].map((each) => ({ host: '127.0.0.1', port: each.port })), attemptTimeoutMs: 120_000, random: () => 0.5,
    });
    try {
      const calls = Array.from({ length: 4 }, () => connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 5_000 }));
      await Promise.all(calls);
      expect(sentOf(crashing, 'hello'), 'the crashing node was tried once').to.have.length(1);
    } finally {
      connection.close();
    }
  });
});
