/**
 * `npm run bench:queue`: the queue on a local 3-node cluster (real processes on loopback, fsync
 * always, 256-byte payloads), driven by clients in their own processes (queue-bench-client.ts)
 * through the client protocol. Each run, on a fresh cluster:
 *   - pipelined enqueue throughput, one connection and four connections (single-job requests,
 *     many in flight: the Dispatcher batches what arrives in one turn into one log entry), and
 *     with 64 jobs per request (what a client that batches its concurrent enqueues sends);
 *   - one-at-a-time enqueue latency (p50, p99, p999);
 *   - drain throughput: two worker processes pull (256 per pull) and ack until the queue is empty;
 *   - end-to-end enqueue-to-lease latency at a fixed 5,000 jobs/s for 10 s, with the nodes' peak
 *     RSS during that steady run (queue near empty);
 *   - the same end-to-end latency at a share (default 50%) of the run's measured maximum (the
 *     one-connection pipelined enqueue rate), for as long, with two consumer processes (one alone
 *     may not keep up at that rate; their histograms are merged);
 *   - the memory each held job costs: the leader's RSS growth over the jobs it holds after the
 *     one-connection enqueue phase (2 s after it, so that young collections ran).
 * Warm-up: each run first enqueues and drains 50,000 jobs, so the figures are of a node in steady
 * state. Several runs (default 3) and the median of each figure with its spread (min-max). The
 * last line of output is one JSON object with the headline figures (medians).
 * Options: --runs N (default 3), --jobs N (enqueue phase, default 200,000), --json FILE; to scale a
 * run down (npm run bench --quick): --warm-jobs N (default 50,000), --singles N (one-at-a-time
 * enqueues, default 3,000), --steady-ms N (each end-to-end run, default 10,000), --settle-ms N (the
 * pauses before the RSS readings, default 2,000), --e2e-max-percent N (default 50).
 *
 * Runs on: the bench process.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster, type TestCluster } from '../test/support/test-cluster.js';
import { runClient } from './bench-process.js';
import { endToEndLatency } from './e2e-latency.js';
import { residentMbOf } from './failover-breakdown.js';

const ids = ['n1', 'n2', 'n3'];
const payloadBytes = 256;

interface RunFigures {
  enqueuePerSec: number;
  enqueueBatch64PerSec: number;
  enqueue4ConnPerSec: number;
  singleEnqueueP50Ms: number;
  singleEnqueueP99Ms: number;
  singleEnqueueP999Ms: number;
  drainPerSec: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
  e2eP999Ms: number;
  e2eHalfMaxRatePerSec: number;
  e2eHalfMaxP50Ms: number;
  e2eHalfMaxP99Ms: number;
  e2eHalfMaxP999Ms: number;
  rssMbSteady: number;
  bytesPerHeldJob: number;
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function numberOption(name: string, fallback: number, max: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max}, got ${text}`);
  return value;
}

/** Runs one client scenario in its own process (bench-process.ts); resolves with its figures. */
function client(cluster: TestCluster, scenario: Record<string, unknown>): Promise<Record<string, number>> {
  return runClient({ ports: cluster.nodes.map((node) => node.clientPort) }, scenario);
}

function rssOf(nodes: ClusterNodes, id: string): number {
  return residentMbOf(nodes.process(id).child.pid);
}

/** The sizes of one run (options; see the header). */
interface RunSizes {
  readonly jobs: number;
  readonly warmJobs: number;
  readonly singles: number;
  readonly steadyMs: number;
  readonly settleMs: number;
  readonly e2eMaxPercent: number;
}

/** Enqueue-to-lease latency at `ratePerSec` for `steadyMs` (e2e-latency.ts). */
function endToEnd(cluster: TestCluster, queue: string, ratePerSec: number, steadyMs: number, consumers = 1): Promise<Record<string, number>> {
  return endToEndLatency({ ports: cluster.nodes.map((node) => node.clientPort) }, queue, ratePerSec, steadyMs, consumers);
}

