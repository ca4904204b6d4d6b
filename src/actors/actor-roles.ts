/**
 * Which role each actor plays. Until a role's issue lands, the actor runs the idle role
 * (see the README's status section); each later issue replaces one entry here.
 *
 * Runs on: an actor thread.
 */
import type { ActorRoleFactory } from './actor-context.js';
import type { ActorName } from '../supervisor/topology.js';
import { createIdleRole } from './idle-role.js';

export const actorRoles: Readonly<Record<ActorName, ActorRoleFactory>> = {
  registry: createIdleRole,
  dispatcher: createIdleRole,
  walWriter: createIdleRole,
  replicator: createIdleRole,
  worker: createIdleRole,
};
