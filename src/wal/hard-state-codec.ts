/**
 * The hard-state file's codec: the hard state (src/log/hard-state.ts: what Raft must persist
 * before it speaks, and the cluster this data directory belongs to) in its own small file
 * `hard-state`.
 *
 * Version 3 (written by this version): the file is 1,024 bytes, two slots of 512 bytes. Each save
 * overwrites the slot NOT holding the newest record with a record one sequence number higher, then
 * fdatasyncs the file: one data sync, no metadata change, because an election waits on it (the
 * candidate's vote for itself, then each voter's). Only the file's first write replaces it
 * atomically (hard-state-file.ts). A slot is one 512-byte sector, written whole: the same
 * assumption as other databases that keep their control record within one sector, that a crash
 * leaves such a write either done or not done. A slot that is neither all zeros (never written)
 * nor a valid record is therefore damage at rest, never a torn write: the file is refused.
 *
 * | offset  | bytes | field        | meaning                                                  |
 * |--------:|------:|--------------|----------------------------------------------------------|
 * |       0 |     4 | magic        | ASCII "FQHS"                                             |
 * |       4 |     4 | checksum     | CRC-32 of bytes [8, 512) of the slot, seed 0             |
 * |       8 |     1 | version      | 3                                                        |
 * |       9 |     8 | sequence     | u64 little-endian: the newer slot holds the higher one   |
 * |      17 |     8 | term         | u64 little-endian, a safe integer                        |
 * |      25 |     8 | commit       | u64 little-endian, a safe integer                        |
 * |      33 |     1 | voteBytes    | 0 = no vote, else UTF-8 byte length of the node id       |
 * |      34 |     n | vote         | UTF-8 node id                                            |
 * |  34 + n |     1 | clusterBytes | 0 = cluster unknown, else UTF-8 byte length of the name   |
 * |  35 + n |     m | cluster      | UTF-8 cluster name (`cluster.name` of the cluster file)  |
 * |     ... |       | padding      | zeros up to 512                                          |
 *
 * Versions 1 and 2 (older versions) hold one record in a file of its own size, replaced
 * atomically: version 2 has the layout above without the sequence (term at offset 9), version 1
 * also without the cluster. They still load (sequence 0; a version-1 cluster is unknown, `null`),
 * and the next save writes a version-3 file. Either way a hard-state file means the node has
 * joined a cluster: a directory holding one is never taken for a fresh one (docs/wal-format.md).
 *
 * Invariants: term and commit are safe integers ≥ 0; a vote id and a cluster name are 1..255
 * UTF-8 bytes and a record fits its slot (node ids and cluster names from the cluster file are far
 * shorter).
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import { checksumOf } from './checksum.js';

export const hardStateFileName = 'hard-state';
export const hardStateSlotBytes = 512;
export const hardStateFileBytes = 2 * hardStateSlotBytes;
const magic = 'FQHS';
const versionWithoutCluster = 1;
const versionSingleRecord = 2;
const version = 3;
const singleRecordFixedBytes = 26;
const slotFixedBytes = 34;
const nameBytesMax = 255;
const twoPow32 = 0x1_0000_0000;

/** What a hard-state file holds: its newest record, that record's sequence, and the slot holding
 *  it (null: a version-1 or -2 file of one record). */
export interface LoadedHardState {
  readonly state: Required<HardState>;
  readonly sequence: number;
  readonly slot: 0 | 1 | null;
}

/** One 512-byte slot holding `state` with `sequence`. */
export function encodeHardStateSlot(state: HardState, sequence: number): Buffer {
  assert(Number.isSafeInteger(state.term) && state.term >= 0, `hard state term ${state.term} is not a safe integer ≥ 0`);
  assert(Number.isSafeInteger(state.commit) && state.commit >= 0, `hard state commit ${state.commit} is not a safe integer ≥ 0`);
  assert(Number.isSafeInteger(sequence) && sequence >= 1, `hard state sequence ${sequence} is not a safe integer ≥ 1`);
  const vote = Buffer.from(state.vote ?? '', 'utf8');
  assert(state.vote === null || (vote.length >= 1 && vote.length <= nameBytesMax),
    `hard state vote is ${vote.length} bytes, must be 1..${nameBytesMax}`);
  const cluster = Buffer.from(state.cluster ?? '', 'utf8');
  assert(state.cluster === undefined || state.cluster === null || (cluster.length >= 1 && cluster.length <= nameBytesMax),
    `hard state cluster name is ${cluster.length} bytes, must be 1..${nameBytesMax}`);
  assert(slotFixedBytes + vote.length + 1 + cluster.length <= hardStateSlotBytes,
    `hard state record of ${slotFixedBytes + vote.length + 1 + cluster.length} bytes does not fit a ${hardStateSlotBytes}-byte slot`);
  const bytes = Buffer.alloc(hardStateSlotBytes);
  bytes.write(magic, 0, 'latin1');
  bytes[8] = version;
  writeU64(bytes, 9, sequence);
  writeU64(bytes, 17, state.term);
  writeU64(bytes, 25, state.commit);
  bytes[33] = vote.length;
  vote.copy(bytes, slotFixedBytes);
  bytes[slotFixedBytes + vote.length] = cluster.length;
  cluster.copy(bytes, slotFixedBytes + vote.length + 1);
  bytes.writeUInt32LE(checksumOf(bytes.subarray(8), 0), 4);
  return bytes;
}

