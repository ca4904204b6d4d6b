/**
 * Attacks on what FalconClient says about a call's outcome, on one real node reached through a
 * loopback TCP relay the test controls (refuse connections, swallow replies, cut connections).
 *
 * docs/sdk.md promises: `sent: false` means "the request certainly had no effect" (a caller who
 * reads it may enqueue again without a second job); `sent: true` after DeadlineExceededError or
 * UnavailableError means the job may exist or still appear (once); every call settles by its
 * deadline (plus one connect timeout); and a retry is answered from the producer session while the
 * node remembers it (the `producersMax` most recently used), beyond which it is refused as outcome
 * unknown, keyed or not (never applied as new), and an idempotencyKey lets the caller settle that
 * outcome by enqueuing again.
 *
 * Each of these once failed: a call whose deadline passed while its batch could not reach a node
 * said `sent: false`, yet the batch, retried for another call, later created its job; a call
 * applied before its connection was cut said `sent: false`; a node that took a request and went
 * silent held the call past its deadline.
 *
 * Runs on: the mocha process (the node in its own process).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { Relay } from '../support/relay.js';
import { DeadlineExceededError, FalconClient, ProtocolError, type JobState } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { freePorts } from '../support/free-port.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';

/** Few producer sessions, so that a handful of clients make the node forget one (default 10000). */
const producersMax = 3;
const jobStates: readonly JobState[] = ['delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled'];


async function outcomeOf<T>(promise: Promise<T>): Promise<{ value?: T; error?: ProtocolError }> {
  try {
    return { value: await promise };
  } catch (error) {
    if (error instanceof ProtocolError) return { error };
    throw error;
  }
}


