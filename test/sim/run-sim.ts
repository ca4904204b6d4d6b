/**
 * `npm run sim -- --seeds N [--start S] [--nodes 3|5] [--steps T] [--workers W]` runs N seeded
 * simulations (seeds S, S+1, ...; node counts alternate 3 and 5 unless --nodes is given) on W
 * worker threads and prints seeds/s and a summary; a failing seed prints its one-line replay
 * command. `--seed S` replays one run exactly; add `--trace` to print its event trace.
 * The liveness phase restarts every node in half the seeds and starts only the nodes that are down
 * in the other half (sim-options.ts); `--liveness-restart` or `--no-liveness-restart` forces one
 * mode for every seed run.
 * Exit status: 0 when every seed passed, 1 otherwise.
 *
 * Runs on: a command-line process and its worker threads (one simulation at a time each).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { defaultFaultTicks, optionsForSeed } from './sim-options.js';
import { replayCommand, Simulation, type SimResult } from './simulation.js';

interface RunPlan {
  readonly seeds: readonly number[];
  readonly nodeCounts: readonly number[];
  readonly faultTicks: number;
  readonly livenessRestartsEveryNode: boolean | null;
}

interface Arguments {
  seeds: number;
  start: number;
  seed: number | null;
  nodes: number | null;
  steps: number;
  workers: number;
  trace: boolean;
  /** `--liveness-restart` (true) / `--no-liveness-restart` (false) force the liveness phase to
   *  restart every node or to start only the nodes that are down; null: each seed's own draw. */
  livenessRestartsEveryNode: boolean | null;
}

