/**
 * Turns the problems found in a parsed file into the one ConfigError a person reads: each problem
 * placed on its line, the first in the file as the error's field and line, every one listed.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

import { ConfigError } from './config-error.js';
import type { ConfigProblem } from './config-problem.js';
import { formatFieldPath } from './describe-value.js';
import { locateField, type YamlSource } from './yaml-source.js';

interface PlacedProblem {
  readonly field: string;
  readonly line: number | undefined;
  readonly problem: string;
}

function place(source: YamlSource, problem: ConfigProblem): PlacedProblem {
  const location = locateField(source, problem.path);
  if (!location.found && problem.relatedPath !== undefined) {
    // The field the rule is about kept its default; point at the one the file did set.
    const related = locateField(source, problem.relatedPath);
    if (related.found) return { field: formatFieldPath(problem.relatedPath), line: related.line, problem: problem.problem };
  }
  return { field: formatFieldPath(problem.path), line: location.line, problem: problem.problem };
}

/** Problems listed in one refusal at most: enough to fix a file in one go, short enough to read. */
const problemsListedMax = 10;

/**
 * Throws the problem that comes first in the file (problems without a line go last) as the
 * error's field and line; its message lists every problem, one per line in file order (up to
 * `problemsListedMax`), so that a file with several (say, keys of an older version) is fixed in
 * one go rather than one start at a time.
 */
export function throwFirst(source: YamlSource, problems: readonly ConfigProblem[]): never {
  const placed = problems.map((problem) => place(source, problem));
  const lineOrder = (entry: PlacedProblem): number => entry.line ?? Number.POSITIVE_INFINITY;
  // Array.prototype.sort is stable: equal lines keep the schema's order.
  const ordered = [...placed].sort((a, b) => lineOrder(a) - lineOrder(b));
  const first = ordered[0];
  if (first === undefined) throw new Error('assertion failed: throwFirst called with 0 problems');
  // A set: one bad value can break two rules that read alike (a type and a refinement).
  const all = [...new Set(ordered.map((entry) =>
    new ConfigError({ source: source.sourceName, line: entry.line, field: entry.field, problem: entry.problem }).message))];
  const lines = all.slice(0, problemsListedMax);
  if (all.length > problemsListedMax) lines.push(`... and ${all.length - problemsListedMax} more problems`);
  throw new ConfigError({ source: source.sourceName, line: first.line, field: first.field, problem: first.problem, message: lines.join('\n') });
}

