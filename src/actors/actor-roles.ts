/**
 * Which role each actor plays. An actor whose logic has not landed yet runs the idle role (see the
 * README's status section); each later piece replaces one entry here.
 *
 * Runs on: an actor thread.
 */
import type { ActorRoleFactory } from './actor-context.js';
import type { ActorName } from '../runtime/topology.js';
import { createRegistryRole } from './registry-role.js';
import { createDispatcherRole } from './dispatcher-role.js';
import { createWalWriterRole } from './wal-writer-role.js';
import { createReplicatorRole } from './replicator-role.js';
import { createWorkerRole } from './worker-role.js';

/** Each actor's role, typed by its actor: a role's `send` reaches only that actor's links. */
export const actorRoles: { readonly [Actor in ActorName]: ActorRoleFactory<Actor> } = {
  registry: createRegistryRole,
  dispatcher: createDispatcherRole,
  walWriter: createWalWriterRole,
  replicator: createReplicatorRole,
  worker: createWorkerRole,
};
