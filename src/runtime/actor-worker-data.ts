/**
 * What the supervisor hands an actor thread at spawn (structured-cloned as `workerData`).
 * SharedArrayBuffers are shared, not copied: both threads see the same ring memory.
 *
 * Runs on: supervisor (builds it) and an actor thread (checks it).
 */
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import type { LogFormat } from '../logging/logger.js';
import { actorNames, type ActorName } from './topology.js';

export interface RingPair {
  /** Ring this thread reads from. */
  readonly inbound: SharedArrayBuffer;
  /** Ring this thread writes to. */
  readonly outbound: SharedArrayBuffer;
}

export interface ActorWorkerData {
  readonly actor: ActorName;
  readonly incarnation: number;
  readonly node: NodeConfig;
  readonly config: ClusterConfig;
  readonly logFormat: LogFormat;
  readonly control: RingPair;
  readonly links: Readonly<Partial<Record<ActorName, RingPair>>>;
  readonly liveness: SharedArrayBuffer;
  readonly livenessSlot: number;
  /**
   * A module URL whose `createRole` export replaces the built-in role of this actor. Used by the
   * supervisor's own tests to run actors that fail on purpose; empty in production.
   */
  readonly roleModuleUrl?: string;
}

export function checkActorWorkerData(value: unknown): ActorWorkerData {
  const data = value as Partial<ActorWorkerData> | null;
  if (data === null || typeof data !== 'object') throw new Error('actor thread started without workerData');
  if (typeof data.actor !== 'string' || !(actorNames as readonly string[]).includes(data.actor)) {
    throw new Error(`actor thread started with an unknown actor name: ${String(data.actor)}`);
  }
  if (!(data.liveness instanceof SharedArrayBuffer) || data.control === undefined) {
    throw new Error(`actor ${data.actor} started without its liveness buffer or control rings`);
  }
  return data as ActorWorkerData;
}
