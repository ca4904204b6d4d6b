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
import { nodeId } from '../log/log-shapes.js';
import {
  asChecked, boolean, bytesUpTo, fields, integerFrom, isMap, positiveSafeInteger, readableProblem, safeInteger,
  type MessageChecks, type ShapeCheck,
} from '../log/shape-check.js';
import type { RaftMessage } from '../raft/raft-messages.js';
import { snapshotChunkBytesMax } from '../log/state-machine.js';

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

export function isSnapshotStreamType(type: unknown): type is SnapshotStreamMessage['type'] {
  return type === 'snapshotChunk' || type === 'snapshotChunkAck';
}

const streamHeader = { from: nodeId, to: nodeId, term: safeInteger, index: positiveSafeInteger, fileBytes: safeInteger, checksum: integerFrom(0, 0xffff_ffff) } as const;

const checksByType: { readonly [Type in SnapshotStreamMessage['type']]: ShapeCheck } = {
  snapshotChunk: fields({ ...streamHeader, offset: safeInteger, bytes: bytesUpTo(snapshotChunkBytesMax) } satisfies MessageChecks<SnapshotChunkMessage>),
  snapshotChunkAck: fields({ ...streamHeader, heldBytes: safeInteger, complete: boolean } satisfies MessageChecks<SnapshotChunkAckMessage>),
};

function malformed(problem: string): FalconError {
  return falconError('MALFORMED_FRAME', `malformed snapshot stream message: ${problem}`);
}

/**
 * `value` as a snapshot stream message addressed to `localId` from `peerId`, or MALFORMED_FRAME
 * naming what is wrong (including a chunk past the file's end or above the chunk bound).
 */
export function parseSnapshotStreamMessage(value: unknown, localId: string, peerId: string): SnapshotStreamMessage | FalconError {
  if (!isMap(value)) return malformed('message is not a map');
  const type = value['type'];
  if (!isSnapshotStreamType(type)) return malformed(`type ${String(type)} is not a snapshot stream message type`);
  const problem = checksByType[type](value);
  if (problem !== undefined) return malformed(readableProblem(problem));
  if (value['to'] !== localId) return malformed(`to is ${String(value['to'])}, this node is ${localId}`);
  if (value['from'] !== peerId) return malformed(`from is ${String(value['from'])} on ${peerId}'s connection`);
  const message = asChecked<SnapshotStreamMessage>(value);
  if (message.type === 'snapshotChunk') {
    if (message.offset + message.bytes.byteLength > message.fileBytes) {
      return malformed(`chunk ${message.offset}+${message.bytes.byteLength} past the ${message.fileBytes}-byte file`);
    }
  } else if (message.heldBytes > message.fileBytes) {
    return malformed(`heldBytes past the ${message.fileBytes}-byte file`);
  }
  return message;
}
