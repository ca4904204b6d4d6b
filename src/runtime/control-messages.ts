/**
 * Messages every actor understands, whatever its role.
 *
 * Control ring (supervisor <-> actor): the supervisor pings, asks for a stop; the actor answers
 * pongs, says when it is ready and when it is stopping. The probes of the actor-to-actor links
 * and the shape of every ring message are in protocol/link-message.ts.
 *
 * Runs on: supervisor and every actor thread.
 */
import { isLinkMessage, type LinkMessage } from '../protocol/link-message.js';
import type { ActorRuntimeStatus } from './node-status.js';

export type ControlToActor =
  | { readonly type: 'ping'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number }
  | { readonly type: 'roleRequest'; readonly seq: number; readonly request: LinkMessage }
  | { readonly type: 'stop'; readonly reason: string };

export type ActorToControl =
  | { readonly type: 'pong'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number; readonly status: ActorRuntimeStatus }
  | { readonly type: 'roleResponse'; readonly seq: number; readonly response: Readonly<Record<string, unknown>> }
  | { readonly type: 'ready' }
  | { readonly type: 'stopping' }
  | { readonly type: 'fatal'; readonly reason: string; readonly exit: FatalExit };

/**
 * How an actor's unrecoverable failure ends the node: `refusedToStart` for what an operator must
 * fix before a start can succeed (a corrupt log), `actorFailed` for a failure while running (an
 * fsync error). Restarting would not help either, so the supervisor does not try.
 */
export type FatalExit = 'refusedToStart' | 'actorFailed';

export function isControlToActor(value: unknown): value is ControlToActor {
  if (!isLinkMessage(value)) return false;
  if (value.type === 'ping' || value.type === 'status') return typeof value.seq === 'number';
  if (value.type === 'roleRequest') return typeof value.seq === 'number' && isLinkMessage(value.request);
  return value.type === 'stop' && typeof value.reason === 'string';
}

export function isActorToControl(value: unknown): value is ActorToControl {
  if (!isLinkMessage(value)) return false;
  if (value.type === 'pong') return typeof value.seq === 'number';
  if (value.type === 'status') return typeof value.seq === 'number' && typeof value.status === 'object' && value.status !== null;
  if (value.type === 'roleResponse') return typeof value.seq === 'number' && typeof value.response === 'object' && value.response !== null;
  if (value.type === 'fatal') return typeof value.reason === 'string' && (value.exit === 'refusedToStart' || value.exit === 'actorFailed');
  return value.type === 'ready' || value.type === 'stopping';
}
