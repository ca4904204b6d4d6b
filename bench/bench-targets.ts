/**
 * The targets `npm run bench` reads its figures against: for each figure, where it sits in the
 * run's results (`scenario.key`), the target of the issue that set it (bench:raft's in issue 7,
 * bench:queue's in issue 9, bench:sdk's in issue 10, the product's failover bar) and, for
 * reference only, seed 004's target for the same kind of figure. Also the figures derived from two
 * others (a share of the WAL ceiling, of the raw protocol, of the enqueue rate) and the verdict
 * logic. Pure: no I/O, no clock.
 *
 * Invariants: every target names the issue that set it; a figure that was not measured (absent or
 * not a finite number) is never a pass or a miss, only `not run`.
 *
 * Runs on: the bench process (and the tests).
 */

export type Comparison = '>=' | '<=';

export interface IssueTarget {
  readonly comparison: Comparison;
  readonly value: number;
  /** Where the target comes from: `issue 9`, `issue 7`, … */
  readonly setBy: string;
}

export interface FigureTarget {
  /** `scenario.figure` in the run's results: `queue.enqueuePerSec`, `derived.sdkEnqueueShareOfRaw`. */
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly target?: IssueTarget;
  /** Seed 004's target for this kind of figure, for reference (never judged). */
  readonly seed?: string;
  /** The scenario a derived figure comes from (others: the first part of `key`). */
  readonly from?: string;
}

/** The scenario that measures the row's figure: a row of a scenario not run is left out of the table. */
export function scenarioOf(row: FigureTarget): string {
  return row.from ?? row.key.slice(0, row.key.indexOf('.'));
}

export type Verdict = 'pass' | 'miss' | 'not run' | '';

/** Figures by scenario: the children's JSON lines (without their `bench` key) and the bench's own. */
export type ScenarioFigures = Record<string, Record<string, number>>;

const seedThroughput = '60–70K events/s on 3 nodes';
const seedLatencyP50 = 'p50 < 5 ms';
const seedLatencyP99 = 'p99 < 15 ms';
const seedLatencyP999 = 'p999 < 50 ms';
const seedFailover = 'detection + election < 600 ms worst case';

const atLeast = (value: number, setBy: string): IssueTarget => ({ comparison: '>=', value, setBy });
const atMost = (value: number, setBy: string): IssueTarget => ({ comparison: '<=', value, setBy });

