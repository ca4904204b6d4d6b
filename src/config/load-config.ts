/**
 * Loads cluster.yaml: reads the file, parses the YAML, applies the schema (and its defaults),
 * resolves data directories, checks the rules between nodes, and returns a frozen
 * `ClusterConfig` — or throws ONE `ConfigError` whose message names the file, the line and the
 * field: `cluster.yaml:14: nodes[1].peerPort: expected an integer from 1 to 65535, got "71O2"`.
 *
 * Invariants:
 * - A returned config has passed every rule; nothing downstream re-validates it.
 * - When several things are wrong, the one that comes first in the file is reported, so that
 *   fixing problems top to bottom converges.
 * - `dataDir` is absolute, resolved against the directory of the config file.
 * - Every handler `module` is absolute (resolved the same way) and names a file that existed when
 *   the file was loaded; a missing one is refused naming its key (`handlers.email.module`).
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs (synchronous: nothing else runs
 * before the configuration is known).
 */

import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { clusterFileSchema, type ClusterConfig, type HandlersConfig, type NodeConfig } from './cluster-config.js';
import { ConfigError } from './config-error.js';
import { fallbackIssueMessage, problemsFromIssues, type ConfigProblem } from './config-problem.js';
import { formatFieldPath } from './describe-value.js';
import { nodeCountWarning, nodeProblems } from './node-rules.js';
import { locateField, parseYaml, type YamlSource } from './yaml-source.js';

export { ConfigError, configErrorExitCode } from './config-error.js';

/** A config file is a page of settings; anything larger is the wrong file. */
export const configFileBytesMax = 1024 * 1024;

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
function throwFirst(source: YamlSource, problems: readonly ConfigProblem[]): never {
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function warningsFor(sourceName: string, config: Omit<ClusterConfig, 'warnings' | 'source'>): string[] {
  const warnings: string[] = [];
  const countWarning = nodeCountWarning(config.nodes.length);
  if (countWarning !== undefined) warnings.push(`${sourceName}: ${countWarning}`);
  if (config.wal.fsync === 'unsafeNoFsync') {
    warnings.push(`${sourceName}: wal.fsync is 'unsafeNoFsync': acknowledged jobs can be lost on a crash; benchmarks only`);
  }
  if (config.wal.repairCorruption) {
    warnings.push(`${sourceName}: wal.repairCorruption is on: a corrupt WAL is truncated and re-replicated, not refused`);
  }
  return warnings;
}

/** `handlers` with each module resolved against `baseDir`; a module that is not a file is a problem at `path`. */
function resolveHandlers(handlers: HandlersConfig, baseDir: string, path: readonly PropertyKey[], problems: ConfigProblem[]): HandlersConfig {
  const resolved: Record<string, HandlersConfig[string]> = {};
  for (const [queue, handler] of Object.entries(handlers)) {
    const module = resolve(baseDir, handler.module);
    resolved[queue] = { ...handler, module };
    let isFile = false;
    try {
      isFile = statSync(module).isFile();
    } catch {
      // Missing or unreadable: reported below.
    }
    if (!isFile) {
      problems.push({ path: [...path, queue, 'module'], problem: `no such file ${module} (relative paths resolve against the config file's directory)` });
    }
  }
  return resolved;
}

/**
 * Parses the text of a cluster.yaml. `sourceName` is what messages call the file; `baseDir` is
 * what relative `dataDir`s and handler modules resolve against (the directory of the file). Reads
 * the file system only to check that handler modules exist.
 */
export function parseClusterConfig(text: string, sourceName: string, baseDir: string): ClusterConfig {
  const { source, data } = parseYaml(text, sourceName);
  const parsed = clusterFileSchema.safeParse(data, { error: fallbackIssueMessage });
  if (!parsed.success) throwFirst(source, problemsFromIssues(parsed.error.issues));

  const handlerProblems: ConfigProblem[] = [];
  const handlers = resolveHandlers(parsed.data.handlers, baseDir, ['handlers'], handlerProblems);
  const nodes: NodeConfig[] = parsed.data.nodes.map((node, index) => {
    const resolved = { ...node, dataDir: resolve(baseDir, node.dataDir) };
    if (node.handlers === undefined) return resolved;
    return { ...resolved, handlers: resolveHandlers(node.handlers, baseDir, ['nodes', index, 'handlers'], handlerProblems) };
  });
  const problems = [...nodeProblems(nodes), ...handlerProblems];
  if (problems.length > 0) throwFirst(source, problems);

  const settings = { ...parsed.data, handlers, nodes };
  return deepFreeze({ source: sourceName, ...settings, warnings: warningsFor(sourceName, settings) });
}

function readFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file (ENOENT)';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  if (code === 'EISDIR') return 'it is a directory, not a file (EISDIR)';
  return error instanceof Error ? error.message : String(error);
}

function readConfigText(path: string, absolutePath: string): string {
  let bytes: Buffer;
  try {
    const sizeBytes = statSync(absolutePath).size;
    if (sizeBytes > configFileBytesMax) {
      throw new ConfigError({
        source: path, problem: `the file is ${sizeBytes} bytes, more than the ${configFileBytesMax} a config may be; is it the right file?`,
      });
    }
    bytes = readFileSync(absolutePath);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError({ source: path, problem: `cannot read the config file ${absolutePath}: ${readFailure(error)}` });
  }
  try {
    // fatal: a stray Latin-1 byte is refused rather than turned into U+FFFD inside a value.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError({ source: path, problem: 'the file is not valid UTF-8' });
  }
}

/** Reads and parses the file at `path`; messages call it by `path` as given. */
export function loadClusterConfig(path: string): ClusterConfig {
  const absolutePath = resolve(path);
  return parseClusterConfig(readConfigText(path, absolutePath), path, dirname(absolutePath));
}

/** The node this process is (`--node <id>`). */
export function selectNode(config: ClusterConfig, nodeId: string): NodeConfig {
  const node = config.nodes.find((candidate) => candidate.id === nodeId);
  if (node !== undefined) return node;
  const known = config.nodes.map((candidate) => candidate.id).join(', ');
  throw new ConfigError({
    source: config.source,
    field: 'nodes',
    problem: `no node with id '${nodeId}' (known: ${known})`,
    message: `--node ${nodeId}: no node with id '${nodeId}' in ${config.source} (known: ${known})`,
  });
}
