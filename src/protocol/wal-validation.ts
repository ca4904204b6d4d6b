/**
 * Checks the messages of the WAL link (wal.ts), one checker per direction: `checkToWal` on the
 * WAL writer thread for what the Replicator asks, `checkFromWal` on the Replicator thread for what
 * the WAL writer answers. Modelled on raft/message-validation.ts: shape only (types, safe
 * integers, byte arrays, the fields each `type` declares), not meaning.
 *
 * Both ends are this program's own threads, so a message that fails here is a bug on the other
 * side of the ring, not an operating condition: the receiving role stops on it (an assertion), as
 * dropping it could leave a write waiting forever or a gap in the log.
 *
 * Invariant: a value these accept has every field its `type` declares in wal.ts, with that type and
 * the invariants src/log/ states for entries, hard states and snapshot metadata (log-shapes.ts);
 * anything else is an INTERNAL error naming the type and the field. The tables are typed per
 * field: a field added to wal.ts without a check here does not compile.
 *
 * Runs on: Replicator thread and WAL writer thread.
 */
import { isFalconError, type FalconError } from '../errors.js';
import { hardState, logEntries, snapshotMetadata } from '../log/log-shapes.js';
import {
  compile, bytes, oneOf, optional, orNull, safeInteger, signedSafeInteger, text, type MessageChecks, type ShapeCheck,
} from '../log/shape-check.js';
import { checkMessage } from './link-checks.js';
import type { FromWal, ToWal } from './wal.js';

/** Request ids are any safe integer: the Replicator's start-up read uses minus its incarnation. */
const requestId = signedSafeInteger;

const snapshotPart = oneOf('file', 'data');
const reason = text;

/** Every request type and its fields: the one list of them. */
const toWalFields: { readonly [Type in ToWal['type']]: MessageChecks<Extract<ToWal, { type: Type }>> } = {
  append: { entries: logEntries },
  appendRecords: { records: bytes },
  truncate: { fromIndex: safeInteger },
  saveHardState: { state: hardState },
  read: { requestId, fromIndex: safeInteger, toIndex: safeInteger, bytesMax: safeInteger },
  beginSnapshot: { snapshot: snapshotMetadata },
  appendSnapshotChunk: { index: safeInteger, bytes },
  finishSnapshot: { index: safeInteger, term: safeInteger },
  beginIncomingSnapshot: { index: safeInteger, fileBytes: safeInteger, checksum: safeInteger },
  writeIncomingSnapshot: { index: safeInteger, offset: safeInteger, bytes },
  verifyIncomingSnapshot: { index: safeInteger },
  installSnapshot: { index: safeInteger, term: safeInteger },
  readSnapshotChunk: { requestId, index: safeInteger, part: snapshotPart, offset: safeInteger, bytesMax: safeInteger },
  holdSnapshot: { index: safeInteger },
  releaseSnapshot: { index: safeInteger },
  compact: { uptoIndex: safeInteger },
  markNeedsCatchUp: { reason },
  clearNeedsCatchUp: {},
  describe: {},
};

const falconErrorField: ShapeCheck = (value) => (isFalconError(value) ? undefined : 'is not an error value { code, message }');
const toWalType: ShapeCheck = (value) =>
  typeof value === 'string' && Object.hasOwn(toWalFields, value) ? undefined : 'is not a WAL request type';

const fromWalFields: { readonly [Type in FromWal['type']]: MessageChecks<Extract<FromWal, { type: Type }>> } = {
  walRecovered: { firstIndex: safeInteger, lastIndex: safeInteger, lastTerm: safeInteger, hardState: orNull(hardState), snapshot: orNull(snapshotMetadata), needsCatchUp: orNull(text) },
  walStarted: { incarnation: safeInteger },
  durable: { lastIndex: safeInteger, lastTerm: safeInteger },
  truncated: { lastIndex: safeInteger, lastTerm: safeInteger },
  hardStateSaved: { state: hardState },
  entries: { requestId, entries: logEntries },
  snapshotSaved: { snapshot: snapshotMetadata },
  snapshotChunkAppended: { index: safeInteger, dataBytes: safeInteger },
  incomingSnapshotHeld: { index: safeInteger, heldBytes: safeInteger },
  incomingSnapshotVerified: { snapshot: snapshotMetadata },
  snapshotChunk: { requestId, index: safeInteger, part: snapshotPart, offset: safeInteger, bytes, totalBytes: safeInteger, checksum: safeInteger },
  compacted: { firstIndex: safeInteger, segmentsRemoved: safeInteger },
  needsCatchUpMarked: { reason },
  needsCatchUpCleared: {},
  walError: { request: toWalType, requestId: optional(requestId), error: falconErrorField },
};

const toWalChecks = compile(toWalFields);
const fromWalChecks = compile(fromWalFields);

/** `value` as a request to the WAL writer, or INTERNAL naming what is wrong. */
export function checkToWal(value: unknown): ToWal | FalconError {
  return checkMessage<ToWal>(value, 'Replicator → WAL', toWalChecks);
}

/** `value` as an answer of the WAL writer, or INTERNAL naming what is wrong. */
export function checkFromWal(value: unknown): FromWal | FalconError {
  return checkMessage<FromWal>(value, 'WAL → Replicator', fromWalChecks);
}
