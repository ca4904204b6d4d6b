/**
 * Which actors a node runs and which pairs of them talk.
 *
 * Every pair that talks gets two SPSC rings, one per direction; the supervisor also gets a
 * control ring pair with every actor (ping/pong, ready, stop). Nothing else joins two threads.
 *
 *   Dispatcher <-> Replicator <-> WAL writer
 *   Dispatcher <-> Registry   <-> Replicator
 *   Dispatcher <-> Worker
 *
 * Runs on: supervisor (main thread) and every actor thread (pure data, no I/O).
 */

export const actorNames = ['registry', 'dispatcher', 'walWriter', 'replicator', 'worker'] as const;
export type ActorName = (typeof actorNames)[number];

/** The undirected links between actors; each becomes two rings. */
export const actorLinks: ReadonlyArray<readonly [ActorName, ActorName]> = [
  ['dispatcher', 'replicator'],
  ['replicator', 'walWriter'],
  ['dispatcher', 'registry'],
  ['registry', 'replicator'],
  ['dispatcher', 'worker'],
];

/** The peer name the supervisor uses for itself on a control ring. */
export const supervisorName = 'supervisor';
export type RingEndName = ActorName | typeof supervisorName;

/** A ring's name in metrics and /status: `<from>-><to>`. */
export function ringName(from: RingEndName, to: RingEndName): string {
  return `${from}->${to}`;
}

/** The actors `actor` is linked to, in a stable order. */
export function neighboursOf(actor: ActorName): ActorName[] {
  const neighbours: ActorName[] = [];
  for (const [a, b] of actorLinks) {
    if (a === actor) neighbours.push(b);
    if (b === actor) neighbours.push(a);
  }
  return neighbours;
}
