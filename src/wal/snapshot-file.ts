/**
 * The snapshot file format: the state machine's opaque bytes plus the last included index and
 * term and the cluster membership (`Snapshot`, src/log/snapshot.ts), under one checksum. Files are named
 * `snapshot-<index, 20 digits>.snap` and written atomically (temp file, fsync, rename, directory
 * fsync), chunk by chunk (snapshot-writer.ts), and verified chunk by chunk (snapshot-store.ts):
 * no step holds a whole snapshot in memory.
 *
 * | offset   | bytes | field           | meaning                                          |
 * |---------:|------:|-----------------|--------------------------------------------------|
 * |        0 |     4 | magic           | ASCII "FQSN"                                     |
 * |        4 |     4 | checksum        | CRC-32, see below                                |
 * |        8 |     1 | version         | 2 (1 is still read)                              |
 * |        9 |     8 | index           | u64 LE: last log index the snapshot includes     |
 * |       17 |     8 | term            | u64 LE: term of that entry                       |
 * |       25 |     4 | membershipBytes | u32 LE: m                                        |
 * |       29 |     8 | dataBytes       | u64 LE: d                                        |
 * |       37 |     m | membership      | u16 voter count, names; u16 learner count, names |
 * |   37 + m |     d | data            | the state machine's bytes, opaque                |
 *
 * Checksum, version 2: CRC-32 of the data (seed 0), continued over bytes [8, 37 + m). Why data
 * first: a snapshot taken from a state machine is streamed to disk before its length is known, so
 * the header (which holds the length) is written last; the checksum must be computable in the
 * order the bytes are produced. Version 1 (CRC-32 of bytes [8, end) in file order) is verified
 * the same way, header first.
 *
 * A name in the membership is a u8 byte length then UTF-8 (1..255 bytes).
 *
 * Invariants: index ≥ 1 and term ≥ 0 are safe integers; the file length is exactly
 * 37 + m + d; a file that fails any check is never loaded.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import type { Membership } from '../log/membership.js';
import type { SnapshotMetadata } from '../log/snapshot.js';
import { checksumOf } from './checksum.js';

/** A verified snapshot file: its metadata, where its data starts, its length and checksum. */
export interface SnapshotFileInfo extends SnapshotMetadata {
  readonly headerBytes: number;
  readonly fileBytes: number;
  readonly checksum: number;
}

const magic = 'FQSN';
const version = 2;
const headerBytes = 37;
const nameBytesMax = 255;
const membersMax = 0xffff;
const twoPow32 = 0x1_0000_0000;
const snapshotNamePattern = /^snapshot-(\d{20})\.snap$/;

export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(20, '0')}.snap`;
}

export function parseSnapshotFileName(name: string): number | null {
  const match = snapshotNamePattern.exec(name);
  if (match === null || match[1] === undefined) return null;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : null;
}

function encodeNames(names: readonly string[]): Buffer[] {
  assert(names.length <= membersMax, `membership of ${names.length} names, at most ${membersMax}`);
  const count = Buffer.alloc(2);
  count.writeUInt16LE(names.length, 0);
  const parts: Buffer[] = [count];
  for (const name of names) {
    const bytes = Buffer.from(name, 'utf8');
    assert(bytes.length >= 1 && bytes.length <= nameBytesMax, `member name of ${bytes.length} bytes, must be 1..${nameBytesMax}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  return parts;
}

function writeU64(target: Buffer, value: number, offset: number): void {
  target.writeUInt32LE(value % twoPow32, offset);
  target.writeUInt32LE(Math.floor(value / twoPow32), offset + 4);
}

function readU64(source: Buffer, offset: number): number {
  return source.readUInt32LE(offset + 4) * twoPow32 + source.readUInt32LE(offset);
}

/** Reads `count` names at `offset`; returns them and the offset after, or null if they overrun `end`. */
function decodeNames(source: Buffer, offset: number, end: number): { names: string[]; next: number } | null {
  if (offset + 2 > end) return null;
  const count = source.readUInt16LE(offset);
  let cursor = offset + 2;
  const names: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const length = source[cursor] ?? 0;
    if (length === 0 || cursor + 1 + length > end) return null;
    names.push(source.toString('utf8', cursor + 1, cursor + 1 + length));
    cursor += 1 + length;
  }
  return { names, next: cursor };
}

/** Bytes of the header and membership: where the data starts. */
export function snapshotHeaderBytesFor(membership: Membership): number {
  return headerBytes + Buffer.concat([...encodeNames(membership.voters), ...encodeNames(membership.learners)]).length;
}

