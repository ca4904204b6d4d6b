/**
 * `npm run bench -- --cluster <config.yaml>`: the scenarios that need no process of their own,
 * run against a cluster someone else started (the nodes of the config file, at their hosts and
 * client ports), with the same bench clients (queue-bench-client.ts) and the same figure names as
 * bench:queue and bench:sdk, so that the table reads the same. What needs the nodes' processes is
 * left out: RSS figures (bench:queue), kills (bench:raft, the failover run), a cluster of one node.
 * Queues are named `bench-<time>-…` so as not to touch the cluster's own; each is emptied after.
 * The cluster must accept clients without a token.
 *
 * Runs on: the bench process.
 */
import { loadClusterConfig } from '../src/config/load-config.js';
import type { OwnSizes } from './bench-options.js';
import { runClient, type ClientNodes } from './bench-process.js';
import { medianFigures } from './bench-report.js';
import { endToEndLatency } from './e2e-latency.js';

const payloadBytes = 256;

export function clientNodesOf(configPath: string): ClientNodes {
  const config = loadClusterConfig(configPath);
  return { ports: config.nodes.map((node) => node.clientPort), hosts: config.nodes.map((node) => node.host) };
}

async function queueRun(nodes: ClientNodes, prefix: string, sizes: OwnSizes, steadyMs: number, onLine: (line: string) => void): Promise<Record<string, number>> {
  const { jobs } = sizes;
  onLine(`pipelined enqueue, 1 connection: ${jobs} jobs`);
  const enqueue1 = await runClient(nodes, { scenario: 'enqueue', queue: `${prefix}1`, jobs, payloadBytes, connections: 1, inflight: 1024 });
  onLine('drain, 2 workers');
  const drains = await Promise.all([1, 2].map((worker) =>
    runClient(nodes, { scenario: 'drain', queue: `${prefix}1`, jobs, pullMax: 256, workerId: `${prefix}drain-${worker}` })));
  onLine(`pipelined enqueue, 4 connections: ${jobs} jobs`);
  const enqueue4 = await runClient(nodes, { scenario: 'enqueue', queue: `${prefix}4`, jobs, payloadBytes, connections: 4, inflight: 256 });
  await runClient(nodes, { scenario: 'purge', queue: `${prefix}4` });
  onLine(`one enqueue at a time: ${sizes.singles}`);
  const single = await runClient(nodes, { scenario: 'single', queue: `${prefix}single`, count: sizes.singles, payloadBytes });
  await runClient(nodes, { scenario: 'purge', queue: `${prefix}single` });
  onLine('enqueue → lease at 5,000/s');
  const e2e = await endToEndLatency(nodes, `${prefix}e2e`, 5_000, steadyMs, 1);
  const halfMaxRatePerSec = Math.max(1, Math.round((enqueue1['perSec'] ?? 0) / 2));
  onLine(`enqueue → lease at ${halfMaxRatePerSec}/s (50% of the maximum)`);
  const e2eHalf = await endToEndLatency(nodes, `${prefix}e2e-half`, halfMaxRatePerSec, steadyMs, 2);
  const drained = drains.reduce((total, figures) => total + (figures['jobs'] ?? 0), 0);
  return {
    enqueuePerSec: enqueue1['perSec'] ?? Number.NaN, enqueue4ConnPerSec: enqueue4['perSec'] ?? Number.NaN,
    singleEnqueueP50Ms: single['p50Ms'] ?? Number.NaN, singleEnqueueP99Ms: single['p99Ms'] ?? Number.NaN, singleEnqueueP999Ms: single['p999Ms'] ?? Number.NaN,
    drainPerSec: (drained / Math.max(...drains.map((figures) => figures['ms'] ?? 0))) * 1000,
    e2eP50Ms: e2e['p50Ms'] ?? Number.NaN, e2eP99Ms: e2e['p99Ms'] ?? Number.NaN, e2eP999Ms: e2e['p999Ms'] ?? Number.NaN,
    e2eHalfMaxRatePerSec: halfMaxRatePerSec, e2eHalfMaxP50Ms: e2eHalf['p50Ms'] ?? Number.NaN,
    e2eHalfMaxP99Ms: e2eHalf['p99Ms'] ?? Number.NaN, e2eHalfMaxP999Ms: e2eHalf['p999Ms'] ?? Number.NaN,
  };
}

/** bench:queue's figures (without RSS) on the existing cluster; the median of `sizes.runs`. */
export async function existingClusterQueue(nodes: ClientNodes, sizes: OwnSizes, steadyMs: number, onLine: (line: string) => void): Promise<Record<string, number>> {
  const runs: Array<Record<string, number>> = [];
  for (let run = 1; run <= sizes.runs; run += 1) {
    runs.push(await queueRun(nodes, `bench-${Date.now()}-`, sizes, steadyMs, (line) => onLine(`run ${run}: ${line}`)));
  }
  return medianFigures(runs);
}

/** bench:sdk's enqueue and drain figures, raw protocol beside the SDK, on the existing cluster. */
export async function existingClusterSdk(nodes: ClientNodes, sizes: OwnSizes, onLine: (line: string) => void): Promise<Record<string, number>> {
  const runs: Array<Record<string, number>> = [];
  for (let run = 1; run <= sizes.runs; run += 1) {
    const prefix = `bench-${Date.now()}-`;
    const { jobs } = sizes;
    onLine(`run ${run}: raw enqueue and drain, ${jobs} jobs`);
    const rawEnqueue = await runClient(nodes, { scenario: 'enqueue', queue: `${prefix}raw`, jobs, payloadBytes, connections: 1, inflight: 1024 });
    const rawDrain = await runClient(nodes, { scenario: 'drain', queue: `${prefix}raw`, jobs, pullMax: 256, workerId: `${prefix}raw` });
    onLine(`run ${run}: SDK enqueue and drain, ${jobs} jobs`);
    const sdkEnqueue = await runClient(nodes, { scenario: 'sdk-enqueue', queue: `${prefix}sdk`, jobs, payloadBytes, inflight: 1024 });
    const sdkDrain = await runClient(nodes, { scenario: 'sdk-drain', queue: `${prefix}sdk`, jobs, concurrency: 256 });
    runs.push({
      sdkEnqueuePerSec: sdkEnqueue['perSec'] ?? Number.NaN, rawEnqueuePerSec: rawEnqueue['perSec'] ?? Number.NaN,
      sdkDrainPerSec: sdkDrain['perSec'] ?? Number.NaN, rawDrainPerSec: rawDrain['perSec'] ?? Number.NaN,
    });
  }
  return medianFigures(runs);
}
