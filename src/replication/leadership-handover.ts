/**
 * Leadership hand-over on a graceful stop (any role): this node stops campaigning for good, and
 * when it leads it hands leadership to the first of its successor ranking that it is connected to
 * (the most caught-up follower, the order its heartbeats announce; followers catching up are not
 * in it), so that a rolling restart costs the cluster a transfer (milliseconds), not an election
 * timeout. A node that is stopping too (a whole cluster stopped at once) refuses to take over, and
 * the core gives the transfer up when that node's connection closes.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import type { RaftNode } from '../raft/raft-node.js';
import type { PeerLink } from './replica-loop-options.js';

/**
 * Retires `core` and starts the transfer; `transferStarting` runs when one was asked of the core
 * (a cycle must follow). Returns the chosen follower, or null when this node does not lead or no
 * transfer could start.
 */
export function handOverLeadership(core: RaftNode, peers: PeerLink, transferStarting: () => void): string | null {
  // This node is stopping: whatever its role, it must not take leadership back.
  core.retire();
  const target = core.successorRanking().find((peer) => peers.isConnected(peer));
  if (target === undefined) return null;
  const outcome = core.transferLeadership(target);
  transferStarting();
  return outcome.ok ? target : null;
}
