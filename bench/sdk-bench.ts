/**
 * `npm run bench:sdk`: the SDK's throughput beside the raw protocol's, on one local 3-node
 * cluster (real processes, fsync always, 256-byte payloads), each side in its own client process
 * (queue-bench-client.ts):
 *   - enqueue: raw, one connection with 1024 single-job requests in flight (as bench:queue), vs
 *     FalconClient.enqueue with 1024 calls in flight (the SDK batches them under its sequence window);
 *   - drain: raw, one process pulling 256 at a time and acking each job, vs a FalconClient worker
 *     of concurrency 256 whose handler returns at once.
 * After a warm-up, the sides alternate over the runs (default 3) and the medians are reported.
 * For reference, each run also enqueues through the leader's network APIs (api-bench-client.ts),
 * each over one connection: HTTP (one keep-alive socket, so one request at a time) and gRPC (one
 * channel), in batches of 100 (HTTP `{"jobs": [...]}`, gRPC SubmitJobs with 16 calls in flight)
 * and of 1 (gRPC SubmitJob with 256 calls in flight). Each of these stops after `apiDurationMsMax`.
 * Last output line: `{"bench":"sdk","sdkEnqueuePerSec":…,"rawEnqueuePerSec":…,"sdkDrainPerSec":…,
 * "rawDrainPerSec":…,"httpEnqueuePerSec":…,"grpcEnqueuePerSec":…,"httpEnqueueBatch1PerSec":…,
 * "grpcEnqueueBatch1PerSec":…}`: `httpEnqueuePerSec` and `grpcEnqueuePerSec` are the batch-of-100
 * figures. Options: --runs N, --jobs N (default 100,000); to scale a run down (npm run bench --quick):
 * --warm-jobs N (default 50,000), --api-ms N (each network-API scenario's bound, default 10,000).
 *
 * Runs on: the bench process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster, type TestCluster } from '../test/support/test-cluster.js';

const payloadBytes = 256;
const inflight = 1024;
const clientEntry = fileURLToPath(new URL('./queue-bench-client.js', import.meta.url));
const apiClientEntry = fileURLToPath(new URL('./api-bench-client.js', import.meta.url));
const clientTimeoutMs = 180_000;
/** Each network-API scenario stops after this: HTTP one job at a time runs at the pace of commits. */
const apiDurationMsDefault = 10_000;
/** gRPC calls in flight on the one channel: many single jobs, fewer batches of 100. */
const grpcInflightBatch1 = 256;
const grpcInflightBatch100 = 16;

function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