describe('queue attack: what FalconClient says about a call that failed', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let direct: FalconClient;
  const relays: Relay[] = [];
  const clients: FalconClient[] = [];

  /** Jobs of `queue` in any state whose payload is `{ marker }`. */
  async function jobsWithMarker(queue: string, marker: string): Promise<number> {
    let count = 0;
    for (const state of jobStates) {
      for await (const summary of direct.listAll(queue, state)) {
        if (((await direct.get(summary.id)).payload as { marker?: string }).marker === marker) count += 1;
      }
    }
    return count;
  }

  async function relayedClient(deadlineMs: number): Promise<{ relay: Relay; client: FalconClient }> {
    const [port = 0] = await freePorts(1);
    const relay = new Relay(port, cluster.nodes[0]?.clientPort ?? 0);
    relays.push(relay);
    const client = new FalconClient({ nodes: [`127.0.0.1:${port}`], deadlineMs, connectTimeoutMs: 200 });
    clients.push(client);
    return { relay, client };
  }

  before(async () => {
    cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: `queue:\n  producersMax: ${producersMax}\n` });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1']);
    direct = new FalconClient({ nodes: [`127.0.0.1:${cluster.nodes[0]?.clientPort ?? 0}`], deadlineMs: 10_000 });
  });

  afterEach(async () => {
    for (const relay of relays.splice(0)) await relay.close();
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await direct?.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('drops a call whose deadline passed before its batch reached a node: sent: false, and the retry for the other call adds only that one', async () => {
    const { relay, client } = await relayedClient(15_000);
    // Nothing listens yet: every attempt of the batch fails to connect (never sent).
    const early = outcomeOf(client.enqueue('batch', { marker: 'early' }, { deadlineMs: 600 }));
    const patient = outcomeOf(client.enqueue('batch', { marker: 'patient' }, { deadlineMs: 15_000 }));
    const { error } = await early;
    expect(error, 'the short call ran out of its deadline').to.be.instanceOf(DeadlineExceededError);
    expect(error?.sent, error?.message).to.equal(false);
    await relay.listen();
    expect((await patient).value?.duplicate).to.equal(false);
    expect({ early: await jobsWithMarker('batch', 'early'), patient: await jobsWithMarker('batch', 'patient') }).to.deep.equal({ early: 0, patient: 1 });
  });

  it('rejects sent: true a call whose batch may have reached a node, and that job appears at most once', async () => {
    const { relay, client } = await relayedClient(15_000);
    await relay.listen();
    await client.stats();
    relay.passReplies = false;
    const early = outcomeOf(client.enqueue('inflight', { marker: 'early' }, { deadlineMs: 400 }));
    const patient = outcomeOf(client.enqueue('inflight', { marker: 'patient' }, { deadlineMs: 15_000 }));
    const { error } = await early;
    expect(error, 'the short call ran out of its deadline').to.be.instanceOf(DeadlineExceededError);
    expect(error?.sent, error?.message).to.equal(true);
    expect(error?.message).to.match(/may exist, or still be added \(once\) by this client's retry/);
    // The batch is retried for the patient call, with the early call's job in it.
    await relay.close();
    relay.passReplies = true;
    await relay.listen();
    expect((await patient).value?.id).to.be.a('number');
    expect({ early: await jobsWithMarker('inflight', 'early'), patient: await jobsWithMarker('inflight', 'patient') }).to.deep.equal({ early: 1, patient: 1 });
  });

  it('rejects sent: true a call applied before its connection was cut and then finding no node', async () => {
    const { relay, client } = await relayedClient(15_000);
    await relay.listen();
    await client.stats(); // the connection and its hello are up
    relay.passReplies = false;
    const call = outcomeOf(client.enqueue('cut', { marker: 'cut' }, { deadlineMs: 1_500 }));
    await waitUntil(async () => (await jobsWithMarker('cut', 'cut')) === 1, 'the node applied the enqueue');
    await relay.close(); // the connection is cut, and no node can be reached any more
    const { error } = await call;
    expect(error, 'the call ran out of its deadline').to.be.instanceOf(DeadlineExceededError);
    expect(error?.sent, `the job exists, but the call says: ${error?.message}`).to.equal(true);
  });

  it('settles by its deadline, sent: true, a call on a node that took it and stays silent (as a paused leader)', async () => {
    const { relay, client } = await relayedClient(15_000);
    await relay.listen();
    await client.stats();
    relay.passReplies = false;
    const deadlineMs = 1_000;
    const boundMs = deadlineMs + 200 /* connect timeout */ + 500 /* slack */;
    const startedAt = Date.now();
    const call = outcomeOf(client.enqueue('silent', { marker: 'silent' }, { deadlineMs }));
    let timer: NodeJS.Timeout | undefined;
    const settledInTime = await Promise.race([
      call.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), boundMs); }),
    ]);
    clearTimeout(timer);
    await relay.close(); // lets the call settle either way
    const { error } = await call;
    expect(settledInTime, `the call with a ${deadlineMs} ms deadline had not settled after ${Date.now() - startedAt} ms`).to.equal(true);
    expect(error).to.be.instanceOf(DeadlineExceededError);
    expect(error?.sent).to.equal(true);
  });

  it('keeps a retry single after the node forgot the producer session (more than producersMax producers since) when the job has an idempotencyKey: outcome unknown, settled by the key', async () => {
    // The key table may have forgotten the key too, so the retry is refused like a keyless one; the
    // caller's own enqueue with the same key then answers the job.
    const { relay, client } = await relayedClient(15_000);
    await relay.listen();
    await client.stats();
    relay.passReplies = false;
    const call = outcomeOf(client.enqueue('forgotten', { marker: 'forgotten' }, { idempotencyKey: 'forgotten-1' }));
    await waitUntil(async () => (await jobsWithMarker('forgotten', 'forgotten')) === 1, 'the node applied the enqueue');
    // Other short-lived producers: each FalconClient opens its own session.
    for (let n = 0; n < producersMax; n += 1) {
      const other = new FalconClient({ nodes: [`127.0.0.1:${cluster.nodes[0]?.clientPort ?? 0}`] });
      clients.push(other);
      await other.enqueue('others', { n });
    }
    await relay.close(); // the reply was lost: the client retries the same sequence
    relay.passReplies = true;
    await relay.listen();
    const { value, error } = await call;
    expect(value, 'the retry must not be answered through the key table').to.equal(undefined);
    expect({ code: error?.code, sent: error?.sent }).to.deep.equal({ code: 'UNAVAILABLE', sent: true });
    expect(await jobsWithMarker('forgotten', 'forgotten'), 'one enqueue call, retried by the client').to.equal(1);
    const again = await client.enqueue('forgotten', { marker: 'forgotten' }, { idempotencyKey: 'forgotten-1' });
    expect({ jobs: await jobsWithMarker('forgotten', 'forgotten'), duplicate: again.duplicate }, 'enqueued again with its key').to.deep.equal({ jobs: 1, duplicate: true });
  });

  it('never applies a keyless retry as new after the node forgot the producer session: the call rejects, outcome unknown, and the job exists once', async () => {
    const { relay, client } = await relayedClient(15_000);
    await relay.listen();
    await client.stats();
    relay.passReplies = false;
    const call = outcomeOf(client.enqueue('forgotten-keyless', { marker: 'keyless' }));
    await waitUntil(async () => (await jobsWithMarker('forgotten-keyless', 'keyless')) === 1, 'the node applied the enqueue');
    for (let n = 0; n < producersMax; n += 1) {
      const other = new FalconClient({ nodes: [`127.0.0.1:${cluster.nodes[0]?.clientPort ?? 0}`] });
      clients.push(other);
      await other.enqueue('others', { n });
    }
    await relay.close(); // the reply was lost: the client retries the same sequence, marked retry
    relay.passReplies = true;
    await relay.listen();
    const { value, error } = await call;
    expect(value, 'the retry must not be answered as a new job').to.equal(undefined);
    expect({ code: error?.code, sent: error?.sent }).to.deep.equal({ code: 'UNAVAILABLE', sent: true });
    expect(await jobsWithMarker('forgotten-keyless', 'keyless'), 'one enqueue call, retried by the client').to.equal(1);
  });
});
