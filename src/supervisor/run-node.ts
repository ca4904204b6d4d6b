/**
 * Runs one node in this process until it is told to stop: the supervisor, its actors and its ops
 * port. Returns the exit code the process should end with (see runtime/exit-codes.ts).
 *
 * Start-up refusals (data directory not writable or held by another process, ops or gRPC port
 * taken) are reported in one clear line and return `refusedToStart` before any actor runs. The
 * gRPC gateway (grpc/) runs only when the node has a `grpcPort`; its library is loaded only then. The data-directory
 * lock (data-dir-lock.ts) is taken before the WAL writer opens the log, and held until the node
 * has stopped (or the process dies: the operating system releases it).
 *
 * Access is said once at start: an open cluster (no auth tokens) in ONE warning line, a cluster
 * with tokens in one info line naming them by label (never by value).
 *
 * Runs on: supervisor (main thread).
 */
import { mkdir, access, constants } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import { tokenLabel } from '../config/auth-config.js';
import { listenHostOf } from '../config/listen-addresses.js';
import type { Logger, LogFormat } from '../logging/logger.js';
import { createNodeMetrics } from '../metrics/node-metrics.js';
import { exitCodes } from '../runtime/exit-codes.js';
import { acquireDataDirLock, describeHeldLock, type DataDirLock } from './data-dir-lock.js';
import { createOpsServer, listen } from '../http/ops-server.js';
import { createNodeHttpApi } from '../http/node-http-api.js';
import { Supervisor } from './supervisor.js';
import type { ActorName } from '../runtime/topology.js';
import type { FatalExit } from '../runtime/control-messages.js';
import type { GrpcGateway } from '../grpc/grpc-gateway.js';

export interface RunNodeOptions {
  readonly config: ClusterConfig;
  readonly node: NodeConfig;
  readonly logger: Logger;
  readonly logFormat: LogFormat;
  readonly roleModuleUrls?: Readonly<Partial<Record<ActorName, string>>>;
  /** Serve the ops port's test hooks (POST /debug/raft-load). */
  readonly testHooks?: boolean;
  /** Resolves when the node must stop (signal handling lives with the caller). */
  readonly stopRequested: Promise<string>;
}

export async function runNode(options: RunNodeOptions): Promise<number> {
  const { node, logger } = options;
  const refusal = await prepareDataDir(node.dataDir);
  if (refusal !== undefined) {
    logger.fatal(refusal);
    return exitCodes.refusedToStart;
  }
  const lock = await lockDataDir(node, logger);
  if (lock === 'refused') return exitCodes.refusedToStart;
  try {
    return await runLocked(options);
  } finally {
    await lock?.release();
  }
}

async function runLocked(options: RunNodeOptions): Promise<number> {
  const { config, node, logger } = options;
  let gaveUp: ((outcome: { reason: string; exit: FatalExit }) => void) | undefined;
  const actorGaveUp = new Promise<{ reason: string; exit: FatalExit }>((resolve) => {
    gaveUp = resolve;
  });
  const supervisor = new Supervisor({
    config, node, logger,
    logFormat: options.logFormat,
    ...(options.roleModuleUrls === undefined ? {} : { roleModuleUrls: options.roleModuleUrls }),
    onGiveUp: (actor, reason, exit) => gaveUp?.({ reason: `actor ${actor} failed: ${reason.split('\n')[0] ?? reason}`, exit }),
  });
  const api = createNodeHttpApi(config, node, logger);
  const ops = createOpsServer({ node, clusterName: config.cluster.name, supervisor, metrics: createNodeMetrics(supervisor, node.id), logger, testHooks: options.testHooks === true, api });
  const opsHost = listenHostOf(node, 'ops');
  try {
    await listen(ops, opsHost, node.opsPort);
  } catch (error) {
    logger.fatal(`cannot listen on the ops port ${opsHost}:${node.opsPort}: ${describeListenError(error)}`);
    api.close();
    return exitCodes.refusedToStart;
  }
  const grpc = await startGrpcGateway(config, node, logger);
  if (grpc === 'refused') {
    await closeServer(ops);
    api.close();
    return exitCodes.refusedToStart;
  }
  supervisor.start();
  logger.info({
    opsPort: node.opsPort, peerPort: node.peerPort, clientPort: node.clientPort, grpcPort: node.grpcPort, dataDir: node.dataDir,
    listen: { peer: listenHostOf(node, 'peer'), client: listenHostOf(node, 'client'), ops: opsHost },
  }, `node ${node.id} started: ops http://${node.host}:${node.opsPort}/status`);
  logAccess(config, logger);
  const outcome = await Promise.race([
    options.stopRequested.then((reason) => ({ kind: 'stop' as const, reason })),
    actorGaveUp.then(({ reason, exit }) => ({ kind: 'gave-up' as const, reason, exit })),
  ]);
  const terminated = await supervisor.stop(outcome.reason, { handOverLeadership: outcome.kind === 'stop' });
  await Promise.all([closeServer(ops), grpc?.close()]);
  api.close();
  if (terminated.length > 0) {
    logger.warn({ terminated }, `actors did not stop within ${config.supervisor.shutdownTimeoutMs} ms and were terminated`);
  }
  if (outcome.kind === 'gave-up') {
    logger.fatal(`node ${node.id} stopped: ${outcome.reason}`);
    return outcome.exit === 'refusedToStart' ? exitCodes.refusedToStart : exitCodes.actorFailed;
  }
  logger.info(`node ${node.id} stopped (${outcome.reason})`);
  return exitCodes.ok;
}

