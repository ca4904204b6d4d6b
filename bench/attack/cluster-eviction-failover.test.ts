/**
 * Attack on "no retry ever creates a second job" and "`sent: false` did nothing" on three real
 * nodes whose producer table is tiny (queue.producersMax: 3) while ten SDK clients (ten producer
 * sessions) enqueue at once, so sessions are forgotten between attempts all the time, and whose
 * snapshots are frequent (a restarted node catches up by a snapshot: v2, with opening sequences).
 * The leader is killed (SIGKILL) twice during the storm and restarted, and paused (SIGSTOP) twice. Calls mix short and long
 * deadlines, single enqueues and enqueueMany, keyed and unkeyed jobs.
 *
 * Afterwards: every payload marker has at most one job; every call that resolved names its job;
 * every call that rejected with `sent: false` has no job.
 *
 * Not in `npm test` (mocha's spec takes dist/test/ only): one run takes about 20 s on two cores, over
 * the suite's budget. Run it by hand after a change to enqueue retries, producer sessions or the
 * key table: `npx tsc -p . && npx mocha --no-config --timeout 180000 dist/bench/attack/cluster-eviction-failover.test.js`.
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { FalconClient, ProtocolError } from '../../src/client/index.js';
import { ClusterNodes } from '../../test/support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../../test/support/test-cluster.js';
import { waitUntil } from '../../test/support/wait-until.js';

const queue = 'storm';

describe('attack: tiny producer table, frequent snapshots, leader killed and paused twice each (3 real nodes)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];

  before(async () => {
    cluster = await createTestCluster({ logLevel: 'warn', extraYaml: 'raft:\n  snapshotEveryEntries: 300\nqueue:\n  producersMax: 3\n' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    await nodes.leaderAgreedBy(ids);
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('keeps every marker single and every sent: false call without a job', async () => {
    const addresses = cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`);
    const clients = Array.from({ length: 10 }, () => new FalconClient({ nodes: addresses, connectTimeoutMs: 500, attemptTimeoutMs: 1_000 }));
    const resolved = new Map<string, number>();
    const notSent: string[] = [];
    const rejected = new Map<string, number>();
    let stopped = false;
    let settled = 0;
    const callers = clients.flatMap((client, c) => Array.from({ length: 12 }, (_, at) => at).map(async (lane) => {
      for (let n = 0; !stopped; n += 1) {
        const base = `${c}-${lane}-${n}`;
        const deadlineMs = lane >= 6 ? 100 + 50 * (n % 6) : 8_000;
        const keyed = lane % 3 === 2 && n % 2 === 0;
        const many = lane % 3 === 1;
        const markers = many ? [`${base}-a`, `${base}-b`, `${base}-c`] : [base];
        try {
          const jobs = await client.enqueueMany(queue, markers.map((marker) => ({ payload: { marker }, ...(keyed ? { idempotencyKey: marker } : {}) })), { deadlineMs });
          markers.forEach((marker, at) => resolved.set(marker, (jobs[at] as { id: number }).id));
        } catch (error) {
          const code = error instanceof ProtocolError ? error.code : String(error);
          rejected.set(code, (rejected.get(code) ?? 0) + 1);
          if (error instanceof ProtocolError && !error.sent) notSent.push(...markers);
        }
        settled += 1;
      }
    }));
    const progress = async (calls: number): Promise<void> => {
      const target = settled + calls;
      await waitUntil(() => settled >= target, `${calls} more calls settled`, 60_000);
    };
    try {
      await progress(1_000);
      for (const fault of ['kill', 'pause', 'kill', 'pause'] as const) {
        const leader = (await nodes.leaderAgreedBy(ids)).node;
        if (fault === 'kill') {
          await nodes.kill9(leader);
          await progress(400);
          nodes.start(leader);
        } else {
          nodes.signal(leader, 'SIGSTOP');
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          nodes.signal(leader, 'SIGCONT');
        }
        await progress(400);
      }
    } finally {
      stopped = true;
      await Promise.all(callers);
    }
    await nodes.leaderAgreedBy(ids, 30_000);
    // Calls that said sent: true may still be retried by their client: close them first.
    await Promise.all(clients.map((client) => client.close()));
    const reader = new FalconClient({ nodes: addresses });
    const jobsByMarker = new Map<string, number[]>();
    try {
      for await (const job of reader.listAll(queue, 'ready', { limit: 500 })) {
        const full = await reader.get(job.id);
        const { marker } = full.payload as { marker: string };
        jobsByMarker.set(marker, [...(jobsByMarker.get(marker) ?? []), job.id]);
      }
    } finally {
      await reader.close();
    }
    const twice = [...jobsByMarker].filter(([, jobIds]) => jobIds.length > 1).map(([marker, jobIds]) => `${marker}: ${jobIds.join(',')}`);
    const notSentButThere = notSent.filter((marker) => jobsByMarker.has(marker));
    const lost = [...resolved].filter(([marker, id]) => !(jobsByMarker.get(marker) ?? []).includes(id));
    console.log(`      (${resolved.size} markers resolved, ${notSent.length} sent: false, rejections ${JSON.stringify(Object.fromEntries(rejected))}, ${jobsByMarker.size} markers stored)`);
    expect({ twice: twice.slice(0, 10), notSentButThere: notSentButThere.slice(0, 10), lost: lost.slice(0, 10) })
      .to.deep.equal({ twice: [], notSentButThere: [], lost: [] });
  });
});
