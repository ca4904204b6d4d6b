/**
 * The Worker role: runs this node's local handlers (cluster.yaml `handlers`, or the node's own
 * `nodes[].handlers`), one WorkerRunner per queue, each with a piscina pool of the configured
 * concurrency.
 *
 * A runner is a client like any remote worker: it registers, beats, pulls, extends, acks and
 * nacks through a ClusterConnection whose first address is this node's own client port (then the
 * others, so a pull on a follower is answered NOT_LEADER and followed to the leader). There is no
 * other path by which this node leases a job: a node with no handlers runs no runner and never
 * takes a job (the seed's "mysterious dispatching" bug was a second, internal dispatch path).
 *
 * When the cluster lists tokens, every runner's connection presents the first token whose role may
 * consume (consume or admin; config/auth-config.ts `localWorkerToken`); a config with handlers and
 * no such token is refused at load, so one always exists here.
 *
 * Invariants: one runner per configured queue, with its own connection and a worker id unique to
 * this node, queue, process and incarnation (`localWorkerId`: a restarted actor or a restarted
 * node never answers for its predecessor's leases, which lapse or are released with its TTL). stop() drains each runner within half the
 * supervisor's shutdown timeout, then unregisters it within a quarter (so that the jobs still
 * leased to it, a lost pull's among them, return at once), inside the supervisor's bound.
 *
 * Runs on: Worker thread (handlers on the piscina threads it starts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ClusterConnection, type NodeAddress } from '../client/cluster-connection.js';
import { WorkerRunner } from '../client/worker-runner.js';
import { localWorkerToken } from '../config/auth-config.js';
import { handlersOf, type HandlerConfig } from '../config/cluster-config.js';
import type { LinkMessage } from '../protocol/link-message.js';
import type { WorkerRunnerStatus, WorkerStatus } from '../runtime/node-status.js';
import type { ActorName } from '../runtime/topology.js';
import type { ActorContext, ActorRole } from './actor-context.js';

/** UTF-8 bytes of a queue name kept in a worker id, for a person reading it: ids are at most 128
 *  bytes and queue names up to 200; node id (32) + this + hash + process nonce + separators fit. */
const workerIdQueueBytesMax = 48;

/** This process's part of every local worker id: a node killed and restarted starts its
 *  incarnations at 1 again, and must not answer for (and keep beating) its predecessor's ids. */
const processNonce = randomBytes(4).toString('hex');

/**
 * The worker id of a local runner: `node:queue-prefix:queue-hash:process.incarnation`. The hash of
 * the whole queue name keeps two queues that share a long prefix apart (one's unregister must
 * never release the other's jobs); the nonce and the incarnation keep every process and every
 * restarted actor apart.
 */
export function localWorkerId(nodeId: string, queue: string, incarnation: number, nonce = processNonce): string {
  let prefix = '';
  // Code points, so a cut never splits a character.
  for (const char of queue) {
    if (Buffer.byteLength(prefix + char) > workerIdQueueBytesMax) break;
    prefix += char;
  }
  const queueHash = createHash('sha256').update(queue).digest('hex').slice(0, 8);
  return `${nodeId}:${prefix}:${queueHash}:${nonce}.${incarnation}`;
}

interface LocalRunner {
  readonly queue: string;
  readonly workerId: string;
  readonly handler: HandlerConfig;
  readonly leaseMs: number;
  readonly connection: ClusterConnection;
  readonly runner: WorkerRunner;
}

export function createWorkerRole(context: ActorContext<'worker'>): ActorRole {
  return new WorkerRole(context);
}

/** This node's client address first, then the others in file order. */
function addressesFrom(context: ActorContext<'worker'>): NodeAddress[] {
  const { node, config } = context;
  const others = config.nodes.filter((candidate) => candidate.id !== node.id);
  return [node, ...others].map((candidate) => ({ host: candidate.host, port: candidate.clientPort }));
}

class WorkerRole implements ActorRole {
  private readonly context: ActorContext<'worker'>;
  private readonly runners: LocalRunner[] = [];
  private unexpectedMessages = 0;

  constructor(context: ActorContext<'worker'>) {
    this.context = context;
  }

  start(): Promise<void> {
    const { config, node, incarnation, logger } = this.context;
    const nodes = addressesFrom(this.context);
    const token = localWorkerToken(config.auth)?.token;
    for (const [queue, handler] of Object.entries(handlersOf(config, node))) {
      const workerId = localWorkerId(node.id, queue, incarnation);
      const leaseMs = handler.leaseMs ?? config.queue.leaseMsDefault;
      const connection = new ClusterConnection({ nodes, frameBytesMax: config.queue.clientFrameBytesMax, ...(token === undefined ? {} : { token }) });
      const runner = new WorkerRunner({
        connection, queue, workerId, concurrency: handler.concurrency, handler: { module: handler.module }, leaseMs,
        drainTimeoutMs: Math.floor(config.supervisor.shutdownTimeoutMs / 2),
        unregisterDeadlineMs: Math.max(1, Math.floor(config.supervisor.shutdownTimeoutMs / 4)), logger,
      });
      this.runners.push({ queue, workerId, handler, leaseMs, connection, runner });
      // Not awaited: the cluster may have no leader yet; the runner registers when there is one.
      void runner.start();
      logger.info({ queue, workerId, module: handler.module, concurrency: handler.concurrency }, `running the local handler of queue ${queue}`);
    }
    if (this.runners.length === 0) logger.debug('no local handlers: this node runs no jobs');
    return Promise.resolve();
  }

  onMessage(from: ActorName, message: LinkMessage): void {
    // The Worker speaks to its Dispatcher through the client port, like any worker.
    this.unexpectedMessages += 1;
    this.context.logger.debug({ from, type: message.type }, 'the worker received a role message it has no handler for');
  }

  async stop(): Promise<void> {
    await Promise.all(this.runners.map(async ({ runner, connection }) => {
      await runner.close();
      connection.close();
    }));
  }

  status(): WorkerStatus {
    const runners = this.runners.map(({ queue, workerId, handler, leaseMs, runner }): WorkerRunnerStatus => ({
      queue, workerId, module: handler.module, concurrency: handler.concurrency, leaseMs,
      registered: runner.isRegistered, running: runner.runningJobs, counters: { ...runner.counters },
    }));
    return { role: 'worker', runners, unexpectedMessages: this.unexpectedMessages };
  }
}
