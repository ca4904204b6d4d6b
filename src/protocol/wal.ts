/**
 * The messages between the Replicator and the WAL writer, one ring each way.
 *
 * Replicator -> WAL writer: `append` (many per ring drain), `truncate`, `saveHardState`, `read`,
 * `compact`, `markNeedsCatchUp`, `clearNeedsCatchUp`, and the snapshot requests, each carrying at most one chunk
 * (`snapshotChunkBytesMax`): a local snapshot is `beginSnapshot`, `appendSnapshotChunk`…,
 * `finishSnapshot`; a leader's snapshot is `beginIncomingSnapshot`, `writeIncomingSnapshot`…,
 * `verifyIncomingSnapshot`, then `installSnapshot` when the core accepts it; `readSnapshotChunk`
 * reads the snapshot in force (its file, to stream to a follower; its data, to restore), or one
 * a stream holds (`holdSnapshot`, `releaseSnapshot`).
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
 * Checked on arrival, one checker per direction: wal-validation.ts.
 *
 * Runs on: Replicator thread and WAL writer thread.
 */
import type { FalconError } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { SnapshotMetadata } from '../log/snapshot.js';

export type ToWal =
  | { readonly type: 'append'; readonly entries: readonly LogEntry[] }
  /** Records the sender already encoded and checksummed (wal-record.ts `encodeRecords`): the hot
   *  path, since the WAL thread then only checks headers and copies (docs/wal-format.md). */
  | { readonly type: 'appendRecords'; readonly records: Uint8Array }
  | { readonly type: 'truncate'; readonly fromIndex: number }
  | { readonly type: 'saveHardState'; readonly state: HardState }
  | { readonly type: 'read'; readonly requestId: number; readonly fromIndex: number; readonly toIndex: number; readonly bytesMax: number }
  | { readonly type: 'beginSnapshot'; readonly snapshot: SnapshotMetadata }
  | { readonly type: 'appendSnapshotChunk'; readonly index: number; readonly bytes: Uint8Array }
  | { readonly type: 'finishSnapshot'; readonly index: number; readonly term: number }
  | { readonly type: 'beginIncomingSnapshot'; readonly index: number; readonly fileBytes: number; readonly checksum: number }
  | { readonly type: 'writeIncomingSnapshot'; readonly index: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'verifyIncomingSnapshot'; readonly index: number }
  /** Puts the verified incoming snapshot in force (rename, directory fsync): the core's Ready said so. */
  | { readonly type: 'installSnapshot'; readonly index: number; readonly term: number }
  | { readonly type: 'readSnapshotChunk'; readonly requestId: number; readonly index: number; readonly part: 'file' | 'data'; readonly offset: number; readonly bytesMax: number }
  /** Keeps the snapshot at `index` readable until released, though newer ones are put in force: a
   *  stream to a follower reads one file from start to end. No answer; a snapshot no longer there
   *  is not held, and reads of it answer NOT_FOUND. */
  | { readonly type: 'holdSnapshot'; readonly index: number }
  /** Drops one hold; the last one of a snapshot no longer in force deletes its file. No answer but
   *  `walError` on a failed delete. */
  | { readonly type: 'releaseSnapshot'; readonly index: number }
  | { readonly type: 'compact'; readonly uptoIndex: number }
  /** Durably sets the needs-catch-up marker (answered with `needsCatchUpMarked` once it is). */
  | { readonly type: 'markNeedsCatchUp'; readonly reason: string }
  | { readonly type: 'clearNeedsCatchUp' }
  /** What is durable now (answered with `walRecovered`): how a (re)started Replicator begins.
   *  Every snapshot hold is dropped: the Replicator that took them is gone. */
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
  | { readonly type: 'entries'; readonly requestId: number; readonly entries: readonly LogEntry[] }
  /** Answers `finishSnapshot` and `installSnapshot`: the snapshot is durable and in force. */
  | { readonly type: 'snapshotSaved'; readonly snapshot: SnapshotMetadata }
  /** Answers `appendSnapshotChunk` (flow control: one answer per chunk). */
  | { readonly type: 'snapshotChunkAppended'; readonly index: number; readonly dataBytes: number }
  /** Answers `beginIncomingSnapshot` and `writeIncomingSnapshot`: the bytes held from offset 0. */
  | { readonly type: 'incomingSnapshotHeld'; readonly index: number; readonly heldBytes: number }
  | { readonly type: 'incomingSnapshotVerified'; readonly snapshot: SnapshotMetadata }
  | { readonly type: 'snapshotChunk'; readonly requestId: number; readonly index: number; readonly part: 'file' | 'data'; readonly offset: number;
      readonly bytes: Uint8Array; readonly totalBytes: number; readonly checksum: number }
  | { readonly type: 'compacted'; readonly firstIndex: number; readonly segmentsRemoved: number }
  | { readonly type: 'needsCatchUpMarked'; readonly reason: string }
  | { readonly type: 'needsCatchUpCleared' }
  | { readonly type: 'walError'; readonly request: ToWal['type']; readonly requestId?: number; readonly error: FalconError };
