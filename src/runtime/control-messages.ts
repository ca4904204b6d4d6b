/**
 * Messages every actor understands, whatever its role.
 *
 * Control ring (supervisor <-> actor): the supervisor pings, asks for a stop; the actor answers
 * pongs, says when it is ready and when it is stopping. A role request and its response travel
 * in the `roleRequest` / `roleResponse` envelopes; their bodies are typed in protocol/control.ts
 * and checked by protocol/control-validation.ts (the checks here look at the envelope only, so
 * that a malformed body is still answered: the actor refuses it, the supervisor fails the ask).
 * The probes of the actor-to-actor links and the shape of every ring message are in
 * protocol/link-message.ts.
 *
 * Runs on: supervisor and every actor thread.
 */
import type { RoleRequest, RoleResponse } from '../protocol/control.js';
import { isLinkMessage } from '../protocol/link-message.js';
import type { ActorRuntimeStatus } from './node-status.js';

export type ControlToActor =
  | { readonly type: 'ping'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number }
  | { readonly type: 'roleRequest'; readonly seq: number; readonly request: RoleRequest }
  | { readonly type: 'stop'; readonly reason: string };

export type ActorToControl =
  | { readonly type: 'pong'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number; readonly status: ActorRuntimeStatus }
  | { readonly type: 'roleResponse'; readonly seq: number; readonly response: RoleResponse }
  | { readonly type: 'ready' }
  | { readonly type: 'stopping' }
  | { readonly type: 'fatal'; readonly reason: string; readonly exit: FatalExit };

/**
 * How an actor's unrecoverable failure ends the node: `refusedToStart` for what an operator must
 * fix before a start can succeed (a corrupt log), `actorFailed` for a failure while running (an
 * fsync error). Restarting would not help either, so the supervisor does not try.
 */
export type FatalExit = 'refusedToStart' | 'actorFailed';

/** A control message as its receiver has it once the envelope is checked: a role request's or
 *  response's body is still to be checked, by protocol/control-validation.ts. */
type EnvelopeChecked<Message, Envelope extends string, Body extends string> =
  | Exclude<Message, { readonly type: Envelope }>
  | (Omit<Extract<Message, { readonly type: Envelope }>, Body> & { readonly [field in Body]: unknown });

export type ControlToActorReceived = EnvelopeChecked<ControlToActor, 'roleRequest', 'request'>;
export type ActorToControlReceived = EnvelopeChecked<ActorToControl, 'roleResponse', 'response'>;

export function isControlToActor(value: unknown): value is ControlToActorReceived {
  if (!isLinkMessage(value)) return false;
  if (value.type === 'ping' || value.type === 'status' || value.type === 'roleRequest') return typeof value.seq === 'number';
  return value.type === 'stop' && typeof value.reason === 'string';
}

export function isActorToControl(value: unknown): value is ActorToControlReceived {
  if (!isLinkMessage(value)) return false;
  if (value.type === 'pong') return typeof value.seq === 'number';
  if (value.type === 'status') return typeof value.seq === 'number' && typeof value.status === 'object' && value.status !== null;
  if (value.type === 'roleResponse') return typeof value.seq === 'number';
  if (value.type === 'fatal') return typeof value.reason === 'string' && (value.exit === 'refusedToStart' || value.exit === 'actorFailed');
  return value.type === 'ready' || value.type === 'stopping';
}
