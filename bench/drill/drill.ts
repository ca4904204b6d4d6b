/**
 * `npm run drill`: three real nodes on loopback with their peer links through the fault network,
 * producers enqueueing with idempotency keys, worker processes pulling and acking, and a seeded
 * schedule of faults (drill-run.ts, drill-faults.ts); then the drain, the checks (checker.ts), the
 * figures beside seed 004's targets (drill-report.ts), and, last, one JSON line:
 *
 *   {"drill":"pass"|"fail","seed":…,"ops":…,"lostAcked":…,"duplicateKeys":…,"staleAcksAccepted":…,
 *    "leadersPerTermMax":…,"maxUnavailableMs":…,"successRate":…}
 *
 * The run's folder, bench/runs/drill-<time>/ (git ignores it), gets the history as JSON lines
 * (history.jsonl, re-checked offline with `node dist/bench/drill/check-history.js <file>`) and the
 * report; on a failure also each node's last log lines. Exit code 0 on a pass, 1 on any violation
 * or broken expectation (the seed and the replay command are printed), 2 on a bad command line.
 *
 * Options: drill-options.ts. On a terminal a live line shows the run's state.
 *
 * Runs on: its own process (the command).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killStartedProcesses } from '../../test/support/test-cluster.js';
import { LiveLine } from '../live-line.js';
import { buildDrillReport, drillReportLines } from './drill-report.js';
import { drillHelp, drillUsage, parseDrillOptions, type DrillOptions } from './drill-options.js';
import { runDrill, type DrillRunOutput } from './drill-run.js';
import { historyJsonLines } from './history-file.js';

const runsDir = fileURLToPath(new URL('../../../bench/runs/', import.meta.url));
/** Off a terminal, a progress line is printed this often (a terminal redraws it in place). */
const progressLineIntervalMs = 10_000;

async function writeHistory(path: string, seed: number, output: DrillRunOutput): Promise<void> {
  const stream = createWriteStream(path);
  for (const line of historyJsonLines({ seed, records: output.history.records, final: output.final })) {
    if (!stream.write(`${line}\n`)) await new Promise<void>((resolve_) => stream.once('drain', () => resolve_()));
  }
  await new Promise<void>((resolve_, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve_())));
}

/** From each job's first enqueue call to its first delivery: how far behind the workers ran (a backlog slows every rebalance). */
function deliveryLagLine(output: DrillRunOutput): string {
  const invokeByOp = new Map<string, number>();
  const lags: number[] = [];
  const seen = new Set<number>();
  for (const record of output.history.records) {
    if (record.kind === 'enqueue') invokeByOp.set(record.opId, record.invokeMs);
    if (record.kind !== 'delivery' || seen.has(record.jobId)) continue;
    seen.add(record.jobId);
    const invokeMs = invokeByOp.get(record.payloadOpId);
    if (invokeMs !== undefined) lags.push(record.atMs - invokeMs);
  }
  if (lags.length === 0) return 'enqueue → first delivery: no deliveries';
  lags.sort((a, b) => a - b);
  const at = (share: number): number => lags[Math.min(lags.length - 1, Math.floor(share * lags.length))] ?? 0;
  return `enqueue → first delivery: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms over ${lags.length} jobs`;
}

function replayArguments(options: DrillOptions): string {
  return [`--seed ${options.seed}`, `--duration ${options.durationSeconds}`, ...(options.faults === null ? [] : [`--faults ${options.faults.join(',')}`]),
    `--rate ${options.ratePerSecond}`, `--producers ${options.producers}`, `--workers ${options.workers}`].join(' ');
}

function progressOf(live: LiveLine): { log(line: string): void; status(line: string): void } {
  const interactive = process.stdout.isTTY === true && process.env['TERM'] !== 'dumb';
  let lastPrintedMs = 0;
  return {
    log: (line) => live.log(line),
    status: (line) => {
      if (interactive) {
        live.update(line);
      } else if (Date.now() - lastPrintedMs >= progressLineIntervalMs) {
        lastPrintedMs = Date.now();
        console.log(`  ${line}`);
      }
    },
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: DrillOptions;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(drillHelp);
      return 0;
    }
    options = parseDrillOptions(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${drillUsage}`);
    return 2;
  }
  const runDir = join(options.outDir === null ? runsDir : resolve(options.outDir), `drill-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(runDir, { recursive: true });
  console.log(`# npm run drill — seed ${options.seed}, ${options.durationSeconds} s, ` +
    `${options.faults === null ? 'seeded fault schedule' : `faults ${options.faults.join(', ')}`}, ${options.ratePerSecond} keys/s by ${options.producers} producers, ` +
    `${options.workers} workers; run folder ${runDir}`);
  const live = new LiveLine();
  const onInterrupt = (): void => {
    live.done();
    console.log(`interrupted; replay: npm run drill -- --seed ${options.seed}`);
    // The nodes by PID; the workers share this terminal's process group and got the same SIGINT.
    void killStartedProcesses().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  live.phase(`drill seed ${options.seed}`);
  const output = await runDrill(options, progressOf(live));
  live.done();
  const report = buildDrillReport(output.history.records, output.final, { seed: options.seed });
  const pass = report.pass && output.expectations.length === 0;
  const lines = drillReportLines({ ...report, pass });
  const extra = [
    `faults run: ${output.faultsRun.join(', ') || 'none'}`,
    deliveryLagLine(output),
    ...output.notes.map((note) => `note: ${note}`),
    ...(output.expectations.length === 0 ? [] : ['expectations broken:', ...output.expectations.map((line) => `  ${line}`)]),
    `history: ${join(runDir, 'history.jsonl')} (check again: node dist/bench/drill/check-history.js <file>)`,
    ...(pass ? [] : [`replay with the same options: npm run drill -- ${replayArguments(options)}`]),
  ];
  lines.splice(lines.length - 1, 0, ...extra);
  await writeHistory(join(runDir, 'history.jsonl'), options.seed, output);
  await writeFile(join(runDir, 'report.txt'), `${lines.join('\n')}\n`);
  if (!pass) {
    for (const [id, log] of Object.entries(output.nodeLogs)) await writeFile(join(runDir, `${id}.log`), log);
  }
  for (const line of lines) console.log(line);
  return pass ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
