/**
 * The entry point of every actor thread: wires a role to its rings, beats its liveness counter,
 * answers probes and control requests, and stops on request.
 *
 * Keep-alive: a pending `Atomics.waitAsync` does not keep a Node 20 worker alive. The liveness
 * interval below is the handle that does; it is cleared only when the actor stops, after which
 * the thread exits on purpose.
 *
 * Failure: anything a role throws, synchronously or from a rejected promise, ends this thread with
 * an uncaught error. The supervisor sees the `error` event and applies its restart policy.
 *
 * Sending: every ring this thread writes (each link, the control ring) goes through an
 * OrderedRingSender: a message that finds its ring full waits in the link's bounded backlog and
 * everything sent after it queues behind it, so nothing is dropped or reordered. A backlog past
 * its bound throws FalconFailure(RING_FULL), which fails this actor like any other throw.
 *
 * Runs on: an actor thread (worker_threads).
 */
import { workerData } from 'node:worker_threads';
import { createLogger, type Logger } from '../logging/logger.js';
import { beat } from '../runtime/liveness.js';
import { neighboursOf, type ActorName } from '../runtime/topology.js';
import type { ActorContext, ActorRole, ActorRoleFactory } from './actor-context.js';
import { isControlToActor, type ActorToControl, type ControlToActorReceived } from '../runtime/control-messages.js';
import { isLinkMessage, type LinkProbe } from '../protocol/link-message.js';
import type { RequestOf, RoleAnswered, RoleRequestHandlers, RoleRequestKind, RoleResponse } from '../protocol/control.js';
import { checkRoleRequest } from '../protocol/control-validation.js';
import type { MessageTo } from '../protocol/links.js';
import type { ActorRuntimeStatus, LinkBacklog } from '../runtime/node-status.js';
import { getHeapStatistics } from 'node:v8';
import { actorRoles } from './actor-roles.js';
import { checkActorWorkerData, type ActorWorkerData } from '../runtime/actor-worker-data.js';
import { receiveMessagesPerTurnMax, RingReceiver } from '../ring/ring-channel.js';
import { OrderedRingSender } from '../ring/ordered-ring-sender.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { falconError, isFalconError, type FalconError } from '../errors.js';

/** What this thread writes on a link: a probe, or a role message typed by its receiver. */
type LinkSent = LinkProbe | MessageTo<ActorName>;

interface Link {
  /** Ordered: role messages, pings and pongs leave in the order they were sent, none dropped. */
  readonly sender: OrderedRingSender<LinkSent>;
  readonly receiver: RingReceiver<unknown>;
  probeSeq: number;
  answered: boolean;
}

/** The role's answer to `request`, tagged with its kind, or `refused` when no handler takes it. */
async function answerWith<Kind extends RoleRequestKind>(handlers: RoleRequestHandlers, request: RequestOf<Kind> & { readonly type: Kind }): Promise<RoleResponse> {
  const handler: RoleRequestHandlers[Kind] = handlers[request.type];
  if (handler === undefined) return { type: 'refused', error: falconError('INTERNAL', `this role takes no '${request.type}' requests`) };
  const answered: RoleAnswered<Kind> = { type: request.type, answer: await handler(request) };
  return answered;
}

class ActorRuntime {
  private readonly data: ActorWorkerData;
  private readonly logger: Logger;
  /** Ordered too: a `fatal` or a reply sent while the ring is full waits its turn, never lost. */
  private readonly controlSender: OrderedRingSender<ActorToControl>;
  private readonly controlReceiver: RingReceiver<unknown>;
  private readonly links = new Map<ActorName, Link>();
  private readonly stopSignal = new AbortController();
  private readonly livenessTimer: NodeJS.Timeout;
  private role: ActorRole | undefined;
  private readySent = false;
  private stopping = false;

