/**
 * The snapshot files of a WAL directory: verifying one chunk by chunk, reading a range of one,
 * deleting the older ones once a new one is durable, and finding the newest that verifies at
 * open. Writing is snapshot-writer.ts. Memory: one read buffer of `snapshotReadChunkBytes`,
 * whatever the snapshot's size.
 *
 * Keep-previous rule: a new snapshot is written to a temp file, fsynced, renamed and the directory
 * fsynced before any older snapshot file is deleted, so a crash at any point leaves at least one
 * complete snapshot (the previous one, or the new one). Hence a snapshot file (not a `*.tmp`)
 * that does not verify is never what a crash leaves: it is corruption, and recovery refuses it
 * (recovery.ts). A snapshot above `snapshotBytesMax` is refused when saving, so that a saved
 * snapshot can always be loaded.
 *
 * Runs on: WAL writer thread.
 */
import path from 'node:path';
import { falconError, FalconFailure, type FalconError } from '../errors.js';
import { checksumOf } from './checksum.js';
import { errnoError, errnoOf, readFully, type WalFileSystem } from './file-system.js';
import {
  checksumMatches, dataChecksumSeedFor, decodeSnapshotHeader, membershipBytesOf, parseSnapshotFileName, snapshotFileName,
  snapshotFixedHeaderBytes, type SnapshotFileInfo,
} from './snapshot-file.js';

/** Bytes read at once while verifying or reading a snapshot file. */
export const snapshotReadChunkBytes = 1024 * 1024;

export interface RejectedSnapshot {
  readonly file: string;
  readonly reason: string;
}

/** The error value for a snapshot file that would be larger than `bytesMax` (which recovery would refuse). */
export function oversizeSnapshotError(index: number, fileBytes: number, bytesMax: number): FalconError {
  return falconError('RESOURCE_EXHAUSTED',
    `snapshot at index ${index} would be a ${fileBytes}-byte file, above the bound wal option snapshotBytesMax `
    + `of ${bytesMax}; it was not saved and the previous snapshot stays in force`,
    { field: 'snapshotBytesMax', index, snapshotBytes: fileBytes, snapshotBytesMax: bytesMax });
}

/** Durably deletes the snapshot files of indexes below `index`, except those of indexes in `kept`. */
export function removeSnapshotsBelow(fileSystem: WalFileSystem, dir: string, index: number, kept: ReadonlyMap<number, unknown>): void {
  const older = fileSystem.listDirectory(dir).filter((name) => {
    const fileIndex = parseSnapshotFileName(name) ?? index;
    return fileIndex < index && !kept.has(fileIndex);
  });
  for (const name of older) fileSystem.unlink(path.join(dir, name));
  if (older.length > 0) fileSystem.syncDirectory(dir);
}

/**
 * Verifies the snapshot file at `filePath` chunk by chunk (magic, version, lengths, membership,
 * checksum); returns what it holds, or a sentence saying why it is not a snapshot. Throws fs
 * errors; EFBIG for a file above `bytesMax`.
 */
export function verifySnapshotFile(fileSystem: WalFileSystem, filePath: string, bytesMax: number): SnapshotFileInfo | string {
  const fd = fileSystem.open(filePath, 'read');
  try {
    const fileBytes = fileSystem.sizeOf(fd);
    if (fileBytes > bytesMax) throw errnoError('EFBIG', `${filePath} is ${fileBytes} bytes, above the bound of ${bytesMax}`);
    if (fileBytes < snapshotFixedHeaderBytes) return `${fileBytes} bytes, shorter than the header`;
    const membershipBytes = membershipBytesOf(readFully(fileSystem, fd, snapshotFixedHeaderBytes, 0), fileBytes);
    if (typeof membershipBytes === 'string') return membershipBytes;
    const headerBytes = readFully(fileSystem, fd, snapshotFixedHeaderBytes + membershipBytes, 0);
    const header = decodeSnapshotHeader(headerBytes, fileBytes);
    if (typeof header === 'string') return header;
    let dataChecksum = dataChecksumSeedFor(header, headerBytes);
    const buffer = Buffer.allocUnsafe(Math.min(snapshotReadChunkBytes, Math.max(1, header.dataBytes)));
    for (let position = header.headerBytes; position < fileBytes;) {
      const length = Math.min(buffer.length, fileBytes - position);
      const read = fileSystem.read(fd, buffer, 0, length, position);
      if (read <= 0) return `file ended at ${position}, wanted ${fileBytes}`;
      dataChecksum = checksumOf(buffer.subarray(0, read), dataChecksum);
      position += read;
    }
    if (!checksumMatches(header, headerBytes, dataChecksum)) return 'checksum mismatch';
    return { index: header.index, term: header.term, membership: header.membership, headerBytes: header.headerBytes, fileBytes, checksum: header.checksum };
  } finally {
    fileSystem.close(fd);
  }
}

/** Verifies the snapshot of `index`; throws FalconFailure(CORRUPTION) if it does not verify. */
export function readSnapshot(fileSystem: WalFileSystem, dir: string, index: number, bytesMax: number): SnapshotFileInfo {
  const filePath = path.join(dir, snapshotFileName(index));
  const verified = verifySnapshotFile(fileSystem, filePath, bytesMax);
  if (typeof verified === 'string' || verified.index !== index) {
    const reason = typeof verified === 'string' ? verified : `holds index ${verified.index}`;
    throw new FalconFailure(falconError('CORRUPTION', `snapshot ${filePath} does not verify: ${reason}`, { file: filePath, offset: 0 }));
  }
  return verified;
}

/** Up to `bytesMax` bytes of the file at `filePath` from `offset` (fewer at its end). */
export function readSnapshotRange(fileSystem: WalFileSystem, filePath: string, offset: number, bytesMax: number): Buffer {
  const fd = fileSystem.open(filePath, 'read');
  try {
    const length = Math.max(0, Math.min(bytesMax, fileSystem.sizeOf(fd) - offset));
    return readFully(fileSystem, fd, length, offset);
  } finally {
    fileSystem.close(fd);
  }
}

/** The newest snapshot among `names` that verifies, and the ones that did not (newest first). */
export function loadNewestSnapshot(
  fileSystem: WalFileSystem, dir: string, names: readonly string[], bytesMax: number,
): { snapshot: SnapshotFileInfo | null; rejectedSnapshots: RejectedSnapshot[] } {
  const rejectedSnapshots: RejectedSnapshot[] = [];
  const indexes = names.map(parseSnapshotFileName).filter((index): index is number => index !== null).sort((a, b) => b - a);
  for (const index of indexes) {
    try {
      return { snapshot: readSnapshot(fileSystem, dir, index, bytesMax), rejectedSnapshots };
    } catch (error) {
      const reason = error instanceof FalconFailure ? error.error.message : errnoOf(error) === 'EFBIG' && error instanceof Error ? error.message : null;
      if (reason === null) throw error;
      rejectedSnapshots.push({ file: path.join(dir, snapshotFileName(index)), reason });
    }
  }
  return { snapshot: null, rejectedSnapshots };
}
