/**
 * The drill's end, after the last fault: heal the network, resume and restart every node, stop
 * the producers (their calls settle), let the workers drain the queue (nothing ready, delayed or
 * leased), stop the workers (each finishes its jobs and unregisters), then read the final state
 * of every job: every id listed in each state (`list`), and `get` of every job whose payload no
 * delivery named (so the checker sees its op id), and of every job an ok enqueue named that no
 * list showed (a job the cluster does not know is `missing`, and lost if acknowledged).
 *
 * Last, every node must have applied the same entries with the same hash: replicas that agree on
 * the history, not only on what the clients saw.
 *
 * Invariants: every step is bounded (`drainTimeoutMs` for the queue, the SDK's deadlines for the
 * reads); a step that runs out is a note, and the checker judges what the cluster holds then.
 *
 * Runs on: the drill runner's process.
 */
import { FalconClient } from '../../src/client/falcon-client.js';
import { jobStates } from '../../src/queue/results.js';
import type { DrillCluster } from './drill-cluster.js';
import type { Producers } from './drill-producers.js';
import { drillQueue } from './drill-producers.js';
import type { WorkerPool } from './drill-workers.js';
import { settleTimeoutMs } from './drill-faults.js';
import type { DrillFinalState, DrillHistory, FinalJob } from './history.js';

/** How long the workers get to empty the queue (a lease of a killed worker runs out within it). */
export const drainTimeoutMs = 60_000;
/** `get` calls in flight at once while reading the final state. */
const getsInflightMax = 32;
const convergeTimeoutMs = 20_000;

export interface DrainResult {
  readonly final: DrillFinalState;
  /** Broken expectations (each fails the drill). */
  readonly expectations: string[];
  readonly notes: string[];
}

async function queueEmpty(client: FalconClient): Promise<boolean> {
  try {
    const stats = await client.stats(drillQueue, { deadlineMs: 2_000 });
    return stats === undefined || stats.ready + stats.delayed + stats.leased === 0;
  } catch {
    return false;
  }
}

async function drainQueue(client: FalconClient, say: (line: string) => void): Promise<boolean> {
  const deadline = Date.now() + drainTimeoutMs;
  while (Date.now() < deadline) {
    if (await queueEmpty(client)) return true;
    try {
      const stats = await client.stats(drillQueue, { deadlineMs: 2_000 });
      if (stats !== undefined) say(`  draining: ${stats.ready} ready, ${stats.delayed} delayed, ${stats.leased} leased, ${stats.completed} completed`);
    } catch { /* the next round asks again */ }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return false;
}

/** Every job id, in every state, as `list` pages them. */
async function listedJobs(client: FalconClient): Promise<Map<number, FinalJob>> {
  const jobs = new Map<number, FinalJob>();
  for (const state of jobStates) {
    for await (const job of client.listAll(drillQueue, state, { limit: 1000 })) jobs.set(job.id, { jobId: job.id, state: job.state });
  }
  return jobs;
}

async function readFinalState(client: FalconClient, history: DrillHistory): Promise<{ final: DrillFinalState; notes: string[] }> {
  const notes: string[] = [];
  const jobs = await listedJobs(client);
  const delivered = new Set<number>();
  const okJobIds = new Set<number>();
  for (const record of history.records) {
    if (record.kind === 'delivery') delivered.add(record.jobId);
    if (record.kind === 'enqueue' && record.outcome.type === 'ok') okJobIds.add(record.outcome.jobId);
  }
  const toGet = new Set<number>([...jobs.keys()].filter((id) => !delivered.has(id) || jobs.get(id)?.state !== 'completed'));
  for (const id of okJobIds) if (!jobs.has(id)) toGet.add(id);
  const ids = [...toGet];
  let next = 0;
  const getOne = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++] ?? 0;
      try {
        const info = await client.get(id, { deadlineMs: 5_000 });
        const opId = (info.payload as { opId?: unknown } | null)?.opId;
        jobs.set(id, { jobId: id, state: info.state, ...(typeof opId === 'string' ? { payloadOpId: opId } : {}) });
      } catch (error) {
        if ((error as { code?: string }).code === 'NOT_FOUND') jobs.delete(id);
        else notes.push(`get(${id}) failed: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: getsInflightMax }, getOne));
  return { final: { jobs: [...jobs.values()].sort((a, b) => a.jobId - b.jobId) }, notes };
}

export async function drainAndRead(options: { cluster: DrillCluster; producers: Producers; workers: WorkerPool; history: DrillHistory; say: (line: string) => void }): Promise<DrainResult> {
  const { cluster, producers, workers, history, say } = options;
  const expectations: string[] = [];
  const notes: string[] = [];
  cluster.network.heal();
  for (const id of cluster.ids) {
    cluster.signal(id, 'SIGCONT');
    if (!cluster.isRunning(id)) cluster.start(id);
  }
  say('drain: producers stopping');
  await producers.stop();
  if (await cluster.settled(settleTimeoutMs) === undefined) expectations.push(`the healed cluster did not settle within ${settleTimeoutMs} ms: ${cluster.describe()}`);
  const client = new FalconClient({ nodes: cluster.clientPorts.map((port) => ({ host: '127.0.0.1', port })), clientName: 'drill-drain', deadlineMs: 10_000 });
  try {
    if (!await drainQueue(client, say)) notes.push(`the queue was not empty ${drainTimeoutMs} ms into the drain: what is left counts against the checks`);
    say('drain: workers stopping');
    notes.push(...await workers.stopAll());
    say('drain: reading the final state');
    const read = await readFinalState(client, history);
    notes.push(...read.notes);
    const converged = await cluster.until(() => {
      const views = cluster.ids.map((id) => cluster.view(id));
      const first = views[0];
      return first !== undefined && views.every((view) => view !== undefined && view.applied === first.applied && view.appliedHash === first.appliedHash) ? first : undefined;
    }, convergeTimeoutMs);
    if (converged === undefined) expectations.push(`the nodes did not apply the same entries (index and hash) within ${convergeTimeoutMs} ms: ${cluster.describe()}`);
    return { final: read.final, expectations, notes };
  } finally {
    await client.close();
  }
}
