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
import { nodeCountWarning, nodeProblems } from './node-rules.js';
import { parseYaml } from './yaml-source.js';
import { throwFirst } from './refusal.js';
import { localWorkerToken, type AuthConfig } from './auth-config.js';
import { describeReadFailure, resolveAuth } from './tokens-file.js';

export { ConfigError, configErrorExitCode } from './config-error.js';

/** A config file is a page of settings; anything larger is the wrong file. */
export const configFileBytesMax = 1024 * 1024;

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
 * Local handlers pull through the client port like any worker, so with tokens listed they need one
 * whose role may consume (auth-config.ts `localWorkerToken`); refused here, not at their first pull.
 */
function handlerTokenProblems(auth: AuthConfig, handlers: HandlersConfig, nodes: readonly NodeConfig[]): ConfigProblem[] {
  if (auth.tokens.length === 0 || localWorkerToken(auth) !== undefined) return [];
  const nodeIndex = nodes.findIndex((node) => Object.keys(node.handlers ?? handlers).length > 0);
  const node = nodes[nodeIndex];
  if (node === undefined) return [];
  const [queue] = Object.keys(node.handlers ?? handlers);
  const handlerPath = node.handlers === undefined ? `handlers.${queue}` : `nodes[${nodeIndex}].handlers.${queue}`;
  const where = auth.tokensFile === undefined ? `the ${auth.tokens.length} in auth.tokens` : `the ${auth.tokens.length} in auth.tokens and ${auth.tokensFile}`;
  return [{
    path: ['auth', auth.tokensFile === undefined ? 'tokens' : 'tokensFile'],
    problem: `local handlers (${handlerPath}) pull through the client port and need a token with role 'consume' or 'admin', ` +
      `and none of ${where} has one; add one (the first such token is the one the handlers use)`,
  }];
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
  const authProblems: ConfigProblem[] = [];
  const auth = resolveAuth(parsed.data.auth, baseDir, authProblems);
  const problems = [...nodeProblems(nodes), ...handlerProblems, ...authProblems, ...handlerTokenProblems(auth, handlers, nodes)];
  if (problems.length > 0) throwFirst(source, problems);

  const settings = { ...parsed.data, handlers, nodes, auth };
  return deepFreeze({ source: sourceName, ...settings, warnings: warningsFor(sourceName, settings) });
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
    throw new ConfigError({ source: path, problem: `cannot read the config file ${absolutePath}: ${describeReadFailure(error)}` });
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
