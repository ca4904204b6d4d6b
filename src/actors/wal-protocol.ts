/**
 * The messages between the Replicator and the WAL writer, one ring each way.
 *
 * Replicator -> WAL writer: `append` (many per ring drain), `truncate`, `saveHardState`, `read`,
 * `saveSnapshot`, `loadSnapshot`, `compact`, `markNeedsCatchUp`, `clearNeedsCatchUp`.
 * WAL writer -> Replicator: `walStarted` once at start, `walRecovered` for every `describe`;
 * `durable` after every group commit;
 * one answer per other request; `walError` when a request failed with an operating error
 * (DISK_FULL: new writes are refused, everything durable stays durable).
 *
 * Ordering: the WAL writer handles requests in ring order. Appends are staged and made durable by
 * one write + one fdatasync at the end of each ring drain (group commit), or earlier when a
 * request that must see them durable (truncate, snapshot) comes behind them. `durable` is sent only
 * after the fdatasync returned. Entry payloads are opaque bytes end to end: nobody decodes them.
 *
 * Runs on: Replicator thread and WAL writer thread.
 */
import type { FalconError } from '../errors.js';
import type { HardState } from '../wal/hard-state.js';
import type { Snapshot, SnapshotMetadata } from '../wal/snapshot-file.js';
import type { WalEntry } from '../wal/wal-entry.js';

export type ToWal =
  | { readonly type: 'append'; readonly entries: readonly WalEntry[] }
  /** Records the sender already encoded and checksummed (wal-record.ts `encodeRecords`): the hot
   *  path, since the WAL thread then only checks headers and copies (docs/wal-format.md). */
  | { readonly type: 'appendRecords'; readonly records: Uint8Array }
  | { readonly type: 'truncate'; readonly fromIndex: number }
  | { readonly type: 'saveHardState'; readonly state: HardState }
  | { readonly type: 'read'; readonly requestId: number; readonly fromIndex: number; readonly toIndex: number; readonly maxBytes: number }
  | { readonly type: 'saveSnapshot'; readonly snapshot: Snapshot }
  | { readonly type: 'loadSnapshot'; readonly requestId: number }
  | { readonly type: 'compact'; readonly uptoIndex: number }
  /** Durably sets the needs-catch-up marker (answered with `needsCatchUpMarked` once it is). */
  | { readonly type: 'markNeedsCatchUp'; readonly reason: string }
  | { readonly type: 'clearNeedsCatchUp' }
  /** What is durable now (answered with `walRecovered`): how a (re)started Replicator begins. */
  | { readonly type: 'describe' };

export interface WalRecoveredMessage {
  readonly type: 'walRecovered';
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotMetadata | null;
  readonly needsCatchUp: string | null;
}

export type FromWal =
  | WalRecoveredMessage
  /** Sent once by every start of the WAL writer: a running Replicator that sees it knows that
   *  the writes it had in flight are gone, and stops the node (see replicator-role.ts). */
  | { readonly type: 'walStarted'; readonly incarnation: number }
  | { readonly type: 'durable'; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly type: 'truncated'; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly type: 'hardStateSaved'; readonly state: HardState }
  | { readonly type: 'entries'; readonly requestId: number; readonly entries: readonly WalEntry[] }
  | { readonly type: 'snapshotSaved'; readonly snapshot: SnapshotMetadata }
  | { readonly type: 'snapshotLoaded'; readonly requestId: number; readonly snapshot: Snapshot | null }
  | { readonly type: 'compacted'; readonly firstIndex: number; readonly segmentsRemoved: number }
  | { readonly type: 'needsCatchUpMarked'; readonly reason: string }
  | { readonly type: 'needsCatchUpCleared' }
  | { readonly type: 'walError'; readonly request: ToWal['type']; readonly requestId?: number; readonly error: FalconError };

const toWalTypes = new Set<string>(['append', 'appendRecords', 'truncate', 'saveHardState', 'read', 'saveSnapshot', 'loadSnapshot', 'compact', 'markNeedsCatchUp', 'clearNeedsCatchUp', 'describe']);

export function isToWal(message: { readonly type: string }): message is ToWal {
  return toWalTypes.has(message.type);
}
