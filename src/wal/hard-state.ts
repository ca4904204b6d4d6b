/**
 * The hard state: what Raft must persist before it speaks (current term, vote, commit index), and
 * the cluster this data directory belongs to, in its own small file `hard-state`, replaced
 * atomically (see atomic-file.ts).
 *
 * Version 2 (written by this version):
 *
 * | offset  | bytes | field        | meaning                                                |
 * |--------:|------:|--------------|--------------------------------------------------------|
 * |       0 |     4 | magic        | ASCII "FQHS"                                           |
 * |       4 |     4 | checksum     | CRC-32 of bytes [8, end), seed 0                       |
 * |       8 |     1 | version      | 2                                                      |
 * |       9 |     8 | term         | u64 little-endian, a safe integer                      |
 * |      17 |     8 | commit       | u64 little-endian, a safe integer                      |
 * |      25 |     1 | voteBytes    | 0 = no vote, else UTF-8 byte length of the node id     |
 * |      26 |     n | vote         | UTF-8 node id                                          |
 * |  26 + n |     1 | clusterBytes | 0 = cluster unknown, else UTF-8 byte length of the name |
 * |  27 + n |     m | cluster      | UTF-8 cluster name (`cluster.name` of the cluster file) |
 *
 * Version 1 (older versions) is the same without the last two fields; it still loads, with the
 * cluster unknown (`null`). Either way a hard-state file means the node has joined a cluster: a
 * directory holding one is never taken for a fresh one (docs/wal-format.md, cluster identity).
 *
 * Invariants: term and commit are safe integers ≥ 0; a vote id and a cluster name are 1..255
 * UTF-8 bytes.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import { checksumOf } from './checksum.js';

export const hardStateFileName = 'hard-state';
const magic = 'FQHS';
const versionWithoutCluster = 1;
const version = 2;
const fixedBytes = 26;
const nameBytesMax = 255;
const twoPow32 = 0x1_0000_0000;

export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or null. */
  readonly vote: string | null;
  readonly commit: number;
  /**
   * The cluster this directory belongs to: null when unknown (a version-1 file); absent in a
   * request to save, which keeps the name already on disk (wal.ts).
   */
  readonly cluster?: string | null;
}

export function encodeHardState(state: HardState): Buffer {
  assert(Number.isSafeInteger(state.term) && state.term >= 0, `hard state term ${state.term} is not a safe integer ≥ 0`);
  assert(Number.isSafeInteger(state.commit) && state.commit >= 0, `hard state commit ${state.commit} is not a safe integer ≥ 0`);
  const vote = Buffer.from(state.vote ?? '', 'utf8');
  assert(state.vote === null || (vote.length >= 1 && vote.length <= nameBytesMax),
    `hard state vote is ${vote.length} bytes, must be 1..${nameBytesMax}`);
  const cluster = Buffer.from(state.cluster ?? '', 'utf8');
  assert(state.cluster === undefined || state.cluster === null || (cluster.length >= 1 && cluster.length <= nameBytesMax),
    `hard state cluster name is ${cluster.length} bytes, must be 1..${nameBytesMax}`);
  const bytes = Buffer.alloc(fixedBytes + vote.length + 1 + cluster.length);
  bytes.write(magic, 0, 'latin1');
  bytes[8] = version;
  bytes.writeUInt32LE(state.term % twoPow32, 9);
  bytes.writeUInt32LE(Math.floor(state.term / twoPow32), 13);
  bytes.writeUInt32LE(state.commit % twoPow32, 17);
  bytes.writeUInt32LE(Math.floor(state.commit / twoPow32), 21);
  bytes[25] = vote.length;
  vote.copy(bytes, fixedBytes);
  bytes[fixedBytes + vote.length] = cluster.length;
  cluster.copy(bytes, fixedBytes + vote.length + 1);
  bytes.writeUInt32LE(checksumOf(bytes.subarray(8), 0), 4);
  return bytes;
}

/** The hard state in `bytes` (version 1 or 2), or a sentence saying why they are not one. */
export function decodeHardState(bytes: Buffer): Required<HardState> | string {
  if (bytes.length < fixedBytes) return `${bytes.length} bytes, shorter than the ${fixedBytes}-byte header`;
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes.readUInt32LE(4) !== checksumOf(bytes.subarray(8), 0)) return 'checksum mismatch';
  const fileVersion = bytes[8];
  if (fileVersion !== version && fileVersion !== versionWithoutCluster) return `unknown version ${fileVersion}`;
  const voteLength = bytes[25] ?? 0;
  const voteEnd = fixedBytes + voteLength;
  const clusterLength = fileVersion === version ? (bytes[voteEnd] ?? 0) : 0;
  const expectedLength = fileVersion === version ? voteEnd + 1 + clusterLength : voteEnd;
  if (bytes.length !== expectedLength) {
    return `length ${bytes.length} does not match a vote of ${voteLength} bytes and a cluster name of ${clusterLength} bytes`;
  }
  const term = bytes.readUInt32LE(13) * twoPow32 + bytes.readUInt32LE(9);
  const commit = bytes.readUInt32LE(21) * twoPow32 + bytes.readUInt32LE(17);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(commit)) return 'term or commit is not a safe integer';
  const vote = voteLength === 0 ? null : bytes.toString('utf8', fixedBytes, voteEnd);
  const cluster = clusterLength === 0 ? null : bytes.toString('utf8', voteEnd + 1, expectedLength);
  return { term, vote, commit, cluster };
}