async function runOnce(run: number, sizes: RunSizes): Promise<RunFigures> {
  const { jobs, warmJobs, settleMs } = sizes;
  const cluster = await createTestCluster({ nodeCount: 3, logLevel: 'warn', extraYaml: 'queue:\n  jobsPerQueueMax: 5000000\n  bytesPerQueueMax: 2147483648\n' });
  const nodes = new ClusterNodes(cluster);
  try {
    nodes.startAll();
    const leader = (await nodes.leaderAgreedBy(ids, 20_000)).node;
    await client(cluster, { scenario: 'enqueue', queue: 'warm', jobs: warmJobs, payloadBytes, connections: 1, inflight: 512 });
    await client(cluster, { scenario: 'drain', queue: 'warm', jobs: warmJobs, pullMax: 256, workerId: 'warm' });
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const rssBeforeMb = rssOf(nodes, leader);
    const enqueue1 = await client(cluster, { scenario: 'enqueue', queue: 'bench', jobs, payloadBytes, connections: 1, inflight: 1024 });
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const rssHeldMb = rssOf(nodes, leader);
    const drains = await Promise.all([1, 2].map((worker) =>
      client(cluster, { scenario: 'drain', queue: 'bench', jobs, pullMax: 256, workerId: `drain-${worker}` })));
    const drained = drains.reduce((total, figures) => total + (figures['jobs'] ?? 0), 0);
    const drainMs = Math.max(...drains.map((figures) => figures['ms'] ?? 0));
    const enqueue4 = await client(cluster, { scenario: 'enqueue', queue: 'bench4', jobs, payloadBytes, connections: 4, inflight: 256 });
    await client(cluster, { scenario: 'drain', queue: 'bench4', jobs, pullMax: 256, workerId: 'drain-4' });
    const batched = await client(cluster, { scenario: 'enqueue', queue: 'batched', jobs, payloadBytes, connections: 1, inflight: 32, batch: 64 });
    await client(cluster, { scenario: 'purge', queue: 'batched' });
    const single = await client(cluster, { scenario: 'single', queue: 'single', count: sizes.singles, payloadBytes });
    const peakRssMb = new Map<string, number>(ids.map((id) => [id, 0]));
    const sampler = setInterval(() => {
      for (const id of ids) peakRssMb.set(id, Math.max(peakRssMb.get(id) ?? 0, rssOf(nodes, id)));
    }, 200);
    const e2e = await endToEnd(cluster, 'e2e', 5_000, sizes.steadyMs);
    clearInterval(sampler);
    const halfMaxRatePerSec = Math.max(1, Math.round(((enqueue1['perSec'] ?? 0) * sizes.e2eMaxPercent) / 100));
    const e2eHalfMax = await endToEnd(cluster, 'e2e-share', halfMaxRatePerSec, sizes.steadyMs, 2);
    const figures: RunFigures = {
      enqueuePerSec: enqueue1['perSec'] ?? Number.NaN,
      enqueueBatch64PerSec: batched['perSec'] ?? Number.NaN,
      enqueue4ConnPerSec: enqueue4['perSec'] ?? Number.NaN,
      singleEnqueueP50Ms: single['p50Ms'] ?? Number.NaN,
      singleEnqueueP99Ms: single['p99Ms'] ?? Number.NaN,
      singleEnqueueP999Ms: single['p999Ms'] ?? Number.NaN,
      drainPerSec: (drained / drainMs) * 1000,
      e2eP50Ms: e2e['p50Ms'] ?? Number.NaN,
      e2eP99Ms: e2e['p99Ms'] ?? Number.NaN,
      e2eP999Ms: e2e['p999Ms'] ?? Number.NaN,
      e2eHalfMaxRatePerSec: halfMaxRatePerSec,
      e2eHalfMaxP50Ms: e2eHalfMax['p50Ms'] ?? Number.NaN,
      e2eHalfMaxP99Ms: e2eHalfMax['p99Ms'] ?? Number.NaN,
      e2eHalfMaxP999Ms: e2eHalfMax['p999Ms'] ?? Number.NaN,
      rssMbSteady: Math.max(...peakRssMb.values()),
      bytesPerHeldJob: ((rssHeldMb - rssBeforeMb) * 1024 * 1024) / jobs,
    };
    console.log(`\n## run ${run}\n`);
    console.log(`leader ${leader}; RSS before/held ${rssBeforeMb}/${rssHeldMb} MB; peak RSS during the steady run: ${[...peakRssMb].map(([id, mb]) => `${id} ${mb} MB`).join(', ')}`);
    console.log(`run ${run}: ${JSON.stringify(rounded(figures))}`);
    return figures;
  } finally {
    await killStartedProcesses();
    await removeTestCluster(cluster);
  }
}