function client(cluster: TestCluster, scenario: Record<string, unknown>, entry = clientEntry): Promise<Record<string, number>> {
  const ports = cluster.nodes.map((node) => node.clientPort);
  const child = spawn(process.execPath, [entry, JSON.stringify({ ports, timeoutMs: clientTimeoutMs, ...scenario })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      const last = output.trim().split('\n').pop() ?? '';
      if (code === 0) resolve(JSON.parse(last) as Record<string, number>);
      else reject(new Error(`client ${String(scenario['scenario'])} exited with ${String(code)}: ${output.slice(-2000)}`));
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

type ApiFigures = Record<'http1' | 'http100' | 'grpc1' | 'grpc100', number[]>;

/** One run of the network-API scenarios against the leader, each client in its own process. */
async function apiRun(cluster: TestCluster, leaderId: string, run: number, jobs: number, figures: ApiFigures, apiDurationMsMax: number): Promise<void> {
  const leader = cluster.nodes.find((node) => node.id === leaderId);
  if (leader?.grpcPort === undefined) throw new Error(`the leader ${leaderId} has no gRPC port`);
  const common = { jobs, payloadBytes, durationMsMax: apiDurationMsMax };
  const api = (scenario: Record<string, unknown>): Promise<number> => client(cluster, { ...common, ...scenario }, apiClientEntry).then((result) => result['perSec'] ?? 0);
  figures.http100.push(await api({ scenario: 'http-enqueue', queue: `http100-${run}`, opsPort: leader.opsPort, batch: 100 }));
  figures.http1.push(await api({ scenario: 'http-enqueue', queue: `http1-${run}`, opsPort: leader.opsPort, batch: 1 }));
  const grpcAddress = `127.0.0.1:${leader.grpcPort}`;
  figures.grpc100.push(await api({ scenario: 'grpc-enqueue', queue: `grpc100-${run}`, grpcAddress, batch: 100, inflight: grpcInflightBatch100 }));
  figures.grpc1.push(await api({ scenario: 'grpc-enqueue', queue: `grpc1-${run}`, grpcAddress, batch: 1, inflight: grpcInflightBatch1 }));
  console.log(`run ${run + 1}: http enqueue ${Math.round(figures.http100.at(-1) ?? 0)}/s in batches of 100, ${Math.round(figures.http1.at(-1) ?? 0)}/s one by one; `
    + `grpc enqueue ${Math.round(figures.grpc100.at(-1) ?? 0)}/s in batches of 100, ${Math.round(figures.grpc1.at(-1) ?? 0)}/s one by one`);
}

async function main(): Promise<void> {
  const runs = numberOption('--runs', 3);
  const jobs = numberOption('--jobs', 100_000);
  const warmJobs = numberOption('--warm-jobs', 50_000);
  const apiDurationMsMax = numberOption('--api-ms', apiDurationMsDefault);
  const cluster = await createTestCluster({ nodeCount: 3, logLevel: 'warn', grpc: true, extraYaml: 'queue:\n  jobsPerQueueMax: 5000000\n  bytesPerQueueMax: 2147483648\n' });
  const nodes = new ClusterNodes(cluster);
  const figures = { sdkEnqueue: [] as number[], rawEnqueue: [] as number[], sdkDrain: [] as number[], rawDrain: [] as number[] };
  const apiFigures: ApiFigures = { http1: [], http100: [], grpc1: [], grpc100: [] };
  try {
    nodes.startAll();
    await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id), 20_000);
    await client(cluster, { scenario: 'enqueue', queue: 'warm', jobs: warmJobs, payloadBytes, connections: 1, inflight: 512 });
    await client(cluster, { scenario: 'drain', queue: 'warm', jobs: warmJobs, pullMax: 256, workerId: 'warm' });
    for (let run = 0; run < runs; run += 1) {
      const sides = run % 2 === 0 ? ['raw', 'sdk'] : ['sdk', 'raw'];
      for (const side of sides) {
        const queue = `${side}-${run}`;
        if (side === 'raw') {
          figures.rawEnqueue.push((await client(cluster, { scenario: 'enqueue', queue, jobs, payloadBytes, connections: 1, inflight }))['perSec'] ?? 0);
          const drained = await client(cluster, { scenario: 'drain', queue, jobs, pullMax: 256, workerId: `raw-${run}` });
          figures.rawDrain.push(drained['perSec'] ?? 0);
          console.log(`run ${run + 1}: raw drain took ${drained['clientCpuMs']} ms of client CPU in ${Math.round(drained['ms'] ?? 0)} ms`);
        } else {
          const enqueued = await client(cluster, { scenario: 'sdk-enqueue', queue, jobs, payloadBytes, inflight });
          figures.sdkEnqueue.push(enqueued['perSec'] ?? 0);
          const drained = await client(cluster, { scenario: 'sdk-drain', queue, jobs, concurrency: 256 });
          figures.sdkDrain.push(drained['perSec'] ?? 0);
          console.log(`run ${run + 1}: sdk drain took ${drained['clientCpuMs']} ms of client CPU in ${Math.round(drained['ms'] ?? 0)} ms`);
          console.log(`run ${run + 1}: sdk enqueue ${Math.round(enqueued['perSec'] ?? 0)}/s in ${enqueued['requests']} requests`);
        }
      }
      console.log(`run ${run + 1}: raw enqueue ${Math.round(figures.rawEnqueue.at(-1) ?? 0)}/s, sdk enqueue ${Math.round(figures.sdkEnqueue.at(-1) ?? 0)}/s, `
        + `raw drain ${Math.round(figures.rawDrain.at(-1) ?? 0)}/s, sdk drain ${Math.round(figures.sdkDrain.at(-1) ?? 0)}/s`);
      const leader = await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id), 20_000);
      await apiRun(cluster, leader.node, run, jobs, apiFigures, apiDurationMsMax);
    }
  } finally {
    await removeTestCluster(cluster);
    await killStartedProcesses();
  }
  console.log(JSON.stringify({
    bench: 'sdk', sdkEnqueuePerSec: Math.round(median(figures.sdkEnqueue)), rawEnqueuePerSec: Math.round(median(figures.rawEnqueue)),
    sdkDrainPerSec: Math.round(median(figures.sdkDrain)), rawDrainPerSec: Math.round(median(figures.rawDrain)),
    httpEnqueuePerSec: Math.round(median(apiFigures.http100)), grpcEnqueuePerSec: Math.round(median(apiFigures.grpc100)),
    httpEnqueueBatch1PerSec: Math.round(median(apiFigures.http1)), grpcEnqueueBatch1PerSec: Math.round(median(apiFigures.grpc1)),
  }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
