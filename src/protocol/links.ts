/**
 * Which role messages travel on each link, per direction: `LinkMessages[From][To]` is what the
 * actor `From` may send its neighbour `To`. `ActorContext<From>.send(to, message)` reads it, so a
 * message for the wrong actor, on a link that does not exist, or to a receiver the compiler cannot
 * pin to one actor, does not compile; each receiving role checks what arrives with its link's
 * checker (wal-validation.ts for the WAL link).
 *
 * Invariant: the keys are exactly the actor names of runtime/topology.ts (actor-context.ts checks
 * that at compile time), and every `To` of an entry is a neighbour of its `From` there; an actor
 * that sends no role message yet has `{}`. The queue's links (dispatch, registry, worker) add
 * their modules here and their directions to these entries.
 *
 * Runs on: every actor thread (types only).
 */
import type { ToDispatcherFromReplicator, ToReplicatorFromDispatcher } from './dispatch.js';
import type { ToDispatcherFromRegistry, ToRegistryFromDispatcher, ToRegistryFromReplicator, ToReplicatorFromRegistry } from './registry.js';
import type { FromWal, ToWal } from './wal.js';

export interface LinkMessages {
  readonly replicator: { readonly walWriter: ToWal; readonly dispatcher: ToDispatcherFromReplicator; readonly registry: ToRegistryFromReplicator };
  readonly walWriter: { readonly replicator: FromWal };
  readonly dispatcher: { readonly replicator: ToReplicatorFromDispatcher; readonly registry: ToRegistryFromDispatcher };
  readonly registry: { readonly dispatcher: ToDispatcherFromRegistry; readonly replicator: ToReplicatorFromRegistry };
  readonly worker: Readonly<Record<never, never>>;
}

export type SenderName = keyof LinkMessages;

/** The actors `From` sends role messages to. */
export type ReceiverOf<From extends SenderName> = keyof LinkMessages[From] & string;

/** What `From` may send `To`. */
export type MessageOn<From extends SenderName, To extends ReceiverOf<From>> = LinkMessages[From][To];

/** What any sender may send `To` (a receiving role's view, before its link's checker). */
export type MessageTo<To extends string> = { [From in SenderName]: To extends ReceiverOf<From> ? LinkMessages[From][To] : never }[SenderName];

/** True for a union of two or more types, false for one type. */
type IsUnion<Type, Whole = Type> = Type extends unknown ? ([Whole] extends [Type] ? false : true) : never;

/**
 * `To` when it names one actor; never (so the call does not compile) when it may name several:
 * with a union receiver, `MessageOn<From, To>` would be the union of both links' messages, and a
 * message for one could be sent to the other.
 */
export type OneReceiver<To> = true extends IsUnion<To> ? never : To;