function rounded(figures: RunFigures): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(figures)) out[key] = Math.round(value * 100) / 100;
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** The issue's targets on this machine, for the table. */
const targets: Partial<Record<keyof RunFigures, string>> = {
  enqueuePerSec: '>= 100000', enqueue4ConnPerSec: '>= 100000', singleEnqueueP50Ms: '<= 1', singleEnqueueP99Ms: '<= 2',
  drainPerSec: '>= 50000 and >= half the enqueue rate', e2eP99Ms: '<= 10', rssMbSteady: '<= 300', bytesPerHeldJob: '<= 1000',
};

async function main(): Promise<void> {
  const runs = numberOption('--runs', 3, 20);
  const jobs = numberOption('--jobs', 200_000, 5_000_000);
  const sizes: RunSizes = {
    jobs, warmJobs: numberOption('--warm-jobs', 50_000, 5_000_000), singles: numberOption('--singles', 3_000, 1_000_000),
    steadyMs: numberOption('--steady-ms', 10_000, 600_000), settleMs: numberOption('--settle-ms', 2_000, 60_000),
    e2eMaxPercent: numberOption('--e2e-max-percent', 50, 100),
  };
  const started = new Date().toISOString();
  console.log(`# Queue bench — ${started}`);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}, `
    + `3 nodes on loopback, fsync always, ${payloadBytes}-byte payloads, ${jobs} jobs per enqueue phase; ${runs} runs; ${JSON.stringify(sizes)}`);
  const results: RunFigures[] = [];
  for (let run = 1; run <= runs; run += 1) results.push(await runOnce(run, sizes));
  const medians = {} as RunFigures;
  console.log(`\n## median of ${runs} runs (spread: min-max)\n\n| figure | median | min | max | target |\n|---|---:|---:|---:|---|`);
  for (const key of Object.keys(results[0] ?? {}) as Array<keyof RunFigures>) {
    const values = results.map((result) => result[key]);
    medians[key] = median(values);
    console.log(`| ${key} | ${medians[key].toFixed(2)} | ${Math.min(...values).toFixed(2)} | ${Math.max(...values).toFixed(2)} | ${targets[key] ?? ''} |`);
  }
  const jsonPath = option('--json');
  if (jsonPath !== undefined) fs.writeFileSync(jsonPath, `${JSON.stringify({ date: started, runs: results, medians }, null, 2)}\n`);
  const headline = rounded(medians);
  console.log(JSON.stringify({
    bench: 'queue', enqueuePerSec: headline.enqueuePerSec, enqueue4ConnPerSec: headline.enqueue4ConnPerSec,
    singleEnqueueP50Ms: headline.singleEnqueueP50Ms, singleEnqueueP99Ms: headline.singleEnqueueP99Ms, drainPerSec: headline.drainPerSec,
    singleEnqueueP999Ms: headline.singleEnqueueP999Ms, e2eP50Ms: headline.e2eP50Ms, e2eP99Ms: headline.e2eP99Ms, e2eP999Ms: headline.e2eP999Ms,
    e2eHalfMaxRatePerSec: headline.e2eHalfMaxRatePerSec, e2eHalfMaxP50Ms: headline.e2eHalfMaxP50Ms, e2eHalfMaxP99Ms: headline.e2eHalfMaxP99Ms,
    e2eHalfMaxP999Ms: headline.e2eHalfMaxP999Ms, enqueueBatch64PerSec: headline.enqueueBatch64PerSec, rssMbSteady: headline.rssMbSteady, bytesPerHeldJob: headline.bytesPerHeldJob,
  }));
}

main().catch(async (error: unknown) => {
  console.error(error);
  await killStartedProcesses();
  process.exitCode = 1;
});
