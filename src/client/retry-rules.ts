/**
 * Which failures of a ClusterConnection's attempt leave its outcome in doubt, and which may be
 * retried (the rules cluster-connection.ts's header explains).
 *
 * Runs on: any thread of a client process.
 */
import type { ProtocolError } from './errors.js';

/** A failure that says the attempt had no effect (the node refused it, or it never left) is not in
 *  doubt; a lost connection, UNAVAILABLE, INTERNAL or an attempt's timeout is. */
export function outcomeUnknown(failure: ProtocolError): boolean {
  // An UNAVAILABLE whose detail says `outcome: 'noEffect'`: the node knows the request did nothing.
  if (failure.code === 'UNAVAILABLE' && failure.detail?.['outcome'] === 'noEffect') return false;
  return failure.sent && (failure.code === 'UNAVAILABLE' || failure.code === 'INTERNAL' || failure.code === 'DEADLINE_EXCEEDED');
}

/** NOT_LEADER, a request that never left, and a busy leader's refusal are always retried; an
 *  unknown outcome (UNAVAILABLE) only when the request is idempotent. */
export function mayRetry(error: ProtocolError, idempotent: boolean): boolean {
  if (error.code === 'NOT_LEADER' || !error.sent) return true;
  if (error.code === 'RESOURCE_EXHAUSTED' && error.detail?.['limit'] === 'uncommittedBytesMax') return true;
  return error.code === 'UNAVAILABLE' && idempotent;
}
