/**
 * The hard state: what Raft must persist before it speaks (current term, vote, commit index),
 * in its own small file `hard-state`, replaced atomically (see atomic-file.ts).
 *
 * | offset | bytes | field      | meaning                                            |
 * |-------:|------:|------------|----------------------------------------------------|
 * |      0 |     4 | magic      | ASCII "FQHS"                                       |
 * |      4 |     4 | checksum   | CRC-32 of bytes [8, end), seed 0                   |
 * |      8 |     1 | version    | 1                                                  |
 * |      9 |     8 | term       | u64 little-endian, a safe integer                  |
 * |     17 |     8 | commit     | u64 little-endian, a safe integer                  |
 * |     25 |     1 | voteBytes  | 0 = no vote, else UTF-8 byte length of the node id |
 * |     26 |     n | vote       | UTF-8 node id                                      |
 *
 * Invariants: term and commit are safe integers ≥ 0; a vote id is 1..255 UTF-8 bytes.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import { checksumOf } from './checksum.js';

export const hardStateFileName = 'hard-state';
const magic = 'FQHS';
const version = 1;
const fixedBytes = 26;
const voteBytesMax = 255;
const twoPow32 = 0x1_0000_0000;

export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or null. */
  readonly vote: string | null;
  readonly commit: number;
}

export function encodeHardState(state: HardState): Buffer {
  assert(Number.isSafeInteger(state.term) && state.term >= 0, `hard state term ${state.term} is not a safe integer ≥ 0`);
  assert(Number.isSafeInteger(state.commit) && state.commit >= 0, `hard state commit ${state.commit} is not a safe integer ≥ 0`);
  const vote = Buffer.from(state.vote ?? '', 'utf8');
  assert(state.vote === null || (vote.length >= 1 && vote.length <= voteBytesMax),
    `hard state vote is ${vote.length} bytes, must be 1..${voteBytesMax}`);
  const bytes = Buffer.alloc(fixedBytes + vote.length);
  bytes.write(magic, 0, 'latin1');
  bytes[8] = version;
  bytes.writeUInt32LE(state.term % twoPow32, 9);
  bytes.writeUInt32LE(Math.floor(state.term / twoPow32), 13);
  bytes.writeUInt32LE(state.commit % twoPow32, 17);
  bytes.writeUInt32LE(Math.floor(state.commit / twoPow32), 21);
  bytes[25] = vote.length;
  vote.copy(bytes, fixedBytes);
  bytes.writeUInt32LE(checksumOf(bytes.subarray(8), 0), 4);
  return bytes;
}

/** The hard state in `bytes`, or a sentence saying why they are not one. */
export function decodeHardState(bytes: Buffer): HardState | string {
  if (bytes.length < fixedBytes) return `${bytes.length} bytes, shorter than the ${fixedBytes}-byte header`;
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes.readUInt32LE(4) !== checksumOf(bytes.subarray(8), 0)) return 'checksum mismatch';
  if (bytes[8] !== version) return `unknown version ${bytes[8]}`;
  const voteLength = bytes[25] ?? 0;
  if (bytes.length !== fixedBytes + voteLength) return `length ${bytes.length} does not match vote of ${voteLength} bytes`;
  const term = bytes.readUInt32LE(13) * twoPow32 + bytes.readUInt32LE(9);
  const commit = bytes.readUInt32LE(21) * twoPow32 + bytes.readUInt32LE(17);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(commit)) return 'term or commit is not a safe integer';
  const vote = voteLength === 0 ? null : bytes.toString('utf8', fixedBytes);
  return { term, vote, commit };
}