  constructor(data: ActorWorkerData) {
    this.data = data;
    this.logger = createLogger({
      level: data.config.logging.level,
      format: data.logFormat,
      bindings: { node: data.node.id, actor: data.actor },
    });
    const liveness = new Int32Array(data.liveness);
    beat(liveness, data.livenessSlot);
    this.livenessTimer = setInterval(() => beat(liveness, data.livenessSlot), data.config.supervisor.livenessIntervalMs);
    this.controlSender = new OrderedRingSender<ActorToControl>(data.control.outbound, { link: `${data.actor}→supervisor` });
    this.controlReceiver = new RingReceiver<unknown>(data.control.inbound);
    for (const neighbour of neighboursOf(data.actor)) {
      const pair = data.links[neighbour];
      if (pair === undefined) throw new Error(`actor ${data.actor} has no rings for its neighbour ${neighbour}`);
      this.links.set(neighbour, {
        sender: new OrderedRingSender<LinkSent>(pair.outbound, { link: `${data.actor}→${neighbour}` }),
        receiver: new RingReceiver<unknown>(pair.inbound),
        probeSeq: 0,
        answered: false,
      });
    }
  }

  async run(): Promise<void> {
    const factory = await this.loadRoleFactory();
    this.role = factory(this.context());
    // start() runs first, so that its synchronous set-up (opening the WAL) is done before any
    // message is handled; receiving begins before it is awaited, so that a role whose start-up
    // is a conversation with a neighbour (the Replicator asking the WAL) hears the answers.
    const started = this.role.start();
    this.startReceiving();
    await started;
    for (const link of this.links.values()) this.probe(link);
    this.maybeReady();
    this.logger.debug({ incarnation: this.data.incarnation }, 'actor started');
  }

  private async loadRoleFactory(): Promise<ActorRoleFactory> {
    // The one place that knows its actor by value only: the table's factory for `data.actor` is
    // given the context of `data.actor`, so the factory's narrower context type holds.
    if (this.data.roleModuleUrl === undefined || this.data.roleModuleUrl === '') return (await actorRoles[this.data.actor]()) as ActorRoleFactory;
    const module = (await import(this.data.roleModuleUrl)) as { createRole?: ActorRoleFactory };
    if (typeof module.createRole !== 'function') throw new Error(`${this.data.roleModuleUrl} has no createRole export`);
    return module.createRole;
  }

  private context(): ActorContext {
    return {
      actor: this.data.actor,
      node: this.data.node,
      config: this.data.config,
      logger: this.logger,
      incarnation: this.data.incarnation,
      neighbours: [...this.links.keys()],
      send: (to, message) => {
        this.linkTo(to).sender.send(message);
      },
      fail: (error: FalconError, exit) => {
        this.logger.fatal({ code: error.code, detail: error.detail }, error.message);
        this.controlSender.send({ type: 'fatal', reason: `${error.code}: ${error.message}`, exit });
      },
    };
  }

  private linkTo(neighbour: ActorName): Link {
    const link = this.links.get(neighbour);
    if (link === undefined) throw new Error(`actor ${this.data.actor} has no link to ${neighbour}`);
    return link;
  }

  private startReceiving(): void {
    const signal = this.stopSignal.signal;
    this.watch(this.controlReceiver.run((message) => this.onControl(message), signal));
    for (const [neighbour, link] of this.links) this.watch(this.receiveLink(neighbour, link, signal));
  }

