/**
 * The snapshot file format: the state machine's opaque bytes plus the last included index and
 * term and the cluster membership, under one checksum. Files are named
 * `snapshot-<index, 20 digits>.snap` and written atomically (atomic-file.ts).
 *
 * | offset   | bytes | field           | meaning                                          |
 * |---------:|------:|-----------------|--------------------------------------------------|
 * |        0 |     4 | magic           | ASCII "FQSN"                                     |
 * |        4 |     4 | checksum        | CRC-32 of bytes [8, end), seed 0                 |
 * |        8 |     1 | version         | 1                                                |
 * |        9 |     8 | index           | u64 LE: last log index the snapshot includes     |
 * |       17 |     8 | term            | u64 LE: term of that entry                       |
 * |       25 |     4 | membershipBytes | u32 LE: m                                        |
 * |       29 |     8 | dataBytes       | u64 LE: d                                        |
 * |       37 |     m | membership      | u16 voter count, names; u16 learner count, names |
 * |   37 + m |     d | data            | the state machine's bytes, opaque                |
 *
 * A name in the membership is a u8 byte length then UTF-8 (1..255 bytes).
 *
 * Invariants: index ≥ 1 and term ≥ 0 are safe integers; the file length is exactly
 * 37 + m + d; a file that fails any check is never loaded.
 *
 * Runs on: WAL writer thread.
 */
import { assert } from '../errors.js';
import { checksumOf } from './checksum.js';

export interface SnapshotMembership {
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

export interface SnapshotMetadata {
  /** The last log index the snapshot includes. */
  readonly index: number;
  /** The term of that entry. */
  readonly term: number;
  readonly membership: SnapshotMembership;
}

export interface Snapshot extends SnapshotMetadata {
  readonly data: Uint8Array;
}

const magic = 'FQSN';
const version = 1;
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

/** The file's bytes as [header + membership, data] (two parts, so the data is not copied). */
export function encodeSnapshotFile(snapshot: Snapshot): [Buffer, Uint8Array] {
  assert(Number.isSafeInteger(snapshot.index) && snapshot.index >= 1, `snapshot index ${snapshot.index} is not a safe integer ≥ 1`);
  assert(Number.isSafeInteger(snapshot.term) && snapshot.term >= 0, `snapshot term ${snapshot.term} is not a safe integer ≥ 0`);
  const membership = Buffer.concat([...encodeNames(snapshot.membership.voters), ...encodeNames(snapshot.membership.learners)]);
  const head = Buffer.alloc(headerBytes + membership.length);
  head.write(magic, 0, 'latin1');
  head[8] = version;
  writeU64(head, snapshot.index, 9);
  writeU64(head, snapshot.term, 17);
  head.writeUInt32LE(membership.length, 25);
  writeU64(head, snapshot.data.length, 29);
  membership.copy(head, headerBytes);
  const checksum = checksumOf(snapshot.data, checksumOf(head.subarray(8), 0));
  head.writeUInt32LE(checksum, 4);
  return [head, snapshot.data];
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

/** The snapshot in `bytes` (its data a view into them), or a sentence saying why it is not one. */
export function decodeSnapshotFile(bytes: Buffer): Snapshot | string {
  if (bytes.length < headerBytes) return `${bytes.length} bytes, shorter than the ${headerBytes}-byte header`;
  if (bytes.toString('latin1', 0, 4) !== magic) return 'wrong magic';
  if (bytes.readUInt32LE(4) !== checksumOf(bytes.subarray(8), 0)) return 'checksum mismatch';
  if (bytes[8] !== version) return `unknown version ${bytes[8]}`;
  const index = readU64(bytes, 9);
  const term = readU64(bytes, 17);
  const membershipBytes = bytes.readUInt32LE(25);
  const dataBytes = readU64(bytes, 29);
  if (!Number.isSafeInteger(index) || index < 1 || !Number.isSafeInteger(term)) return 'index or term out of range';
  if (headerBytes + membershipBytes + dataBytes !== bytes.length) {
    return `length ${bytes.length} does not match ${headerBytes} + ${membershipBytes} + ${dataBytes}`;
  }
  const membershipEnd = headerBytes + membershipBytes;
  const voters = decodeNames(bytes, headerBytes, membershipEnd);
  const learners = voters === null ? null : decodeNames(bytes, voters.next, membershipEnd);
  if (voters === null || learners === null || learners.next !== membershipEnd) return 'membership does not decode';
  return { index, term, membership: { voters: voters.names, learners: learners.names }, data: bytes.subarray(membershipEnd) };
}
