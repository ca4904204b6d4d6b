/**
 * Attack on a node's read path with valid requests: one socket write of many `list` requests (a
 * full 1,000-job page each) becomes one read batch, whose answers together are far larger than
 * one message between the node's threads may be. The promise: a client's bytes never crash a
 * node. Afterwards every request was answered (a page or an error), no actor failed or was
 * restarted, and the node keeps serving; repeated, the node does not exit.
 *
 * Runs on: test process (one node process).
 */
import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { createCodec } from '../../src/codec/msgpack.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';

const pageJobs = 1000;
const listsPerWrite = 40;
const rounds = 3;

function frame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.byteLength, 0);
  return Buffer.concat([header, body]);
}

/** Sends `count` requests made by `body(at)` in one write and counts the replies until all came or `timeoutMs`. */
async function burstOfRequests(port: number, count: number, body: (at: number) => Record<string, unknown>, timeoutMs: number): Promise<number> {
  const { packr, unpackr } = createCodec();
  const socket: Socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => { /* counted as missing replies */ });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffered = Buffer.alloc(0);
  let replies = 0;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    socket.on('close', () => { clearTimeout(timer); resolve(); });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.byteLength >= 4 && buffered.byteLength >= 4 + buffered.readUInt32BE(0)) {
        const length = buffered.readUInt32BE(0);
        unpackr.unpack(buffered.subarray(4, 4 + length));
        buffered = buffered.subarray(4 + length);
        replies += 1;
      }
      if (replies >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(Buffer.concat(Array.from({ length: count }, (_, at) => frame(packr.pack({ id: at + 1, ...body(at) })))));
  await done;
  socket.destroy();
  return replies;
}

describe('queue attack: a burst of large reads (one real node)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({ nodeCount: 1, logLevel: 'fatal' });

  it(`answers ${listsPerWrite} pipelined 1,000-job list pages without an actor failing, ${rounds} times`, async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const client = clusterConnection(cluster);
    await client.call({ type: 'enqueue', queue: 'wide', jobs: Array.from({ length: pageJobs }, (_, at) => ({ payload: Buffer.from('w'), idempotencyKey: `wide-key-with-some-length-${at}` })) });
    const port = cluster.nodes[0]?.clientPort ?? 0;
    for (let round = 0; round < rounds; round += 1) {
      const replies = await burstOfRequests(port, listsPerWrite, () => ({ type: 'list', queue: 'wide', state: 'ready', afterId: 0, limit: pageJobs }), 15_000);
      expect(replies, `round ${round}: replies to ${listsPerWrite} list requests`).to.equal(listsPerWrite);
      const restarts = await nodes.actorRestarts('n1');
      const failed = Object.entries(restarts ?? {}).filter(([, actor]) => actor.restarts > 0 || actor.lastFailure !== null)
        .map(([actor, { lastFailure }]) => `${actor}: ${lastFailure?.split('\n')[0] ?? ''}`);
      expect(failed, `round ${round}: actors that failed`).to.deep.equal([]);
    }
    const stats = await client.call({ type: 'stats', queue: 'wide' }, { idempotent: true, deadlineMs: 5_000 });
    expect((stats['queues'] as Array<{ ready: number }>)[0]?.ready).to.equal(pageJobs);
    expect(nodes.process('n1').child.exitCode, 'the node is running').to.equal(null);
    client.close();
  });

  it('answers four pipelined gets of a job with a 900 KB payload without an actor failing', async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const client = clusterConnection(cluster);
    const [job] = (await client.call({ type: 'enqueue', queue: 'big', jobs: [{ payload: Buffer.alloc(900_000, 0x62) }] }))['jobs'] as Array<{ id: number }>;
    const replies = await burstOfRequests(cluster.nodes[0]?.clientPort ?? 0, 4, () => ({ type: 'get', jobId: job?.id }), 15_000);
    expect(replies, 'replies to 4 gets').to.equal(4);
    const restarts = await nodes.actorRestarts('n1');
    const failed = Object.entries(restarts ?? {}).filter(([, actor]) => actor.restarts > 0 || actor.lastFailure !== null)
      .map(([actor, { lastFailure }]) => `${actor}: ${lastFailure?.split('\n')[0] ?? ''}`);
    expect(failed, 'actors that failed').to.deep.equal([]);
    client.close();
  });
});
