/**
 * Which role each actor plays. An actor whose logic has not landed yet runs the idle role (see the
 * README's status section); each later piece replaces one entry here.
 *
 * Runs on: an actor thread.
 */
import type { ActorRoleFactory } from './actor-context.js';
import type { ActorName } from '../runtime/topology.js';
import { createIdleRole } from './idle-role.js';
import { createWalWriterRole } from './wal-writer-role.js';
import { createReplicatorRole } from './replicator-role.js';

export const actorRoles: Readonly<Record<ActorName, ActorRoleFactory>> = {
  registry: createIdleRole,
  dispatcher: createIdleRole,
  walWriter: createWalWriterRole,
  replicator: createReplicatorRole,
  worker: createIdleRole,
};
