/**
 * Checks the messages of the WAL link (wal.ts), one checker per direction: `checkToWal` on the
 * WAL writer thread for what the Replicator asks, `checkFromWal` on the Replicator thread for what
 * the WAL writer answers. Modelled on raft/message-validation.ts: shape only (types, safe
 * integers, byte arrays, the fields each `type` declares), not meaning.
 *
 * Both ends are this program's own threads, so a message that fails here is a bug on the other
 * side of the ring, not an operating condition: the receiving role logs it at error and drops it.
 *
 * Invariant: a value these accept has every field its `type` declares in wal.ts, with that type;
 * anything else is an INTERNAL error naming the type and the field.
 *
 * Runs on: Replicator thread and WAL writer thread.
 */
import { falconError, isFalconError, type FalconError } from '../errors.js';
import type { FromWal, ToWal } from './wal.js';

type Fields = Readonly<Record<string, unknown>>;
/** Throws Malformed naming the field when `value` is not of the kind. */
type FieldCheck = (value: unknown, name: string) => void;

class Malformed extends Error {}

const safeInteger: FieldCheck = (value, name) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Malformed(`${name} is not a safe integer ≥ 0`);
};
/** Request ids are any safe integer: the Replicator's start-up read uses minus its incarnation. */
const requestId: FieldCheck = (value, name) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Malformed(`${name} is not a safe integer`);
};
const text: FieldCheck = (value, name) => {
  if (typeof value !== 'string') throw new Malformed(`${name} is not a string`);
};
const bytes: FieldCheck = (value, name) => {
  if (!(value instanceof Uint8Array)) throw new Malformed(`${name} is not a byte array`);
};
const snapshotPart: FieldCheck = (value, name) => {
  if (value !== 'file' && value !== 'data') throw new Malformed(`${name} is neither 'file' nor 'data'`);
};
const optional = (check: FieldCheck): FieldCheck => (value, name) => {
  if (value !== undefined) check(value, name);
};
const orNull = (check: FieldCheck): FieldCheck => (value, name) => {
  if (value !== null) check(value, name);
};

function record(value: unknown, name: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Malformed(`${name} is not a map`);
  return value as Fields;
}

function fields(value: unknown, name: string, checks: Readonly<Record<string, FieldCheck>>): void {
  const map = record(value, name);
  for (const [field, check] of Object.entries(checks)) check(map[field], `${name}.${field}`);
}

const entries: FieldCheck = (value, name) => {
  if (!Array.isArray(value)) throw new Malformed(`${name} is not an array`);
  for (let at = 0; at < value.length; at += 1) {
    const entry = record(value[at], `${name}[${at}]`);
    safeInteger(entry['term'], `${name}[${at}].term`);
    safeInteger(entry['index'], `${name}[${at}].index`);
    safeInteger(entry['type'], `${name}[${at}].type`);
    bytes(entry['data'], `${name}[${at}].data`);
  }
};
const hardState: FieldCheck = (value, name) => {
  fields(value, name, { term: safeInteger, vote: orNull(text), commit: safeInteger, cluster: optional(orNull(text)) });
};
const nodeIds: FieldCheck = (value, name) => {
  if (!Array.isArray(value)) throw new Malformed(`${name} is not an array`);
  value.forEach((id, at) => text(id, `${name}[${at}]`));
};
const snapshotMetadata: FieldCheck = (value, name) => {
  fields(value, name, { index: safeInteger, term: safeInteger, membership: (membership, at) => fields(membership, at, { voters: nodeIds, learners: nodeIds }) });
};

/** Every request type and its fields: the one list of them. */
const toWalFields: Readonly<Record<ToWal['type'], Readonly<Record<string, FieldCheck>>>> = {
  append: { entries },
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
  markNeedsCatchUp: { reason: text },
  clearNeedsCatchUp: {},
  describe: {},
};

const falconErrorField: FieldCheck = (value, name) => {
  if (!isFalconError(value)) throw new Malformed(`${name} is not an error value { code, message }`);
};
const toWalType: FieldCheck = (value, name) => {
  if (typeof value !== 'string' || !Object.hasOwn(toWalFields, value)) throw new Malformed(`${name} is not a WAL request type`);
};

const fromWalFields: Readonly<Record<FromWal['type'], Readonly<Record<string, FieldCheck>>>> = {
  walRecovered: { firstIndex: safeInteger, lastIndex: safeInteger, lastTerm: safeInteger, hardState: orNull(hardState), snapshot: orNull(snapshotMetadata), needsCatchUp: orNull(text) },
  walStarted: { incarnation: safeInteger },
  durable: { lastIndex: safeInteger, lastTerm: safeInteger },
  truncated: { lastIndex: safeInteger, lastTerm: safeInteger },
  hardStateSaved: { state: hardState },
  entries: { requestId, entries },
  snapshotSaved: { snapshot: snapshotMetadata },
  snapshotChunkAppended: { index: safeInteger, dataBytes: safeInteger },
  incomingSnapshotHeld: { index: safeInteger, heldBytes: safeInteger },
  incomingSnapshotVerified: { snapshot: snapshotMetadata },
  snapshotChunk: { requestId, index: safeInteger, part: snapshotPart, offset: safeInteger, bytes, totalBytes: safeInteger, checksum: safeInteger },
  compacted: { firstIndex: safeInteger, segmentsRemoved: safeInteger },
  needsCatchUpMarked: { reason: text },
  needsCatchUpCleared: {},
  walError: { request: toWalType, requestId: optional(requestId), error: falconErrorField },
};

type CompiledTable = ReadonlyMap<string, ReadonlyArray<readonly [string, FieldCheck]>>;

/** The table as pairs, built once, so that checking a message allocates nothing on the hot path. */
function compile(table: Readonly<Record<string, Readonly<Record<string, FieldCheck>>>>): CompiledTable {
  return new Map(Object.entries(table).map(([type, checks]) => [type, Object.entries(checks)]));
}

const toWalChecks = compile(toWalFields);
const fromWalChecks = compile(fromWalFields);

function check<Message>(value: unknown, direction: string, table: CompiledTable): Message | FalconError {
  try {
    const message = record(value, 'message');
    const type = message['type'];
    const checks = typeof type === 'string' ? table.get(type) : undefined;
    if (checks === undefined) throw new Malformed(`type ${String(type)} is not a ${direction} message type`);
    for (const [field, checkField] of checks) checkField(message[field], `${type}.${field}`);
    return message as Message;
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return falconError('INTERNAL', `malformed ${direction} message: ${error.message}`);
  }
}

/** `value` as a request to the WAL writer, or INTERNAL naming what is wrong. */
export function checkToWal(value: unknown): ToWal | FalconError {
  return check<ToWal>(value, 'Replicator → WAL', toWalChecks);
}

/** `value` as an answer of the WAL writer, or INTERNAL naming what is wrong. */
export function checkFromWal(value: unknown): FromWal | FalconError {
  return check<FromWal>(value, 'WAL → Replicator', fromWalChecks);
}

/** True for the error value the checkers return (a checked message has a `type`, never a `code`). */
export function isMalformed(checked: ToWal | FromWal | FalconError): checked is FalconError {
  return !('type' in checked);
}
