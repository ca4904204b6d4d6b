/**
 * The snapshot files of a WAL directory: writing one durably, deleting the older ones once it is
 * durable, reading one back verified, and finding the newest that verifies at open.
 *
 * Keep-previous rule: a new snapshot is written to a temp file, fsynced, renamed and the directory
 * fsynced (atomic-file.ts) before any older snapshot file is deleted, so a crash at any point
 * leaves at least one complete snapshot (the previous one, or the new one). Hence a snapshot file
 * (not a `*.tmp`) that does not verify is never what a crash leaves: it is corruption, and
 * recovery refuses it (recovery.ts). A snapshot above `snapshotBytesMax` is refused when saving,
 * so that a saved snapshot can always be loaded.
 *
 * Runs on: WAL writer thread.
 */
import path from 'node:path';
import { falconError, FalconFailure, type FalconError } from '../errors.js';
import { writeFileAtomically } from './atomic-file.js';
import { errnoOf, readWholeFile, type WalFileSystem } from './file-system.js';
import { decodeSnapshotFile, encodeSnapshotFile, parseSnapshotFileName, snapshotFileName, type Snapshot } from './snapshot-file.js';

export interface RejectedSnapshot {
  readonly file: string;
  readonly reason: string;
}

/**
 * The error value for a snapshot whose file would be larger than `bytesMax` (which recovery would
 * then refuse to load), or null when it fits. Checked before anything is written.
 */
export function oversizeSnapshotError(snapshot: Snapshot, bytesMax: number): FalconError | null {
  const [head, data] = encodeSnapshotFile(snapshot);
  const fileBytes = head.length + data.length;
  if (fileBytes <= bytesMax) return null;
  return falconError('RESOURCE_EXHAUSTED',
    `snapshot at index ${snapshot.index} would be a ${fileBytes}-byte file, above the bound wal option snapshotBytesMax `
    + `of ${bytesMax}; it was not saved and the previous snapshot stays in force`,
    { field: 'snapshotBytesMax', index: snapshot.index, snapshotBytes: fileBytes, snapshotBytesMax: bytesMax });
}

/** Writes `snapshot` durably under its name; throws the fs error (older files untouched). */
export function writeSnapshotDurably(fileSystem: WalFileSystem, dir: string, snapshot: Snapshot): void {
  writeFileAtomically(fileSystem, dir, snapshotFileName(snapshot.index), encodeSnapshotFile(snapshot));
}

/** Durably deletes the snapshot files of indexes below `index`. */
export function removeSnapshotsBelow(fileSystem: WalFileSystem, dir: string, index: number): void {
  const older = fileSystem.listDirectory(dir).filter((name) => (parseSnapshotFileName(name) ?? index) < index);
  for (const name of older) fileSystem.unlink(path.join(dir, name));
  if (older.length > 0) fileSystem.syncDirectory(dir);
}

/** Reads and verifies the snapshot of `index`; throws FalconFailure(CORRUPTION) if it does not verify. */
export function readSnapshot(fileSystem: WalFileSystem, dir: string, index: number, bytesMax: number): Snapshot {
  const filePath = path.join(dir, snapshotFileName(index));
  const decoded = decodeSnapshotFile(readWholeFile(fileSystem, filePath, bytesMax));
  if (typeof decoded === 'string' || decoded.index !== index) {
    const reason = typeof decoded === 'string' ? decoded : `holds index ${decoded.index}`;
    throw new FalconFailure(falconError('CORRUPTION', `snapshot ${filePath} does not verify: ${reason}`, { file: filePath, offset: 0 }));
  }
  return decoded;
}

/** The newest snapshot among `names` that verifies, and the ones that did not (newest first). */
export function loadNewestSnapshot(
  fileSystem: WalFileSystem, dir: string, names: readonly string[], bytesMax: number,
): { snapshot: Snapshot | null; rejectedSnapshots: RejectedSnapshot[] } {
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