function parseArguments(argv: readonly string[]): Arguments {
  const parsed: Arguments = { seeds: 100, start: 1, seed: null, nodes: null, steps: defaultFaultTicks,
    workers: Math.max(1, Math.min(os.availableParallelism(), 8)), trace: false, livenessRestartsEveryNode: null };
  for (let position = 0; position < argv.length; position++) {
    const flag = argv[position];
    const value = Number(argv[position + 1]);
    const takeNumber = (name: string, min: number): number => {
      if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} needs an integer ≥ ${min}, got ${argv[position + 1]}`);
      position++;
      return value;
    };
    if (flag === '--seeds') parsed.seeds = takeNumber('--seeds', 1);
    else if (flag === '--start') parsed.start = takeNumber('--start', 0);
    else if (flag === '--seed') parsed.seed = takeNumber('--seed', 0);
    else if (flag === '--nodes') {
      parsed.nodes = takeNumber('--nodes', 1);
      if (parsed.nodes !== 3 && parsed.nodes !== 5) throw new Error(`--nodes must be 3 or 5, got ${parsed.nodes}`);
    } else if (flag === '--steps') parsed.steps = takeNumber('--steps', 1);
    else if (flag === '--workers') parsed.workers = takeNumber('--workers', 1);
    else if (flag === '--trace') parsed.trace = true;
    else if (flag === '--liveness-restart') parsed.livenessRestartsEveryNode = true;
    else if (flag === '--no-liveness-restart') parsed.livenessRestartsEveryNode = false;
    else throw new Error(`unknown argument ${flag}; use --seeds N --start S --seed S --nodes 3|5 --steps T --workers W --trace --liveness-restart --no-liveness-restart`);
  }
  return parsed;
}

/** `livenessRestartsEveryNode`: null for the seed's own draw (half the seeds each way). */
export function runOne(seed: number, nodeCount: number, faultTicks: number, trace: ((line: string) => void) | null = null,
  livenessRestartsEveryNode: boolean | null = null): SimResult {
  const options = optionsForSeed(seed, nodeCount, faultTicks);
  return new Simulation({ ...options, livenessRestartsEveryNode: livenessRestartsEveryNode ?? options.livenessRestartsEveryNode }, trace).run();
}

function runPlanInWorker(plan: RunPlan): void {
  plan.seeds.forEach((seed, position) => {
    parentPort?.postMessage(runOne(seed, plan.nodeCounts[position] ?? 3, plan.faultTicks, null, plan.livenessRestartsEveryNode));
  });
}

function livenessMode(result: SimResult): string {
  return result.livenessRestartsEveryNode ? 'liveness restarts every node' : 'liveness starts the down nodes';
}

function replayOne(args: Arguments): void {
  const nodeCount = args.nodes ?? 3;
  const result = runOne(args.seed ?? 0, nodeCount, args.steps, args.trace ? (line) => process.stdout.write(`${line}\n`) : null,
    args.livenessRestartsEveryNode);
  process.stdout.write(`${JSON.stringify(result.stats)}\n`);
  if (result.ok) {
    process.stdout.write(`seed ${result.seed} (${nodeCount} nodes, ${livenessMode(result)}): ok\n`);
    return;
  }
  process.stdout.write(`seed ${result.seed} (${nodeCount} nodes, ${livenessMode(result)}) FAILED: ${result.failure}\nreplay: ${replayCommand(result.seed, nodeCount, args.steps, args.livenessRestartsEveryNode)}\n`);
  process.exitCode = 1;
}

async function runMany(args: Arguments): Promise<void> {
  const startedMs = performance.now();
  const seeds: number[] = [];
  const nodeCounts: number[] = [];
  for (let offset = 0; offset < args.seeds; offset++) {
    seeds.push(args.start + offset);
    nodeCounts.push(args.nodes ?? (offset % 2 === 0 ? 3 : 5));
  }
  const workerCount = Math.min(args.workers, seeds.length);
  const failures: SimResult[] = [];
  const totals = { events: 0, acknowledged: 0, crashes: 0, leaderChanges: 0, snapshotsInstalled: 0, livenessTicksMax: 0,
    recordsDamaged: 0, disksWiped: 0, repairedStarts: 0, catchUpsBegun: 0, catchUpsCleared: 0, livenessRestartedEveryNode: 0,
    jobsAcknowledged: 0, acksAccepted: 0, staleAcksRefused: 0, leasesExpired: 0, leasesReleased: 0, statesCompared: 0, duplicatesAnswered: 0, enqueuesInDoubt: 0 };
  let done = 0;
  const workerPath = fileURLToPath(import.meta.url);
  await Promise.all(Array.from({ length: workerCount }, (_, workerIndex) => new Promise<void>((resolve, reject) => {
    const plan: RunPlan = {
      seeds: seeds.filter((_, position) => position % workerCount === workerIndex),
      nodeCounts: nodeCounts.filter((_, position) => position % workerCount === workerIndex),
      faultTicks: args.steps,
      livenessRestartsEveryNode: args.livenessRestartsEveryNode,
    };
    const worker = new Worker(workerPath, { workerData: plan });
    worker.on('message', (result: SimResult) => {
      done++;
      totals.events += result.stats.events;
      totals.acknowledged += result.stats.acknowledged;
      totals.crashes += result.stats.crashes;
      totals.leaderChanges += result.stats.leaderChanges;
      totals.snapshotsInstalled += result.stats.snapshotsInstalled;
      totals.recordsDamaged += result.stats.recordsDamaged;
      totals.disksWiped += result.stats.disksWiped;
      totals.repairedStarts += result.stats.repairedStarts;
      totals.catchUpsBegun += result.stats.catchUpsBegun;
      totals.catchUpsCleared += result.stats.catchUpsCleared;
      totals.livenessTicksMax = Math.max(totals.livenessTicksMax, result.stats.livenessTicks);
      totals.jobsAcknowledged += result.stats.jobsAcknowledged;
      totals.acksAccepted += result.stats.acksAccepted;
      totals.staleAcksRefused += result.stats.staleAcksRefused;
      totals.leasesExpired += result.stats.leasesExpired;
      totals.leasesReleased += result.stats.leasesReleased;
      totals.statesCompared += result.stats.statesCompared;
      totals.duplicatesAnswered += result.stats.duplicatesAnswered;
      totals.enqueuesInDoubt += result.stats.enqueuesInDoubt;
      if (result.livenessRestartsEveryNode) totals.livenessRestartedEveryNode++;
      if (!result.ok) {
        failures.push(result);
        process.stdout.write(`FAIL seed ${result.seed} (${result.nodeCount} nodes): ${result.failure}\n`
          + `  replay: ${replayCommand(result.seed, result.nodeCount, args.steps, args.livenessRestartsEveryNode)}\n`);
      }
      if (done % 1000 === 0) {
        const seconds = (performance.now() - startedMs) / 1000;
        process.stdout.write(`${done}/${seeds.length} seeds, ${failures.length} failed, ${(done / seconds).toFixed(1)} seeds/s\n`);
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulation worker exited with code ${code}`))));
  })));
  const seconds = (performance.now() - startedMs) / 1000;
  process.stdout.write(`${seeds.length} seeds (${args.start}..${args.start + seeds.length - 1}, steps ${args.steps}) in ${seconds.toFixed(1)} s `
    + `on ${workerCount} workers: ${(seeds.length / seconds).toFixed(1)} seeds/s; ${failures.length} failed\n`
    + `  events ${totals.events}, acknowledged writes ${totals.acknowledged}, crashes ${totals.crashes}, `
    + `leader changes ${totals.leaderChanges}, snapshots installed ${totals.snapshotsInstalled}, slowest convergence ${totals.livenessTicksMax} ticks\n`
    + `  damage at rest: records ${totals.recordsDamaged}, disks wiped ${totals.disksWiped}, starts with the repair flag ${totals.repairedStarts}; `
    + `catch-ups begun ${totals.catchUpsBegun}, cleared ${totals.catchUpsCleared}\n`
    + `  queue: jobs acknowledged ${totals.jobsAcknowledged}, acks accepted ${totals.acksAccepted}, stale acks refused ${totals.staleAcksRefused}, `
    + `leases expired ${totals.leasesExpired}, released ${totals.leasesReleased}, retried enqueues answered from the first job ${totals.duplicatesAnswered}, `
    + `refused as outcome unknown ${totals.enqueuesInDoubt}, `
    + `replica states compared ${totals.statesCompared}\n`
    + `  liveness phase: every node restarted in ${totals.livenessRestartedEveryNode} seeds, only the nodes that were down started in ${seeds.length - totals.livenessRestartedEveryNode}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

if (!isMainThread) {
  runPlanInWorker(workerData as RunPlan);
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArguments(process.argv.slice(2));
  if (args.seed !== null) replayOne(args);
  else await runMany(args);
}
