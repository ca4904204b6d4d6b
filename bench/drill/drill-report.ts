/**
 * The drill's verdict and what it prints: the checks (checker.ts) and figures (figures.ts) of one
 * history, summary lines, a table of each figure beside seed 004's target (pass or miss), and the
 * final JSON line, always the last line printed:
 *
 *   {"drill":"pass"|"fail","seed":…,"ops":…,"lostAcked":…,"duplicateKeys":…,"staleAcksAccepted":…,
 *    "leadersPerTermMax":…,"maxUnavailableMs":…,"successRate":…}
 *
 * The drill passes when no check found a violation. The targets are figures to improve, not
 * safety: a missed target is shown, and does not fail the drill.
 *
 * Pure: no I/O, no clock; the caller prints the lines.
 *
 * Runs on: the drill runner's process and the offline checker.
 */
import { checkHistory, type CheckResult, type Violation } from './checker.js';
import { drillFigures, type DrillFigures } from './figures.js';
import type { DrillFinalState, FaultRecord, HistoryRecord } from './history.js';

/** Seed 004's bars, as issue 11 states them. */
export const drillTargets = {
  /** Failover detection (450 ms) plus election (150 ms), worst case. */
  failoverMsMax: 600,
  /** Throughput drop when a node fails. */
  throughputDropPercentMax: 40,
  /** From a worker's kill until its jobs run elsewhere. */
  rebalanceMsMax: 5000,
  /** SDK calls answered ok under fault injection. */
  successRateMin: 0.98,
} as const;

/** Violations printed in full; the rest are counted (the saved history has them all). */
const violationLinesMax = 40;

export interface DrillReport {
  readonly seed: number | string;
  readonly pass: boolean;
  readonly checks: CheckResult;
  readonly figures: DrillFigures;
  /** Jobs per state in the final state after the drain (anything ready, delayed or leased was not drained). */
  readonly finalStates: Readonly<Record<string, number>>;
}

export interface TargetRow {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly verdict: 'pass' | 'miss' | 'n/a';
}

export function buildDrillReport(records: readonly HistoryRecord[], final: DrillFinalState, options: { seed: number | string; throughputWindowMs?: number }): DrillReport {
  const checks = checkHistory(records, final);
  const figures = drillFigures(records, options.throughputWindowMs === undefined ? {} : { throughputWindowMs: options.throughputWindowMs });
  const finalStates: Record<string, number> = {};
  for (const job of final.jobs) finalStates[job.state] = (finalStates[job.state] ?? 0) + 1;
  return { seed: options.seed, pass: checks.violations.length === 0, checks, figures, finalStates };
}

function milliseconds(value: number | null): string {
  return value === null ? 'never' : `${Math.round(value)} ms`;
}

function verdictBelow(value: number | null, max: number): 'pass' | 'miss' {
  return value !== null && value < max ? 'pass' : 'miss';
}

function worstLeaderWindowMs(figures: DrillFigures): number | null {
  const leaderFaults = new Set(figures.elections.map((election) => election.fault));
  const windows = figures.faultWindows.filter((window) => leaderFaults.has(window.fault));
  return windows.length === 0 ? null : Math.max(...windows.map((window) => window.unavailableMs));
}

export function drillTargetRows(figures: DrillFigures): TargetRow[] {
  const leaderWindowMs = worstLeaderWindowMs(figures);
  const rows: TargetRow[] = [
    { figure: 'failover: fault → new leader seen (worst, /status polls)', value: milliseconds(figures.maxElectionMs),
      target: `< ${drillTargets.failoverMsMax} ms`, verdict: figures.elections.length === 0 ? 'n/a' : verdictBelow(figures.maxElectionMs, drillTargets.failoverMsMax) },
    { figure: 'failover: fault → first enqueue ok (worst, as a client sees it)', value: leaderWindowMs === null ? 'n/a' : milliseconds(leaderWindowMs),
      target: `< ${drillTargets.failoverMsMax} ms`, verdict: leaderWindowMs === null ? 'n/a' : verdictBelow(leaderWindowMs, drillTargets.failoverMsMax) },
    { figure: 'throughput drop when a node fails (worst)', value: figures.maxDropPercent === null ? 'n/a' : `${figures.maxDropPercent.toFixed(1)} %`,
      target: `< ${drillTargets.throughputDropPercentMax} %`, verdict: figures.maxDropPercent === null ? 'n/a' : verdictBelow(figures.maxDropPercent, drillTargets.throughputDropPercentMax) },
    { figure: 'worker rebalance after a kill (worst)', value: figures.rebalances.length === 0 ? 'n/a' : milliseconds(figures.maxRebalanceMs),
      target: `< ${drillTargets.rebalanceMsMax} ms`, verdict: figures.rebalances.length === 0 ? 'n/a' : verdictBelow(figures.maxRebalanceMs, drillTargets.rebalanceMsMax) },
    { figure: 'SDK call success rate', value: `${(figures.successRate * 100).toFixed(2)} %`,
      target: `> ${drillTargets.successRateMin * 100} %`, verdict: figures.successRate > drillTargets.successRateMin ? 'pass' : 'miss' },
  ];
  return rows;
}

