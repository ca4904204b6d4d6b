/**
 * What `npm run bench` prints and writes, from the figures of a run: the last JSON line of a
 * child's output, the table of figures beside their targets (bench-targets.ts), the Markdown
 * summary ready for bench/RESULTS.md, and the one-line JSON that ends the output. Pure: text in,
 * text out (no I/O, no clock).
 *
 * Invariants: a value that was not measured prints as `—` and is never judged; the last JSON line
 * nests each scenario's numeric figures under the scenario's key (a child's line without its
 * `bench` name, which the key repeats).
 *
 * Runs on: the bench process (and the tests).
 */
import { judgeFigures, scenarioOf, type JudgedFigure, type ScenarioFigures } from './bench-targets.js';

export interface MachineFacts {
  readonly cpuModel: string;
  readonly cores: number;
  readonly nodeVersion: string;
  /** 1, 5 and 15 minute load averages at the start of the run. */
  readonly loadAverage: readonly number[];
  readonly platform: string;
}

/** Everything a run records (the JSON file holds this object). */
export interface BenchRun {
  readonly bench: 'all';
  readonly commit: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly command: string;
  readonly machine: MachineFacts;
  readonly configuration: Readonly<Record<string, unknown>>;
  /** The scenarios this run was asked for (the table shows only their rows). */
  readonly scenarios: readonly string[];
  /** Each scenario's JSON figures (a child's last line, or the bench's own scenarios). */
  readonly figures: ScenarioFigures;
  /** Scenarios not run, each with the reason. */
  readonly skipped: Readonly<Record<string, string>>;
  /** Scenarios that failed, each with the end of its error. */
  readonly failed: Readonly<Record<string, string>>;
}

/**
 * The last line of `output` that is a JSON object whose values are numbers (strings allowed, for
 * keys such as `bench`), or undefined. The bench:* scripts end with such a line; log lines and
 * tables before it are skipped.
 */
export function lastJsonLine(output: string): Record<string, number | string> | undefined {
  const lines = output.split('\n');
  for (let at = lines.length - 1; at >= 0; at -= 1) {
    const line = (lines[at] ?? '').trim();
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (isFlatRecord(parsed)) return parsed;
    } catch { /* not JSON: an earlier line may be */ }
  }
  return undefined;
}

function isFlatRecord(value: unknown): value is Record<string, number | string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((entry) => typeof entry === 'number' || typeof entry === 'string' || entry === null);
}

/** Only the numeric figures of a child's line (its `bench` name and any text dropped). */
export function numericFigures(line: Record<string, number | string | null>): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const [key, value] of Object.entries(line)) if (typeof value === 'number') figures[key] = value;
  return figures;
}

/** A value for the table: thousands separated for rates, two decimals for small figures. */
export function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined) return '—';
  if (unit === 'x') return `${value.toFixed(2)}x`;
  if (unit === '%') return `${value.toFixed(1)}%`;
  if (Math.abs(value) >= 1_000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}

function targetText(row: JudgedFigure): string {
  if (row.target === undefined) return '';
  const sign = row.target.comparison === '>=' ? '≥' : '≤';
  const unit = row.unit === 'x' || row.unit === '%' ? '' : ` ${row.unit}`;
  const value = row.unit === 'x' ? `${row.target.value}x` : row.target.value.toLocaleString('en-US');
  return `${sign} ${value}${unit} (${row.target.setBy})`;
}

function tableRows(figures: ScenarioFigures, scenarios: readonly string[]): string[][] {
  return judgeFigures(figures).filter((row) => scenarios.includes(scenarioOf(row))).map((row) => [
    row.label, `${formatValue(row.value, row.unit)}${row.value === undefined || row.unit === 'x' || row.unit === '%' ? '' : ` ${row.unit}`}`,
    targetText(row), row.verdict, row.seed ?? '',
  ]);
}

const header = ['figure', 'value', 'target (issue)', 'verdict', 'seed 004 (reference)'];

/** The terminal table: aligned columns; only the rows of `scenarios`. */
export function renderTable(figures: ScenarioFigures, scenarios: readonly string[]): string {
  const rows = [header, ...tableRows(figures, scenarios)];
  const widths = header.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]): string => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(rows[0] ?? []), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function markdownCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The Markdown section for bench/RESULTS.md: heading, machine and command, the table, notes. */
export function renderMarkdown(run: BenchRun): string {
  const rows = tableRows(run.figures, run.scenarios);
  const held = rows.filter((row) => row[3] === 'pass').length;
  const missed = rows.filter((row) => row[3] === 'miss').length;
  const load = run.machine.loadAverage.map((value) => value.toFixed(2)).join(' ');
  const lines = [
    `## All scenarios — \`npm run bench\` (${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${run.commit.slice(0, 7)})`,
    '',
    `Machine: ${run.machine.cores} cores (${run.machine.cpuModel}), Node ${run.machine.nodeVersion}, ${run.machine.platform}, `
      + `load average ${load} at the start. Command: \`${run.command}\`; ${(run.durationMs / 1000).toFixed(0)} s in all.`,
    `Configuration: ${Object.entries(run.configuration).filter(([, value]) => value !== undefined).map(([key, value]) => `${key} ${JSON.stringify(value)}`).join(', ')}.`,
    ...(run.configuration['quick'] === true ? ['', 'A quick run: one short run per scenario, a smoke check of the harness, not figures to record.'] : []),
    '',
    `| ${header.join(' | ')} |`,
    '|---|---:|---|---|---|',
    ...rows.map((row) => `| ${row.map(markdownCell).join(' | ')} |`),
    '',
    `Targets held: ${held}; missed: ${missed}.`,
  ];
  for (const [scenario, reason] of Object.entries(run.skipped)) lines.push(`- ${scenario}: not run (${reason}).`);
  for (const [scenario, error] of Object.entries(run.failed)) lines.push(`- ${scenario}: failed (${error.split('\n')[0] ?? ''}).`);
  lines.push('', `Last line: \`${summaryLine(run)}\``, '');
  return lines.join('\n');
}

/** The last output line: `{"bench":"all","commit":…,"raft":{…},"queue":{…},"sdk":{…},…}`. */
export function summaryLine(run: BenchRun): string {
  const nested: Record<string, unknown> = { bench: 'all', commit: run.commit };
  for (const [scenario, figures] of Object.entries(run.figures)) nested[scenario] = figures;
  if (Object.keys(run.skipped).length > 0) nested['skipped'] = Object.keys(run.skipped);
  if (Object.keys(run.failed).length > 0) nested['failed'] = Object.keys(run.failed);
  return JSON.stringify(nested);
}

/** The median of each figure over runs (the lower middle of an even count: never the best run). */
export function medianFigures(runs: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const medians: Record<string, number> = {};
  for (const key of Object.keys(runs[0] ?? {})) {
    const values = runs.map((run) => run[key]).filter((value): value is number => typeof value === 'number' && !Number.isNaN(value)).sort((a, b) => a - b);
    medians[key] = values[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
  }
  return medians;
}

/** Rounds every figure to two decimals (the JSON line and the file keep no more). */
export function roundedFigures(figures: Record<string, number>): Record<string, number> {
  const rounded: Record<string, number> = {};
  for (const [key, value] of Object.entries(figures)) rounded[key] = Math.round(value * 100) / 100;
  return rounded;
}
