/**
 * The SDK's views of what a node answers to `get`, `list` and `stats` (docs/protocol.md §4), read
 * from the reply maps field by field: a reply is data from another process, so a malformed one
 * becomes an InternalError instead of a value of the wrong shape. Payloads and results are decoded
 * as a handler sees them.
 *
 * Runs on: any thread of a client process.
 */
import { decode } from '../codec/msgpack.js';
import { InternalError } from './errors.js';
import type { JobState } from './enqueue-batcher.js';
import { decodePayload } from './job-handler.js';

/** One step of a job's history, with the leader's time. */
export interface JobTransition {
  readonly state: JobState;
  readonly atMs: number;
  /** When the step is not the obvious one: `expired`, `workerReleased`, `nack`, `redrive`, ... */
  readonly reason?: string;
  /** On a lease: its token. */
  readonly token?: number;
}

/** A job as `get` shows it. */
export interface JobInfo {
  readonly id: number;
  readonly queue: string;
  readonly state: JobState;
  readonly priority: number;
  /** Decoded as a handler gets it: the value for `application/json` and `application/msgpack`, else the bytes. */
  readonly payload: unknown;
  /** The payload as stored. */
  readonly payloadBytes: Uint8Array;
  readonly contentType: string;
  readonly attempts: number;
  readonly attemptsMax: number;
  readonly runAtMs: number;
  readonly enqueuedAtMs: number;
  readonly updatedAtMs: number;
  readonly idempotencyKey?: string;
  /** While leased: the lease's token, end and worker. */
  readonly token?: number;
  readonly leaseDeadlineMs?: number;
  readonly workerId?: string;
  /** What the handler returned (decoded from MessagePack; the bytes when they are not MessagePack). */
  readonly result?: unknown;
  readonly resultBytes?: Uint8Array;
  /** What the last failed attempt said. */
  readonly lastError?: string;
  readonly history: readonly JobTransition[];
}

/** A job as `list` shows it (no payload: use `get`). */
export interface JobSummary {
  readonly id: number;
  readonly state: JobState;
  readonly priority: number;
  readonly attempts: number;
  readonly runAtMs: number;
  readonly enqueuedAtMs: number;
  readonly updatedAtMs: number;
}

/** One page of `list`; `nextAfterId` is the next page's `afterId`, or null on the last page. */
export interface JobPage {
  readonly jobs: readonly JobSummary[];
  readonly nextAfterId: number | null;
}

/** One queue's figures (docs/protocol.md, stats). */
export interface QueueStats {
  readonly queue: string;
  readonly paused: boolean;
  readonly ready: number;
  readonly delayed: number;
  readonly leased: number;
  readonly dead: number;
  readonly completed: number;
  /** Payload bytes held (every state but completed and cancelled). */
  readonly bytes: number;
  readonly oldestReadyAgeMs: number;
  readonly enqueuedTotal: number;
  readonly leasedTotal: number;
  readonly ackedTotal: number;
  readonly nackedTotal: number;
  readonly expiredTotal: number;
  readonly deadLetteredTotal: number;
}

type Fields = Record<string, unknown>;

function mapOf(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InternalError(`the node answered ${what} that is not a map`);
  return value as Fields;
}

function checkFields(fields: Fields, what: string, integers: readonly string[], strings: readonly string[]): void {
  const wrong = integers.find((name) => !Number.isSafeInteger(fields[name])) ?? strings.find((name) => typeof fields[name] !== 'string');
  if (wrong !== undefined) throw new InternalError(`the node answered ${what} with a malformed ${wrong}`);
}

function decodedResult(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return bytes;
  }
}

function decodedPayload(bytes: Uint8Array, contentType: string): unknown {
  try {
    return decodePayload(bytes, contentType);
  } catch {
    return bytes;
  }
}

/** The job of a `get` reply. */
export function jobInfoOf(reply: Fields): JobInfo {
  const job = mapOf(reply['job'], 'a get');
  checkFields(job, 'a get', ['id', 'priority', 'attempts', 'attemptsMax', 'runAtMs', 'enqueuedAtMs', 'updatedAtMs'], ['queue', 'state', 'contentType']);
  const payloadBytes = job['payload'];
  if (!(payloadBytes instanceof Uint8Array)) throw new InternalError('the node answered a get without payload bytes');
  const history = Array.isArray(job['history']) ? (job['history'] as unknown[]).map((step) => mapOf(step, 'a history step') as unknown as JobTransition) : [];
  const info: Fields = { ...job, payload: decodedPayload(payloadBytes, job['contentType'] as string), payloadBytes, history };
  const result = job['result'];
  delete info['result'];
  if (result instanceof Uint8Array) {
    info['result'] = decodedResult(result);
    info['resultBytes'] = result;
  }
  return info as unknown as JobInfo;
}

/** The page of a `list` reply. */
export function jobPageOf(reply: Fields): JobPage {
  const jobs = reply['jobs'];
  if (!Array.isArray(jobs)) throw new InternalError('the node answered a list without a jobs array');
  const summaries = jobs.map((job: unknown) => {
    const fields = mapOf(job, 'a listed job');
    checkFields(fields, 'a listed job', ['id', 'priority', 'attempts', 'runAtMs', 'enqueuedAtMs', 'updatedAtMs'], ['state']);
    return fields as unknown as JobSummary;
  });
  const next = reply['nextAfterId'];
  return { jobs: summaries, nextAfterId: Number.isSafeInteger(next) ? next as number : null };
}

/** The queues of a `stats` reply. */
export function queueStatsOf(reply: Fields): QueueStats[] {
  const queues = reply['queues'];
  if (!Array.isArray(queues)) throw new InternalError('the node answered stats without a queues array');
  return queues.map((queue: unknown) => {
    const fields = mapOf(queue, 'a queue of stats');
    checkFields(fields, 'a queue of stats', ['ready', 'delayed', 'leased', 'dead', 'completed'], ['queue']);
    return fields as unknown as QueueStats;
  });
}

/** The `jobs` count of a redrive or purge reply. */
export function movedJobsOf(reply: Fields): number {
  const jobs = reply['jobs'];
  if (!Number.isSafeInteger(jobs)) throw new InternalError('the node answered without a jobs count');
  return jobs as number;
}
