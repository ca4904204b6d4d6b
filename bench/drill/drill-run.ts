/**
 * One drill run, from an empty temp folder to a recorded history and the cluster's final state:
 * start three nodes behind the fault network and the status poller, the workers, then the
 * producers at their bounded rate; inject faults one at a time (drill-faults.ts), each followed by
 * the cluster settling and a seeded pause; when the run's time is spent (or the `--faults` list is
 * done), drain and read the final state (drill-drain.ts). The caller checks and reports.
 *
 * Invariants: bounded in time: the faults start only while `durationSeconds` lasts, each fault
 * and each wait has its own bound, and the drain is bounded; `close()` of the cluster and
 * `killAll()` of the workers run whatever happens.
 *
 * Runs on: the drill runner's process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom, randomBetween } from '../../src/raft/random.js';
import { DrillCluster } from './drill-cluster.js';
import { drainAndRead } from './drill-drain.js';
import { faultFits, faultSchedule, runFault, settleTimeoutMs, type FaultContext, type ScheduledFault } from './drill-faults.js';
import type { DrillOptions } from './drill-options.js';
import { Producers, drillQueue } from './drill-producers.js';
import { WorkerPool } from './drill-workers.js';
import { DrillHistory, type DrillFinalState } from './history.js';

/** The first start of three nodes on a busy 2-core machine. */
const firstLeaderTimeoutMs = 60_000;
/** Load before the first fault, so the throughput before it can be measured. */
const warmupMs = 4_000;
/** Per pulled job; a killed worker's jobs come back at its TTL (3 s) before this. */
const leaseMs = 5_000;
const workerConcurrency = 16;
const nackRatio = 0.03;
/** A seeded schedule draws again this often when the fault drawn does not fit the time left. */
const drawsPerSlotMax = 20;

export interface DrillRunOutput {
  readonly history: DrillHistory;
  readonly final: DrillFinalState;
  readonly expectations: readonly string[];
  readonly notes: readonly string[];
  readonly faultsRun: readonly string[];
  /** Each node's last log lines, for a failed run's folder. */
  readonly nodeLogs: Readonly<Record<string, string>>;
}

export interface DrillProgress {
  /** A line that stays. */
  log(line: string): void;
  /** The live state, redrawn. */
  status(line: string): void;
}

/** The next fault: the list's next one, or the schedule's first that fits the time left; null when none is left. */
function nextFault(options: DrillOptions, list: ScheduledFault[], schedule: Generator<ScheduledFault>, msLeft: number): ScheduledFault | null {
  if (options.faults !== null) return msLeft > 0 ? list.shift() ?? null : null;
  for (let draw = 0; draw < drawsPerSlotMax; draw += 1) {
    const kind = schedule.next().value as ScheduledFault;
    if (faultFits(kind, msLeft)) return kind;
  }
  return null;
}

function statusLine(cluster: DrillCluster, producers: Producers, workers: WorkerPool, startMs: number, fault: string): string {
  const leader = cluster.currentLeader();
  const term = leader === undefined ? '-' : String(cluster.view(leader)?.term ?? '-');
  const { counters } = producers;
  return `t=${Math.round((Date.now() - startMs) / 1000)}s ${fault} | leader ${leader ?? 'none'} term ${term} | enqueued ok ${counters.ok}/${counters.calls} ` +
    `(unknown ${counters.unknown}, failed ${counters.failed}) | delivered ${workers.deliveries}, answered ${workers.answersAccepted} | workers ${workers.running.length}`;
}

/** The faults, one at a time, each followed by the cluster settling and a seeded pause; then the load runs to the end of the time. */
async function runFaults(options: DrillOptions, context: FaultContext, startMs: number, faultsRun: string[], onFault: (fault: string) => void): Promise<void> {
  const { cluster, expectations, random } = context;
  const endMs = startMs + options.durationSeconds * 1000;
  const list = [...(options.faults ?? [])];
  const schedule = faultSchedule(random);
  for (;;) {
    const kind = nextFault(options, list, schedule, endMs - Date.now());
    if (kind === null) break;
    onFault(kind);
    const faultStartMs = Date.now();
    await runFault(context, kind);
    faultsRun.push(kind);
    const leader = await cluster.settled(settleTimeoutMs);
    context.say(`${kind} done in ${Date.now() - faultStartMs} ms; ${leader === undefined ? 'NOT settled' : `settled, leader ${leader}`}`);
    if (leader === undefined) {
      expectations.push(`the cluster did not settle within ${settleTimeoutMs} ms after ${kind}: ${cluster.describe()}`);
      return;
    }
    onFault('calm');
    await sleep(randomBetween(random, 1_500, 3_000));
  }
  if (options.faults === null) await sleep(Math.max(0, endMs - Date.now()));
}

export async function runDrill(options: DrillOptions, progress: DrillProgress): Promise<DrillRunOutput> {
  const history = new DrillHistory();
  const random = new SeededRandom(options.seed);
  const cluster = await DrillCluster.create(options.seed, history);
  const workers = new WorkerPool({ ports: cluster.clientPorts, queue: drillQueue, seed: random.nextUint32(), history, leaseMs, concurrency: workerConcurrency, nackRatio });
  const producers = new Producers({ count: options.producers, ratePerSecond: options.ratePerSecond, ports: cluster.clientPorts, history });
  const expectations: string[] = [];
  const faultsRun: string[] = [];
  let currentFault = 'warm-up';
  const startMs = Date.now();
  const ticker = setInterval(() => progress.status(statusLine(cluster, producers, workers, startMs, currentFault)), 500);
  let final: DrillFinalState = { jobs: [] };
  const notes: string[] = [];
  try {
    cluster.startAll();
    cluster.startPolling();
    const first = await cluster.settled(firstLeaderTimeoutMs);
    if (first === undefined) throw new Error(`no leader within ${firstLeaderTimeoutMs} ms of the start: ${cluster.describe()}`);
    progress.log(`cluster up in ${Date.now() - startMs} ms, leader ${first}; data in ${cluster.cluster.dir}`);
    for (let worker = 0; worker < options.workers; worker += 1) workers.start();
    producers.start();
    await sleep(warmupMs);
    try {
      await runFaults(options, { cluster, workers, history, random, say: (line) => progress.log(line), expectations }, startMs, faultsRun, (fault) => { currentFault = fault; });
    } catch (error) {
      expectations.push(`the faults stopped early: ${error instanceof Error ? error.message : String(error)}`);
    }
    currentFault = 'drain';
    const drained = await drainAndRead({ cluster, producers, workers, history, say: (line) => progress.status(line) });
    final = drained.final;
    expectations.push(...drained.expectations);
    notes.push(...drained.notes);
  } catch (error) {
    expectations.push(`the drill stopped: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  }
  clearInterval(ticker);
  const nodeLogs = Object.fromEntries(cluster.ids.map((id) => [id, cluster.logTail(id, 200)]));
  await producers.stop().catch(() => undefined);
  workers.killAll();
  await cluster.close();
  return { history, final, expectations, notes, faultsRun, nodeLogs };
}
