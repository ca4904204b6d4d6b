/**
 * The one answer to a client request that needs the leader on a node that cannot take it:
 * NOT_LEADER, with the reason in words. Nothing was done, so a client may always send the request
 * again: to `error.leader` when the reply names one (docs/protocol.md §3), else to any node after a
 * short wait (an election is under way, or this node is stopping).
 *
 * Used by the Dispatcher (before a request is batched) and by the Replicator's queue service (when
 * leadership moved while the batch travelled), so both say the same thing.
 *
 * Runs on: Dispatcher thread and Replicator thread (pure).
 */
import { falconError, type FalconError } from '../errors.js';

export function notLeadingError(nodeId: string, leader: string | null, stopping: boolean): FalconError {
  if (stopping) return falconError('NOT_LEADER', `node ${nodeId} is stopping and takes no new requests; nothing was done, retry on another node`);
  if (leader === null) return falconError('NOT_LEADER', 'no leader is known right now (an election is under way); nothing was done, retry shortly');
  return falconError('NOT_LEADER', `node ${nodeId} does not lead; ${leader} does`);
}
