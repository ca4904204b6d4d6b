/**
 * The envelope of the client protocol's error replies, and what the client server needs to read
 * a request's id before anything else: it answers frames it cannot hand to the handler (bad bytes,
 * a bad field) without knowing the protocol's messages, which live a floor above (protocol/).
 *
 *   { id, error: { code: <errors.ts code name>, message, leader?: { id, host, clientPort }, detail? } }
 *
 * Invariants: request ids are positive safe integers; id 0 is the connection's own (an error
 * about the stream, not about one request); an error envelope holds no `undefined` value.
 *
 * Runs on: Dispatcher thread.
 */
import type { FalconError } from '../errors.js';

/** The id of an error frame about the connection, not about one request (its id is unknown). */
export const connectionErrorId = 0;

/** Where the leader takes client connections, sent with NOT_LEADER. */
export interface LeaderAddress {
  readonly id: string;
  readonly host: string;
  readonly clientPort: number;
}

export interface WireError {
  readonly code: FalconError['code'];
  readonly message: string;
  readonly leader?: LeaderAddress;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface ErrorReply {
  readonly id: number;
  readonly error: WireError;
}

/** The reply to request `id` that failed with `error` (NOT_LEADER with the leader's address). */
export function errorReply(id: number, error: FalconError, leader?: LeaderAddress): ErrorReply {
  const wire: { code: FalconError['code']; message: string; leader?: LeaderAddress; detail?: WireError['detail'] } = {
    code: error.code, message: error.message,
  };
  if (leader !== undefined) wire.leader = leader;
  if (error.detail !== undefined) wire.detail = error.detail;
  return { id, error: wire };
}

/** A request's id when `value` is a map whose `id` is a positive safe integer, else undefined. */
export function requestIdOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return undefined;
  const id = (value as { readonly id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 1 ? id : undefined;
}
