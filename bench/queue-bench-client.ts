/**
 * One client process of `npm run bench:queue` (queue-bench.ts starts it): it runs one scenario
 * against the cluster as a user's program would, through the client protocol, and prints one
 * line of JSON with its figures. Every loop is bounded in jobs and in time.
 *
 * Scenarios (argv[2] is a JSON object with `scenario` and its parameters):
 * - `enqueue`: `jobs` enqueues of `payloadBytes`, `batch` jobs per request (default 1), pipelined,
 *   `inflight` requests per connection, over `connections` connections -> jobs/s acknowledged.
 * - `single`: `count` enqueues one at a time -> latency p50/p99/p999.
 * - `drain`: pulls (`pullMax` per pull) and acks until `jobs` jobs were acked -> jobs/s.
 * - `produce`: enqueues at `ratePerSec` for `durationMs`, each payload starting with its send time.
 * - `consume`: pulls with long polls and acks until `jobs` jobs came, recording send -> lease latency
 *   (with `stopWhenIdle`, also stops when a 1 s long poll finds nothing after jobs came: one of
 *   several consumers of one producer); prints its histogram too (`histogram`, compressed base64),
 *   so that the bench can merge several consumers' histograms.
 * - `purge`: empties the queue's ready jobs.
 * - `sdk-enqueue`: `jobs` calls of FalconClient.enqueue, `inflight` at a time (the SDK batches
 *   them) -> jobs/s acknowledged.
 * - `sdk-drain`: a FalconClient worker (`concurrency`, a handler that returns at once) until
 *   `jobs` jobs were acked -> jobs/s.
 * - `failover-load`: FalconClient.enqueue at `ratePerSec` for `durationMs`, recording when each
 *   enqueue was acknowledged; it sends `{ started: <wall ms> }` on its IPC channel once connected,
 *   and the bench that kills the leader answers `{ killedAtMs }`; at the end, the failover figures
 *   (failover-figures.ts) around that kill, and the enqueues that failed.
 * Nodes are on 127.0.0.1 at `ports`, or at `hosts` (same order) when given.
 *
 * Runs on: a bench client process.
 */
import hdr from 'hdr-histogram-js';
import { ClusterConnection } from '../src/client/cluster-connection.js';
import { FalconClient } from '../src/client/index.js';
import { consumerReadyLine } from './e2e-latency.js';
import { failoverFigures, type AckedEnqueue } from './failover-figures.js';

interface Common {
  readonly ports: readonly number[];
  readonly hosts?: readonly string[];
  readonly queue: string;
  readonly timeoutMs: number;
}

type Scenario =
  | Common & { readonly scenario: 'enqueue'; readonly jobs: number; readonly payloadBytes: number; readonly connections: number; readonly inflight: number; readonly batch?: number }
  | Common & { readonly scenario: 'single'; readonly count: number; readonly payloadBytes: number }
  | Common & { readonly scenario: 'drain'; readonly jobs: number; readonly pullMax: number; readonly workerId: string }
  | Common & { readonly scenario: 'produce'; readonly ratePerSec: number; readonly durationMs: number; readonly payloadBytes: number }
  | Common & { readonly scenario: 'consume'; readonly jobs: number; readonly workerId: string; readonly stopWhenIdle?: boolean }
  | Common & { readonly scenario: 'purge' }
  | Common & { readonly scenario: 'sdk-enqueue'; readonly jobs: number; readonly payloadBytes: number; readonly inflight: number }
  | Common & { readonly scenario: 'sdk-drain'; readonly jobs: number; readonly concurrency: number }
  | Common & { readonly scenario: 'failover-load'; readonly ratePerSec: number; readonly durationMs: number; readonly payloadBytes: number;
    readonly aroundMs: number; readonly warmMs: number };

function nodesOf(scenario: Common): Array<{ host: string; port: number }> {
  return scenario.ports.map((port, at) => ({ host: scenario.hosts?.[at] ?? '127.0.0.1', port }));
}

function connect(scenario: Common): ClusterConnection {
  return new ClusterConnection({ nodes: nodesOf(scenario), deadlineMs: 20_000 });
}

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function checkDeadline(startMs: number, scenario: Common): void {
  if (performance.now() - startMs > scenario.timeoutMs) throw new Error(`${JSON.stringify(scenario).slice(0, 80)}: not done within ${scenario.timeoutMs} ms`);
}

async function enqueue(scenario: Extract<Scenario, { scenario: 'enqueue' }>): Promise<Record<string, number>> {
  const payload = Buffer.alloc(scenario.payloadBytes, 0x61);
  const connections = Array.from({ length: scenario.connections }, () => connect(scenario));
  // Opens every connection (and its producer session) before the clock starts.
  await Promise.all(connections.map((connection) => connection.call({ type: 'stats', queue: scenario.queue }, { idempotent: true })));
  let sent = 0;
  const startMs = performance.now();
  const batch = scenario.batch ?? 1;
  const lane = async (connection: ClusterConnection): Promise<void> => {
    while (sent < scenario.jobs) {
      const count = Math.min(batch, scenario.jobs - sent);
      sent += count;
      checkDeadline(startMs, scenario);
      await connection.call({ type: 'enqueue', queue: scenario.queue, jobs: Array.from({ length: count }, () => ({ payload })) });
    }
  };
  await Promise.all(connections.flatMap((connection) => Array.from({ length: scenario.inflight }, () => lane(connection))));
  const ms = performance.now() - startMs;
  for (const connection of connections) connection.close();
  return { jobs: scenario.jobs, ms, perSec: (scenario.jobs / ms) * 1000 };
}

