/**
 * The Dispatcher role: the client port (net/client-server.ts) wired to the Dispatcher's logic
 * (dispatch/dispatcher.ts), to the Replicator (entries out, results in) and to the Registry
 * (heartbeats), with one flush per turn: every request decoded during a turn leaves for the
 * Replicator as one entry (and one read) on the next `setImmediate`, after the socket reads of
 * that turn, never one by one.
 *
 * Runs on: Dispatcher thread.
 */
import { randomBytes } from 'node:crypto';
import { assert, falconError, isFalconError } from '../errors.js';
import { logEntryBytesMaxFor } from '../config/cluster-config.js';
import { listenHostOf } from '../config/listen-addresses.js';
import { AccessControl } from '../dispatch/access-control.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { ClientServer, type ClientConnection } from '../net/client-server.js';
import type { ClientRequest } from '../protocol/client.js';
import { createClientRequestIntake, type InvalidRequest } from '../protocol/client-validation.js';
import { checkToDispatcher } from '../protocol/dispatch-validation.js';
import type { LinkMessage } from '../protocol/link-message.js';
import { checkRegistryToDispatcher } from '../protocol/registry-validation.js';
import type { DispatcherStatus } from '../runtime/node-status.js';
import type { ActorName } from '../runtime/topology.js';
import type { ActorContext, ActorRole } from './actor-context.js';

/** How often deadlines (requests without an answer, long polls) are checked. */
const deadlineScanMs = 20;

export function createDispatcherRole(context: ActorContext<'dispatcher'>): ActorRole {
  return new DispatcherRole(context);
}

class DispatcherRole implements ActorRole {
  private readonly context: ActorContext<'dispatcher'>;
  private readonly dispatcher: Dispatcher<ClientConnection>;
  private readonly server: ClientServer<ClientRequest | InvalidRequest>;
  private flushScheduled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(context: ActorContext<'dispatcher'>) {
    this.context = context;
    const { config, node } = context;
    const queue = config.queue;
    const entryBytesMax = logEntryBytesMaxFor(config.ring.capacityBytes);
    this.dispatcher = new Dispatcher<ClientConnection>({
      nodeId: node.id,
      leaderAddressOf: (nodeId) => {
        const leader = config.nodes.find((candidate) => candidate.id === nodeId);
        return leader === undefined ? undefined : { id: leader.id, host: leader.host, clientPort: leader.clientPort };
      },
      defaults: {
        attemptsMax: queue.attemptsMaxDefault, leaseMs: queue.leaseMsDefault,
        backoff: { kind: queue.retryBackoffDefault, delayMs: queue.retryDelayMsDefault, delayMsMax: queue.retryDelayMsMax, jitterRatio: queue.retryJitterRatio },
      },
      limits: {
        jobsPerQueueMax: queue.jobsPerQueueMax, bytesPerQueueMax: queue.bytesPerQueueMax, queuesMax: queue.queuesMax,
        idempotencyKeysMax: queue.idempotencyKeysMax, dedupWindowMs: queue.dedupWindowMs, completedRetentionMs: queue.completedRetentionMs,
        completedPerQueueMax: queue.completedPerQueueMax, producersMax: queue.producersMax,
      },
      leaseMsDefault: queue.leaseMsDefault,
      workerTtlMs: queue.workerTtlMs,
      // A pull's answer carries its payloads back through a ring and a client frame.
      pullBytesMax: Math.floor(queue.clientFrameBytesMax / 2),
      entryBytesMax,
      answerTimeoutMs: queue.requestTimeoutMs,
      toReplicator: (message) => context.send('replicator', message),
      toRegistry: (message) => context.send('registry', message),
      nowMs: () => Date.now(),
      random: Math.random,
      newProducerId: () => `p-${randomBytes(12).toString('hex')}`,
      access: new AccessControl(config.auth.tokens),
    });
    this.server = new ClientServer<ClientRequest | InvalidRequest>({
      host: listenHostOf(node, 'client'),
      port: node.clientPort,
      frameBytesMax: queue.clientFrameBytesMax,
      sendQueueBytesMax: queue.clientSendQueueBytesMax,
      connectionsMax: queue.clientConnectionsMax,
      // Failed checks go to the Dispatcher too, which judges access before it answers them.
      checkRequest: createClientRequestIntake({ payloadBytesMax: queue.payloadBytesMax }),
      handler: {
        onRequests: (connection, requests) => {
          this.dispatcher.onRequests(connection, requests);
          this.scheduleFlush();
        },
        onConnectionClosed: (connection) => this.dispatcher.onConnectionClosed(connection),
      },
      logger: context.logger,
    });
  }

  async start(): Promise<void> {
    const { node } = this.context;
    try {
      await this.server.listen();
    } catch (error) {
      this.context.fail(falconError('UNAVAILABLE', `cannot listen on the client port ${listenHostOf(node, 'client')}:${node.clientPort}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`), 'refusedToStart');
      await new Promise(() => undefined);
    }
    this.timer = setInterval(() => {
      this.dispatcher.tick();
      this.scheduleFlush();
    }, deadlineScanMs);
  }

  /** One flush per turn: everything decoded this turn leaves together. */
  private scheduleFlush(): void {
    if (this.flushScheduled || !this.dispatcher.hasQueued) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.dispatcher.flush();
    });
  }

  onMessage(from: ActorName, message: LinkMessage): void {
    if (from === 'replicator') {
      const answer = checkToDispatcher(message);
      // A bug on the other side of the ring: dropping it would leave a client waiting.
      if (isFalconError(answer)) assert(false, answer.message);
      this.dispatcher.onReplicatorMessage(answer);
    } else if (from === 'registry') {
      const answer = checkRegistryToDispatcher(message);
      if (isFalconError(answer)) assert(false, answer.message);
      this.dispatcher.onRegistryMessage(answer);
    }
    // Woken long polls queue new lease commands.
    this.scheduleFlush();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.server.close();
  }

  status(): DispatcherStatus {
    return {
      role: 'dispatcher', port: this.context.node.clientPort, ...this.dispatcher.counters,
      parkedPulls: this.dispatcher.parkedPulls, inflightBatches: this.dispatcher.inflightBatches, server: { ...this.server.counters },
    };
  }
}