/** The newest record of a hard-state file (any version), or a sentence saying why there is none. */
export function decodeHardStateFile(bytes: Buffer): LoadedHardState | string {
  if (bytes.length !== hardStateFileBytes) {
    const single = decodeSingleRecord(bytes);
    return typeof single === 'string' ? single : { state: single, sequence: 0, slot: null };
  }
  const slots = [0, 1].map((slot) => decodeSlot(bytes.subarray(slot * hardStateSlotBytes, (slot + 1) * hardStateSlotBytes)));
  let newest: LoadedHardState | null = null;
  for (const [slot, decoded] of slots.entries()) {
    if (decoded === 'empty') continue;
    if (typeof decoded === 'string') return `slot ${slot}: ${decoded}`;
    if (newest !== null && newest.sequence === decoded.sequence) return `both slots hold sequence ${decoded.sequence}`;
    if (newest === null || decoded.sequence > newest.sequence) newest = { ...decoded, slot: slot === 0 ? 0 : 1 };
  }
  return newest ?? 'both slots are empty';
}

function decodeSlot(bytes: Buffer): Omit<LoadedHardState, 'slot'> | 'empty' | string {
  if (bytes.every((byte) => byte === 0)) return 'empty';
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes.readUInt32LE(4) !== checksumOf(bytes.subarray(8), 0)) return 'checksum mismatch';
  if (bytes[8] !== version) return `unknown version ${bytes[8]}`;
  const voteLength = bytes[33] ?? 0;
  const voteEnd = slotFixedBytes + voteLength;
  const clusterLength = bytes[voteEnd] ?? 0;
  if (voteEnd + 1 + clusterLength > hardStateSlotBytes) return 'a vote and cluster name longer than the slot';
  const sequence = readU64(bytes, 9);
  const term = readU64(bytes, 17);
  const commit = readU64(bytes, 25);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(term) || !Number.isSafeInteger(commit)) return 'sequence, term or commit is not a safe integer';
  const vote = voteLength === 0 ? null : bytes.toString('utf8', slotFixedBytes, voteEnd);
  const cluster = clusterLength === 0 ? null : bytes.toString('utf8', voteEnd + 1, voteEnd + 1 + clusterLength);
  return { state: { term, vote, commit, cluster }, sequence };
}

/** A version-1 or -2 file: one record, the file's own size. */
function decodeSingleRecord(bytes: Buffer): Required<HardState> | string {
  if (bytes.length < singleRecordFixedBytes) return `${bytes.length} bytes, shorter than the ${singleRecordFixedBytes}-byte header`;
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes.readUInt32LE(4) !== checksumOf(bytes.subarray(8), 0)) return 'checksum mismatch';
  const fileVersion = bytes[8];
  if (fileVersion !== versionSingleRecord && fileVersion !== versionWithoutCluster) return `unknown version ${fileVersion}`;
  const voteLength = bytes[25] ?? 0;
  const voteEnd = singleRecordFixedBytes + voteLength;
  const clusterLength = fileVersion === versionSingleRecord ? (bytes[voteEnd] ?? 0) : 0;
  const expectedLength = fileVersion === versionSingleRecord ? voteEnd + 1 + clusterLength : voteEnd;
  if (bytes.length !== expectedLength) {
    return `length ${bytes.length} does not match a vote of ${voteLength} bytes and a cluster name of ${clusterLength} bytes`;
  }
  const term = readU64(bytes, 9);
  const commit = readU64(bytes, 17);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(commit)) return 'term or commit is not a safe integer';
  const vote = voteLength === 0 ? null : bytes.toString('utf8', singleRecordFixedBytes, voteEnd);
  const cluster = clusterLength === 0 ? null : bytes.toString('utf8', voteEnd + 1, expectedLength);
  return { term, vote, commit, cluster };
}

function writeU64(bytes: Buffer, offset: number, value: number): void {
  bytes.writeUInt32LE(value % twoPow32, offset);
  bytes.writeUInt32LE(Math.floor(value / twoPow32), offset + 4);
}

function readU64(bytes: Buffer, offset: number): number {
  return bytes.readUInt32LE(offset + 4) * twoPow32 + bytes.readUInt32LE(offset);
}