/** The table's rows, in the order printed. */
export const figureTargets: readonly FigureTarget[] = [
  { key: 'raft.commitBatch64PerSec', label: 'raft: committed entries/s, batch 64', unit: 'entries/s', seed: seedThroughput },
  { key: 'raft.walCeilingPerSec', label: 'raft: WAL group-commit ceiling, same run', unit: 'records/s' },
  { key: 'derived.raftBatch64ShareOfCeiling', label: 'raft: batch 64 / WAL ceiling', unit: 'x', target: atLeast(0.8, 'issue 7'), from: 'raft' },
  { key: 'raft.commitSingleP50Ms', label: 'raft: single proposal commit p50', unit: 'ms', target: atMost(1, 'issue 7'), seed: seedLatencyP50 },
  { key: 'raft.commitSingleP99Ms', label: 'raft: single proposal commit p99', unit: 'ms', target: atMost(2, 'issue 7'), seed: seedLatencyP99 },
  { key: 'raft.failoverMedianMs', label: 'raft: kill -9 → first commit, median', unit: 'ms', target: atMost(50, 'issue 7'), seed: seedFailover },
  { key: 'raft.failoverP99Ms', label: 'raft: kill -9 → first commit, p99', unit: 'ms', target: atMost(150, 'issue 7'), seed: seedFailover },
  { key: 'raft.failoverMaxMs', label: 'raft: kill -9 → first commit, max', unit: 'ms', target: atMost(250, 'issue 7'), seed: seedFailover },
  { key: 'raft.sigtermGapMs', label: 'raft: SIGTERM → first commit, median', unit: 'ms', target: atMost(50, 'issue 7') },
  { key: 'oneNode.enqueuePerSec', label: 'queue, 1 node: pipelined enqueue, 1 connection', unit: 'jobs/s', seed: '82K events/s on 1 node (baseline)' },
  { key: 'oneNode.singleEnqueueP99Ms', label: 'queue, 1 node: one enqueue at a time p99', unit: 'ms' },
  { key: 'queue.enqueuePerSec', label: 'queue: pipelined enqueue, 1 connection', unit: 'jobs/s', target: atLeast(100_000, 'issue 9'), seed: seedThroughput },
  { key: 'queue.enqueue4ConnPerSec', label: 'queue: pipelined enqueue, 4 connections', unit: 'jobs/s', target: atLeast(100_000, 'issue 9'), seed: seedThroughput },
  { key: 'queue.singleEnqueueP50Ms', label: 'queue: one enqueue at a time p50', unit: 'ms', target: atMost(1, 'issue 9'), seed: seedLatencyP50 },
  { key: 'queue.singleEnqueueP99Ms', label: 'queue: one enqueue at a time p99', unit: 'ms', target: atMost(2, 'issue 9'), seed: seedLatencyP99 },
  { key: 'queue.singleEnqueueP999Ms', label: 'queue: one enqueue at a time p999', unit: 'ms', seed: seedLatencyP999 },
  { key: 'queue.drainPerSec', label: 'queue: drain (pull + ack)', unit: 'jobs/s', target: atLeast(50_000, 'issue 9') },
  { key: 'derived.drainShareOfEnqueue', label: 'queue: drain / enqueue, same run', unit: 'x', target: atLeast(0.5, 'issue 9'), from: 'queue' },
  { key: 'queue.e2eP50Ms', label: 'queue: enqueue → lease at 5,000/s, p50', unit: 'ms', seed: seedLatencyP50 },
  { key: 'queue.e2eP99Ms', label: 'queue: enqueue → lease at 5,000/s, p99', unit: 'ms', target: atMost(10, 'issue 9'), seed: seedLatencyP99 },
  { key: 'queue.e2eP999Ms', label: 'queue: enqueue → lease at 5,000/s, p999', unit: 'ms', seed: seedLatencyP999 },
  { key: 'queue.e2eHalfMaxRatePerSec', label: 'queue: 50% of the measured maximum', unit: 'jobs/s' },
  { key: 'queue.e2eHalfMaxP50Ms', label: 'queue: enqueue → lease at 50% of max, p50', unit: 'ms', seed: seedLatencyP50 },
  { key: 'queue.e2eHalfMaxP99Ms', label: 'queue: enqueue → lease at 50% of max, p99', unit: 'ms', seed: seedLatencyP99 },
  { key: 'queue.e2eHalfMaxP999Ms', label: 'queue: enqueue → lease at 50% of max, p999', unit: 'ms', seed: seedLatencyP999 },
  { key: 'queue.rssMbSteady', label: 'queue: peak node RSS, steady 5,000/s', unit: 'MB', target: atMost(300, 'issue 9') },
  { key: 'queue.bytesPerHeldJob', label: 'queue: RSS per held 256-byte job', unit: 'bytes', target: atMost(1_000, 'issue 9') },
  { key: 'sdk.sdkEnqueuePerSec', label: 'sdk: FalconClient.enqueue', unit: 'jobs/s', seed: seedThroughput },
  { key: 'derived.sdkEnqueueShareOfRaw', label: 'sdk: SDK / raw enqueue, same run', unit: 'x', target: atLeast(0.8, 'issue 10'), from: 'sdk' },
  { key: 'sdk.sdkDrainPerSec', label: 'sdk: client.worker drain', unit: 'jobs/s' },
  { key: 'derived.sdkDrainShareOfRaw', label: 'sdk: SDK / raw drain, same run', unit: 'x', target: atLeast(0.8, 'issue 10'), from: 'sdk' },
  { key: 'sdk.httpEnqueuePerSec', label: 'sdk: HTTP enqueue, batches of 100', unit: 'jobs/s' },
  { key: 'sdk.grpcEnqueuePerSec', label: 'sdk: gRPC enqueue, batches of 100', unit: 'jobs/s' },
  { key: 'failover.unavailableMsMedian', label: 'failover under load: kill -9 → first ack of an enqueue sent after it, median', unit: 'ms', target: atMost(50, 'issue 7, crash failover'), seed: seedFailover },
  { key: 'failover.unavailableMsMax', label: 'failover under load: kill -9 → first ack of an enqueue sent after it, max', unit: 'ms', target: atMost(250, 'issue 7, crash failover'), seed: seedFailover },
  { key: 'failover.firstAckAfterKillMsMedian', label: 'failover under load: kill -9 → first ack of any enqueue, median', unit: 'ms' },
  { key: 'failover.dropPercent', label: 'failover under load: throughput drop around the kill', unit: '%', seed: 'drop < 40% when a node fails' },
];

/** Figures computed from two others of the same run; absent when either is. */
export function derivedFigures(figures: ScenarioFigures): Record<string, number> {
  const derived: Record<string, number> = {};
  const share = (name: string, part: number | undefined, whole: number | undefined): void => {
    if (isMeasured(part) && isMeasured(whole) && whole > 0) derived[name] = part / whole;
  };
  share('raftBatch64ShareOfCeiling', figures['raft']?.['commitBatch64PerSec'], figures['raft']?.['walCeilingPerSec']);
  share('drainShareOfEnqueue', figures['queue']?.['drainPerSec'], figures['queue']?.['enqueuePerSec']);
  share('sdkEnqueueShareOfRaw', figures['sdk']?.['sdkEnqueuePerSec'], figures['sdk']?.['rawEnqueuePerSec']);
  share('sdkDrainShareOfRaw', figures['sdk']?.['sdkDrainPerSec'], figures['sdk']?.['rawDrainPerSec']);
  return derived;
}

export function isMeasured(value: number | undefined | null): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The figure at `key` (`scenario.figure`), or undefined when it was not measured. */
export function figureAt(figures: ScenarioFigures, key: string): number | undefined {
  const dot = key.indexOf('.');
  const value = figures[key.slice(0, dot)]?.[key.slice(dot + 1)];
  return isMeasured(value) ? value : undefined;
}

/** Pass or miss against the issue's target; `''` when the figure has none, `not run` when absent. */
export function verdictOf(value: number | undefined, target: IssueTarget | undefined): Verdict {
  if (!isMeasured(value)) return 'not run';
  if (target === undefined) return '';
  const held = target.comparison === '>=' ? value >= target.value : value <= target.value;
  return held ? 'pass' : 'miss';
}

export interface JudgedFigure extends FigureTarget {
  readonly value: number | undefined;
  readonly verdict: Verdict;
}

/** Every row of the table with its value and verdict. */
export function judgeFigures(figures: ScenarioFigures, targets: readonly FigureTarget[] = figureTargets): JudgedFigure[] {
  const withDerived: ScenarioFigures = { ...figures, derived: { ...derivedFigures(figures), ...figures['derived'] } };
  return targets.map((row) => {
    const value = figureAt(withDerived, row.key);
    return { ...row, value, verdict: verdictOf(value, row.target) };
  });
}
