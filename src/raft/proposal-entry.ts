/**
 * What a caller proposes to the Raft core (the core assigns term and index, making it a
 * `LogEntry`), the payload measure every byte bound in the core uses, and which proposals the
 * core refuses (none at all, or an entry that is not `normal`).
 *
 * Invariants: `type` is one of `entryTypes` (entry-types.ts); `data` is never mutated once
 * proposed (it may be a view into caller memory).
 *
 * Runs on: every thread (a pure module).
 */
import { falconError, type FalconError } from '../errors.js';
import { entryTypes } from './entry-types.js';

/** What a caller proposes: the core assigns term and index. */
export interface ProposalEntry {
  readonly type: number;
  readonly data: Uint8Array;
}

/** Payload bytes of `entries`: the measure every byte bound in the core uses. */
export function payloadBytesOf(entries: readonly ProposalEntry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.byteLength;
  return bytes;
}

/** Why a proposal (local or forwarded) may not be appended, or null: it needs at least one
 *  entry, and only `normal` entries may be proposed. */
export function proposalError(entries: readonly ProposalEntry[]): FalconError | null {
  if (entries.length === 0) return falconError('INVALID_ARGUMENT', 'a proposal needs at least one entry');
  for (const entry of entries) {
    if (entry.type !== entryTypes.normal) {
      return falconError('INVALID_ARGUMENT', `entry type ${entry.type} cannot be proposed (only normal, ${entryTypes.normal})`);
    }
  }
  return null;
}
