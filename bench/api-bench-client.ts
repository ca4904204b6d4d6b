/**
 * One client process of `npm run bench:sdk` (sdk-bench.ts starts it) for the network APIs: it
 * enqueues through a node's HTTP API or its gRPC FalconQueueService, over ONE connection, and
 * prints one line of JSON with its figures. Like queue-bench-client.ts, every loop is bounded in
 * jobs and in time.
 *
 * Scenarios (argv[2] is a JSON object with `scenario` and its parameters):
 * - `http-enqueue`: `POST /v1/queues/{queue}/jobs` on `opsPort`, through a keep-alive agent with
 *   one socket, so HTTP/1.1 sends one request at a time; `batch` 1 sends one job per request,
 *   more sends `{"jobs": [...]}` -> jobs/s.
 * - `grpc-enqueue`: SubmitJob (`batch` 1) or SubmitJobs (`batch` jobs per call) on `grpcAddress`,
 *   one channel (one HTTP/2 connection) with `inflight` calls at once -> jobs/s.
 *
 * Both stop at `jobs` jobs or after `durationMsMax` (an API that is slow one request at a time
 * would otherwise hold the bench for minutes), and report the jobs they got answered. Payloads are
 * `payloadBytes` bytes as the node stores them (a JSON string over HTTP, bytes over gRPC).
 *
 * Runs on: a bench client process.
 */
import { Agent, request as httpRequest } from 'node:http';
import { FalconQueueClient } from '../test/grpc/proto-client.js';

interface Common {
  readonly queue: string;
  readonly jobs: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly durationMsMax: number;
}

type Scenario =
  | Common & { readonly scenario: 'http-enqueue'; readonly opsPort: number }
  | Common & { readonly scenario: 'grpc-enqueue'; readonly grpcAddress: string; readonly inflight: number };

/** A call longer than this is a stuck node, not a figure. */
const callTimeoutMs = 20_000;

function figures(jobs: number, startMs: number): Record<string, number> {
  const ms = performance.now() - startMs;
  return { jobs, ms, perSec: (jobs / ms) * 1000 };
}

function post(agent: Agent, port: number, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ agent, host: '127.0.0.1', port, path, method: 'POST', timeout: callTimeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${callTimeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

async function httpEnqueue(scenario: Extract<Scenario, { scenario: 'http-enqueue' }>): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  // A JSON string of payloadBytes bytes, quotes included, as the node stores it.
  const job = JSON.stringify({ payload: 'a'.repeat(Math.max(0, scenario.payloadBytes - 2)) });
  const path = `/v1/queues/${encodeURIComponent(scenario.queue)}/jobs`;
  const bodyOf = (count: number): string => (scenario.batch === 1 ? job : `{"jobs":[${Array.from({ length: count }, () => job).join(',')}]}`);
  await post(agent, scenario.opsPort, path, bodyOf(1)); // opens the socket and the node's producer session
  let sent = 0;
  const startMs = performance.now();
  while (sent < scenario.jobs && performance.now() - startMs < scenario.durationMsMax) {
    const count = Math.min(scenario.batch, scenario.jobs - sent);
    const answer = await post(agent, scenario.opsPort, path, bodyOf(count));
    if (answer.status !== 201) throw new Error(`enqueue answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    sent += count;
  }
  const result = figures(sent, startMs);
  agent.destroy();
  return result;
}

async function grpcEnqueue(scenario: Extract<Scenario, { scenario: 'grpc-enqueue' }>): Promise<Record<string, number>> {
  const client = new FalconQueueClient(scenario.grpcAddress);
  const payload = Buffer.alloc(scenario.payloadBytes, 0x61);
  const call = async (count: number): Promise<void> => {
    const result = scenario.batch === 1
      ? await client.call('SubmitJob', { queue: scenario.queue, payload }, callTimeoutMs)
      : await client.call('SubmitJobs', { queue: scenario.queue, jobs: Array.from({ length: count }, () => ({ payload })) }, callTimeoutMs);
    if (!result.ok) throw new Error(`enqueue answered status ${result.code}: ${result.details}`);
  };
  await call(1); // opens the channel and the gateway's connection to the node
  let sent = 0;
  const startMs = performance.now();
  const lane = async (): Promise<void> => {
    while (sent < scenario.jobs && performance.now() - startMs < scenario.durationMsMax) {
      const count = Math.min(scenario.batch, scenario.jobs - sent);
      sent += count;
      await call(count);
    }
  };
  await Promise.all(Array.from({ length: scenario.inflight }, lane));
  const result = figures(sent, startMs);
  client.close();
  return result;
}

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2] ?? '{}') as Scenario;
  const result = scenario.scenario === 'http-enqueue' ? await httpEnqueue(scenario) : await grpcEnqueue(scenario);
  console.log(JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
