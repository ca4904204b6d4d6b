/**
 * What a role (WAL writer, Replicator, ...) gets from the actor runtime, and what it gives back.
 *
 * A role never touches another thread's memory: it sends messages to its neighbours through
 * `send`, and receives theirs through `onMessage`. It must not block its event loop for longer
 * than the liveness timeout, or the supervisor will declare it stuck and restart it.
 *
 * Runs on: an actor thread.
 */
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import type { Logger } from '../logging/logger.js';
import type { FatalExit } from '../runtime/control-messages.js';
import type { RoleRequestHandlers } from '../protocol/control.js';
import type { LinkMessage } from '../protocol/link-message.js';
import type { LinkMessages, MessageOn, OneReceiver, ReceiverOf } from '../protocol/links.js';
import type { FalconError } from '../errors.js';
import type { ActorName } from '../runtime/topology.js';
import type { RoleStatus } from '../runtime/node-status.js';

export interface ActorContext<Self extends ActorName = ActorName> {
  readonly actor: Self;
  readonly node: NodeConfig;
  readonly config: ClusterConfig;
  readonly logger: Logger;
  /** 1 for the first start, +1 for every restart by the supervisor. */
  readonly incarnation: number;
  readonly neighbours: readonly ActorName[];
  /**
   * Sends `message` to `to`, after every message sent to `to` before it. Never drops, never
   * reorders: when the ring towards `to` is full, the message (and every later one) waits in the
   * link's bounded backlog and enters the ring, in order, as the receiver frees room. A backlog
   * past its bound (src/ring/ordered-ring-sender.ts) means the receiver stopped taking messages:
   * the call throws FalconFailure(RING_FULL) and this actor fails (the supervisor's policy applies).
   * Typed by the receiver (protocol/links.ts): a message `to` cannot take does not compile.
   */
  send<To extends ReceiverOf<Self>>(to: OneReceiver<To>, message: MessageOn<Self, To>): void;
  /**
   * Ends the node: an unrecoverable failure that a restart would not cure (a corrupt log, a failed
   * fsync). The supervisor logs `error`, does not restart the actor, and stops the node.
   */
  fail(error: FalconError, exit: FatalExit): void;
}

export interface ActorRole {
  /** Set-up that must finish before the actor reports ready (open files, bind sockets). */
  start(): Promise<void>;
  /** A role message from a neighbour (probes never reach here). */
  onMessage(from: ActorName, message: LinkMessage): void;
  /**
   * Called after each batch of messages drained from one link's ring (every message available at
   * that moment, up to a bound). Where group commit happens: one write + one fsync per batch.
   */
  afterDrain?(from: ActorName): void;
  /** Orderly stop: flush, close. Bounded by the supervisor's shutdown timeout. */
  stop(): Promise<void>;
  /** Figures for /status, read on request. */
  status(): RoleStatus;
  /**
   * The supervisor's requests this role answers (protocol/control.ts), one handler per kind, each
   * typed by its request and answer. A kind left out, or a handler that throws, is answered by
   * the runtime with `refused` (INTERNAL), and the supervisor's `askRole` fails with that error.
   */
  readonly requestHandlers?: RoleRequestHandlers;
}

export type ActorRoleFactory<Self extends ActorName = ActorName> = (context: ActorContext<Self>) => ActorRole;

/** Compile-time check: protocol/links.ts has one entry per actor, no more, no less. */
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const messagesCoverEveryActor: SameKeys<keyof LinkMessages, ActorName> = true;
void messagesCoverEveryActor;
