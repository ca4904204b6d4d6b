/**
 * A drill worker, as its own process so that the drill can `kill -9` it while it holds leases. It
 * registers, beats, pulls with long polls through the SDK's cluster connection (the protocol's
 * `pull`, whose jobs carry their fencing token and lease deadline), "works" each job for a few
 * milliseconds, then acks it (or nacks a small share), and streams its history to the drill on
 * stdout, one JSON line each (worker-lines.ts has the format):
 *
 * - a call (pull, ack, nack, register, unregister) is written when it is SENT (`invoke`) and again
 *   when it is answered (`done`); a call cut by a kill stays pending in the drill's history, which
 *   is what it is (it may or may not have taken effect);
 * - every job of every pull reply is a `delivery` line, written before the job is worked on.
 *
 * Writes to a pipe are synchronous on Linux, so a line written before a kill reaches the drill.
 * Every time is this machine's `Date.now()`, the clock the nodes stamp lease deadlines with.
 *
 * SIGTERM stops it gracefully: no more pulls, the running jobs are finished and answered (bounded
 * by `drainMs`), then `unregister`, then exit 0.
 *
 * Usage: node drill-worker.js '<WorkerSettings as JSON>'
 *
 * Runs on: its own process (started by the drill).
 */
import { ClusterConnection, type NodeAddress } from '../../src/client/cluster-connection.js';
import { ProtocolError } from '../../src/client/errors.js';
import { decodePayload } from '../../src/client/job-handler.js';
import { SeededRandom, randomBetween } from '../../src/raft/random.js';
import type { WorkerLine, WorkerCallOutcome } from './worker-lines.js';

export interface WorkerSettings {
  readonly nodes: readonly NodeAddress[];
  readonly queue: string;
  readonly workerId: string;
  readonly seed: number;
  /** Lease asked for each pulled job. */
  readonly leaseMs: number;
  /** Jobs held at once. */
  readonly concurrency: number;
  /** Share of jobs nacked instead of acked (retried by the queue after its backoff). */
  readonly nackRatio: number;
  /** Simulated work per job, drawn in [workMsMin, workMsMax]. */
  readonly workMsMin: number;
  readonly workMsMax: number;
  readonly heartbeatMs: number;
}

/** Long-poll wait of a pull: short, so a SIGTERM or a new leader is noticed soon. */
const pullWaitMs = 500;
/** Each call's deadline, SDK retries included. */
const callDeadlineMs = 8_000;
/** How long SIGTERM waits for the running jobs before unregistering anyway. */
const drainMs = 5_000;

const settings = JSON.parse(process.argv[2] ?? '{}') as WorkerSettings;
const random = new SeededRandom(settings.seed);
const connection = new ClusterConnection({ nodes: settings.nodes, deadlineMs: callDeadlineMs, clientName: `drill-${settings.workerId}` });
let nextRef = 1;
let stopping = false;
const running = new Set<Promise<void>>();

function write(line: WorkerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function outcomeOf(error: unknown): WorkerCallOutcome {
  if (error instanceof ProtocolError) {
    // A definite refusal did nothing; a deadline or UNAVAILABLE with `sent` may have taken effect.
    const unknown = error.sent && (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED' || error.code === 'INTERNAL');
    return { type: unknown ? 'unknown' : 'refused', code: error.code };
  }
  return { type: 'unknown', code: error instanceof Error ? error.message : String(error) };
}

/** Sends `body`, writing its invoke and its answer. `call` names it for the history. */
async function recordedCall(call: { kind: 'ack' | 'nack' | 'call'; name: string; jobId?: number; token?: number }, body: Record<string, unknown> & { type: string },
  idempotent: boolean): Promise<Record<string, unknown> | undefined> {
  const ref = nextRef++;
  write({ w: 'invoke', ref, kind: call.kind, call: call.name, atMs: Date.now(), ...(call.jobId === undefined ? {} : { jobId: call.jobId, token: call.token ?? 0 }) });
  try {
    const reply = await connection.call(body, { idempotent });
    write({ w: 'done', ref, atMs: Date.now(), outcome: { type: 'ok', repeated: reply['repeated'] === true } });
    return reply;
  } catch (error) {
    write({ w: 'done', ref, atMs: Date.now(), outcome: outcomeOf(error) });
    return undefined;
  }
}

async function register(): Promise<void> {
  await recordedCall({ kind: 'call', name: 'register' }, { type: 'register', workerId: settings.workerId, queues: [settings.queue], capacity: settings.concurrency }, true);
}

async function beat(): Promise<void> {
  try {
    await connection.call({ type: 'heartbeat', workerId: settings.workerId }, { idempotent: true, deadlineMs: settings.heartbeatMs * 2 });
  } catch (error) {
    if (error instanceof ProtocolError && error.code === 'NOT_FOUND' && !stopping) await register();
  }
}

interface PulledJob { id: number; token: number; attempt: number; deadlineMs: number; payload: Uint8Array; contentType: string }

async function work(job: PulledJob): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, randomBetween(random, settings.workMsMin, settings.workMsMax)));
  const nack = random.nextUint32() / 2 ** 32 < settings.nackRatio;
  const kind = nack ? 'nack' : 'ack';
  await recordedCall({ kind, name: kind, jobId: job.id, token: job.token },
    nack ? { type: 'nack', jobId: job.id, token: job.token, error: 'drill: a nack on purpose' } : { type: 'ack', jobId: job.id, token: job.token }, true);
}

function opIdOf(job: PulledJob): string {
  const payload = decodePayload(job.payload, job.contentType) as { opId?: unknown } | null;
  return typeof payload?.opId === 'string' ? payload.opId : `(no op id: ${job.contentType})`;
}

async function pullOnce(): Promise<void> {
  const free = settings.concurrency - running.size;
  if (free <= 0) {
    await Promise.race(running);
    return;
  }
  const reply = await recordedCall({ kind: 'call', name: 'pull' },
    { type: 'pull', queue: settings.queue, jobsMax: free, waitMs: pullWaitMs, leaseMs: settings.leaseMs, workerId: settings.workerId }, false);
  if (reply === undefined) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return;
  }
  const atMs = Date.now();
  for (const job of (reply['jobs'] ?? []) as PulledJob[]) {
    write({ w: 'delivery', record: { kind: 'delivery', jobId: job.id, token: job.token, attempt: job.attempt, payloadOpId: opIdOf(job), workerId: settings.workerId, atMs, deadlineMs: job.deadlineMs } });
    const done = work(job).finally(() => running.delete(done));
    running.add(done);
  }
}

async function main(): Promise<void> {
  process.once('SIGTERM', () => { stopping = true; });
  await register();
  const beats = setInterval(() => void beat(), settings.heartbeatMs);
  while (!stopping) await pullOnce();
  const drained = Promise.all(running);
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainMs))]);
  clearInterval(beats);
  const released = await recordedCall({ kind: 'call', name: 'unregister' }, { type: 'unregister', workerId: settings.workerId }, true);
  if (released !== undefined) write({ w: 'released', atMs: Date.now(), reason: 'goodbye' });
  connection.close();
}

main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`drill worker ${settings.workerId}: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
