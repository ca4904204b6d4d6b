#!/usr/bin/env node
/**
 * falcon-worker: runs a handler module's jobs from one queue, built on the SDK's
 * `client.worker()`. The module's default export is `async (job, { signal }) => result`; it runs
 * in this process, or with `--threads` in a piscina pool of up to `--concurrency` threads.
 *
 * Start: the module is imported once here and must export a function (exit 2 otherwise, before
 * anything connects). Then the worker registers, beats, pulls up to `--concurrency` jobs at once,
 * extends long leases, acks results and nacks thrown errors. While the cluster is unreachable it
 * keeps retrying (a worker outlives a cluster restart).
 *
 * Stop: on SIGTERM or SIGINT it stops pulling, lets running jobs finish and be acked for up to
 * `--drain-timeout-ms`, unregisters (the SDK's close(): the node returns every job still leased
 * to this worker at once, abandoned ones included), then exits: 0 when every job drained, 3 when
 * the bound passed and running jobs were abandoned (the cluster retries them, each counting as a
 * failed attempt). A second signal exits at once with 3 (no unregister: the worker's TTL releases
 * its jobs).
 *
 * Runs on: the worker process (main thread; handler threads with --threads).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { FalconClient, type FalconWorker, type JobHandler, type NodeAddress } from '../client/index.js';
import { loadClusterConfig } from '../config/load-config.js';
import { ConfigError } from '../config/config-error.js';
import { logLevels } from '../config/cluster-config.js';
import { createLogger, logFormats, type LogFormat, type Logger } from '../logging/logger.js';
import { parseAddressList, parseInteger } from './cli-arguments.js';
import { CliFailure, usageFailure } from './cli-failure.js';

/** Exit codes of falcon-worker (docs/cli.md). */
export const workerExitCodes = {
  drained: 0,
  unexpected: 1,
  usage: 2,
  abandoned: 3,
} as const;

interface WorkerFlags {
  readonly config: string;
  readonly nodes?: string;
  readonly queue: string;
  readonly handler: string;
  readonly concurrency: string;
  readonly threads?: boolean;
  readonly token?: string;
  readonly leaseMs?: string;
  readonly drainTimeoutMs: string;
  readonly workerId?: string;
  readonly logFormat: LogFormat;
  readonly logLevel?: string;
}

const program = new Command('falcon-worker')
  .description('Run the jobs of one queue with a handler module: `export default async (job, { signal }) => result`.')
  .requiredOption('-q, --queue <queue>', 'the queue to take jobs from')
  .requiredOption('-H, --handler <module>', 'path of the handler module (ES module or CommonJS); its default export runs each job')
  .option('-c, --config <file>', 'cluster file (YAML) naming the nodes', 'cluster.yaml')
  .option('--nodes <host:port,...>', 'client ports of the cluster, instead of a cluster file')
  .option('--concurrency <n>', 'jobs run at once, 1 to 4096', '1')
  .option('--threads', 'run the handler in a pool of worker threads (up to --concurrency) instead of this thread')
  .option('--token <token>', 'bearer token with the consume role (default: the FALCON_TOKEN environment variable)')
  .option('--lease-ms <ms>', 'lease of each pulled job, extended at half-time while it runs (default 30000)')
  .option('--drain-timeout-ms <ms>', 'on SIGTERM/SIGINT, how long running jobs may take to finish', '30000')
  .option('--worker-id <id>', 'unique id of this worker (default: host, pid and a random part)')
  .addOption(new Option('--log-level <level>', 'log level (default info)').choices([...logLevels]))
  .addOption(new Option('--log-format <format>', 'pretty: lines for a person; json: one JSON object per line; auto: pretty on a terminal').choices([...logFormats]).default('auto'))
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`falcon-worker: ${text.replace(/^error: /, '')}`) })
  .addHelpText('after', `
Exit codes:
  0  stopped on SIGTERM / SIGINT with every running job finished and acked
  1  unexpected error (a bug; the log has the stack)
  2  bad usage: unknown option, unreadable cluster file, a handler module that does not load
     or whose default export is not a function
  3  stopped, but --drain-timeout-ms passed with jobs still running: they were abandoned (the
     worker unregisters and the cluster gives them to another worker), or a second signal came

Examples:
  falcon-worker --config cluster.yaml --queue email --handler ./email.js --concurrency 8
  falcon-worker --nodes 10.0.0.1:7201,10.0.0.2:7201 --queue images --handler ./resize.js --concurrency 4 --threads`);

