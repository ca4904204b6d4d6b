#!/usr/bin/env node
/**
 * falcon: the operator's command line. `falcon status` asks every node of a cluster file for its
 * health, readiness and actors over the ops port and prints one line per node.
 *
 * Runs on: an operator's shell.
 */
import { Command } from 'commander';
import { loadClusterConfig } from '../config/load-config.js';
import { ConfigError, configErrorExitCode } from '../config/config-error.js';
import type { NodeConfig } from '../config/cluster-config.js';
import { isNodeStatus, type NodeStatus } from '../runtime/node-status.js';

/** Bound on each node's answer: a node that does not answer within it is reported unreachable. */
const statusTimeoutMs = 2_000;

interface NodeReport {
  readonly node: string;
  readonly reachable: boolean;
  readonly error?: string;
  readonly status?: NodeStatus;
}

async function fetchStatus(node: NodeConfig): Promise<NodeReport> {
  const url = `http://${node.host}:${node.opsPort}/status`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(statusTimeoutMs) });
    const status: unknown = await response.json();
    if (!isNodeStatus(status)) return { node: node.id, reachable: false, error: `${url}: HTTP ${response.status}, not a node status` };
    return { node: node.id, reachable: true, status };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return { node: node.id, reachable: false, error: `${url}: ${cause}` };
  }
}

function formatReport(report: NodeReport): string {
  if (!report.reachable || report.status === undefined) return `${report.node.padEnd(6)}unreachable  ${report.error ?? ''}`;
  const status = report.status;
  const { health, readiness, actors } = status;
  const restarts = Object.values(actors).reduce((sum, actor) => sum + actor.restarts, 0);
  const uptimeS = Math.round(status.uptimeMs / 1000);
  const problems = health.ok ? '' : `  failing: ${Object.entries(health.failing).map(([a, p]) => `${a} (${p})`).join(', ')}`;
  return `${report.node.padEnd(6)}${(health.ok ? 'healthy' : 'UNHEALTHY').padEnd(11)}${(readiness.ready ? 'ready' : 'not-ready').padEnd(11)}`
    + `up ${String(uptimeS).padStart(6)} s  actor restarts ${restarts}${problems}`;
}

const program = new Command('falcon').description('Operate a FalconQueue cluster.');
program
  .command('status')
  .description('ask every node of the cluster file for its health, readiness and actors (over its ops port)')
  .requiredOption('-c, --config <file>', 'cluster file (YAML)', 'cluster.yaml')
  .option('--json', 'print the full /status answer of every node as JSON')
  .action(async (flags: { config: string; json?: boolean }) => {
    let nodes: readonly NodeConfig[];
    try {
      nodes = loadClusterConfig(flags.config).nodes;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(`falcon: ${error.message}\n`);
      process.exitCode = configErrorExitCode;
      return;
    }
    const reports = await Promise.all(nodes.map(fetchStatus));
    if (flags.json === true) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else process.stdout.write(`${reports.map(formatReport).join('\n')}\n`);
    if (reports.some((report) => !report.reachable)) process.exitCode = 1;
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`falcon: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
