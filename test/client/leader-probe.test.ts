/**
 * The leader probe against scripted nodes: a node that stays silent with a request waiting on it
 * (a paused leader) makes the client ask the other nodes who leads, and move the call at once to a
 * node that says it leads, without waiting out its attempt bound; a follower that only names the
 * silent node moves nothing; a long poll is not probed while its wait runs; the probe's hello
 * carries the client's token and no producer id (it opens no session).
 *
 * Each test sets an attempt bound far longer than its call's deadline, so a call that is answered
 * was answered because the probe moved it, not because the bound ran out.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ClientClosedError, DeadlineExceededError, FalconClient } from '../../src/client/index.js';
import { waitUntil } from '../support/wait-until.js';
import { scriptedNodesPerTest, type OnRequest, type Request, type ScriptedNode } from '../support/scripted-node.js';

describe('SDK leader probe against scripted nodes', () => {
  const node = scriptedNodesPerTest();

  /** Says hello as `id` naming `leader`; every other request is left unanswered (silent). */
  function silent(id: string, leader: string): OnRequest {
    return (request) => (request.type === 'hello' ? { protocol: 1, node: id, leader, producerId: `p-${id}` } : undefined);
  }

  function hellos(of: ScriptedNode): Request[] {
    return of.requests.filter((request) => request.type === 'hello');
  }

  it('moves a call waiting on a silent leader at once to the node that says it leads, resending it as in doubt', async () => {
    const paused = await node(silent('a', 'a'));
    const elected = await node((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'b', leader: 'b', producerId: 'p-b' };
      if (request.type === 'enqueue') return { jobs: (request['jobs'] as unknown[]).map((_, at) => ({ id: 500 + at, state: 'ready', duplicate: false })) };
      return undefined;
    });
    const client = new FalconClient({
      nodes: [`127.0.0.1:${paused.port}`, `127.0.0.1:${elected.port}`], token: 't-1', deadlineMs: 10_000, attemptTimeoutMs: 120_000, leaderProbeMs: 100,
    });
    try {
      const answer = await client.enqueue('q', { n: 1 });
      expect(answer.id).to.equal(500);
      const onPaused = paused.requests.filter((request) => request.type === 'enqueue');
      const onElected = elected.requests.filter((request) => request.type === 'enqueue');
      expect(onPaused, 'the first attempt went to the first node').to.have.length(1);
      expect(onElected, 'one resend, to the node that leads').to.have.length(1);
      expect(onElected[0]?.['sequence']).to.equal(onPaused[0]?.['sequence']);
      expect(onElected[0]?.['retry'], 'the resend says an earlier attempt may have been applied').to.equal(true);
      // The probe's hello (no producer id: it opens no session), then the moved connection's (the same session).
      const onB = hellos(elected).map((hello) => [hello['producerId'], hello['token']]);
      expect(onB).to.deep.include.members([[undefined, 't-1'], ['p-a', 't-1']]);
    } finally {
      await client.close();
    }
  });

  it('does not move when the other nodes only name the silent node as leader: the call waits for it', async () => {
    const slow = await node(silent('a', 'a'));
    const follower = await node((request) => {
      if (request.type === 'hello') return { protocol: 1, node: 'b', leader: 'a', producerId: 'p-b' };
      return { error: { code: 'NOT_LEADER', message: 'a leads' } };
    });
    const connection = new ClusterConnection({
      nodes: [{ host: '127.0.0.1', port: slow.port }, { host: '127.0.0.1', port: follower.port }], attemptTimeoutMs: 120_000, leaderProbeMs: 50,
    });
    try {
      const error = await connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 1_000 }).then(() => undefined, (failure: unknown) => failure);
      expect(error).to.be.instanceOf(DeadlineExceededError);
      expect(connection.probes, 'the silent node was probed about').to.be.at.least(1);
      expect(connection.probeMoves).to.equal(0);
      expect(follower.requests.filter((request) => request.type !== 'hello'), 'nothing but probes went to the follower').to.deep.equal([]);
    } finally {
      connection.close();
    }
  });

  it('does not probe while a long poll waits: its silence is expected until waitMs is over', async () => {
    const leader = await node((request, reply) => {
      if (request.type === 'hello') return { protocol: 1, node: 'a', leader: 'a', producerId: 'p-a' };
      setTimeout(() => reply.answer({ jobs: [] }), 600);
      return undefined;
    });
    const claimant = await node(silent('b', 'b'));
    const connection = new ClusterConnection({
      nodes: [{ host: '127.0.0.1', port: leader.port }, { host: '127.0.0.1', port: claimant.port }], attemptTimeoutMs: 120_000, leaderProbeMs: 50,
    });
    try {
      const reply = await connection.call({ type: 'pull', queue: 'q', jobsMax: 1, waitMs: 800, workerId: 'w' }, { deadlineMs: 5_000 });
      expect(reply['jobs']).to.deep.equal([]);
      expect(connection.probes).to.equal(0);
      expect(hellos(claimant)).to.deep.equal([]);
    } finally {
      connection.close();
    }
  });

  it('closes the probe\'s connections when the client is closed, not at the probe\'s own bound', async () => {
    const paused = await node(silent('a', 'a'));
    // Takes the probe's connection and never answers its hello: only close() can end that wait.
    const unanswering = await node(() => undefined);
    const client = new FalconClient({
      nodes: [`127.0.0.1:${paused.port}`, `127.0.0.1:${unanswering.port}`], deadlineMs: 60_000, attemptTimeoutMs: 120_000, leaderProbeMs: 500,
    });
    const call = client.enqueue('q', { n: 1 }).catch((error: unknown) => error);
    await waitUntil(() => hellos(unanswering).length === 1, 'the probe asked the other node', 10_000, 5);
    expect(unanswering.openConnections, 'the probe holds its connection open, waiting up to 1 s').to.equal(1);
    await client.close();
    expect(await call).to.be.instanceOf(ClientClosedError);
    await waitUntil(() => unanswering.openConnections === 0, 'the probe\'s connection closed with the client', 400, 5);
  });

  it('asks each node once to answer when it leads, and moves the call the moment one does', async () => {
    const paused = await node(silent('a', 'a'));
    let elect: (() => void) | undefined;
    const candidate = await node((request, reply) => {
      if (request.type === 'hello' && request['leaderWaitMs'] !== undefined) {
        elect = () => reply.answer({ protocol: 1, node: 'b', leader: 'b', producerId: 'p-b' });
        return undefined;
      }
      if (request.type === 'hello') return { protocol: 1, node: 'b', leader: 'b', producerId: 'p-b' };
      return { queues: [] };
    });
    const connection = new ClusterConnection({
      nodes: [{ host: '127.0.0.1', port: paused.port }, { host: '127.0.0.1', port: candidate.port }], attemptTimeoutMs: 6_000, leaderProbeMs: 50,
    });
    try {
      const call = connection.call({ type: 'stats' }, { idempotent: true, deadlineMs: 5_000 });
      await waitUntil(() => elect !== undefined, 'the probe asked the candidate', 5_000, 5);
      expect(hellos(candidate)[0]?.['leaderWaitMs'], 'half the attempt bound').to.equal(3_000);
      // Ten probe periods: without the held answer, the client would have asked about ten times.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(hellos(candidate), 'one probe spans the election').to.have.length(1);
      expect(connection.probes, 'the probe is still waiting').to.equal(0);
      elect?.();
      expect(await call).to.deep.include({ queues: [] });
      expect(connection.probeMoves).to.equal(1);
      expect(paused.requests.filter((request) => request.type === 'stats')).to.have.length(1);
    } finally {
      connection.close();
    }
  });
});
