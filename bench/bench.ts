/**
 * `npm run bench`: every benchmark scenario in one command, with each figure beside the target of
 * the issue that set it and seed 004's for reference. In order, each on fresh clusters of real
 * processes on loopback (fsync always):
 *   raft      bench:raft (raft-bench.ts): commit throughput and latency, kill -9 and SIGTERM failover;
 *   oneNode   one node (one-node-bench.ts): pipelined and one-at-a-time enqueue, against three;
 *   queue     bench:queue (queue-bench.ts): enqueue (1 and 4 connections), single enqueue latency,
 *             drain, enqueue-to-lease at 5,000 jobs/s and at 50% of the measured maximum, memory;
 *   sdk       bench:sdk (sdk-bench.ts): the SDK beside the raw protocol, HTTP and gRPC;
 *   failover  kill -9 of the leader under steady load (failover-load.ts): the unavailability window
 *             as the client sees it, and the throughput drop around the kill.
 * The bench:* scripts run as child processes with sizes scaled to the run (bench-options.ts); the
 * last JSON line of each is its figures. A live line shows progress (live-line.ts). At the end: the
 * table (bench-report.ts), a JSON file of the run and a Markdown summary for bench/RESULTS.md in
 * bench/runs/<time>/ (git ignores it) with each scenario's full output, and, last, one JSON line:
 * `{"bench":"all","commit":…,"raft":{…},"oneNode":{…},"queue":{…},"sdk":{…},"failover":{…}}`.
 * Options: bench-options.ts (`--scenario`, `--quick`, `--runs`, `--jobs`, `--duration-ms`,
 * `--kills`, `--failover-rate`, `--cluster`, `--out`). Exits non-zero when a scenario failed (a
 * missed target is a figure, not a failure).
 *
 * Runs on: the bench process.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killStartedProcesses } from '../test/support/test-cluster.js';
import { benchHelp, parseBenchOptions, scenarioSizes, type BenchOptions, type ScenarioName, type ScenarioSizes } from './bench-options.js';
import { killRunningChildren, runChild, type ClientNodes } from './bench-process.js';
import { numericFigures, renderMarkdown, renderTable, roundedFigures, summaryLine, type BenchRun, type MachineFacts } from './bench-report.js';
import type { ScenarioFigures } from './bench-targets.js';
import { clientNodesOf, existingClusterQueue, existingClusterSdk } from './existing-cluster.js';
import { failoverLoadBench } from './failover-load.js';
import { LiveLine } from './live-line.js';
import { oneNodeBench } from './one-node-bench.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const scriptOf = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));
/** A bench:* script that runs longer than this failed (bench:raft's default 300 kills take ~15 min). */
const scriptTimeoutMs = { quick: 180_000, full: 3_600_000 } as const;
/** The failover run's rate when no maximum was measured in this run and none was given. */
const failoverRateDefault = 5_000;
/** Why a scenario cannot run against an existing cluster. */
const needsOwnProcesses: Partial<Record<ScenarioName, string>> = {
  raft: 'it kills nodes and drives the leader\'s --test-hooks load generator; --cluster points at a cluster it must not harm',
  oneNode: 'it needs a cluster of one node of its own',
  failover: 'it kills the leader; --cluster points at a cluster it must not harm',
};

interface Context {
  readonly options: BenchOptions;
  readonly sizes: ScenarioSizes;
  readonly existing: ClientNodes | undefined;
  readonly figures: ScenarioFigures;
  readonly onLine: (line: string) => void;
}

async function script(name: string, args: readonly string[], context: Context): Promise<Record<string, number>> {
  const timeoutMs = context.options.quick ? scriptTimeoutMs.quick : scriptTimeoutMs.full;
  const result = await runChild(scriptOf(name), args, { onLine: context.onLine, timeoutMs });
  return numericFigures(result.line);
}

function steadyMs(context: Context): number {
  return context.options.durationMs ?? (context.options.quick ? 2_000 : 10_000);
}

async function runScenario(name: ScenarioName, context: Context): Promise<Record<string, number>> {
  const { sizes, existing, onLine } = context;
  switch (name) {
    case 'raft': return script('raft-bench.js', sizes.raftArgs, context);
    case 'oneNode': return oneNodeBench(sizes.own, onLine);
    case 'queue': return existing === undefined ? script('queue-bench.js', sizes.queueArgs, context) : existingClusterQueue(existing, sizes.own, steadyMs(context), onLine);
    case 'sdk': return existing === undefined ? script('sdk-bench.js', sizes.sdkArgs, context) : existingClusterSdk(existing, sizes.own, onLine);
    case 'failover': {
      const measured = context.figures['queue']?.['enqueuePerSec'];
      const ratePerSec = context.options.failoverRatePerSec ?? (measured === undefined ? failoverRateDefault : Math.round(measured / 2));
      return failoverLoadBench(sizes.own, ratePerSec, onLine);
    }
  }
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

function machineFacts(): MachineFacts {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, nodeVersion: process.version,
    loadAverage: os.loadavg(), platform: `${os.type()} ${os.release()}`,
  };
}

