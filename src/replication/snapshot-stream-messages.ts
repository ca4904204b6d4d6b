/**
 * The peer messages that carry a snapshot's body, beside the Raft core's messages: the core only
 * ever sees a snapshot's metadata (index, term, membership); its bytes travel in chunks between
 * the replica loops (snapshot-sender.ts, snapshot-receiver.ts), straight from the leader's
 * snapshot file to the follower's.
 *
 * | type               | direction          | meaning                                                  |
 * |--------------------|--------------------|----------------------------------------------------------|
 * | `snapshotChunk`    | leader → follower  | `bytes` of the snapshot file of `index` at `offset`; the  |
 * |                    |                    | file is `fileBytes` long with header checksum `checksum`  |
 * | `snapshotChunkAck` | follower → leader  | the follower holds `heldBytes` of that file from 0;       |
 * |                    |                    | `complete`: held whole, fsynced and verified              |
 *
 * `term` is the sender's current term (the follower hands the core a snapshot message of that
 * term once the file verified). A chunk carries at most `snapshotChunkBytesMax` bytes, so that
 * one fits in a peer frame by construction (the loop's chunk size is at most half a frame).
 *
 * Validation: shape only, like message-validation.ts; a malformed one closes the connection.
 *
 * Runs on: the thread that runs the replica loop.
 */
import { falconError, type FalconError } from '../errors.js';
import type { RaftMessage } from '../raft/raft-messages.js';
import { snapshotChunkBytesMax } from './state-machine.js';

interface StreamHeader {
  readonly from: string;
  readonly to: string;
  readonly term: number;
  /** The snapshot's last included index. */
  readonly index: number;
  readonly fileBytes: number;
  readonly checksum: number;
}

export interface SnapshotChunkMessage extends StreamHeader {
  readonly type: 'snapshotChunk';
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export interface SnapshotChunkAckMessage extends StreamHeader {
  readonly type: 'snapshotChunkAck';
  readonly heldBytes: number;
  readonly complete: boolean;
}

export type SnapshotStreamMessage = SnapshotChunkMessage | SnapshotChunkAckMessage;

/** Everything a replica loop sends to a peer. */
export type PeerMessage = RaftMessage | SnapshotStreamMessage;

export function isSnapshotStreamType(type: unknown): boolean {
  return type === 'snapshotChunk' || type === 'snapshotChunkAck';
}

class Malformed extends Error {}

function safeInteger(message: Record<string, unknown>, name: string): number {
  const value = message[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Malformed(`${name} is not a safe integer ≥ 0`);
  return value;
}

function nodeId(message: Record<string, unknown>, name: string): string {
  const value = message[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) throw new Malformed(`${name} is not a node id`);
  return value;
}

/**
 * `value` as a snapshot stream message addressed to `localId` from `peerId`, or MALFORMED_FRAME
 * naming what is wrong (including a chunk past the file's end or above the chunk bound).
 */
export function parseSnapshotStreamMessage(value: unknown, localId: string, peerId: string): SnapshotStreamMessage | FalconError {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Malformed('message is not a map');
    const message = value as Record<string, unknown>;
    const type = message['type'];
    if (!isSnapshotStreamType(type)) throw new Malformed(`type ${String(type)} is not a snapshot stream message type`);
    if (nodeId(message, 'to') !== localId) throw new Malformed(`to is ${String(message['to'])}, this node is ${localId}`);
    if (nodeId(message, 'from') !== peerId) throw new Malformed(`from is ${String(message['from'])} on ${peerId}'s connection`);
    ['term', 'index', 'fileBytes', 'checksum'].forEach((name) => safeInteger(message, name));
    if ((message['index'] as number) < 1) throw new Malformed('index is below 1');
    if ((message['checksum'] as number) > 0xffff_ffff) throw new Malformed('checksum is not a 32-bit value');
    const fileBytes = message['fileBytes'] as number;
    if (type === 'snapshotChunk') {
      const offset = safeInteger(message, 'offset');
      const bytes = message['bytes'];
      if (!(bytes instanceof Uint8Array)) throw new Malformed('bytes is not a byte array');
      if (bytes.byteLength > snapshotChunkBytesMax) throw new Malformed(`bytes holds ${bytes.byteLength} bytes, above ${snapshotChunkBytesMax}`);
      if (offset + bytes.byteLength > fileBytes) throw new Malformed(`chunk ${offset}+${bytes.byteLength} past the ${fileBytes}-byte file`);
    } else {
      if (safeInteger(message, 'heldBytes') > fileBytes) throw new Malformed(`heldBytes past the ${fileBytes}-byte file`);
      if (typeof message['complete'] !== 'boolean') throw new Malformed('complete is not a boolean');
    }
    return value as SnapshotStreamMessage; // every field its type declares was checked above
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return falconError('MALFORMED_FRAME', `malformed snapshot stream message: ${error.message}`);
  }
}
