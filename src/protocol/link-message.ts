/**
 * The shape of every message on a ring between two threads, before its link's checker has looked
 * at it: a plain object with a string `type`, MessagePack-encoded on the ring. And the two probes
 * that the actor runtime itself sends on every actor-to-actor link (`ping`, answered by `pong`) to
 * prove that both rings of the link are wired end to end; roles never see them.
 *
 * Runs on: supervisor and every actor thread.
 */

/** Any message on a ring, unchecked: what a receiver has before its link's checker ran. */
export interface LinkMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** The runtime's own messages on every actor-to-actor link. */
export type LinkProbe =
  | { readonly type: 'ping'; readonly seq: number }
  | { readonly type: 'pong'; readonly seq: number };

export function isLinkMessage(value: unknown): value is LinkMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
