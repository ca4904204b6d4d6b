/**
 * The shape of one Raft log entry, shared by the Raft core, the WAL engine and the rings between
 * them, so that an entry crosses every layer without being reshaped.
 *
 * Invariants (checked by the WAL when it encodes and when it decodes):
 * - `index` is a safe integer ≥ 1; indexes in a log are contiguous.
 * - `term` is a safe integer ≥ 0; terms never decrease along the log.
 * - `type` is an integer 0..255, opaque to the WAL (the Raft core gives it meaning).
 * - `data` is opaque bytes; an entry the WAL hands out may be a view into WAL memory and must not
 *   be mutated by its reader.
 *
 * Runs on: every thread (a pure type module).
 */

export interface WalEntry {
  readonly term: number;
  readonly index: number;
  readonly type: number;
  readonly data: Uint8Array;
}

/** The largest value `WalEntry.type` may take: it is stored in one byte. */
export const walEntryTypeMax = 255;

/** True when `entry` has a storable term, index and type (a programmer check, not input validation). */
export function isStorableWalEntry(entry: WalEntry): boolean {
  return Number.isSafeInteger(entry.index) && entry.index >= 1
    && Number.isSafeInteger(entry.term) && entry.term >= 0
    && Number.isInteger(entry.type) && entry.type >= 0 && entry.type <= walEntryTypeMax;
}
