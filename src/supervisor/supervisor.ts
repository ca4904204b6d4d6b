/**
 * The supervisor of one node: creates the rings, spawns the five actors on worker_threads, watches
 * their liveness counters, restarts them by policy, answers health questions and drains on stop.
 *
 * Invariants: one ring per direction per linked pair and per actor control pair, created once and
 * kept for the life of the process; an actor thread is terminated before its next incarnation
 * starts (see actor-handle.ts).
 *
 * Runs on: supervisor (main thread of the node process).
 */
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import type { Logger, LogFormat } from '../logging/logger.js';
import { failure, falconError, isFalconError, success, type Outcome } from '../errors.js';
import { isActorToControl, type ActorToControlReceived, type ControlToActor, type FatalExit } from '../runtime/control-messages.js';
import type { ResponseOf, RoleRequest } from '../protocol/control.js';
import { checkRoleResponse } from '../protocol/control-validation.js';
import type { ActorWorkerData, RingPair } from '../runtime/actor-worker-data.js';
import { createRingBuffer } from '../ring/spsc-ring.js';
import { RingReceiver, RingSender } from '../ring/ring-channel.js';
import { ActorHandle } from './actor-handle.js';
import { createLivenessBuffer, livenessSlotOf } from '../runtime/liveness.js';
import { actorLinks, actorNames, ringName, supervisorName, type ActorName } from '../runtime/topology.js';
import {
  startedReplicator, type ActorFigures, type ActorReport, type ActorRuntimeStatus, type NamedRing, type NodeHealth, type NodeReadiness, type NodeView,
  type ReplicatorStatus,
} from '../runtime/node-status.js';

export interface SupervisorOptions {
  readonly config: ClusterConfig;
  readonly node: NodeConfig;
  readonly logger: Logger;
  readonly logFormat: LogFormat;
  /** Replaces actors' roles (tests of the restart policy). Empty in production. */
  readonly roleModuleUrls?: Readonly<Partial<Record<ActorName, string>>>;
  /**
   * Called once if an actor exhausts its restart budget or reports a fatal failure; the node must
   * then stop and exit non-zero (`exit` says with which code).
   */
  readonly onGiveUp: (actor: ActorName, reason: string, exit: FatalExit) => void;
}

interface ControlEnds {
  readonly sender: RingSender<ControlToActor>;
  readonly receiver: RingReceiver<unknown>;
}

/**
 * Control rings carry a few small messages per second (ping, status, stop); they do not need the
 * configured data-ring capacity.
 */
export const controlRingCapacityBytes = 64 * 1024;

/** Bound on how long /status waits for an actor's figures. */
const statusReplyTimeoutMs = 500;

