/**
 * Peer connections as the replica loop sees them: a handshake per pair of node starts. The real
 * transport (src/net/peer-transport.ts) listens and dials every peer once the loop has its WAL's
 * answer; each side's hello or welcome says whether it is blank (`ReplicaLoop.handshake`, read when
 * it is sent), and each side then hears the other's (`onPeerHandshake`). A fresh node decides from
 * these whether it bootstraps a new cluster or must be caught up (src/replication/fresh-start.ts).
 *
 * Here: when a node's transport comes up it dials every peer whose transport is up; a dial needs
 * the link up both ways and the peer running (a paused process completes no handshake), or it is
 * retried after a reconnect backoff. A peer that is down dials this node itself when it starts.
 *
 * Invariants: a handshake reaches a node only in the incarnation it was sent to; what it says was
 * true when it was sent (a stale "blank" can only come from a brand-new cluster's start).
 *
 * Runs on: the simulator.
 */
import type { SimNode } from './sim-node.js';
import type { Simulation } from './simulation.js';

/** Reconnect backoff, in ticks (the transport's is 50 ms to 1 s). */
const redialTicksMin = 1;
const redialTicksMax = 8;
/** A handshake's way over the network (µs): a connect and a frame each way. */
const handshakeUsMin = 200;
const handshakeUsMax = 3_000;

/** `node`'s transport is up: it dials every peer. */
export function dialPeers(simulation: Simulation, node: SimNode): void {
  for (const peer of simulation.nodes) {
    if (peer !== node) dial(simulation, node, peer, simulation.random.between(handshakeUsMin, handshakeUsMax));
  }
}

function dial(simulation: Simulation, node: SimNode, peer: SimNode, afterUs: number): void {
  simulation.at(node, simulation.nowUs() + afterUs, () => {
    const ours = node.loop;
    const theirs = peer.loop;
    if (ours === null || theirs === null || !peer.transportUp) return;
    const network = simulation.network;
    if (!network.isLinkUp(node.index, peer.index) || !network.isLinkUp(peer.index, node.index) || peer.pausedUntilUs > simulation.nowUs()) {
      dial(simulation, node, peer, simulation.random.between(redialTicksMin, redialTicksMax) * simulation.options.tickUs);
      return;
    }
    const ourHello = ours.handshake;
    const theirWelcome = theirs.handshake;
    simulation.log(`HANDSHAKE ${node.id}${ourHello.blank ? ' (blank)' : ''} <-> ${peer.id}${theirWelcome.blank ? ' (blank)' : ''}`);
    simulation.at(peer, simulation.nowUs() + simulation.random.between(handshakeUsMin, handshakeUsMax), () => peer.loop?.onPeerHandshake(node.id, ourHello));
    simulation.at(node, simulation.nowUs() + simulation.random.between(handshakeUsMin, handshakeUsMax), () => node.loop?.onPeerHandshake(peer.id, theirWelcome));
  });
}