/** Runs the chosen scenarios in order; a failed one is recorded and the next one runs. */
async function runAll(options: BenchOptions, runDir: string, live: LiveLine): Promise<Pick<BenchRun, 'figures' | 'skipped' | 'failed'>> {
  const figures: ScenarioFigures = {};
  const skipped: Record<string, string> = {};
  const failed: Record<string, string> = {};
  const existing = options.cluster === undefined ? undefined : clientNodesOf(options.cluster);
  const sizes = scenarioSizes(options);
  for (const [at, name] of options.scenarios.entries()) {
    live.phase(`[${at + 1}/${options.scenarios.length}] ${name}`);
    const reason = existing === undefined ? undefined : needsOwnProcesses[name];
    if (reason !== undefined) {
      skipped[name] = reason;
      live.log(`${name}: skipped with --cluster: ${reason}`);
      continue;
    }
    const lines: string[] = [];
    const onLine = (line: string): void => {
      lines.push(line);
      live.update(line);
    };
    const startedMs = performance.now();
    try {
      figures[name] = roundedFigures(await runScenario(name, { options, sizes, existing, figures, onLine }));
      live.log(`${name}: done in ${((performance.now() - startedMs) / 1000).toFixed(1)} s: ${JSON.stringify(figures[name])}`);
    } catch (error) {
      failed[name] = error instanceof Error ? error.message : String(error);
      live.log(`${name}: FAILED after ${((performance.now() - startedMs) / 1000).toFixed(1)} s: ${failed[name].slice(0, 2_000)}`);
      await killStartedProcesses();
    } finally {
      fs.writeFileSync(path.join(runDir, `${name}.log`), `${lines.join('\n')}\n`);
    }
  }
  return { figures, skipped, failed };
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    if (process.argv.includes('--help') || process.argv.includes('-h')) {
      console.log(benchHelp);
      return;
    }
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`npm run bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
    return;
  }
  const startedAt = new Date().toISOString();
  const machine = machineFacts();
  const commit = gitCommit();
  const outDir = options.outDir === 'bench/runs' ? path.join(repoRoot, 'bench', 'runs') : path.resolve(options.outDir);
  const runDir = path.join(outDir, startedAt.replace(/[:.]/g, '-'));
  fs.mkdirSync(runDir, { recursive: true });
  const live = new LiveLine();
  const interrupted = (): void => {
    live.done();
    killRunningChildren();
    void killStartedProcesses().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  console.log(`# npm run bench — ${startedAt}, commit ${commit}`);
  console.log(`node ${machine.nodeVersion}, ${machine.cores} CPUs (${machine.cpuModel}), load ${machine.loadAverage.map((value) => value.toFixed(2)).join(' ')}; `
    + `scenarios ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''}${options.cluster === undefined ? '' : `; existing cluster ${options.cluster}`}`);
  const startedMs = performance.now();
  const outcome = await runAll(options, runDir, live);
  live.done();
  const run: BenchRun = {
    bench: 'all', commit, startedAt, durationMs: Math.round(performance.now() - startedMs),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, machine,
    configuration: { ...options, sizes: scenarioSizes(options), payloadBytes: 256, fsync: 'always' }, scenarios: options.scenarios, ...outcome,
  };
  console.log(`\n${renderTable(run.figures, run.scenarios)}\n`);
  const jsonPath = path.join(runDir, 'bench.json');
  const markdownPath = path.join(runDir, 'bench.md');
  fs.writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  fs.writeFileSync(markdownPath, renderMarkdown(run));
  console.log(`${Object.keys(run.failed).length === 0 ? 'done' : `FAILED: ${Object.keys(run.failed).join(', ')}`} in ${(run.durationMs / 1000).toFixed(1)} s. `
    + `Run: ${jsonPath}\nMarkdown summary for bench/RESULTS.md: ${markdownPath}`);
  console.log(summaryLine(run));
  process.exitCode = Object.keys(run.failed).length === 0 ? 0 : 1;
}

main().catch(async (error: unknown) => {
  console.error(error);
  killRunningChildren();
  await killStartedProcesses();
  process.exitCode = 1;
});
