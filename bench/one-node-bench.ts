/**
 * The one-node reference of `npm run bench`: a cluster of one `falcon-node` process (fsync always,
 * 256-byte payloads) and the same client scenarios as bench:queue's three-node figures, so that
 * the cost of replication reads off the two: pipelined single-job enqueues on one connection
 * (1,024 in flight) and one enqueue at a time (p50, p99, p999). Each run on a fresh cluster, after
 * a warm-up enqueue and drain; the median of the runs.
 *
 * Runs on: the bench process.
 */
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster } from '../test/support/test-cluster.js';
import type { OwnSizes } from './bench-options.js';
import { runClient } from './bench-process.js';
import { medianFigures } from './bench-report.js';

const payloadBytes = 256;
/** Room for the largest enqueue phase (as bench:queue's cluster). */
export const queueLimitsYaml = 'queue:\n  jobsPerQueueMax: 5000000\n  bytesPerQueueMax: 2147483648\n';
/** The warm-up is a quarter of the measured phase, at most this. */
const warmJobsMax = 50_000;

async function runOnce(sizes: OwnSizes, onLine: (line: string) => void): Promise<Record<string, number>> {
  const cluster = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: queueLimitsYaml });
  const nodes = new ClusterNodes(cluster);
  try {
    nodes.startAll();
    await nodes.leaderAgreedBy(['n1'], 20_000);
    const ports = { ports: cluster.nodes.map((node) => node.clientPort) };
    const warmJobs = Math.min(warmJobsMax, Math.ceil(sizes.jobs / 4));
    onLine(`warm-up: ${warmJobs} jobs`);
    await runClient(ports, { scenario: 'enqueue', queue: 'warm', jobs: warmJobs, payloadBytes, connections: 1, inflight: 512 });
    await runClient(ports, { scenario: 'drain', queue: 'warm', jobs: warmJobs, pullMax: 256, workerId: 'warm' });
    onLine(`pipelined enqueue: ${sizes.jobs} jobs`);
    const enqueue = await runClient(ports, { scenario: 'enqueue', queue: 'bench', jobs: sizes.jobs, payloadBytes, connections: 1, inflight: 1024 });
    onLine(`one enqueue at a time: ${sizes.singles}`);
    const single = await runClient(ports, { scenario: 'single', queue: 'single', count: sizes.singles, payloadBytes });
    const figures = {
      enqueuePerSec: enqueue['perSec'] ?? Number.NaN, singleEnqueueP50Ms: single['p50Ms'] ?? Number.NaN,
      singleEnqueueP99Ms: single['p99Ms'] ?? Number.NaN, singleEnqueueP999Ms: single['p999Ms'] ?? Number.NaN,
    };
    onLine(`run: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await killStartedProcesses();
    await removeTestCluster(cluster);
  }
}

export async function oneNodeBench(sizes: OwnSizes, onLine: (line: string) => void): Promise<Record<string, number>> {
  const runs: Array<Record<string, number>> = [];
  for (let run = 1; run <= sizes.runs; run += 1) runs.push(await runOnce(sizes, (line) => onLine(`run ${run}: ${line}`)));
  return medianFigures(runs);
}
