#!/usr/bin/env node
/**
 * falcon-node: runs one FalconQueue node (`--node n1`), or every node of a cluster file on this
 * machine (no `--node`, what `npm start` does).
 *
 * Runs on: the node process (main thread).
 */
import { Command, Option } from 'commander';
import { loadClusterConfig, selectNode } from '../config/load-config.js';
import { ConfigError, configErrorExitCode } from '../config/config-error.js';
import { logLevels, type ClusterConfig } from '../config/cluster-config.js';
import { createLogger, logFormats, resolveLogFormat, type LogFormat } from '../logging/logger.js';
import { runNode } from '../supervisor/run-node.js';
import { launchCluster } from './cluster-launcher.js';
import { exitCodes } from '../runtime/exit-codes.js';

interface NodeFlags {
  readonly config: string;
  readonly node?: string;
  readonly logLevel?: string;
  readonly logFormat: LogFormat;
  readonly repairCorruption?: boolean;
  readonly testHooks?: boolean;
}

const program = new Command('falcon-node')
  .description('Run a FalconQueue node: a Raft-replicated, durable job queue.\n\n'
    + 'With --node, runs that one node of the cluster file in this process.\n'
    + 'Without --node, runs every node of the file as a child process on this machine\n'
    + '(a local cluster for trying FalconQueue out; `npm start` does this).')
  .requiredOption('-c, --config <file>', 'cluster file (YAML): nodes, ports, data directories and settings; see docs/configuration.md')
  .option('-n, --node <id>', 'id of the node to run (one of the ids under `nodes:` in the cluster file)')
  .addOption(new Option('--log-level <level>', 'log level; overrides logging.level of the cluster file').choices([...logLevels]))
  .option('--repair-corruption', 'if the WAL is corrupt outside its newest segment\'s tail, truncate it there and mark this node to be caught up from the leader before it may vote or lead (default: refuse to start); overrides wal.repairCorruption')
  .option('--test-hooks', 'serve POST /debug/raft-load on the ops port: a bounded load generator inside the Raft layer, for benchmarks and tests; never in production')
  .addOption(new Option('--log-format <format>', 'pretty: lines for a person; json: one JSON object per line; auto: pretty on a terminal').choices([...logFormats]).default('auto'))
  .addHelpText('after', `
Exit codes:
  0  stopped on SIGTERM / SIGINT after draining its actors (a leader hands leadership to its
     most caught-up follower first)
  1  unexpected error (a bug; the log has the stack)
  2  refused to start: bad cluster file, unknown --node, ops port in use, data directory unusable
     or held by another running node (the log names its PID), corrupt WAL or snapshot (the log
     names file, offset and index; see --repair-corruption)
  3  an actor failed more often than supervisor.restartsMax within supervisor.restartWindowMs,
     or failed in a way a restart cannot cure (a failed fsync: nothing after it is trusted)

Ops port of each node (opsPort in the cluster file):
  GET /healthz   200 when every actor is alive, 503 naming the failing actor
  GET /readyz    200 when the node can serve
  GET /metrics   Prometheus metrics
  GET /status    JSON: node, actors, rings, uptime

Examples:
  falcon-node --config cluster.yaml              # a local 3-node cluster
  falcon-node --config cluster.yaml --node n1    # one node of a deployment`)
  .showHelpAfterError('(run falcon-node --help for usage)');

async function main(): Promise<number> {
  program.parse();
  const flags = program.opts<NodeFlags>();
  let config: ClusterConfig;
  try {
    config = loadClusterConfig(flags.config);
    if (flags.node !== undefined) selectNode(config, flags.node);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`falcon-node: ${error.message}\n`);
      return configErrorExitCode;
    }
    throw error;
  }
  const logFormat = resolveLogFormat(flags.logFormat);
  if (flags.node === undefined) {
    for (const warning of config.warnings) process.stderr.write(`falcon-node: warning: ${warning}\n`);
    return launchCluster({ configPath: flags.config, config, logFormat, logLevel: flags.logLevel, repairCorruption: flags.repairCorruption === true, testHooks: flags.testHooks === true });
  }
  const node = selectNode(config, flags.node);
  const level = (flags.logLevel ?? config.logging.level) as ClusterConfig['logging']['level'];
  const wal = flags.repairCorruption === true ? { ...config.wal, repairCorruption: true } : config.wal;
  const logger = createLogger({ level, format: logFormat, bindings: { node: node.id } });
  for (const warning of config.warnings) logger.warn(warning);
  return runNode({
    config: { ...config, wal, logging: { ...config.logging, level } },
    node,
    logger,
    logFormat,
    stopRequested: stopSignal(),
    testHooks: flags.testHooks === true,
  });
}

/** Resolves on SIGTERM or SIGINT, or when the launcher that started this node goes away. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (process.connected === true) process.once('disconnect', () => resolve('the launcher went away'));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`falcon-node: unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(exitCodes.internalError);
  },
);
