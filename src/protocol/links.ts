/**
 * Which messages each actor takes on its links: one entry per actor, the union of what its
 * neighbours may send it. `ActorContext.send<To>(to, message: MessageTo<To>)` reads it, so that a
 * message addressed to the wrong actor does not compile; each receiving role checks what arrives
 * with its link's checker (wal-validation.ts for the WAL link).
 *
 * Invariant: the keys are exactly the actor names of runtime/topology.ts (actor-context.ts checks
 * that at compile time); an actor that takes no role message yet has `never`. The queue's links
 * (dispatch, registry, worker) add their modules here and widen the entries they reach.
 *
 * Runs on: every actor thread (types only).
 */
import type { FromWal, ToWal } from './wal.js';

export interface MessagesTo {
  readonly walWriter: ToWal;
  readonly replicator: FromWal;
  readonly dispatcher: never;
  readonly registry: never;
  readonly worker: never;
}

/** What may be sent to the actor `To` on a link. */
export type MessageTo<To extends keyof MessagesTo> = MessagesTo[To];
