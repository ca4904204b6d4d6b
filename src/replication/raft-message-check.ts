/**
 * Checks a value that arrived from a peer before it reaches the Raft core. The core trusts its
 * inputs (a broken one is an assertion that stops the actor), so anything a peer's bytes could
 * make wrong is caught here and the connection is closed instead: a peer never crashes a node.
 *
 * Runs on: Replicator thread.
 */
import type { RaftEntry } from '../raft/raft-entry.js';
import type { RaftMessage } from '../raft/raft-messages.js';

/** Entries one append may carry; more is not a FalconQueue peer (appendBytesMax bounds bytes). */
const appendEntriesMax = 1_000_000;
const nodeIdCharsMax = 64;
const contextCharsMax = 256;

type Fields = Record<string, unknown>;

const isIndex = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= nodeIdCharsMax;
const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

function isEntry(value: unknown): value is RaftEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Fields;
  return isIndex(entry['term']) && isIndex(entry['index']) && entry['index'] >= 1
    && typeof entry['type'] === 'number' && Number.isInteger(entry['type']) && entry['type'] >= 0 && entry['type'] <= 255
    && isBytes(entry['data']);
}

function areContiguousEntries(value: unknown, prevIndex: number): boolean {
  if (!Array.isArray(value) || value.length > appendEntriesMax) return false;
  let expected = prevIndex + 1;
  for (const entry of value) {
    if (!isEntry(entry) || entry.index !== expected) return false;
    expected += 1;
  }
  return true;
}

function isMembership(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const membership = value as Fields;
  return Array.isArray(membership['voters']) && membership['voters'].every(isId)
    && Array.isArray(membership['learners']) && membership['learners'].every(isId);
}

/** Why `value` is not a Raft message from `from` to `self`, or undefined when it is one. */
export function checkRaftMessage(value: unknown, from: string, self: string): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const message = value as Fields;
  if (message['from'] !== from) return `'from' is ${String(message['from'])}, but the connection is from ${from}`;
  if (message['to'] !== self) return `'to' is ${String(message['to'])}, but this is ${self}`;
  if (!isIndex(message['term'])) return "'term' is not a non-negative safe integer";
  const bad = checkBody(message);
  return bad === undefined ? undefined : `${String(message['type'])}: ${bad}`;
}

function checkBody(message: Fields): string | undefined {
  switch (message['type']) {
    case 'append':
      if (!isIndex(message['prevIndex']) || !isIndex(message['prevTerm']) || !isIndex(message['commit'])) return 'bad prevIndex, prevTerm or commit';
      return areContiguousEntries(message['entries'], message['prevIndex']) ? undefined : 'entries are not contiguous well-formed entries after prevIndex';
    case 'appendResponse':
      return isIndex(message['index']) && typeof message['reject'] === 'boolean' && isIndex(message['rejectHintIndex']) && isIndex(message['rejectHintTerm'])
        ? undefined : 'bad index, reject or hints';
    case 'heartbeat':
      return isIndex(message['commit']) && isIndex(message['readRound']) ? undefined : 'bad commit or readRound';
    case 'heartbeatResponse':
      return isIndex(message['readRound']) ? undefined : 'bad readRound';
    case 'vote':
      return typeof message['preVote'] === 'boolean' && typeof message['transfer'] === 'boolean' && isIndex(message['lastIndex']) && isIndex(message['lastTerm'])
        ? undefined : 'bad preVote, transfer, lastIndex or lastTerm';
    case 'voteResponse':
      return typeof message['preVote'] === 'boolean' && typeof message['reject'] === 'boolean' ? undefined : 'bad preVote or reject';
    case 'snapshot': {
      const snapshot = message['snapshot'] as Fields | null | undefined;
      return typeof snapshot === 'object' && snapshot !== null && isIndex(snapshot['index']) && isIndex(snapshot['term'])
        && isMembership(snapshot['membership']) && isBytes(snapshot['data']) ? undefined : 'bad snapshot';
    }
    case 'timeoutNow':
      return undefined;
    case 'propose': {
      const entries = message['entries'];
      return Array.isArray(entries) && entries.length > 0 && entries.length <= appendEntriesMax
        && entries.every((entry: unknown) => typeof entry === 'object' && entry !== null && (entry as Fields)['type'] === 0 && isBytes((entry as Fields)['data']))
        ? undefined : 'bad proposal entries';
    }
    case 'readIndex':
      return typeof message['context'] === 'string' && message['context'].length <= contextCharsMax ? undefined : 'bad context';
    case 'readIndexResponse':
      return typeof message['context'] === 'string' && message['context'].length <= contextCharsMax && isIndex(message['index']) ? undefined : 'bad context or index';
    default:
      return 'unknown message type';
  }
}

/** The value, typed, once `checkRaftMessage` found nothing wrong with it. */
export function asRaftMessage(value: unknown): RaftMessage {
  return value as RaftMessage;
}