async function single(scenario: Extract<Scenario, { scenario: 'single' }>): Promise<Record<string, number>> {
  const payload = Buffer.alloc(scenario.payloadBytes, 0x62);
  const connection = connect(scenario);
  await connection.call({ type: 'stats', queue: scenario.queue }, { idempotent: true });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
  const startMs = performance.now();
  for (let sent = 0; sent < scenario.count; sent += 1) {
    checkDeadline(startMs, scenario);
    const beforeMs = performance.now();
    await connection.call({ type: 'enqueue', queue: scenario.queue, jobs: [{ payload }] });
    histogram.recordValue(Math.max(1, Math.round((performance.now() - beforeMs) * 1000)));
  }
  connection.close();
  return {
    count: scenario.count, p50Ms: histogram.getValueAtPercentile(50) / 1000, p99Ms: histogram.getValueAtPercentile(99) / 1000,
    p999Ms: histogram.getValueAtPercentile(99.9) / 1000, maxMs: histogram.maxValue / 1000,
  };
}

async function drain(scenario: Extract<Scenario, { scenario: 'drain' }>): Promise<Record<string, number>> {
  const connection = connect(scenario);
  await connection.call({ type: 'stats', queue: scenario.queue }, { idempotent: true });
  let acked = 0;
  const startMs = performance.now();
  const inflight: Array<Promise<unknown>> = [];
  while (acked < scenario.jobs) {
    checkDeadline(startMs, scenario);
    const reply = await connection.call({ type: 'pull', queue: scenario.queue, jobsMax: scenario.pullMax, waitMs: 200, workerId: scenario.workerId });
    const jobs = reply['jobs'] as Array<{ id: number; token: number }>;
    if (jobs.length === 0) break; // the queue is empty (the pull waited 200 ms for a job)
    for (const job of jobs) inflight.push(connection.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true }));
    acked += jobs.length;
    // Acks of this pull travel while the next pull is answered; a bounded number waits.
    if (inflight.length >= scenario.pullMax * 2) await Promise.all(inflight.splice(0, inflight.length));
  }
  await Promise.all(inflight);
  const ms = performance.now() - startMs;
  connection.close();
  return { jobs: acked, ms, perSec: (acked / ms) * 1000 };
}

async function produce(scenario: Extract<Scenario, { scenario: 'produce' }>): Promise<Record<string, number>> {
  const connection = connect(scenario);
  await connection.call({ type: 'stats', queue: scenario.queue }, { idempotent: true });
  const startMs = performance.now();
  const pending: Array<Promise<unknown>> = [];
  let sent = 0;
  const total = Math.round((scenario.ratePerSec * scenario.durationMs) / 1000);
  // Sends in 1 ms ticks whatever is due by then, so that the rate holds without a timer per job.
  while (sent < total) {
    checkDeadline(startMs, scenario);
    const dueJobs = Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * scenario.ratePerSec));
    for (; sent < dueJobs; sent += 1) {
      const payload = Buffer.alloc(scenario.payloadBytes, 0x63);
      payload.writeDoubleLE(nowMs(), 0);
      pending.push(connection.call({ type: 'enqueue', queue: scenario.queue, jobs: [{ payload }] }));
    }
    if (pending.length > 10_000) await Promise.all(pending.splice(0, pending.length));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  connection.close();
  return { jobs: sent, ms: performance.now() - startMs };
}

async function consume(scenario: Extract<Scenario, { scenario: 'consume' }>): Promise<Record<string, number | string>> {
  const connection = connect(scenario);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  await connection.call({ type: 'stats', queue: scenario.queue }, { idempotent: true });
  console.log(consumerReadyLine);
  let received = 0;
  const startMs = performance.now();
  const acks: Array<Promise<unknown>> = [];
  while (received < scenario.jobs) {
    checkDeadline(startMs, scenario);
    const reply = await connection.call({ type: 'pull', queue: scenario.queue, jobsMax: 256, waitMs: 1_000, workerId: scenario.workerId });
    const arrivedMs = nowMs();
    const jobs = reply['jobs'] as Array<{ id: number; token: number; payload: Uint8Array }>;
    if (jobs.length === 0 && received > 0 && scenario.stopWhenIdle === true) break;
    for (const job of jobs) {
      const sentMs = Buffer.from(job.payload.buffer, job.payload.byteOffset, job.payload.byteLength).readDoubleLE(0);
      histogram.recordValue(Math.max(1, Math.round((arrivedMs - sentMs) * 1000)));
      acks.push(connection.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true }));
      received += 1;
    }
    if (acks.length > 4096) await Promise.all(acks.splice(0, acks.length));
  }
  await Promise.all(acks);
  connection.close();
  return {
    jobs: received, p50Ms: histogram.getValueAtPercentile(50) / 1000, p99Ms: histogram.getValueAtPercentile(99) / 1000,
    p999Ms: histogram.getValueAtPercentile(99.9) / 1000, maxMs: histogram.maxValue / 1000, histogram: hdr.encodeIntoCompressedBase64(histogram),
  };
}