/** The started gateway, undefined without a grpcPort, or 'refused' (logged) when its port cannot be bound. */
async function startGrpcGateway(config: ClusterConfig, node: NodeConfig, logger: Logger): Promise<GrpcGateway | undefined | 'refused'> {
  const grpcPort = node.grpcPort;
  if (grpcPort === undefined) return undefined;
  const { GrpcGateway: Gateway, grpcListenHost } = await import('../grpc/grpc-gateway.js');
  const address = `${grpcListenHost(node)}:${grpcPort}`;
  let gateway: GrpcGateway | undefined;
  try {
    gateway = new Gateway({ config, node: { ...node, grpcPort }, logger });
    await gateway.listen();
    return gateway;
  } catch (error) {
    await gateway?.close();
    logger.fatal(`cannot listen on the gRPC port ${address}: ${describeGrpcBindError(error)}`);
    return 'refused';
  }
}

/** One line on who may use the cluster: a warning when anyone may. */
function logAccess(config: ClusterConfig, logger: Logger): void {
  const tokens = config.auth.tokens;
  if (tokens.length === 0) {
    logger.warn('this cluster is open: auth lists no tokens, so anyone who can reach a client port may enqueue, pull, cancel and purge; see docs/operations.md (Access)');
    return;
  }
  logger.info({ tokens: tokens.map((entry) => `${tokenLabel(entry)}:${entry.role}`) }, `access: ${tokens.length} bearer token(s); requests without a listed token are refused`);
}

async function prepareDataDir(dataDir: string): Promise<string | undefined> {
  try {
    await mkdir(dataDir, { recursive: true });
    await access(dataDir, constants.W_OK);
    return undefined;
  } catch (error) {
    return `cannot use the data directory ${dataDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)} (check that it exists, is a directory and is writable)`;
  }
}

/** The lock, undefined where the platform has none (with a warning), or 'refused' (logged). */
async function lockDataDir(node: NodeConfig, logger: Logger): Promise<DataDirLock | undefined | 'refused'> {
  const outcome = await acquireDataDirLock(node.dataDir, { node: node.id });
  switch (outcome.kind) {
    case 'acquired':
      return outcome.lock;
    case 'unsupported':
      logger.warn(`no data-directory lock on ${outcome.platform} (Linux only): nothing stops a second process on ${node.dataDir}; see docs/operations.md`);
      return undefined;
    case 'held':
      logger.fatal({ dataDir: node.dataDir, holderPid: outcome.holder?.pid, holderNode: outcome.holder?.node }, describeHeldLock(node.dataDir, outcome));
      return 'refused';
    case 'failed':
      logger.fatal({ dataDir: node.dataDir, realPath: outcome.realPath }, `cannot lock the data directory ${node.dataDir}: ${outcome.reason}`);
      return 'refused';
  }
}

function describeListenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'EADDRINUSE: another process holds this port (another falcon-node of this cluster?)';
  if (code === 'EACCES') return 'EACCES: not allowed to bind this port';
  return code ?? String(error);
}

/** grpc-js reports a failed bind as text; the cause (EADDRINUSE, EACCES) is inside it. */
function describeGrpcBindError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/EADDRINUSE/.test(message)) return 'EADDRINUSE: another process holds this port (another falcon-node of this cluster?)';
  if (/EACCES/.test(message)) return 'EACCES: not allowed to bind this port';
  return message;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
