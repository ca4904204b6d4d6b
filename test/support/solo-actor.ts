/**
 * Runs ONE actor thread on its own, with the calling thread playing its supervisor and all its
 * neighbours: the rings, the liveness slot and the probes are the real ones. Benchmarks and tests
 * drive an actor through its rings this way (the WAL writer driven as the Replicator would).
 *
 * Runs on: a benchmark or test thread.
 */
import { Worker } from 'node:worker_threads';
import type { ClusterConfig, NodeConfig } from '../../src/config/cluster-config.js';
import { createRingBuffer } from '../../src/ring/spsc-ring.js';
import { RingReceiver, RingSender } from '../../src/ring/ring-channel.js';
import { createLivenessBuffer, livenessSlotOf } from '../../src/runtime/liveness.js';
import { neighboursOf, type ActorName } from '../../src/runtime/topology.js';
import { controlRingCapacityBytes } from '../../src/supervisor/supervisor.js';
import { isActorToControl, type ActorToControlReceived, type ControlToActor } from '../../src/runtime/control-messages.js';
import { isLinkMessage, type LinkMessage, type LinkProbe } from '../../src/protocol/link-message.js';
import type { MessageTo } from '../../src/protocol/links.js';
import type { ActorWorkerData, RingPair } from '../../src/runtime/actor-worker-data.js';

const actorEntryUrl = new URL('../../src/actors/actor-main.js', import.meta.url);

export interface SoloActor<Actor extends ActorName = ActorName> {
  readonly worker: Worker;
  /** Sends `message` to the actor as if from `from`; false when that ring is full. */
  send(from: ActorName, message: MessageTo<Actor>): boolean;
  sendAsync(from: ActorName, message: MessageTo<Actor>, timeoutMs?: number): Promise<boolean>;
  /** Every role message the actor sent to `to` since the last call (probes are answered here). */
  receive(to: ActorName, handler: (message: LinkMessage) => void): number;
  /** Resolves when the actor sent something to `to` (or at once if something is waiting). */
  waitForMessage(to: ActorName, timeoutMs?: number): Promise<boolean>;
  /** Control messages the actor sent (ready, fatal, ...), in order. */
  readonly control: ActorToControlReceived[];
  /** Sends a control message to the actor, as the supervisor does. */
  sendControl(message: ControlToActor): boolean;
  /** The first control message (already sent or still to come) that `matches`; rejects after `timeoutMs`. */
  controlMessage(matches: (message: ActorToControlReceived) => boolean, timeoutMs?: number): Promise<ActorToControlReceived>;
  /** Resolves once the actor reported ready; rejects on fatal or exit first. */
  readonly ready: Promise<void>;
  /** Asks the actor to stop and waits for its thread to exit. */
  stop(): Promise<number>;
}

export function startSoloActor<Actor extends ActorName>(actor: Actor, config: ClusterConfig, node: NodeConfig, roleModuleUrl = ''): SoloActor<Actor> {
  const capacityBytes = config.ring.capacityBytes;
  const links: Partial<Record<ActorName, RingPair>> = {};
  const senders = new Map<ActorName, RingSender<MessageTo<Actor> | LinkProbe>>();
  const receivers = new Map<ActorName, RingReceiver<unknown>>();
  for (const neighbour of neighboursOf(actor)) {
    const toActor = createRingBuffer(capacityBytes);
    const fromActor = createRingBuffer(capacityBytes);
    links[neighbour] = { inbound: toActor, outbound: fromActor };
    senders.set(neighbour, new RingSender<MessageTo<Actor> | LinkProbe>(toActor));
    receivers.set(neighbour, new RingReceiver<unknown>(fromActor));
  }
  const toActor = createRingBuffer(controlRingCapacityBytes);
  const toSupervisor = createRingBuffer(controlRingCapacityBytes);
  const controlSender = new RingSender<ControlToActor>(toActor);
  const controlReceiver = new RingReceiver<unknown>(toSupervisor);
  const workerData: ActorWorkerData = {
    actor, incarnation: 1, node, config, logFormat: 'json',
    control: { inbound: toActor, outbound: toSupervisor }, links,
    liveness: createLivenessBuffer(), livenessSlot: livenessSlotOf(actor), roleModuleUrl,
  };
  const worker = new Worker(actorEntryUrl, { workerData });
  const control: ActorToControlReceived[] = [];
  const controlWaiters = new Set<(message: ActorToControlReceived) => void>();
  const stopControl = new AbortController();
  let exitCode: Promise<number> = new Promise((resolve) => worker.once('exit', resolve));
  const ready = new Promise<void>((resolve, reject) => {
    void controlReceiver.run((message) => {
      if (!isActorToControl(message)) return;
      control.push(message);
      for (const waiter of controlWaiters) waiter(message);
      if (message.type === 'ready') resolve();
      if (message.type === 'fatal') reject(new Error(`actor ${actor} failed: ${message.reason}`));
    }, stopControl.signal);
    void exitCode.then((code) => reject(new Error(`actor ${actor} exited with code ${code} before it was ready`)));
    worker.once('error', (error) => reject(error));
  });
  const senderTo = (from: ActorName): RingSender<MessageTo<Actor> | LinkProbe> => {
    const sender = senders.get(from);
    if (sender === undefined) throw new Error(`${from} is not a neighbour of ${actor}`);
    return sender;
  };
  const receiverFrom = (to: ActorName): RingReceiver<unknown> => {
    const receiver = receivers.get(to);
    if (receiver === undefined) throw new Error(`${to} is not a neighbour of ${actor}`);
    return receiver;
  };
  return {
    worker, control, ready,
    sendControl: (message) => controlSender.send(message),
    controlMessage: (matches, timeoutMs = 10_000) => new Promise((resolve, reject) => {
      const found = control.find(matches);
      if (found !== undefined) {
        resolve(found);
        return;
      }
      const timer = setTimeout(() => {
        controlWaiters.delete(waiter);
        reject(new Error(`no matching control message from ${actor} within ${timeoutMs} ms; got ${JSON.stringify(control)}`));
      }, timeoutMs);
      const waiter = (message: ActorToControlReceived): void => {
        if (!matches(message)) return;
        clearTimeout(timer);
        controlWaiters.delete(waiter);
        resolve(message);
      };
      controlWaiters.add(waiter);
    }),
    send: (from, message) => senderTo(from).send(message),
    sendAsync: (from, message, timeoutMs) => senderTo(from).sendAsync(message, timeoutMs),
    receive(to, handler) {
      let roleMessages = 0;
      receiverFrom(to).receiveAll((message) => {
        if (!isLinkMessage(message)) return;
        if (message.type === 'ping') { senderTo(to).send({ type: 'pong', seq: message['seq'] as number }); return; }
        if (message.type === 'pong') return;
        roleMessages += 1;
        handler(message);
      });
      return roleMessages;
    },
    waitForMessage: (to, timeoutMs) => receiverFrom(to).consumer.waitForData(timeoutMs),
    async stop() {
      controlSender.send({ type: 'stop', reason: 'solo actor stopped' });
      const code = await exitCode;
      stopControl.abort();
      exitCode = Promise.resolve(code);
      return code;
    },
  };
}