/** Fixed-width columns, for a terminal. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}

function faultName(fault: FaultRecord): string {
  return `${fault.fault} ${fault.target} @${Math.round(fault.startMs)}`;
}

function violationLine(violation: Violation): string {
  return `  [${violation.check}/${violation.kind}] ${violation.message}`;
}

function faultLines(figures: DrillFigures): string[] {
  const elections = new Map(figures.elections.map((election) => [election.fault, election]));
  const drops = new Map(figures.throughputDrops.map((drop) => [drop.fault, drop]));
  const rebalances = new Map(figures.rebalances.map((rebalance) => [rebalance.fault, rebalance]));
  const rows = figures.faultWindows.map((window) => {
    const election = elections.get(window.fault);
    const drop = drops.get(window.fault);
    const rebalance = rebalances.get(window.fault);
    return [
      faultName(window.fault),
      `${milliseconds(window.unavailableMs)}${window.open ? ' (open)' : ''}`,
      election === undefined ? '' : `${milliseconds(election.electionMs)} → ${election.newLeader ?? '?'}`,
      election?.leaderCommitMs == null ? '' : milliseconds(election.leaderCommitMs),
      drop === undefined ? '' : `${drop.beforePerSecond.toFixed(0)}/s → ${drop.afterPerSecond.toFixed(0)}/s` +
        (drop.dropPercent === null ? '' : ` (${drop.dropPercent.toFixed(1)} %)`),
      rebalance === undefined ? '' : `${rebalance.jobsHeld.length} held, all moved in ${milliseconds(rebalance.allMs)}`,
    ];
  });
  return rows.length === 0 ? ['faults: none'] : table(['fault', 'unavailable', 'new leader', 'it commits', 'throughput', 'rebalance'], rows);
}

/** The final JSON line's object. */
export function drillSummary(report: DrillReport): Record<string, unknown> {
  return {
    drill: report.pass ? 'pass' : 'fail',
    seed: report.seed,
    ops: report.checks.ops,
    lostAcked: report.checks.lostAcked,
    duplicateKeys: report.checks.duplicateKeys,
    staleAcksAccepted: report.checks.staleAcksAccepted,
    leadersPerTermMax: report.checks.leadersPerTermMax,
    maxUnavailableMs: Math.round(report.figures.maxUnavailableMs),
    successRate: Number(report.figures.successRate.toFixed(5)),
  };
}

export function drillJsonLine(report: DrillReport): string {
  return JSON.stringify(drillSummary(report));
}

/** Every line the drill prints at its end, the JSON line last. */
export function drillReportLines(report: DrillReport): string[] {
  const { checks, figures } = report;
  const finalJobs = Object.values(report.finalStates).reduce((sum, count) => sum + count, 0);
  const explained = checks.duplicateDeliveries.length - checks.unexplainedDuplicates;
  const reasons = new Map<string, number>();
  for (const duplicate of checks.duplicateDeliveries) {
    const reason = duplicate.explanations[0] ?? 'unexplained';
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const lines = [
    `drill ${report.pass ? 'PASS' : 'FAIL'} (seed ${report.seed}): ${checks.ops} client operations, ${checks.violations.length} violations`,
    `  lost acknowledged enqueues ${checks.lostAcked}; phantom deliveries ${checks.phantoms}; keys with two jobs ${checks.duplicateKeys}; ` +
      `stale acks accepted ${checks.staleAcksAccepted}; leaders per term (max) ${checks.leadersPerTermMax}`,
    `  duplicate deliveries ${checks.duplicateDeliveries.length} (${explained} explained` +
      (reasons.size === 0 ? '' : `: ${[...reasons].map(([reason, count]) => `${reason} ${count}`).join(', ')}`) + ')',
    `  final state: ${finalJobs === 0 ? 'no jobs' : Object.entries(report.finalStates).map(([state, count]) => `${state} ${count}`).join(', ')}`,
    `  calls: ${Object.entries(figures.successByCall).map(([call, { ok, all }]) => `${call} ${ok}/${all}`).join(', ') || 'none'}`,
  ];
  if (checks.violations.length > 0) {
    lines.push('violations:', ...checks.violations.slice(0, violationLinesMax).map(violationLine));
    if (checks.violations.length > violationLinesMax) lines.push(`  ... and ${checks.violations.length - violationLinesMax} more`);
  }
  lines.push(...faultLines(figures));
  lines.push(...table(['figure', 'value', 'seed 004 target', 'verdict'],
    drillTargetRows(figures).map((row) => [row.figure, row.value, row.target, row.verdict])));
  if (!report.pass) lines.push(`replay: npm run drill -- --seed ${report.seed}`);
  lines.push(drillJsonLine(report));
  return lines;
}