/** Imports the handler module and checks that its default export is a function. */
async function loadHandler(modulePath: string): Promise<JobHandler> {
  let loaded: { default?: unknown };
  try {
    loaded = await import(pathToFileURL(modulePath).href) as { default?: unknown };
  } catch (error) {
    throw usageFailure(`handler module ${modulePath} does not load: ${(error as Error).message}`, '--handler');
  }
  const handler = loaded.default;
  if (typeof handler !== 'function') {
    throw usageFailure(`handler module ${modulePath} must export a function as its default export (async (job, { signal }) => result), `
      + `its default export is ${handler === undefined ? 'missing' : `a ${typeof handler}`}`, '--handler');
  }
  return async (job, context) => await (handler as JobHandler)(job, context);
}

/** The client ports: `--nodes`, else the cluster file's nodes. */
function clusterNodesOf(flags: WorkerFlags): NodeAddress[] {
  if (flags.nodes !== undefined) return parseAddressList(flags.nodes, '--nodes');
  return loadClusterConfig(flags.config).nodes.map((node) => ({ host: node.host, port: node.clientPort }));
}

/** Resolves with the first stop signal's name. */
function stopSignal(): Promise<string> {
  return new Promise((resolveSignal) => {
    process.once('SIGTERM', () => resolveSignal('SIGTERM'));
    process.once('SIGINT', () => resolveSignal('SIGINT'));
  });
}

async function runWorker(worker: FalconWorker, client: FalconClient, logger: Logger, drainTimeoutMs: number): Promise<number> {
  void worker.ready.then(() => logger.info('registered; taking jobs'));
  const signal = await stopSignal();
  logger.info({ signal, running: worker.runningJobs, drainTimeoutMs }, 'stopping: no more pulls; draining the running jobs');
  const again = (name: string): void => {
    logger.warn({ signal: name, running: worker.runningJobs }, 'second signal: exiting now, abandoning the running jobs');
    process.exit(workerExitCodes.abandoned);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  await worker.close();
  await client.close();
  const counters = worker.counters;
  logger.info({ ...counters }, counters.abandoned === 0 ? 'drained; exiting' : `drain bound passed: ${counters.abandoned} running job(s) abandoned`);
  return counters.abandoned === 0 ? workerExitCodes.drained : workerExitCodes.abandoned;
}

async function main(): Promise<number> {
  program.parse();
  const flags = program.opts<WorkerFlags>();
  const nodes = clusterNodesOf(flags);
  const concurrency = parseInteger(flags.concurrency, '--concurrency', 1);
  const leaseMs = flags.leaseMs === undefined ? undefined : parseInteger(flags.leaseMs, '--lease-ms', 2);
  const drainTimeoutMs = parseInteger(flags.drainTimeoutMs, '--drain-timeout-ms', 0);
  const modulePath = resolve(flags.handler);
  const handler = await loadHandler(modulePath);
  const workerId = flags.workerId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const level = (flags.logLevel ?? 'info') as (typeof logLevels)[number];
  const logger = createLogger({ level, format: flags.logFormat, bindings: { worker: workerId, queue: flags.queue } });
  const token = flags.token ?? (process.env['FALCON_TOKEN'] === '' ? undefined : process.env['FALCON_TOKEN']);
  const client = new FalconClient({ nodes, clientName: 'falcon-worker', ...(token === undefined ? {} : { token }) });
  const options = {
    concurrency, drainTimeoutMs, workerId, logger,
    ...(leaseMs === undefined ? {} : { leaseMs }),
  };
  let worker: FalconWorker;
  try {
    worker = flags.threads === true ? client.worker(flags.queue, { ...options, handlerModule: modulePath }) : client.worker(flags.queue, handler, options);
  } catch (error) {
    await client.close();
    // The SDK names its option (`options.leaseMs`); say the flag the user wrote (`--lease-ms`).
    const message = (error as Error).message.replace(/options\.(\w+)/g, (_, field: string) => `--${field.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`);
    throw usageFailure(message);
  }
  logger.info({ module: modulePath, concurrency, threads: flags.threads === true, nodes: nodes.map((node) => `${node.host}:${node.port}`) }, 'falcon-worker started');
  return runWorker(worker, client, logger, drainTimeoutMs);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : workerExitCodes.usage);
    if (error instanceof CliFailure || error instanceof ConfigError) {
      process.stderr.write(`falcon-worker: ${error.message}\n`);
      process.exit(workerExitCodes.usage);
    }
    process.stderr.write(`falcon-worker: unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(workerExitCodes.unexpected);
  },
);
