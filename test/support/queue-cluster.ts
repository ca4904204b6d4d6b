/**
 * Helpers for tests that drive a cluster of real processes as a user does: a producer that
 * enqueues with idempotency keys and retries what was not acknowledged, and workers that pull and
 * ack, each recording what happened so that the test can check the promises afterwards (every
 * acknowledged enqueue completed, each key one job, no stale token accepted).
 *
 * Every loop is bounded in count and in time and stops by itself.
 *
 * Runs on: test process.
 */
import { ClusterConnection } from '../../src/client/cluster-connection.js';
import { ProtocolError } from '../../src/client/protocol-connection.js';
import type { TestCluster } from './test-cluster.js';

export function clusterConnection(cluster: TestCluster, deadlineMs = 20_000): ClusterConnection {
  return new ClusterConnection({ nodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.clientPort })), deadlineMs });
}

export interface EnqueuedRecord {
  /** Key -> the job id every acknowledged answer gave for it. */
  readonly idsByKey: Map<string, Set<number>>;
  readonly acknowledged: number;
  readonly failedCalls: number;
}

/**
 * Enqueues `count` jobs with keys `${prefix}${i}`, `batch` per request, `inflight` requests at a
 * time; a request that fails is retried with the same keys until it is acknowledged or
 * `timeoutMs` passes. `onAcknowledged(total)` runs after each acknowledged request.
 */
export async function enqueueWithKeys(connection: ClusterConnection, queue: string, options: {
  readonly count: number; readonly batch: number; readonly inflight: number; readonly prefix: string; readonly timeoutMs: number;
  readonly onAcknowledged?: (total: number) => Promise<void> | void;
}): Promise<EnqueuedRecord> {
  const idsByKey = new Map<string, Set<number>>();
  const deadline = Date.now() + options.timeoutMs;
  let next = 0;
  let acknowledged = 0;
  let failedCalls = 0;
  const payload = Buffer.alloc(64, 0x61);
  const lane = async (): Promise<void> => {
    while (next < options.count) {
      const first = next;
      next = Math.min(options.count, next + options.batch);
      const keys = Array.from({ length: next - first }, (_, offset) => `${options.prefix}${first + offset}`);
      const jobs = keys.map((key) => ({ payload, idempotencyKey: key }));
      for (;;) {
        if (Date.now() > deadline) throw new Error(`enqueue of keys ${keys[0]}.. not acknowledged within ${options.timeoutMs} ms`);
        try {
          const reply = await connection.call({ type: 'enqueue', queue, jobs }, { idempotent: true });
          const answered = reply['jobs'] as Array<{ id: number }>;
          keys.forEach((key, position) => {
            const ids = idsByKey.get(key) ?? new Set<number>();
            ids.add((answered[position] as { id: number }).id);
            idsByKey.set(key, ids);
          });
          acknowledged += keys.length;
          await options.onAcknowledged?.(acknowledged);
          break;
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          failedCalls += 1;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.inflight }, lane));
  return { idsByKey, acknowledged, failedCalls };
}

export interface WorkerRecord {
  /** Job id -> the tokens of the acks the cluster accepted (repeated ones included). */
  readonly acceptedAcks: Map<number, number[]>;
  /** Acks refused with LEASE_LOST. */
  readonly staleAcksRefused: number;
  readonly pulls: number;
}

/**
 * Pulls from `queue` and acks every job, until `stop()` says so or `timeoutMs` passes; an ack
 * that fails without an answer is retried with the same token (an ack is idempotent).
 */
export async function drainWorker(connection: ClusterConnection, queue: string, options: {
  readonly workerId: string; readonly stop: () => boolean; readonly timeoutMs: number; readonly record: WorkerRecord & { pulls: number; staleAcksRefused: number };
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const { record } = options;
  while (!options.stop()) {
    if (Date.now() > deadline) throw new Error(`worker ${options.workerId} did not finish within ${options.timeoutMs} ms`);
    let jobs: Array<{ id: number; token: number }>;
    try {
      const reply = await connection.call({ type: 'pull', queue, jobsMax: 256, waitMs: 200, workerId: options.workerId }, { idempotent: false });
      jobs = reply['jobs'] as Array<{ id: number; token: number }>;
      record.pulls += 1;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      continue; // a lost pull's leases expire; its jobs come back
    }
    await Promise.all(jobs.map(async (job) => {
      try {
        await connection.call({ type: 'ack', jobId: job.id, token: job.token }, { idempotent: true });
        const tokens = record.acceptedAcks.get(job.id) ?? [];
        tokens.push(job.token);
        record.acceptedAcks.set(job.id, tokens);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        if (error.code === 'LEASE_LOST') record.staleAcksRefused += 1;
      }
    }));
  }
}

export function newWorkerRecord(): WorkerRecord & { pulls: number; staleAcksRefused: number } {
  return { acceptedAcks: new Map(), staleAcksRefused: 0, pulls: 0 };
}
