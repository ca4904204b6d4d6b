/**
 * Which role each actor plays, loaded on demand: an actor thread imports only its own role's
 * modules (a Worker thread never loads the Raft core, a WAL writer never loads the client), so a
 * node's five threads start without each parsing the whole code base.
 *
 * Runs on: an actor thread.
 */
import type { ActorRoleFactory } from './actor-context.js';
import type { ActorName } from '../runtime/topology.js';

/** Each actor's role factory, typed by its actor: a role's `send` reaches only that actor's links. */
export const actorRoles: { readonly [Actor in ActorName]: () => Promise<ActorRoleFactory<Actor>> } = {
  registry: async () => (await import('./registry-role.js')).createRegistryRole,
  dispatcher: async () => (await import('./dispatcher-role.js')).createDispatcherRole,
  walWriter: async () => (await import('./wal-writer-role.js')).createWalWriterRole,
  replicator: async () => (await import('./replicator-role.js')).createReplicatorRole,
  worker: async () => (await import('./worker-role.js')).createWorkerRole,
};