/**
 * The header and membership of a version-2 file whose data is `dataBytes` long and has the
 * CRC-32 `dataChecksum` (seed 0); the checksum field covers the data, then this header.
 */
export function encodeSnapshotHeader(metadata: SnapshotMetadata, dataBytes: number, dataChecksum: number): Buffer {
  assert(Number.isSafeInteger(metadata.index) && metadata.index >= 1, `snapshot index ${metadata.index} is not a safe integer ≥ 1`);
  assert(Number.isSafeInteger(metadata.term) && metadata.term >= 0, `snapshot term ${metadata.term} is not a safe integer ≥ 0`);
  assert(Number.isSafeInteger(dataBytes) && dataBytes >= 0, `snapshot data of ${dataBytes} bytes`);
  const membership = Buffer.concat([...encodeNames(metadata.membership.voters), ...encodeNames(metadata.membership.learners)]);
  const head = Buffer.alloc(headerBytes + membership.length);
  head.write(magic, 0, 'latin1');
  head[8] = version;
  writeU64(head, metadata.index, 9);
  writeU64(head, metadata.term, 17);
  head.writeUInt32LE(membership.length, 25);
  writeU64(head, dataBytes, 29);
  membership.copy(head, headerBytes);
  head.writeUInt32LE(checksumOf(head.subarray(8), dataChecksum), 4);
  return head;
}

/** What a snapshot file's header says; `headerBytes` is where the data starts. */
export interface SnapshotHeader extends SnapshotMetadata {
  readonly version: number;
  readonly checksum: number;
  readonly headerBytes: number;
  readonly dataBytes: number;
}

/** Bytes to read to know a header's full length (then `membershipBytesOf`). */
export const snapshotFixedHeaderBytes = headerBytes;

/** The membership length the fixed header in `bytes` announces, or a sentence why it is not one. */
export function membershipBytesOf(bytes: Buffer, fileBytes: number): number | string {
  if (bytes.length < headerBytes || fileBytes < headerBytes) return `${fileBytes} bytes, shorter than the ${headerBytes}-byte header`;
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes[8] !== version && bytes[8] !== 1) return `unknown version ${bytes[8]}`;
  const membershipBytes = bytes.readUInt32LE(25);
  if (headerBytes + membershipBytes > fileBytes) return `membership of ${membershipBytes} bytes overruns the ${fileBytes}-byte file`;
  return membershipBytes;
}

/** The header in `bytes` (fixed part and membership, nothing else) of a file of `fileBytes`. */
export function decodeSnapshotHeader(bytes: Buffer, fileBytes: number): SnapshotHeader | string {
  const membershipBytes = membershipBytesOf(bytes, fileBytes);
  if (typeof membershipBytes === 'string') return membershipBytes;
  const index = readU64(bytes, 9);
  const term = readU64(bytes, 17);
  const dataBytes = readU64(bytes, 29);
  if (!Number.isSafeInteger(index) || index < 1 || !Number.isSafeInteger(term)) return 'index or term out of range';
  if (headerBytes + membershipBytes + dataBytes !== fileBytes) {
    return `length ${fileBytes} does not match ${headerBytes} + ${membershipBytes} + ${dataBytes}`;
  }
  const membershipEnd = headerBytes + membershipBytes;
  if (bytes.length !== membershipEnd) return `header of ${bytes.length} bytes, expected ${membershipEnd}`;
  const voters = decodeNames(bytes, headerBytes, membershipEnd);
  const learners = voters === null ? null : decodeNames(bytes, voters.next, membershipEnd);
  if (voters === null || learners === null || learners.next !== membershipEnd) return 'membership does not decode';
  return {
    index, term, membership: { voters: voters.names, learners: learners.names },
    version: bytes[8] ?? 0, checksum: bytes.readUInt32LE(4), headerBytes: membershipEnd, dataBytes,
  };
}

/**
 * The seed for the CRC-32 of a file's data: 0 for version 2 (the data comes first), the CRC of
 * the header for version 1 (file order).
 */
export function dataChecksumSeedFor(header: SnapshotHeader, headerBytes: Buffer): number {
  return header.version === 1 ? checksumOf(headerBytes.subarray(8), 0) : 0;
}

/** True when the file's checksum field matches its data (CRC from `dataChecksumSeedFor`) and header. */
export function checksumMatches(header: SnapshotHeader, headerBytes: Buffer, dataChecksum: number): boolean {
  const computed = header.version === 1 ? dataChecksum : checksumOf(headerBytes.subarray(8), dataChecksum);
  return computed === header.checksum;
}