async function purge(scenario: Extract<Scenario, { scenario: 'purge' }>): Promise<Record<string, number>> {
  const connection = connect(scenario);
  const reply = await connection.call({ type: 'purge', queue: scenario.queue, set: 'ready' }, { idempotent: true });
  connection.close();
  return { jobs: reply['jobs'] as number };
}

function sdkClient(scenario: Common): FalconClient {
  return new FalconClient({ nodes: nodesOf(scenario), deadlineMs: 20_000 });
}

async function sdkEnqueue(scenario: Extract<Scenario, { scenario: 'sdk-enqueue' }>): Promise<Record<string, number>> {
  const payload = Buffer.alloc(scenario.payloadBytes, 0x61);
  const client = sdkClient(scenario);
  await client.stats(scenario.queue);
  let sent = 0;
  const startMs = performance.now();
  const lane = async (): Promise<void> => {
    while (sent < scenario.jobs) {
      sent += 1;
      checkDeadline(startMs, scenario);
      await client.enqueue(scenario.queue, payload);
    }
  };
  await Promise.all(Array.from({ length: scenario.inflight }, lane));
  const ms = performance.now() - startMs;
  const { enqueueRequests } = client.counters;
  await client.close();
  return { jobs: scenario.jobs, ms, perSec: (scenario.jobs / ms) * 1000, requests: enqueueRequests };
}

async function sdkDrain(scenario: Extract<Scenario, { scenario: 'sdk-drain' }>): Promise<Record<string, number>> {
  const client = sdkClient(scenario);
  await client.stats(scenario.queue);
  const startMs = performance.now();
  const worker = client.worker(scenario.queue, async () => undefined, { concurrency: scenario.concurrency, waitMs: 200 });
  while (worker.counters.acked < scenario.jobs) {
    checkDeadline(startMs, scenario);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const ms = performance.now() - startMs;
  const acked = worker.counters.acked;
  await client.close();
  return { jobs: acked, ms, perSec: (acked / ms) * 1000 };
}

/** The kill time the bench sends on the IPC channel (undefined until it comes). */
function killTime(): () => number | undefined {
  let killedAtMs: number | undefined;
  process.on('message', (message: { killedAtMs?: unknown }) => {
    if (typeof message.killedAtMs === 'number') killedAtMs = message.killedAtMs;
  });
  return () => killedAtMs;
}

async function failoverLoad(scenario: Extract<Scenario, { scenario: 'failover-load' }>): Promise<Record<string, number>> {
  const client = sdkClient(scenario);
  const killedAt = killTime();
  await client.stats(scenario.queue);
  const total = Math.round((scenario.ratePerSec * scenario.durationMs) / 1000);
  const acks: AckedEnqueue[] = [];
  let failures = 0;
  let sent = 0;
  const startedAtMs = nowMs();
  const startMs = performance.now();
  process.send?.({ started: startedAtMs });
  const pending = new Set<Promise<void>>();
  while (sent < total) {
    checkDeadline(startMs, scenario);
    const dueJobs = Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * scenario.ratePerSec));
    for (; sent < dueJobs; sent += 1) {
      const sentMs = nowMs();
      const call = client.enqueue(scenario.queue, Buffer.alloc(scenario.payloadBytes, 0x64)).then(
        () => { acks.push({ sentMs, ackedMs: nowMs() }); },
        () => { failures += 1; },
      );
      pending.add(call);
      void call.then(() => pending.delete(call));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  await client.close();
  const killedAtMs = killedAt();
  process.disconnect?.();
  if (killedAtMs === undefined) throw new Error('failover-load: the bench never said when it killed the leader');
  const figures = failoverFigures(acks, { killedAtMs, aroundMs: scenario.aroundMs, beforeStartMs: startedAtMs + scenario.warmMs });
  return { ...figures, jobs: sent, acked: acks.length, failures, ratePerSec: scenario.ratePerSec };
}

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2] ?? '{}') as Scenario;
  let figures: Record<string, number | string>;
  switch (scenario.scenario) {
    case 'enqueue': figures = await enqueue(scenario); break;
    case 'single': figures = await single(scenario); break;
    case 'drain': figures = await drain(scenario); break;
    case 'produce': figures = await produce(scenario); break;
    case 'consume': figures = await consume(scenario); break;
    case 'purge': figures = await purge(scenario); break;
    case 'sdk-enqueue': figures = await sdkEnqueue(scenario); break;
    case 'sdk-drain': figures = await sdkDrain(scenario); break;
    case 'failover-load': figures = await failoverLoad(scenario); break;
  }
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ ...figures, clientCpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
