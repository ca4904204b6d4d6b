/**
 * `sent` of an `enqueueMany` larger than one request (docs/sdk.md: such a list is sent as several
 * atomic parts; the call waits for every part and says `sent: true` when any part was or may have
 * been added, naming the parts by job index range). Once an attack: the call rejected with the
 * first part to fail, a later part still waiting for a slot (`sent: false`) while the first part
 * was on its way, so it said nothing was sent although thousands of its jobs were added.
 *
 * Also: a deadline above 2^31 - 1 ms overflows Node's timers (such a delay fires after 1 ms). The
 * SDK once took deadlines up to 2^53 - 1, and such a call ended at once with DEADLINE_EXCEEDED
 * (after its request may have left). Now the longest deadline is 2^31 - 1 ms, which works, and a
 * longer one is refused before anything is sent.
 *
 * One real node.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { FalconClient, ProtocolError } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

describe('queue attack 2: sent of an enqueueMany cut into parts, and long deadlines', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('close() while the first part of a 5000-job enqueueMany is in flight rejects it sent: true, naming the parts added, maybe added and not added', async () => {
    const address = `127.0.0.1:${nodes.node('n1').clientPort}`;
    const client = new FalconClient({ nodes: [address] });
    const jobs = Array.from({ length: 5_000 }, (_, n) => ({ payload: { n } }));
    const outcome = client.enqueueMany('parts', jobs).then(() => undefined, (error: unknown) => error);
    // The first part's request is handed to the connection; the second waits for the session's first answer.
    while ((client.counters.requestsSent['enqueue'] ?? 0) === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    await client.close();
    const error = await outcome;
    const reader = new FalconClient({ nodes: [address] });
    let added = 0;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      added = (await reader.stats('parts'))?.enqueuedTotal ?? 0;
      if (added > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await reader.close();
    if (!(error instanceof ProtocolError)) expect.fail(`the call ended with ${String(error)}`);
    const said = `${error.code} sent: ${String(error.sent)} ${error.message} ${JSON.stringify(error.detail)}; ${added} jobs added`;
    // The first part (jobs 0-4095) left the client: added or may have been; the second never did.
    expect(error.sent, said).to.equal(true);
    expect([error.detail?.['jobsAdded'], error.detail?.['jobsMaybeAdded']], said).to.include('0-4095');
    expect(error.detail?.['jobsNotAdded'], said).to.equal('4096-4999');
    expect(error.message, said).to.match(/jobs 0-4095 (added|may have been added); jobs 4096-4999 not added/);
    expect([0, 4_096], said).to.include(added);
  });

  it('a deadlineMs of 2^31 - 1 (about 25 days) works; a longer one is refused with nothing sent, never ended at once', async () => {
    const outcomes: string[] = [];
    for (const deadlineMs of [2 ** 31 - 1, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      const fresh = new FalconClient({ nodes: [`127.0.0.1:${nodes.node('n1').clientPort}`] });
      try {
        await fresh.enqueue('long-deadlines', { deadlineMs }, { deadlineMs });
        outcomes.push(`${deadlineMs}: enqueued`);
      } catch (error) {
        outcomes.push(`${deadlineMs}: ${error instanceof ProtocolError ? `${error.code} sent: ${String(error.sent)}` : String(error)}`);
      } finally {
        await fresh.close();
      }
    }
    expect(outcomes).to.deep.equal([`${2 ** 31 - 1}: enqueued`, `${2 ** 31}: INVALID_ARGUMENT sent: false`, `${Number.MAX_SAFE_INTEGER}: INVALID_ARGUMENT sent: false`]);
  });
});
