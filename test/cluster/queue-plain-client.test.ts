/**
 * The protocol is plain MessagePack, written down in docs/protocol.md: a client built only from
 * `@msgpack/msgpack`, `node:net` and that page (test/net/plain-client.ts; no msgpackr, no project
 * code) enqueues, pulls and acks on a real node, and its malformed frame is refused without harm
 * to the node or to other connections.
 */
import { expect } from 'chai';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { PlainClient } from '../net/plain-client.js';

describe('a client written from docs/protocol.md with another codec (one real node)', function () {
  this.timeout(30_000);
  const started = startedClusterPerTest({ nodeCount: 1, logLevel: 'warn' });

  it('enqueues, pulls and acks; a malformed frame gets an error frame and only its connection closes', async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const port = cluster.nodes[0]?.clientPort ?? 0;
    const client = await PlainClient.connect(port);
    client.send({ id: 1, type: 'hello', protocol: 1 });
    expect(await client.reply(1)).to.include({ id: 1, protocol: 1, node: 'n1' });
    client.send({ id: 2, type: 'enqueue', queue: 'plain', jobs: [{ payload: new TextEncoder().encode('{"n":1}'), contentType: 'application/json', idempotencyKey: 'plain-1' }] });
    const enqueued = await client.reply(2);
    const [job] = enqueued['jobs'] as Array<{ id: number; state: string; duplicate: boolean }>;
    expect(job).to.include({ state: 'ready', duplicate: false });

    const broken = await PlainClient.connect(port);
    broken.socket.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    await broken.closed;
    expect(broken.replies[0]).to.deep.include({ id: 0 });
    expect((broken.replies[0]?.['error'] as { code: string }).code).to.equal('MALFORMED_FRAME');

    client.send({ id: 3, type: 'pull', queue: 'plain', jobsMax: 10, waitMs: 1_000 });
    const pulled = await client.reply(3);
    const [leased] = pulled['jobs'] as Array<{ id: number; token: number; payload: Uint8Array; contentType: string; attempt: number }>;
    expect(leased).to.include({ id: job?.id, contentType: 'application/json', attempt: 1 });
    expect(new TextDecoder().decode(leased?.payload)).to.equal('{"n":1}');
    client.send({ id: 4, type: 'ack', jobId: leased?.id, token: leased?.token }, { id: 5, type: 'get', jobId: leased?.id });
    expect(await client.reply(4)).to.deep.equal({ id: 4, repeated: false });
    expect((await client.reply(5))['job']).to.include({ state: 'completed', idempotencyKey: 'plain-1' });
    client.close();
  });
});
