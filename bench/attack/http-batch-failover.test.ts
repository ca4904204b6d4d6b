/**
 * Attack on "no retry ever creates a second job" through the HTTP API's batch enqueue (the
 * gateway: one SDK client per token), across two SIGKILLs of the leader with a tiny producer table
 * (queue.producersMax: 2, so the gateway's sessions are forgotten between attempts). Callers post
 * batches of 3 jobs, round-robin over the nodes' HTTP ports; a batch whose jobs all carry an
 * idempotencyKey is posted again, with the same keys, after any failure (a 503, a cut connection);
 * an unkeyed batch is posted once. Afterwards each marker has at most one job, and a keyed or
 * answered (2xx) marker exactly one.
 *
 * Not in `npm test` (mocha's spec takes dist/test/ only): one run takes about 30 s on two cores, over
 * the suite's budget. Run it by hand after a change to enqueue retries, producer sessions or the
 * key table: `npx tsc -p . && npx mocha --no-config --timeout 180000 dist/bench/attack/http-batch-failover.test.js`.
 *
 * Runs on: the mocha process (the nodes in their own processes).
 */
import { expect } from 'chai';
import { FalconClient } from '../../src/client/index.js';
import { ClusterNodes } from '../../test/support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../../test/support/test-cluster.js';
import { waitUntil } from '../../test/support/wait-until.js';

const queue = 'http-storm';
/** A few tokens: several gateway clients (producer sessions) per node. */
const tokens = [0, 1, 2, 3].map((at) => `attack-token-${at}-0123456789abcdef`);

describe('attack: HTTP batch enqueue with keys across leader kills, tiny producer table (3 real nodes)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let ids: string[];

  before(async () => {
    cluster = await createTestCluster({ logLevel: 'warn', extraYaml: `queue:\n  producersMax: 2\nauth:\n  tokens:\n${tokens.map((token) => `    - { token: ${token}, role: admin }`).join('\n')}\n` });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    ids = cluster.nodes.map((node) => node.id);
    await nodes.leaderAgreedBy(ids, 30_000);
  });

  after(async () => {
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('adds each marker at most once, and each keyed or answered marker exactly once', async () => {
    const opsUrls = ids.map((id) => nodes.opsUrl(id));
    const answered = new Set<string>();
    const keyedMarkers = new Set<string>();
    const statuses = new Map<string, number>();
    let stopped = false;
    let settled = 0;
    let turn = 0;
    const post = async (markers: readonly string[], keyed: boolean, token: string): Promise<number> => {
      const url = opsUrls[(turn += 1) % opsUrls.length] as string;
      try {
        const response = await fetch(`${url}/v1/queues/${queue}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-timeout-ms': String(keyed ? 2_000 : 600) },
          body: JSON.stringify({ jobs: markers.map((marker) => ({ payload: { marker }, ...(keyed ? { idempotencyKey: marker } : {}) })) }),
          signal: AbortSignal.timeout(5_000),
        });
        await response.text();
        return response.status;
      } catch {
        return 0; // no answer (a killed node, a cut connection)
      }
    };
    const callers = Array.from({ length: 12 }, async (_, caller) => {
      for (let n = 0; !stopped; n += 1) {
        const keyed = caller % 2 === 0;
        const markers = ['a', 'b', 'c'].map((suffix) => `${caller}-${n}-${suffix}`);
        if (keyed) for (const marker of markers) keyedMarkers.add(marker);
        for (let attempt = 0; ; attempt += 1) {
          const status = await post(markers, keyed, tokens[caller % tokens.length] as string);
          statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
          if (status >= 200 && status < 300) {
            for (const marker of markers) answered.add(marker);
            break;
          }
          if (!keyed || attempt >= 60) {
            if (keyed) for (const marker of markers) keyedMarkers.delete(marker);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        settled += 1;
      }
    });
    const progress = async (calls: number): Promise<void> => {
      const target = settled + calls;
      await waitUntil(() => settled >= target, `${calls} more batches settled`, 60_000);
    };
    try {
      await progress(200);
      for (let round = 0; round < 2; round += 1) {
        const leader = (await nodes.leaderAgreedBy(ids, 30_000)).node;
        await nodes.kill9(leader);
        await progress(100);
        nodes.start(leader);
        await nodes.leaderAgreedBy(ids, 30_000);
        await progress(100);
      }
    } finally {
      stopped = true;
      await Promise.all(callers);
    }
    // Give the gateways' own retries of sequences whose callers gave up time to end.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const reader = new FalconClient({ nodes: cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`), token: tokens[0] as string });
    const jobsByMarker = new Map<string, number>();
    try {
      for await (const job of reader.listAll(queue, 'ready', { limit: 500 })) {
        const { marker } = (await reader.get(job.id)).payload as { marker: string };
        jobsByMarker.set(marker, (jobsByMarker.get(marker) ?? 0) + 1);
      }
    } finally {
      await reader.close();
    }
    const twice = [...jobsByMarker].filter(([, count]) => count > 1).map(([marker]) => marker);
    const missing = [...new Set([...answered, ...keyedMarkers])].filter((marker) => !jobsByMarker.has(marker));
    console.log(`      (${answered.size} markers answered, ${jobsByMarker.size} stored; statuses ${JSON.stringify(Object.fromEntries(statuses))})`);
    expect({ twice: twice.slice(0, 10), missing: missing.slice(0, 10) }).to.deep.equal({ twice: [], missing: [] });
  });
});
