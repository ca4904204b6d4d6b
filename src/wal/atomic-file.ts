/**
 * Replacing a small file so that a crash leaves either the old content or the new, never a mix:
 * write `<name>.tmp`, fsync it, rename it over `<name>`, fsync the directory. Used for the hard
 * state, the catch-up marker and snapshots. Recovery deletes any `*.tmp` left by a crash.
 *
 * Runs on: WAL writer thread.
 */
import path from 'node:path';
import { writeFully, type WalFileSystem } from './file-system.js';

export const temporaryFileSuffix = '.tmp';

/**
 * Durably replaces `dir/name` with the concatenation of `parts`. Throws the fs error on failure,
 * after a best-effort removal of the temp file (the old `name` is untouched until the rename).
 */
export function writeFileAtomically(fileSystem: WalFileSystem, dir: string, name: string, parts: readonly Uint8Array[]): void {
  const finalPath = path.join(dir, name);
  const temporaryPath = finalPath + temporaryFileSuffix;
  let fd: number | null = fileSystem.open(temporaryPath, 'createTruncate');
  try {
    let position = 0;
    for (const part of parts) {
      writeFully(fileSystem, fd, part, 0, part.length, position);
      position += part.length;
    }
    fileSystem.fsync(fd);
    fileSystem.close(fd);
    fd = null;
    fileSystem.rename(temporaryPath, finalPath);
  } catch (error) {
    removeQuietly(fileSystem, fd, temporaryPath);
    throw error;
  }
  fileSystem.syncDirectory(dir);
}

/** Durably removes `dir/name` (no error if it is already gone). */
export function removeFileDurably(fileSystem: WalFileSystem, dir: string, name: string): void {
  const filePath = path.join(dir, name);
  if (!fileSystem.exists(filePath)) return;
  fileSystem.unlink(filePath);
  fileSystem.syncDirectory(dir);
}

/** Cleanup on an error path: the original error matters, a second one would only hide it. */
export function removeQuietly(fileSystem: WalFileSystem, fd: number | null, filePath: string): void {
  try {
    if (fd !== null) fileSystem.close(fd);
  } catch {
    // the descriptor is lost either way; the original error is what the caller must see
  }
  try {
    fileSystem.unlink(filePath);
  } catch {
    // a leftover temp file is deleted by the next recovery
  }
}