  /**
   * Like RingReceiver.run, plus the role's `afterDrain` hook after every batch: the role sees the
   * end of each burst (group commit, one flush per batch). Bounded by the abort signal; every turn
   * handles messages or sleeps.
   */
  private async receiveLink(neighbour: ActorName, link: Link, signal: AbortSignal): Promise<void> {
    const handler = (message: unknown): void => this.onLinkMessage(neighbour, link, message);
    const consumer = link.receiver.consumer;
    const onAbort = (): void => consumer.interruptWait();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const received = link.receiver.receiveAll(handler, receiveMessagesPerTurnMax);
        if (received > 0) this.role?.afterDrain?.(neighbour);
        if (received === receiveMessagesPerTurnMax) {
          await yieldToEventLoop();
          continue;
        }
        await consumer.waitForData();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** A receive loop that fails ends the thread with that error (see the header). */
  private watch(loop: Promise<void>): void {
    loop.catch((error: unknown) => {
      setImmediate(() => {
        throw error;
      });
    });
  }

  private onControl(message: unknown): void {
    if (!isControlToActor(message)) {
      this.logger.error({ message }, 'malformed control message from the supervisor');
      return;
    }
    this.handleControl(message);
  }

  private handleControl(message: ControlToActorReceived): void {
    switch (message.type) {
      case 'ping':
        this.controlSender.send({ type: 'pong', seq: message.seq });
        return;
      case 'status':
        this.controlSender.send({ type: 'status', seq: message.seq, status: this.status() });
        return;
      case 'roleRequest':
        void this.answerRoleRequest(message.seq, message.request);
        return;
      case 'stop':
        void this.stop(message.reason);
        return;
    }
  }

  /** Answers every role request, once: the role's answer, or `refused` when the request is
   *  malformed, the role takes no such request, or its handler throws. */
  private async answerRoleRequest(seq: number, body: unknown): Promise<void> {
    const request = checkRoleRequest(body);
    let response: RoleResponse;
    if (isFalconError(request)) {
      this.logger.error({ error: request }, 'malformed role request from the supervisor; refused');
      response = { type: 'refused', error: request };
    } else {
      response = await answerWith(this.role?.requestHandlers ?? {}, request).catch((error: unknown) => ({
        type: 'refused' as const, error: falconError('INTERNAL', `actor ${this.data.actor} failed on a '${request.type}' request: ${String(error)}`),
      }));
    }
    this.controlSender.send({ type: 'roleResponse', seq, response });
  }

  private status(): ActorRuntimeStatus {
    const links: Partial<Record<ActorName, boolean>> = {};
    const backlogs: Partial<Record<ActorName, LinkBacklog>> = {};
    for (const [neighbour, link] of this.links) {
      links[neighbour] = link.answered;
      backlogs[neighbour] = link.sender.backlog();
    }
    const heap = getHeapStatistics();
    return {
      incarnation: this.data.incarnation, ready: this.readySent, linksAnswered: links, linkBacklogs: backlogs,
      heap: { usedBytes: heap.used_heap_size, totalBytes: heap.total_heap_size, externalBytes: heap.external_memory },
      role: this.role?.status() ?? null,
    };
  }

  private onLinkMessage(neighbour: ActorName, link: Link, message: unknown): void {
    if (!isLinkMessage(message)) {
      this.logger.error({ from: neighbour }, 'malformed message on a link ring; dropped');
      return;
    }
    if (message.type === 'ping' && typeof message.seq === 'number') {
      link.sender.send({ type: 'pong', seq: message.seq });
      return;
    }
    if (message.type === 'pong') {
      link.answered = true;
      this.maybeReady();
      return;
    }
    this.role?.onMessage(neighbour, message);
  }

  /** One ping per link at start: its pong proves both rings of the link are wired end to end. */
  private probe(link: Link): void {
    link.probeSeq += 1;
    link.sender.send({ type: 'ping', seq: link.probeSeq });
  }

  private maybeReady(): void {
    if (this.readySent || this.role === undefined) return;
    for (const link of this.links.values()) if (!link.answered) return;
    this.readySent = true;
    this.controlSender.send({ type: 'ready' });
  }

  private async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.controlSender.send({ type: 'stopping' });
    this.logger.debug({ reason }, 'actor stopping');
    await this.role?.stop();
    this.stopSignal.abort();
    clearInterval(this.livenessTimer);
    process.exit(0);
  }
}

const runtime = new ActorRuntime(checkActorWorkerData(workerData));
runtime.run().catch((error: unknown) => {
  setImmediate(() => {
    throw error;
  });
});
