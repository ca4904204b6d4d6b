/**
 * Which role may make which request of the client protocol (docs/protocol.md §3). The one table
 * of it: the Dispatcher enforces it, and the HTTP and gRPC APIs reach the same check because
 * they speak to the node through this protocol.
 *
 * | request                                                  | produce | consume | admin |
 * |----------------------------------------------------------|---------|---------|-------|
 * | hello                                                    | yes     | yes     | yes   |
 * | enqueue                                                  | yes     |         | yes   |
 * | pull, ack, nack, extend, register, heartbeat, unregister |         | yes     | yes   |
 * | get, list, stats                                         | yes     | yes     | yes   |
 * | cancel, pause, resume, redrive, purge                    |         |         | yes   |
 *
 * `hello` is open to every connection: it is how a token is presented.
 *
 * Invariant: every request type has an entry (the table is typed by ClientRequestType, so a new
 * request does not compile without one); `admin` is in every entry.
 *
 * Runs on: Dispatcher thread (pure data).
 */
import type { AccessRole } from '../config/auth-config.js';
import type { ClientRequestType } from './client.js';

const producers: readonly AccessRole[] = ['produce', 'admin'];
const consumers: readonly AccessRole[] = ['consume', 'admin'];
const readers: readonly AccessRole[] = ['produce', 'consume', 'admin'];
const admins: readonly AccessRole[] = ['admin'];

export const rolesAllowed: { readonly [Type in Exclude<ClientRequestType, 'hello'>]: readonly AccessRole[] } = {
  enqueue: producers,
  pull: consumers, ack: consumers, nack: consumers, extend: consumers, register: consumers, heartbeat: consumers,
  unregister: consumers,
  get: readers, list: readers, stats: readers,
  cancel: admins, pause: admins, resume: admins, redrive: admins, purge: admins,
};

/** True when a connection holding `role` may make a request of `type`. */
export function roleMayMake(role: AccessRole, type: ClientRequestType): boolean {
  return type === 'hello' || rolesAllowed[type].includes(role);
}
