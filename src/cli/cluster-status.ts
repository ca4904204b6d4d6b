/**
 * The cluster as `falcon status` and `falcon watch` show it, built from each node's /status over
 * its ops port (asked all at once, each within a bound): per node its role, term, commit and
 * applied index, lag, health and readiness; per queue the depth by state (from the leader's
 * applied state, else from the node that applied the most); the workers the leader knows, with
 * their last beat.
 *
 * `lag` is how many entries a node's applied index is behind the leader's commit index (null
 * when no leader answered). A node that does not answer is a row with `reachable: false` and why.
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { isNodeStatus, type NodeStatus } from '../runtime/node-status.js';
import type { QueueStats } from '../queue/results.js';
import type { OpsNode } from './cli-context.js';

export interface NodeRow {
  readonly node: string;
  readonly opsAddress: string;
  readonly reachable: boolean;
  /** Why the node did not answer (reachable: false). */
  readonly error?: string;
  readonly role?: string;
  readonly term?: number;
  readonly leader?: string | null;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  readonly lag?: number | null;
  readonly healthy?: boolean;
  /** Failing actors and why (healthy: false). */
  readonly failing?: Readonly<Record<string, string>>;
  readonly ready?: boolean;
  readonly waitingFor?: readonly string[];
  readonly uptimeMs?: number;
  /** The node's process id (on its own machine): what `kill` needs. */
  readonly pid?: number;
}

export interface WorkerRow {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly capacity: number;
  readonly leases: number;
  /** Since its last heartbeat, by the leader's clock against this machine's (null: not on the leader). */
  readonly lastBeatAgeMs: number | null;
  readonly releasing: boolean;
}

export interface ClusterStatus {
  /** Wall-clock time of the snapshot (this machine). */
  readonly atMs: number;
  /** The node every answering leader claims to be, or null. */
  readonly leader: string | null;
  readonly nodes: readonly NodeRow[];
  /** The node the queue and worker figures come from (null: none answered). */
  readonly queuesFrom: string | null;
  readonly queues: readonly QueueStats[];
  readonly workers: readonly WorkerRow[];
}

/** Bound on one node's /status answer: a node that takes longer is shown unreachable. */
export const statusTimeoutMsMax = 5_000;

async function fetchStatus(node: OpsNode, timeoutMs: number, token: string | undefined): Promise<{ status?: NodeStatus; error?: string }> {
  const url = `http://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.opsPort}/status`;
  try {
    const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), ...(headers === undefined ? {} : { headers }) });
    const status: unknown = await response.json();
    if (!isNodeStatus(status)) return { error: `${url}: HTTP ${response.status}, not a node status` };
    return { status };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return { error: `${url}: ${cause}` };
  }
}

function nodeRow(node: OpsNode, answer: { status?: NodeStatus; error?: string }, leaderCommit: number | undefined): NodeRow {
  const opsAddress = `${node.host}:${node.opsPort}`;
  const status = answer.status;
  if (status === undefined) return { node: node.id, opsAddress, reachable: false, error: answer.error ?? 'no answer' };
  const appliedIndex = status.applied?.index;
  return {
    node: status.node, opsAddress, reachable: true,
    role: status.raft?.role ?? 'starting', term: status.raft?.term, leader: status.raft?.leader ?? null,
    commitIndex: status.raft?.commit, appliedIndex,
    lag: leaderCommit === undefined || appliedIndex === undefined ? null : Math.max(0, leaderCommit - appliedIndex),
    healthy: status.health.ok, failing: status.health.failing, ready: status.readiness.ready, waitingFor: status.readiness.waitingFor,
    uptimeMs: status.uptimeMs, pid: status.pid,
  };
}

/** Asks every node in `nodes` for /status and builds the cluster's picture. */
export async function clusterStatus(nodes: readonly OpsNode[], timeoutMs: number, token: string | undefined): Promise<ClusterStatus> {
  const answers = await Promise.all(nodes.map((node) => fetchStatus(node, Math.min(timeoutMs, statusTimeoutMsMax), token)));
  const statuses = answers.flatMap((answer) => (answer.status === undefined ? [] : [answer.status]));
  const leaders = statuses.filter((status) => status.raft?.role === 'leader').sort((a, b) => (b.raft?.term ?? 0) - (a.raft?.term ?? 0));
  const leader = leaders[0];
  const source = leader ?? [...statuses].sort((a, b) => (b.applied?.index ?? -1) - (a.applied?.index ?? -1))[0];
  const atMs = Date.now();
  return {
    atMs,
    leader: leader?.node ?? null,
    nodes: nodes.map((node, index) => nodeRow(node, answers[index] ?? {}, leader?.raft?.commit)),
    queuesFrom: source?.node ?? null,
    queues: source?.queues ?? [],
    workers: (source?.workers ?? []).map((worker) => ({
      workerId: worker.workerId, queues: worker.queues, capacity: worker.capacity, leases: worker.leases, releasing: worker.releasing,
      lastBeatAgeMs: worker.lastBeatMs === null ? null : Math.max(0, atMs - worker.lastBeatMs),
    })),
  };
}

/** True when a leader answered and every node answered healthy and ready. */
export function clusterHealthy(status: ClusterStatus): boolean {
  return status.leader !== null && status.nodes.every((node) => node.reachable && node.healthy === true && node.ready === true);
}
