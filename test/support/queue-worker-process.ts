/**
 * A remote worker as its own process, for tests that kill it with `kill -9`: it registers, beats
 * every `beatMs`, pulls from `queue` and either acks every job (`work`) or keeps every job it
 * pulled without acking (`hold`, to be killed while it holds leases). It prints one JSON line per
 * event (`registered`, `leased {ids}`, `acked {id, token}`) so the test can follow it; a `hold`
 * worker pulls one batch only. Bounded: it
 * exits by itself after `lifetimeMs`.
 *
 * Usage: node queue-worker-process.js '{"ports":[...],"queue":"q","workerId":"w1","mode":"work","beatMs":200,"lifetimeMs":60000}'
 *
 * Runs on: its own process (started by a test).
 */
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ProtocolError } from '../../src/client/protocol-connection.js';

interface Options {
  readonly ports: readonly number[];
  readonly queue: string;
  readonly workerId: string;
  readonly mode: 'work' | 'hold';
  readonly beatMs: number;
  readonly lifetimeMs: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const connection = new ClusterConnection({ nodes: options.ports.map((port) => ({ host: '127.0.0.1', port })), deadlineMs: 10_000 });
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

async function register(): Promise<void> {
  await connection.call({ type: 'register', workerId: options.workerId, queues: [options.queue], capacity: 64 }, { idempotent: true });
  say({ event: 'registered' });
}

async function beat(): Promise<void> {
  try {
    await connection.call({ type: 'heartbeat', workerId: options.workerId }, { idempotent: true });
  } catch (error) {
    if (error instanceof ProtocolError && error.code === 'NOT_FOUND') await register();
  }
}

async function main(): Promise<void> {
  const endMs = Date.now() + options.lifetimeMs;
  await register();
  const beats = setInterval(() => void beat(), options.beatMs);
  while (Date.now() < endMs) {
    const reply = await connection.call({ type: 'pull', queue: options.queue, jobsMax: 16, waitMs: 500, workerId: options.workerId });
    const jobs = reply['jobs'] as Array<{ id: number; token: number }>;
    if (jobs.length === 0) continue;
    say({ event: 'leased', ids: jobs.map((job) => job.id) });
    if (options.mode === 'hold') {
      // Holds this one batch and pulls no more: it only beats, until it is killed.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, endMs - Date.now())));
      break;
    }
    for (const job of jobs) {
      await connection.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true });
      say({ event: 'acked', id: job.id, token: job.token });
    }
  }
  clearInterval(beats);
  connection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