export class Supervisor implements NodeView {
  readonly rings: NamedRing[] = [];
  readonly handles = new Map<ActorName, ActorHandle>();
  private readonly options: SupervisorOptions;
  private readonly control = new Map<ActorName, ControlEnds>();
  /** Answers awaited on the control rings, by sequence number: a status or a role's response. */
  private readonly pendingStatus = new Map<number, (answer: ActorToControlReceived & { type: 'status' | 'roleResponse' }) => void>();
  private readonly stopReceiving = new AbortController();
  private readonly startedAtMs = Date.now();
  private livenessTimer: NodeJS.Timeout | undefined;
  private statusSeq = 0;
  private stopped = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
  }

  start(): void {
    const { config, node } = this.options;
    const liveness = createLivenessBuffer();
    const capacityBytes = config.ring.capacityBytes;
    const links = new Map<ActorName, Partial<Record<ActorName, RingPair>>>();
    for (const actor of actorNames) links.set(actor, {});
    for (const [a, b] of actorLinks) {
      const aToB = this.newRing(ringName(a, b), capacityBytes);
      const bToA = this.newRing(ringName(b, a), capacityBytes);
      (links.get(a) ?? {})[b] = { inbound: bToA, outbound: aToB };
      (links.get(b) ?? {})[a] = { inbound: aToB, outbound: bToA };
    }
    for (const actor of actorNames) {
      const toActor = this.newRing(ringName(supervisorName, actor), controlRingCapacityBytes);
      const toSupervisor = this.newRing(ringName(actor, supervisorName), controlRingCapacityBytes);
      this.control.set(actor, { sender: new RingSender<ControlToActor>(toActor), receiver: new RingReceiver<unknown>(toSupervisor) });
      const workerDataFor = (incarnation: number): ActorWorkerData => ({
        actor, incarnation, node, config,
        logFormat: this.options.logFormat,
        control: { inbound: toActor, outbound: toSupervisor },
        links: links.get(actor) ?? {},
        liveness,
        livenessSlot: livenessSlotOf(actor),
        roleModuleUrl: this.options.roleModuleUrls?.[actor] ?? '',
      });
      const handle = new ActorHandle({
        actor,
        logger: this.options.logger,
        restart: config.supervisor,
        livenessTimeoutMs: config.supervisor.livenessTimeoutMs,
        liveness: new Int32Array(liveness),
        workerDataFor,
        onGiveUp: (failed, reason, failures) => this.giveUp(failed, reason, failures),
      }, livenessSlotOf(actor));
      this.handles.set(actor, handle);
    }
    for (const [actor, ends] of this.control) this.receiveControl(actor, ends);
    for (const handle of this.handles.values()) handle.start();
    this.livenessTimer = setInterval(() => {
      for (const handle of this.handles.values()) handle.checkLiveness();
    }, config.supervisor.livenessIntervalMs);
  }

  private newRing(name: string, capacityBytes: number): SharedArrayBuffer {
    const buffer = createRingBuffer(capacityBytes);
    this.rings.push({ name, buffer });
    return buffer;
  }

  private receiveControl(actor: ActorName, ends: ControlEnds): void {
    ends.receiver.run((message) => this.onControlMessage(actor, message), this.stopReceiving.signal).catch((error: unknown) => {
      this.options.logger.fatal({ actor, err: error }, 'control ring receive loop failed');
      this.options.onGiveUp(actor, `control ring receive loop failed: ${String(error)}`, 'actorFailed');
    });
  }

  private onControlMessage(actor: ActorName, message: unknown): void {
    if (!isActorToControl(message)) {
      this.options.logger.error({ actor }, 'malformed message on a control ring; dropped');
      return;
    }
    this.handleControl(actor, message);
  }

  private handleControl(actor: ActorName, message: ActorToControlReceived): void {
    const handle = this.handles.get(actor);
    switch (message.type) {
      case 'ready':
        handle?.onReady();
        return;
      case 'stopping':
        handle?.onStopping();
        return;
      case 'status':
      case 'roleResponse':
        this.pendingStatus.get(message.seq)?.(message);
        this.pendingStatus.delete(message.seq);
        return;
      case 'fatal':
        handle?.onFatal(message.reason);
        this.options.logger.fatal({ actor, reason: message.reason }, `actor ${actor} reported a failure that a restart would not cure: ${message.reason}`);
        this.options.onGiveUp(actor, message.reason, message.exit);
        return;
      case 'pong':
        return;
    }
  }

  private giveUp(actor: ActorName, reason: string, failuresInWindow: number): void {
    const { restartWindowMs, restartsMax } = this.options.config.supervisor;
    this.options.logger.fatal(
      { actor, reason, failuresInWindow, restartWindowMs, restartsMax },
      `actor ${actor} failed ${failuresInWindow} times within ${restartWindowMs} ms (budget: ${restartsMax} restarts); last failure: ${reason.split('\n')[0] ?? reason}`,
    );
    this.options.onGiveUp(actor, reason, 'actorFailed');
  }

  /** Every actor alive and beating. Names the ones that are not. */
  health(): NodeHealth {
    const failing: Record<string, string> = {};
    for (const handle of this.handles.values()) if (!handle.isAlive()) failing[handle.actor] = handle.describeProblem();
    return { ok: Object.keys(failing).length === 0, failing };
  }

  /** Ready: every actor has started its role and proven its links. */
  readiness(): NodeReadiness {
    const waitingFor = [...this.handles.values()].filter((handle) => handle.state !== 'ready').map((handle) => handle.actor);
    return { ready: waitingFor.length === 0, waitingFor };
  }

  /** Ready and, per the Replicator, a leader is known (a node without one cannot serve writes). */
  async readinessWithLeader(): Promise<NodeReadiness & { leader: string | null }> {
    const readiness = this.readiness();
    if (!readiness.ready) return { ...readiness, leader: null };
    const status = await this.replicatorStatus();
    const leader = startedReplicator(status)?.raft.leader ?? null;
    return leader === null ? { ready: false, waitingFor: ['a known Raft leader'], leader } : { ready: true, waitingFor: [], leader };
  }

  uptimeMs(): number {
    return Date.now() - this.startedAtMs;
  }

  /** Asks every ready actor for its figures; an actor that does not answer in time is reported as such. */
  async actorStatuses(): Promise<Partial<Record<ActorName, ActorReport>>> {
    const entries = await Promise.all([...this.handles.values()].map(async (handle) => {
      const base = { state: handle.state, incarnation: handle.incarnation, restarts: handle.restarts, lastFailure: handle.lastFailure ?? null };
      const reported = await this.actorStatus(handle.actor);
      return [handle.actor, { ...base, reported: reported ?? null } satisfies ActorReport] as const;
    }));
    return Object.fromEntries(entries);
  }

  /** One actor's reported figures (undefined when it is not ready or does not answer in time). */
  async actorStatus(actor: ActorName): Promise<ActorRuntimeStatus | undefined> {
    if (this.handles.get(actor)?.state !== 'ready') return undefined;
    const answer = await this.ask(actor, (seq) => ({ type: 'status', seq }), statusReplyTimeoutMs);
    return answer?.type === 'status' ? answer.status : undefined;
  }

  async replicatorStatus(): Promise<ReplicatorStatus | undefined> {
    const role = (await this.actorStatus('replicator'))?.role;
    return role?.role === 'replicator' ? role : undefined;
  }

  /** Liveness and restarts of every actor, read from memory (no round trip). */
  actorFigures(): ActorFigures[] {
    return [...this.handles.values()].map((handle) => ({ actor: handle.actor, up: handle.isAlive(), restarts: handle.restarts }));
  }

  /**
   * Sends `request` to `actor`'s role and waits up to `timeoutMs` for its answer, checked against
   * the kind asked (protocol/control-validation.ts). Fails with UNAVAILABLE when the actor is not
   * ready or does not answer in time, with the role's refusal when it refused, and with INTERNAL
   * when the answer is malformed (logged: a bug on one side of the control ring).
   */
  async askRole<Request extends RoleRequest>(actor: ActorName, request: Request, timeoutMs: number): Promise<Outcome<ResponseOf<Request['type']>>> {
    if (this.handles.get(actor)?.state !== 'ready') return failure(falconError('UNAVAILABLE', `actor ${actor} is not ready`, { actor }));
    const answer = await this.ask(actor, (seq) => ({ type: 'roleRequest', seq, request }), timeoutMs);
    if (answer?.type !== 'roleResponse') {
      return failure(falconError('UNAVAILABLE', `actor ${actor} did not answer its '${request.type}' request within ${timeoutMs} ms`, { actor, timeoutMs }));
    }
    const checked = checkRoleResponse(answer.response, request.type);
    if (!isFalconError(checked)) return success(checked);
    if (checked.code === 'INTERNAL') this.options.logger.error({ actor, request: request.type, error: checked }, `actor ${actor} could not answer its '${request.type}' request: ${checked.message}`);
    return failure(checked);
  }

  private ask(actor: ActorName, build: (seq: number) => ControlToActor, timeoutMs: number): Promise<(ActorToControlReceived & { type: 'status' | 'roleResponse' }) | undefined> {
    const ends = this.control.get(actor);
    if (ends === undefined) return Promise.resolve(undefined);
    this.statusSeq += 1;
    const seq = this.statusSeq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingStatus.delete(seq);
        resolve(undefined);
      }, timeoutMs);
      this.pendingStatus.set(seq, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      if (!ends.sender.send(build(seq))) {
        clearTimeout(timer);
        this.pendingStatus.delete(seq);
        resolve(undefined);
      }
    });
  }

  /**
   * Drains: with `handOverLeadership` (a graceful stop), a leader first hands leadership to its most
   * caught-up follower, within half the shutdown bound; then every actor is asked to stop, gets
   * `shutdownTimeoutMs` together, and the rest are terminated. Returns the actors that had to be
   * terminated.
   */
  async stop(reason: string, options: { handOverLeadership?: boolean } = {}): Promise<ActorName[]> {
    if (this.stopped) return [];
    if (options.handOverLeadership === true) {
      const timeoutMs = Math.floor(this.options.config.supervisor.shutdownTimeoutMs / 2);
      // The Replicator logs how the hand-over ended; a failed ask (no answer in time) stops anyway.
      await this.askRole('replicator', { type: 'handOverLeadership', timeoutMs }, timeoutMs + 100);
    }
    this.stopped = true;
    clearInterval(this.livenessTimer);
    for (const [actor, ends] of this.control) {
      const handle = this.handles.get(actor);
      if (handle !== undefined && (handle.state === 'ready' || handle.state === 'starting')) ends.sender.send({ type: 'stop', reason });
    }
    const timeoutMs = this.options.config.supervisor.shutdownTimeoutMs;
    const results = await Promise.all([...this.handles.values()].map(async (handle) => [handle.actor, await handle.waitForExit(timeoutMs)] as const));
    this.stopReceiving.abort();
    return results.filter(([, clean]) => !clean).map(([actor]) => actor);
  }
}
