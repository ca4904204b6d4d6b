/**
 * The role of an actor whose logic has not arrived yet: it starts, answers the runtime's probes
 * (the runtime does that), counts and logs any role message it is sent, and stops cleanly.
 * The node runtime is complete with it; the WAL, Raft and queue roles replace it one by one.
 *
 * Runs on: an actor thread.
 */
import type { ActorContext, ActorRole } from './actor-context.js';
import type { ActorName } from '../runtime/topology.js';
import type { LinkMessage } from '../protocol/link-message.js';
import type { IdleStatus } from '../runtime/node-status.js';

export function createIdleRole(context: ActorContext): ActorRole {
  let unexpectedMessages = 0;
  return {
    start: () => Promise.resolve(),
    onMessage(from: ActorName, message: LinkMessage): void {
      unexpectedMessages += 1;
      // Expected while a neighbour's role has landed and this one's has not (e.g. the WAL writer
      // announcing its recovery to a Replicator that is still idle).
      context.logger.debug({ from, type: message.type }, 'idle actor received a role message it has no handler for');
    },
    stop: () => Promise.resolve(),
    status: (): IdleStatus => ({ role: 'idle', unexpectedMessages }),
  };
}
