/**
 * Checks that a value decoded from a peer's frame is a well-formed `RaftMessage` before it is
 * stepped into the core: the core asserts its invariants and would stop on nonsense, while bad
 * bytes from a peer must only close that connection (DESIGN.md §6). Shape only — types, safe
 * integers, byte arrays — not Raft meaning (a well-formed lie from an authenticated peer is
 * outside this check's reach).
 *
 * Invariant: a value this accepts has exactly the fields its `type` declares, with the types
 * raft-messages.ts gives them; anything else is a MALFORMED_FRAME error naming the field.
 *
 * Runs on: the Replicator actor (the thread that decodes peer frames).
 */
import { falconError, type FalconError } from '../errors.js';
import type { RaftMessage } from './raft-messages.js';

type Fields = Record<string, unknown>;

/** Node ids in a heartbeat's successor ranking at most: far more voters than a cluster of this
 *  version has (its voter set is fixed and small); a longer list is nonsense from a peer. */
const successorsMax = 255;

class Malformed extends Error {}

function field(message: Fields, name: string): unknown {
  return message[name];
}

function safeInteger(message: Fields, name: string): void {
  const value = field(message, name);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Malformed(`${name} is not a safe integer ≥ 0`);
}

function boolean(message: Fields, name: string): void {
  if (typeof field(message, name) !== 'boolean') throw new Malformed(`${name} is not a boolean`);
}

/** An optional field: absent (or undefined), or a safe integer ≥ 0. */
function optionalSafeInteger(message: Fields, name: string): void {
  if (field(message, name) !== undefined) safeInteger(message, name);
}

/** An optional field: absent (or undefined), or a boolean. */
function optionalBoolean(message: Fields, name: string): void {
  if (field(message, name) !== undefined) boolean(message, name);
}

function nodeId(message: Fields, name: string): void {
  const value = field(message, name);
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) throw new Malformed(`${name} is not a node id`);
}

function bytes(message: Fields, name: string): void {
  if (!(field(message, name) instanceof Uint8Array)) throw new Malformed(`${name} is not a byte array`);
}

function record(value: unknown, name: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Malformed(`${name} is not a map`);
  return value as Fields;
}

function list(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) throw new Malformed(`${name} is not an array`);
  return value;
}

/** Runs `check`, naming the field it refuses as part of `prefix`. */
function within(prefix: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    throw error instanceof Malformed ? new Malformed(`${prefix}.${error.message}`) : error;
  }
}

function entries(message: Fields, withPosition: boolean): void {
  list(field(message, 'entries'), 'entries').forEach((value, position) => within(`entries[${position}]`, () => {
    const entry = record(value, 'entry');
    const type = field(entry, 'type');
    if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 255) throw new Malformed('type is not 0..255');
    bytes(entry, 'data');
    if (withPosition) {
      safeInteger(entry, 'index');
      safeInteger(entry, 'term');
    }
  }));
}

function snapshot(message: Fields): void {
  const value = record(field(message, 'snapshot'), 'snapshot');
  within('snapshot', () => {
    safeInteger(value, 'index');
    safeInteger(value, 'term');
    bytes(value, 'data');
  });
  const membership = record(field(value, 'membership'), 'snapshot.membership');
  for (const group of ['voters', 'learners']) {
    list(field(membership, group), `snapshot.membership.${group}`).forEach((id, position) => {
      if (typeof id !== 'string' || id.length === 0) throw new Malformed(`snapshot.membership.${group}[${position}] is not a node id`);
    });
  }
}

const checksByType: Record<RaftMessage['type'], (message: Fields) => void> = {
  append: (message) => {
    ['prevIndex', 'prevTerm', 'commit'].forEach((name) => safeInteger(message, name));
    optionalSafeInteger(message, 'catchUpTo');
    optionalSafeInteger(message, 'catchUpBoot');
    entries(message, true);
  },
  appendResponse: (message) => {
    ['index', 'rejectHintIndex', 'rejectHintTerm'].forEach((name) => safeInteger(message, name));
    boolean(message, 'reject');
    optionalBoolean(message, 'catchingUp');
    optionalSafeInteger(message, 'bootId');
  },
  heartbeat: (message) => {
    safeInteger(message, 'commit');
    safeInteger(message, 'readRound');
    optionalSafeInteger(message, 'catchUpTo');
    optionalSafeInteger(message, 'catchUpBoot');
    if (field(message, 'successors') === undefined) return;
    const successors = list(field(message, 'successors'), 'successors');
    if (successors.length > successorsMax) throw new Malformed(`successors holds more than ${successorsMax} ids`);
    successors.forEach((id, position) => {
      if (typeof id !== 'string' || id.length === 0 || id.length > 255) throw new Malformed(`successors[${position}] is not a node id`);
    });
  },
  heartbeatResponse: (message) => {
    safeInteger(message, 'readRound');
    optionalBoolean(message, 'catchingUp');
    optionalSafeInteger(message, 'bootId');
  },
  vote: (message) => {
    ['lastIndex', 'lastTerm'].forEach((name) => safeInteger(message, name));
    boolean(message, 'preVote');
    boolean(message, 'transfer');
  },
  voteResponse: (message) => { boolean(message, 'preVote'); boolean(message, 'reject'); },
  snapshot,
  timeoutNow: () => undefined,
  propose: (message) => entries(message, false),
  readIndex: (message) => { if (typeof field(message, 'context') !== 'string') throw new Malformed('context is not a string'); },
  readIndexResponse: (message) => {
    if (typeof field(message, 'context') !== 'string') throw new Malformed('context is not a string');
    safeInteger(message, 'index');
  },
};

/**
 * `value` as a RaftMessage addressed to `localId`, or MALFORMED_FRAME naming what is wrong.
 * `peerId`, when given, must be the sender (the id the connection's handshake proved).
 */
export function parseRaftMessage(value: unknown, localId: string, peerId?: string): RaftMessage | FalconError {
  try {
    const message = record(value, 'message');
    const type = field(message, 'type');
    if (typeof type !== 'string' || !Object.hasOwn(checksByType, type)) throw new Malformed(`type ${String(type)} is not a Raft message type`);
    nodeId(message, 'from');
    nodeId(message, 'to');
    safeInteger(message, 'term');
    if (field(message, 'to') !== localId) throw new Malformed(`to is ${String(field(message, 'to'))}, this node is ${localId}`);
    if (peerId !== undefined && field(message, 'from') !== peerId) throw new Malformed(`from is ${String(field(message, 'from'))} on ${peerId}'s connection`);
    checksByType[type as RaftMessage['type']](message);
    return value as RaftMessage; // every field its type declares was checked above
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return falconError('MALFORMED_FRAME', `malformed Raft message: ${error.message}`);
  }
}
